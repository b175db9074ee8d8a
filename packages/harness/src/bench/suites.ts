/**
 * The bench suites: each a built-in workload run once per point and mode, and how its figures are read
 * from the run's summary (the workload's own per-CPU results, or the summary's counters).
 */
import type { RunOptions } from '../run-options.js';
import type { RunSummary } from '../summary.js';
import type { BaselineSpec } from './baseline.js';
import type { BenchMode, BenchSuite } from './result.js';

export interface SuiteDef {
  workload: string;
  title: string;
  unit: string;
  modes: BenchMode[];
  primary: BenchMode;
  params: Record<string, number>;
  baseline?: BaselineSpec;
  /** Each CPU's operations and the host milliseconds they took. */
  measure(s: RunSummary): Array<{ ops: number; ms: number }>;
  /** For the extra figures: per-CPU loop results. */
  extra?(s: RunSummary, cpus: number): Record<string, number>;
  latency?: boolean;
  /**
   * Simulated time base: ops per CPU that end a run when no --time is given (instead of a simulated
   * duration), so that slow points (threads of one mm on many CPUs) still complete whole rounds.
   */
  simOps?(params: Record<string, string | number | boolean>): number;
}

type Res = Record<string, unknown> | null | undefined;
/** CPU c's workload result. */
export const res = (s: RunSummary, c: number): Res => s.results[c] as Res;
export const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
/**
 * CPU c's run time in ms: host time, or in timed mode (bench --time-base simulated) its simulated
 * clock. Workloads that time themselves use api.now(), which reads the same clocks.
 */
export const runMs = (s: RunSummary, c: number): number => (s.timed ? s.timed.simMs[c]! : s.stats.perCpu[c]!.runMs);
/** Per-CPU accesses over the CPU's run time (the workload does not time itself). */
const accessesPerCpu = (s: RunSummary) => s.stats.perCpu.map((p, c) => ({ ops: p.accesses, ms: runMs(s, c) }));

export const BENCH_SUITES: Readonly<Record<BenchSuite, SuiteDef>> = {
  access: {
    workload: 'tlb-hit',
    title: 'TLB-hit simulated accesses (loads and stores over a small working set)',
    unit: 'accesses/s',
    modes: ['processes', 'threads'],
    primary: 'processes',
    params: { pages: 8 },
    baseline: {
      source: 'tlb_hit.c',
      description: 'native C loop, same working set and access pattern',
      args: (p) => [String(p.pages ?? 8)],
    },
    measure: accessesPerCpu,
  },
  faults: {
    workload: 'write-notify',
    title: 'write-notify faults (msync(MS_SYNC) the file, then one store per page)',
    unit: 'faults/s',
    modes: ['processes', 'threads'],
    primary: 'processes',
    params: { pages: 256 },
    baseline: {
      source: 'write_notify.c',
      description: 'the host kernel on a real file: map shared, msync(MS_SYNC), one store per page, repeat',
      args: (p, dir) => [String(p.pages ?? 256), dir],
    },
    measure: (s) => s.results.map((_, c) => ({ ops: num(res(s, c)?.faults), ms: num(res(s, c)?.ms) })),
    // two rounds: msync the file, then a fault per page, twice
    simOps: (p) => 2 * Number(p.pages ?? 256),
  },
  shootdown: {
    workload: 'shootdown',
    title: 'synced single-page TLB flush, initiation to last acknowledgement (other CPUs busy with TLB-hit accesses)',
    unit: 'flushes/s',
    modes: ['threads'],
    primary: 'threads',
    params: { pages: 8, range: 1, gap: 256 },
    baseline: {
      source: 'flush_ping.c',
      description: "the host's floor: one process publishes a request in a cache line and waits until each other process has acknowledged it in a line of its own; one op is a round (a flush without the flush)",
      args: () => [],
    },
    measure: (s) => [{ ops: num(res(s, 0)?.flushes), ms: num(res(s, 0)?.ms) }],
    extra: (s, cpus) => {
      let rate = 0;
      for (let c = 1; c < cpus; c++) rate += s.stats.perCpu[c]!.accesses / Math.max(1e-6, runMs(s, c) / 1000);
      return { busyAccessesPerCpu: cpus > 1 ? rate / (cpus - 1) : 0 };
    },
    latency: true,
  },
  msync: {
    workload: 'msync-region',
    title: 'vm-scalability case-msync: each CPU writes its region of a shared file and msyncs it (pages written back)',
    unit: 'pages/s',
    modes: ['processes', 'threads'],
    primary: 'processes',
    params: { pages: 64 },
    measure: (s) => s.results.map((_, c) => ({ ops: num(res(s, c)?.pages), ms: num(res(s, c)?.ms) })),
    extra: (s) => {
      let r = 0;
      s.results.forEach((_, c) => {
        const ms = num(res(s, c)?.ms);
        if (ms > 0) r += num(res(s, c)?.msyncs) / (ms / 1000);
      });
      return { msyncsPerSec: r, msyncsPerCpu: r / Math.max(1, s.results.length) };
    },
    // four msyncs of each CPU's region
    simOps: () => 4,
  },
};

export const BENCH_SUITE_NAMES = Object.keys(BENCH_SUITES) as BenchSuite[];

/** The machine options every bench run starts from: no lock validator, no kernel threads. */
export const BENCH_RUN: Partial<RunOptions> = { lockdep: false, daemons: false };
