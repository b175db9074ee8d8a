/**
 * The summary of one run — the object `smpsim run --json` prints and runMachine resolves with. Its
 * `stats` are built from one table, COUNTERS, whose leaves name core's per-CPU counters (CTR); the
 * summary holds each total under the table's path. Records (records.ts) and benchmarks read counters
 * back by their CTR names through `counterOf`, so no other module re-maps them.
 */
import { availableParallelism } from 'node:os';
import type { CounterName, LockStatRow, Machine, Violation } from '@smpsim/core';
import type { CpuRunResult } from '@smpsim/cpu-worker';
import { reproduceLine } from './command-lines.js';
import { formatTlb } from './parse.js';
import type { RunMode, RunOptions } from './run-options.js';
import type { DetInfo, TimedInfo } from './schedule-options.js';

/** A tree whose leaves name counters. */
type CounterTree = { readonly [k: string]: CounterName | CounterTree };
/** The numbers of a counter tree, in its shape. */
export type CounterValues<T> = { -readonly [K in keyof T]: T[K] extends string ? number : CounterValues<T[K]> };

/** The summary's counters (totals over the CPUs), in the order and nesting of `stats`. */
export const COUNTERS = {
  accesses: 'accesses',
  ops: 'ops',
  tlb: { hits: 'tlbHits', l2Hits: 'tlbL2Hits', misses: 'tlbMisses' },
  faults: { notPresent: 'faultsNotPresent', writeNotify: 'faultsWriteNotify', other: 'faultsOther', cow: 'cowFaults' },
  shootdowns: {
    ipisSent: 'ipisSent',
    ipisReceived: 'ipisReceived',
    flushesPage: 'flushesPage',
    flushesRange: 'flushesRange',
    flushesFull: 'flushesFull',
    flushesElided: 'flushesElided',
    leaveMm: 'leaveMm',
    lazyIdle: 'lazyIdle',
    lazySkipped: 'lazySkipped',
    byCause: { mkclean: 'shootdownsMkclean', munmap: 'shootdownsMunmap', mprotect: 'shootdownsMprotect', fault: 'shootdownsFault', reclaim: 'shootdownsReclaim' },
  },
  writeback: {
    pagesCleaned: 'pagesCleaned',
    pagesWritten: 'pagesWritten',
    bufferWrites: 'bufferWrites',
    pageReads: 'pageReads',
    flusherRuns: 'flusherRuns',
    journalRuns: 'journalRuns',
    throttled: 'throttled',
    throttleWritten: 'throttleWritten',
    pagesDirtied: 'pagesDirtied',
    dirtyCancelled: 'dirtyCancelled',
  },
  reclaim: { evicted: 'evicted', refaults: 'refaults', runs: 'reclaimRuns', aged: 'aged' },
  syscalls: { mmap: 'mmaps', munmap: 'munmaps', mprotect: 'mprotects', msync: 'msyncs', pread: 'preads', pwrite: 'pwrites', ftruncate: 'truncates' },
  io: { submitted: 'ioSubmitted', completed: 'ioCompleted' },
  truncateRetries: 'truncateRetries',
  tokens: { switches: 'tokenSwitches', directedYields: 'directedYields', ipisProxied: 'ipisProxied' },
  checkpoints: 'checkpoints',
  lockContended: 'lockContended',
} as const satisfies CounterTree;

/** Each CPU's own counters in `stats.perCpu`. */
const PER_CPU = { threadId: 'threadId', accesses: 'accesses', ops: 'ops', cycles: 'cycles' } as const satisfies CounterTree;

/** Builds the numbers of a counter tree, reading each leaf with `read`. */
export function countersOf<T extends CounterTree>(tree: T, read: (n: CounterName) => number): CounterValues<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree)) out[k] = typeof v === 'string' ? read(v as CounterName) : countersOf(v as CounterTree, read);
  return out as CounterValues<T>;
}

/** Where each counter sits in `stats` (its path through COUNTERS). */
const PATHS = new Map<CounterName, string[]>();
(function index(tree: CounterTree, at: string[]) {
  for (const [k, v] of Object.entries(tree)) typeof v === 'string' ? PATHS.set(v as CounterName, [...at, k]) : index(v, [...at, k]);
})(COUNTERS, []);

/** A counter's total in a summary's stats, by its CTR name (a counter the summary does not hold is an error). */
export function counterOf(stats: RunSummary['stats'], n: CounterName): number {
  const path = PATHS.get(n);
  if (!path) throw new Error(`the run summary holds no counter '${n}'`);
  return path.reduce<unknown>((x, k) => (x as Record<string, unknown>)[k], stats) as number;
}

