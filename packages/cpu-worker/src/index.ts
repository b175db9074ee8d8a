/**
 * @smpsim/cpu-worker — one simulated CPU per worker thread: the parent-side handle, the control-plane
 * protocol, the CPU API workloads run against, and the built-in workloads.
 */
export { CpuWorker } from './handle.js';
export type { CpuSetup, CpuRunResult, CpuWorkerApi, TlbEntryView } from './protocol.js';
export { CpuApi, SharedWords, type MmapOptions } from './api.js';
export { runOnWorkers, STALL_MS, type WorkerRunOptions, type WorkerRunResult } from './run.js';
export {
  type Workload,
  type WorkloadOptions,
  type WorkloadParam,
  checkParams,
  workloadFiles,
  workloadMemory,
  isWorkload,
  loadWorkload,
  resolveWorkload,
  BUILTIN_WORKLOADS,
  WorkloadError,
} from './workload.js';
