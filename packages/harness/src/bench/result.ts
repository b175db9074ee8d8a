/** The results of `smpsim bench` (runBench's answer, what --json prints), and runBench's options. */
import type { RunOptions } from '../run-options.js';
import type { CpuWorkerPool } from '../run.js';
import type { BaselinePoint } from './baseline.js';

export type BenchSuite = 'access' | 'faults' | 'shootdown' | 'msync';
export type BenchMode = 'processes' | 'threads';
export type BenchTimeBase = 'host' | 'simulated';

/** Latency percentiles of one run, in host nanoseconds. */
export interface LatencyStats {
  samples: number;
  minNs: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  meanNs: number;
  /** Cost of the pair of timer calls around each sample (included in every sample). */
  timerNs: number;
}

/** One machine run of a point: `cpus` simulated CPUs in one mode. */
export interface ModeResult {
  mode: BenchMode;
  procs: number;
  ok: boolean;
  violations: Array<{ kind: string; message: string }>;
  /** Operations per second summed over the CPUs (will-it-scale's number). */
  total: number;
  /** total / cpus. */
  perCpu: number;
  /** Nanoseconds (host, or simulated with the simulated time base) per operation on one CPU (1e9 / perCpu). */
  nsPerOp: number;
  /** Each CPU's operations per second. */
  perCpuRates: number[];
  /** Host CPU idle percentage during the run (will-it-scale's *_idle columns). Host time base only, as the next three. */
  idlePct?: number;
  hostWallMs?: number;
  /**
   * Host CPU time this process used during the run (all threads, set-up and end-of-run checks
   * included), and that divided by the operations: a cost per operation that other load on the host
   * does not change, unlike the rates.
   */
  hostCpuMs?: number;
  cpuNsPerOp?: number;
  /** Model counters of the run that explain the number (faults, IPIs, flushes, TLB misses...). */
  counters: Record<string, number>;
  /** Suite-specific figures (msyncs/s, busy CPUs' accesses/s...). */
  extra: Record<string, number>;
  latency?: LatencyStats;
}

export interface HostIdentity {
  cpu: string;
  node: string;
  v8: string;
}

export interface BenchPoint {
  cpus: number;
  hostCores: number;
  /** Simulated CPUs outnumber host cores. */
  oversubscribed: boolean;
  /** The primary mode's figures (see BenchResult.primary). */
  perCpu: number;
  total: number;
  nsPerOp: number;
  summary: { ok: boolean; violations: Array<{ kind: string; message: string }> };
  processes?: ModeResult;
  threads?: ModeResult;
  /** The native baseline with as many processes as simulated CPUs. */
  baseline?: BaselinePoint;
  /**
   * smpsim per CPU / baseline per task, primary mode (e.g. 0.2 = the simulator is 5x slower); for
   * shootdown, flushes per second / the baseline's rounds per second (its initiator's).
   */
  ratio?: number;
}

export interface BenchResult {
  suite: BenchSuite;
  title: string;
  /** Unit of `total` and `perCpu`. */
  unit: string;
  workload: string;
  params: Record<string, string | number | boolean>;
  hostCores: number;
  /**
   * What ran it: the host CPU's model name (with its family and model numbers where /proc/cpuinfo
   * gives them) and the Node.js and V8 versions. The host-time figures
   * depend on them (a 2-core VM of one CPU kind gave a cross-core round trip 5x as fast as another;
   * the JIT decides what an Atomics operation costs), so results from different hosts are compared
   * with these beside them.
   */
  host: HostIdentity;
  timeMs: number;
  /** Ops per CPU that ended each run (0: `timeMs` did). */
  ops: number;
  warmupMs: number;
  modes: BenchMode[];
  /** The mode whose figures are the point's headline and the baseline ratio. */
  primary: BenchMode;
  /** host: rates in host time (the simulator's speed); simulated: timed mode, rates in simulated time (the simulated kernel's). */
  timeBase: BenchTimeBase;
  config: {
    lockdep: boolean;
    daemons: boolean;
    tlb: string;
    flushCeiling: number;
    flushProtocol: string;
    /** Whose 2.6.20 sender slots (x86_64: 8, i386: one). */
    arch: string;
    kernel: string;
    seed: number;
    /** Simulated time base: the cost preset, its clock (GHz) and the --cost overrides, and the quantum. */
    costs?: { preset: string; ghz: number; overrides: Record<string, number> };
    quantum?: number;
  };
  baseline: { available: true; program: string; description: string; compiler: string; fs: string } | { available: false; reason: string } | null;
  points: BenchPoint[];
  ok: boolean;
}

export interface BenchOptions {
  /** host (default): rates in host time; simulated: timed mode, `timeMs` and the rates in simulated time. */
  timeBase?: BenchTimeBase;
  /** Ops per CPU that end each run instead of `timeMs` (0: by time). */
  ops?: number;
  /** Modes to run (default: the suite's). */
  modes?: BenchMode[];
  /** Run the native baseline where the suite has one and a C compiler exists (default true). */
  baseline?: boolean;
  /** Workload parameters over the suite's defaults. */
  params?: Record<string, string | number | boolean>;
  /** Machine options over the bench defaults (lockdep off, kernel threads off). */
  run?: Partial<Omit<RunOptions, 'cpus' | 'procs' | 'workload' | 'ops' | 'durationMs' | 'params'>>;
  /**
   * Host time of an untimed warm-up run at the largest CPU count before the points (will-it-scale
   * also warms up before it averages): it starts every worker and lets V8 optimise the workload, so
   * that the first points do not pay for thread start-up and JIT compilation (a fresh worker needs
   * about a second of its own CPU time before the kernel paths run at full speed). Default: `timeMs`
   * (at most 1 s) times the number of simulated CPUs per host core, so that each worker gets about
   * that much CPU time; 0 for none. Run as two machines of half the time each (see runBench).
   */
  warmupMs?: number;
  /** Workers to reuse (closed by the caller); a private pool otherwise. */
  pool?: CpuWorkerPool;
  /** Called with one line per finished run (progress). */
  onProgress?: (line: string) => void;
}
