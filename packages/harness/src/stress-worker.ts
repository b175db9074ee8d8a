/**
 * The piscina task of a stress campaign: one machine run. Each piscina thread keeps one CpuWorkerPool
 * for its whole life, so the simulated CPUs' worker threads (nested workers of this thread) are spawned
 * once and reused by every run the thread executes. When piscina terminates the thread (end of the
 * campaign, or a cancelled run), Node terminates the nested CPU workers with it.
 */
import { CpuWorkerPool, runMachine } from './run.js';
import type { RunOptions } from './run-options.js';
import type { RunSummary } from './summary.js';

const pool = new CpuWorkerPool();

export default function runOne(o: RunOptions): Promise<RunSummary> {
  return runMachine(o, pool);
}
