/**
 * The control plane between the harness and a CPU worker (typed, over comlink). Set-up, the run
 * itself, and inspection between phases travel as messages; the machine's state never does — it is
 * in the SharedArrayBuffers both sides attach to.
 */
import type { MachineBuffers, MachineConfig, TlbEntryView, TraceEvent, Violation } from '@smpsim/core';

export type { TlbEntryView };

export interface CpuSetup {
  readonly config: MachineConfig;
  readonly buffers: MachineBuffers;
  readonly cpu: number;
  /** The process (mm) this CPU's task belongs to. */
  readonly proc: number;
  readonly workloadUrl: string;
  readonly ops: number;
  /** Host time (Date.now()) at which the workload stops; 0 for none. */
  readonly deadline: number;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** Stop-the-world invariant checks every this many simulated cycles of CPU 0 (0: only at the end). */
  readonly checkEvery: number;
  /** Run the kernel threads (flusher, journal, reclaim) this CPU hosts. */
  readonly daemons: boolean;
  /**
   * Deterministic and timed mode: the scheduler's shared state (sched/state.ts), created by the
   * harness for this execution. Absent in free mode.
   */
  readonly sched?: SharedArrayBuffer;
  /** Free mode with run tokens (more simulated CPUs than host threads): the slice in host µs. */
  readonly tokenSliceUs?: number;
  /** Record trace events (`--trace`); returned in CpuRunResult.trace. */
  readonly trace?: boolean;
}

export interface CpuRunResult {
  readonly cpu: number;
  readonly threadId: number;
  readonly violations: Violation[];
  /** What the workload's run() returned. */
  readonly result: unknown;
  /** Host milliseconds the workload ran. */
  readonly runMs: number;
  /** The CPU's simulated clock (cycles) when its workload returned: its run time in timed mode. */
  readonly taskCycles: number;
  /** The CPU's trace events, when set up with `trace`. */
  readonly trace?: TraceEvent[];
  /** Trace events dropped over the per-CPU limit. */
  readonly traceDropped?: number;
}

/** What a CPU worker exposes. */
export interface CpuWorkerApi {
  setup(s: CpuSetup): Promise<{ threadId: number }>;
  run(): Promise<CpuRunResult>;
  /** This CPU's TLB contents, read by its own thread. */
  tlb(): Promise<TlbEntryView[]>;
}