export interface RunSummary {
  ok: boolean;
  seed: number;
  reproduce: string;
  violations: Violation[];
  /**
   * Violations other CPUs reported while the machine was stopping for the first (marked secondary):
   * the same race seen twice, or a consequence of the stop unwinding kernel paths half done; not
   * findings. Present only when there were some.
   */
  afterStop?: Violation[];
  config: {
    cpus: number;
    procs: number;
    workload: string;
    ops: number;
    durationMs: number;
    memoryBytes: number;
    tlb: string;
    kernel: string;
    bugs: string[];
    hostCores: number;
    /** Free mode with run tokens: how many simulated CPUs may execute at once (0: no tokens). */
    runTokens: number;
  };
  stats: { perCpu: Array<{ cpu: number } & CounterValues<typeof PER_CPU> & { runMs: number }> } & Omit<CounterValues<typeof COUNTERS>, 'lockContended'> & {
    /** Most write-notify pages seen (at checkpoints and the end) dirty only in PTE D bits. */
    maxDirtyOnlyInPte: number;
    /** The asynchronous disk: the most writes one CPU had in flight at once (0 without it). */
    ioInflightMax: number;
    lockContended: number;
    /** Per lock class, /proc/lock_stat columns (with --lock-stat; empty otherwise). */
    locks: LockStatRow[];
    simCycles: number;
    hostWallMs: number;
    /**
     * Where a run's host time went, ms: start (options, workload module, machine buffers, worker
     * threads), setup (the workers attach and boot their CPUs), run (the workload and the end of run
     * in the workers), check (the backing-store oracle and this summary in the main thread).
     */
    phasesMs?: { start: number; setup: number; run: number; check: number };
    workloadMs: number;
  };
  results: unknown[];
  /** 'free', 'deterministic' or 'timed'. */
  mode: RunMode;
  /** Deterministic mode: FNV-1a over the ordered event sequence (decisions, faults, locks, flushes, writeback). */
  traceHash?: string;
  /** Deterministic mode: the scheduler, its step and switch counts, and the schedule string. */
  schedule?: DetInfo;
  /** Timed mode: the cost preset, the quantum, each CPU's simulated clock. */
  timed?: TimedInfo;
}

/** What a run produced besides the machine's counters. */
export interface RunOutcome {
  workloadName: string;
  results: CpuRunResult[];
  violations: Violation[];
  afterStop?: Violation[];
  hostWallMs: number;
  /** The machine's high-water mark of pages dirty only in PTEs (read by runOnWorkers). */
  maxDirtyOnlyInPte: number;
  /** Run tokens of a free run with more CPUs than host threads (0: none). */
  runTokens: number;
}

/** The summary of a finished run (without the deterministic fields, which detInfo adds). */
export function summarize(o: RunOptions, m: Machine, r: RunOutcome): RunSummary {
  const { lockContended, ...totals } = countersOf(COUNTERS, (n) => m.total(n));
  return {
    ok: r.violations.length === 0,
    seed: o.seed,
    reproduce: reproduceLine(o),
    violations: r.violations,
    ...(r.afterStop?.length ? { afterStop: r.afterStop } : {}),
    config: {
      cpus: o.cpus,
      procs: o.procs,
      workload: r.workloadName,
      ops: o.ops,
      durationMs: o.ops ? 0 : o.durationMs,
      memoryBytes: m.config.memoryBytes,
      tlb: formatTlb(m.config.tlb),
      kernel: o.kernel,
      bugs: [...m.config.kernel.bugs],
      hostCores: availableParallelism(),
      runTokens: r.runTokens,
    },
    stats: {
      perCpu: Array.from({ length: o.cpus }, (_, c) => ({ cpu: c, ...countersOf(PER_CPU, (n) => m.counter(c, n)), runMs: r.results.find((x) => x.cpu === c)?.runMs ?? 0 })),
      ...totals,
      maxDirtyOnlyInPte: r.maxDirtyOnlyInPte,
      ioInflightMax: Math.max(0, ...Array.from({ length: o.cpus }, (_, c) => m.counter(c, 'ioInflightMax'))),
      lockContended,
      locks: m.config.kernel.lockStat ? m.lockStats() : [],
      simCycles: Math.max(...Array.from({ length: o.cpus }, (_, c) => m.counter(c, 'cycles'))),
      hostWallMs: r.hostWallMs,
      workloadMs: Math.max(0, ...r.results.map((x) => x.runMs)),
    },
    results: r.results.map((x) => x.result),
    mode: o.mode,
  };
}

/**
 * The part of a summary that two runs with the same flags must agree on: everything but host
 * timings, host identities (thread ids, cores) and lock-stat host nanoseconds.
 */
export function deterministicPart(s: RunSummary): unknown {
  const c = structuredClone(s) as unknown as Record<string, any>;
  delete c.config.hostCores;
  delete c.stats.hostWallMs;
  delete c.stats.phasesMs;
  delete c.stats.workloadMs;
  for (const p of c.stats.perCpu) {
    delete p.runMs;
    delete p.threadId;
  }
  for (const r of c.stats.locks ?? []) {
    delete r.waitNs;
    delete r.holdNs;
  }
  return c;
}
