/**
 * `smpsim bench`: scaling benchmarks of the simulator, in the formats the field already uses.
 *
 * Suites (each a built-in workload run once per point and mode, on CPU workers reused across points):
 * - `access`: TLB-hit simulated accesses per second per CPU (`tlb-hit`); baseline: a native C loop
 *   with the same working set and pattern.
 * - `faults`: write-notify faults per second per CPU (`write-notify`: msync(MS_SYNC) the file, then
 *   one store per page); baseline: the host kernel doing the same on a real file.
 * - `shootdown`: latency of a synced single-page TLB flush (`shootdown`), p50/p99 from an HDR
 *   histogram, while the other CPUs are busy with TLB-hit accesses.
 * - `msync`: vm-scalability case-msync: each CPU writes its own region of a shared file and msyncs
 *   it (`msync-region`); pages written back per second per CPU.
 *
 * Modes, as in will-it-scale: `processes` gives every CPU its own process (mm), `threads` runs all
 * CPUs in one process, so every TLB flush of the mm reaches all of them. Output: a table, the
 * will-it-scale CSV (`--csv`), JSON (`--json`), and an SVG plot (`--plot`).
 */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { compileBaseline, runBaseline, type Baseline, type BaselinePoint, type BaselineSpec } from './bench-baseline.js';
import { cpuTimes, idlePercent } from './host-idle.js';
import { parseDuration, parseList, parseParam, parseTlb, parseIntStrict, UsageError } from './parse.js';
import { CpuWorkerPool, type RunOptions, type RunSummary, runMachine } from './run.js';

export type BenchSuite = 'access' | 'faults' | 'shootdown' | 'msync';
export type BenchMode = 'processes' | 'threads';

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
  /** Host nanoseconds per operation on one CPU (1e9 / perCpu). */
  nsPerOp: number;
  /** Each CPU's operations per second. */
  perCpuRates: number[];
  /** Host CPU idle percentage during the run (will-it-scale's *_idle columns). */
  idlePct: number;
  hostWallMs: number;
  /**
   * Host CPU time this process used during the run (all threads, set-up and end-of-run checks
   * included), and that divided by the operations: a cost per operation that other load on the host
   * does not change, unlike the rates.
   */
  hostCpuMs: number;
  cpuNsPerOp: number;
  /** Model counters of the run that explain the number (faults, IPIs, flushes, TLB misses...). */
  counters: Record<string, number>;
  /** Suite-specific figures (msyncs/s, busy CPUs' accesses/s...). */
  extra: Record<string, number>;
  latency?: LatencyStats;
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
  /** smpsim per CPU / baseline per task, primary mode (e.g. 0.2 = the simulator is 5x slower). */
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
  timeMs: number;
  warmupMs: number;
  modes: BenchMode[];
  /** The mode whose figures are the point's headline and the baseline ratio. */
  primary: BenchMode;
  config: { lockdep: boolean; daemons: boolean; tlb: string; flushCeiling: number; kernel: string; seed: number };
  baseline: { available: true; program: string; description: string; compiler: string; fs: string } | { available: false; reason: string } | null;
  points: BenchPoint[];
  ok: boolean;
}

export interface BenchOptions {
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
   * that much CPU time; 0 for none.
   */
  warmupMs?: number;
  /** Workers to reuse (closed by the caller); a private pool otherwise. */
  pool?: CpuWorkerPool;
  /** Called with one line per finished run (progress). */
  onProgress?: (line: string) => void;
}

interface SuiteDef {
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
}

type Res = Record<string, unknown> | null | undefined;
const res = (s: RunSummary, c: number): Res => s.results[c] as Res;
const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
/** Per-CPU accesses over the CPU's run time (the workload does not time itself). */
const accessesPerCpu = (s: RunSummary) => s.stats.perCpu.map((p) => ({ ops: p.accesses, ms: p.runMs }));

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
  },
  shootdown: {
    workload: 'shootdown',
    title: 'synced single-page TLB flush, initiation to last acknowledgement (other CPUs busy with TLB-hit accesses)',
    unit: 'flushes/s',
    modes: ['threads'],
    primary: 'threads',
    params: { pages: 8, range: 1, gap: 256 },
    measure: (s) => [{ ops: num(res(s, 0)?.flushes), ms: num(res(s, 0)?.ms) }],
    extra: (s, cpus) => {
      let rate = 0;
      for (let c = 1; c < cpus; c++) rate += s.stats.perCpu[c]!.accesses / Math.max(1e-3, s.stats.perCpu[c]!.runMs / 1000);
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
  },
};

export const BENCH_SUITE_NAMES = Object.keys(BENCH_SUITES) as BenchSuite[];

/** The machine options every bench run starts from: no lock validator, no kernel threads. */
const BENCH_RUN: Partial<RunOptions> = { lockdep: false, daemons: false };

type Hdr = typeof import('hdr-histogram-js');

function latencyStats(hdr: Hdr, pairs: unknown, timerNs: number): LatencyStats | undefined {
  if (!Array.isArray(pairs) || pairs.length === 0) return undefined;
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
  for (const p of pairs as Array<[number, number]>) h.recordValueWithCount(Math.max(1, Math.round(p[0])), p[1]);
  const s: LatencyStats = {
    samples: h.totalCount,
    minNs: h.minNonZeroValue,
    p50Ns: h.getValueAtPercentile(50),
    p90Ns: h.getValueAtPercentile(90),
    p99Ns: h.getValueAtPercentile(99),
    p999Ns: h.getValueAtPercentile(99.9),
    maxNs: h.maxValue,
    meanNs: h.mean,
    timerNs,
  };
  h.destroy();
  return s;
}

function counters(s: RunSummary): Record<string, number> {
  const st = s.stats;
  return {
    accesses: st.accesses,
    tlbMisses: st.tlb.misses,
    tlbL2Hits: st.tlb.l2Hits,
    faultsNotPresent: st.faults.notPresent,
    faultsWriteNotify: st.faults.writeNotify,
    ipisSent: st.shootdowns.ipisSent,
    flushesPage: st.shootdowns.flushesPage,
    flushesRange: st.shootdowns.flushesRange,
    flushesFull: st.shootdowns.flushesFull,
    flushesLocalOnly: st.shootdowns.flushesElided,
    pagesCleaned: st.writeback.pagesCleaned,
    pagesWritten: st.writeback.pagesWritten,
    msyncs: st.syscalls.msync,
    lockContended: st.lockContended,
    simCycles: st.simCycles,
    workloadMs: st.workloadMs,
  };
}

async function runMode(hdr: Hdr, def: SuiteDef, cpus: number, mode: BenchMode, timeMs: number, params: Record<string, string | number | boolean>, o: BenchOptions, pool: CpuWorkerPool): Promise<ModeResult> {
  const procs = mode === 'processes' ? cpus : 1;
  const before = cpuTimes();
  const cpu0 = process.cpuUsage();
  const s = await runMachine({ ...BENCH_RUN, ...o.run, workload: def.workload, cpus, procs, ops: 0, durationMs: timeMs, params }, pool);
  const used = process.cpuUsage(cpu0);
  const idlePct = idlePercent(before, cpuTimes());
  const m = def.measure(s);
  const ops = m.reduce((a, x) => a + x.ops, 0);
  const hostCpuMs = (used.user + used.system) / 1000;
  const per = m.map((x) => (x.ms > 0 ? x.ops / (x.ms / 1000) : 0));
  const total = per.reduce((a, b) => a + b, 0);
  const perCpu = def.latency ? total : total / cpus;
  const r0 = res(s, 0);
  const latency = def.latency ? latencyStats(hdr, r0?.latencyNs, num(r0?.timerNs)) : undefined;
  return {
    mode,
    procs,
    ok: s.ok,
    violations: s.violations.map((v) => ({ kind: v.kind, message: v.message })),
    total,
    perCpu,
    nsPerOp: perCpu > 0 ? 1e9 / perCpu : 0,
    perCpuRates: per,
    idlePct,
    hostWallMs: s.stats.hostWallMs,
    hostCpuMs,
    cpuNsPerOp: ops > 0 ? (hostCpuMs * 1e6) / ops : 0,
    counters: counters(s),
    extra: def.extra?.(s, cpus) ?? {},
    ...(latency ? { latency } : {}),
  };
}

/**
 * Runs suite `suite` at each CPU count of `cpusList` for `timeMs` of host time per run, in the suite's
 * modes, with the native baseline after each point where there is one.
 */
export async function runBench(suite: string, cpusList: number[], timeMs: number, o: BenchOptions = {}): Promise<BenchResult> {
  const def = BENCH_SUITES[suite as BenchSuite];
  if (!def) throw new UsageError(`unknown bench suite '${suite}' (one of: ${BENCH_SUITE_NAMES.join(', ')})`);
  const modes = o.modes ?? def.modes;
  if (modes.length === 0) throw new UsageError('bench needs at least one mode');
  if (def.latency && modes.includes('processes')) throw new UsageError(`suite ${suite} runs in threads mode only: the flush must reach CPUs that run the same mm`);
  const primary = modes.includes(def.primary) ? def.primary : modes[0]!;
  const params = { ...def.params, ...(o.params ?? {}) };
  const hostCores = availableParallelism();
  const pool = o.pool ?? new CpuWorkerPool();
  const progress = o.onProgress ?? (() => {});
  // Loaded here, not at start-up: the CLI imports this module for every command.
  const hdr: Hdr = await import('hdr-histogram-js');
  let baseline: Baseline | null = null;
  if (def.baseline && o.baseline !== false) baseline = compileBaseline(def.baseline);
  const points: BenchPoint[] = [];
  const most = Math.max(1, ...cpusList);
  const warmupMs = Math.max(0, o.warmupMs ?? Math.min(1000, timeMs) * Math.max(1, Math.ceil(most / hostCores)));
  try {
    if (warmupMs > 0 && cpusList.length > 0) {
      await runMachine({ ...BENCH_RUN, ...o.run, workload: def.workload, cpus: most, procs: modes.includes('processes') ? most : 1, ops: 0, durationMs: warmupMs, params }, pool);
      progress(`${suite}: warmed up ${most} CPU workers for ${warmupMs} ms`);
    }
    for (const cpus of cpusList) {
      const byMode: Partial<Record<BenchMode, ModeResult>> = {};
      for (const mode of modes) {
        const r = await runMode(hdr, def, cpus, mode, timeMs, params, o, pool);
        byMode[mode] = r;
        progress(`${suite} cpus=${cpus} ${mode}: ${r.perCpu.toExponential(3)} ${def.unit} per CPU${r.ok ? '' : ' (violation)'}`);
      }
      const head = byMode[primary]!;
      const point: BenchPoint = {
        cpus,
        hostCores,
        oversubscribed: cpus > hostCores,
        perCpu: head.perCpu,
        total: head.total,
        nsPerOp: head.nsPerOp,
        summary: { ok: modes.every((m) => byMode[m]!.ok), violations: modes.flatMap((m) => byMode[m]!.violations) },
        ...byMode,
      };
      if (baseline?.available) {
        try {
          point.baseline = await runBaseline(baseline, cpus, timeMs, params);
          point.ratio = point.baseline.perTask > 0 ? head.perCpu / point.baseline.perTask : 0;
          progress(`${suite} cpus=${cpus} native: ${point.baseline.perTask.toExponential(3)} per task, smpsim/native ${point.ratio.toFixed(3)}`);
        } catch (e) {
          baseline.cleanup();
          baseline = { available: false, reason: `${baseline.spec.source} failed at ${cpus} processes: ${((e as Error).message ?? String(e)).split('\n')[0]}` };
        }
      }
      points.push(point);
    }
  } finally {
    if (!o.pool) await pool.close();
    if (baseline?.available) baseline.cleanup();
  }
  const r = { ...BENCH_RUN, ...o.run };
  const tlb = r.tlb ? `${r.tlb.l1.sets}x${r.tlb.l1.ways}${r.tlb.l2 ? `,${r.tlb.l2.sets}x${r.tlb.l2.ways}` : ''}` : '16x4,128x12';
  return {
    suite: suite as BenchSuite,
    title: def.title,
    unit: def.unit,
    workload: def.workload,
    params,
    hostCores,
    timeMs,
    warmupMs,
    modes,
    primary,
    config: { lockdep: r.lockdep ?? false, daemons: r.daemons ?? false, tlb, flushCeiling: r.flushCeiling ?? 33, kernel: r.kernel ?? 'linux-2.6.20', seed: r.seed ?? 1 },
    baseline: baseline === null ? null : baseline.available ? { available: true, program: baseline.spec.source, description: baseline.spec.description, compiler: baseline.compiler, fs: baseline.fs } : { available: false, reason: baseline.reason },
    points,
    ok: points.every((p) => p.summary.ok),
  };
}

// ------------------------------------------------------------------ output

const sci = (n: number) => (n === 0 ? '0' : n.toExponential(3));
const us = (ns: number | undefined) => (ns === undefined ? '-' : (ns / 1000).toFixed(2));

/** The human table: one row per point, `*` on points where simulated CPUs outnumber host cores. */
export function formatBench(b: BenchResult): string {
  const lines = [
    `smpsim bench ${b.suite}: ${b.title}`,
    `host: ${b.hostCores} core(s); * marks points where simulated CPUs outnumber them. ${b.timeMs} ms per run after a ${b.warmupMs} ms warm-up; workload ${b.workload} ${Object.entries(b.params).map(([k, v]) => `${k}=${v}`).join(' ')}; lockdep ${b.config.lockdep ? 'on' : 'off'}, kernel threads ${b.config.daemons ? 'on' : 'off'}`,
  ];
  if (b.baseline?.available) {
    lines.push(`baseline: ${b.baseline.program} (${b.baseline.description}), ${b.baseline.compiler}${b.suite === 'faults' ? `, file on ${b.baseline.fs}` : ''}`);
    if (b.suite === 'faults' && b.points.some((p) => p.baseline && p.baseline.minorFaults < p.baseline.ops / 2)) {
      lines.push(`  note: the host took fewer faults than stores: its file system (${b.baseline.fs}) may not account dirty pages, so there is no write notification (set SMPSIM_BASELINE_DIR to a directory on a disk file system)`);
    }
  }
  else if (b.baseline) lines.push(`baseline: skipped: ${b.baseline.reason}`);
  lines.push('');
  const cpuCol = (p: BenchPoint) => `${p.cpus}${p.oversubscribed ? '*' : ' '}`.padStart(5);
  if (b.suite === 'shootdown') {
    lines.push(' cpus   flushes/s    p50 µs   p90 µs   p99 µs   max µs   busy accesses/s/cpu   idle%');
    for (const p of b.points) {
      const t = p.threads!;
      const l = t.latency;
      const note = p.cpus === 1 ? '   (no other CPU: local flush only)' : '';
      lines.push(`${cpuCol(p)}  ${sci(t.total).padStart(10)}  ${us(l?.p50Ns).padStart(8)} ${us(l?.p90Ns).padStart(8)} ${us(l?.p99Ns).padStart(8)} ${us(l?.maxNs).padStart(8)}   ${sci(t.extra.busyAccessesPerCpu ?? 0).padStart(19)}   ${t.idlePct.toFixed(1).padStart(5)}${note}`);
    }
    const timer = b.points[0]?.threads?.latency?.timerNs;
    if (timer !== undefined) lines.push(`(each sample includes ~${timer} ns of timer calls)`);
  } else {
    const hasBase = b.points.some((p) => p.baseline);
    const head = [' cpus', ...b.modes.map((m) => `${m}/cpu`.padStart(14)), 'ns/op'.padStart(9), 'idle%'.padStart(6)];
    if (hasBase) head.push('native/task'.padStart(12), 'smpsim/native'.padStart(14));
    lines.push(head.join(' '));
    for (const p of b.points) {
      const row = [cpuCol(p), ...b.modes.map((m) => sci(p[m]?.perCpu ?? 0).padStart(14)), p.nsPerOp.toFixed(1).padStart(9), (p[b.primary]?.idlePct ?? 0).toFixed(1).padStart(6)];
      if (hasBase) row.push(p.baseline ? sci(p.baseline.perTask).padStart(12) : '-'.padStart(12), p.ratio !== undefined ? p.ratio.toFixed(3).padStart(14) : '-'.padStart(14));
      lines.push(row.join(' '));
    }
    lines.push(`(${b.unit} per simulated CPU; ns/op and the ratio are for ${b.primary} mode${hasBase ? '; the native baseline runs as many processes as there are simulated CPUs' : ''})`);
  }
  const bad = b.points.filter((p) => !p.summary.ok);
  for (const p of bad) for (const v of p.summary.violations) lines.push(`VIOLATION at ${p.cpus} CPUs: ${v.kind}: ${v.message.split('\n')[0]}`);
  return lines.join('\n');
}

export const WILL_IT_SCALE_HEADER = 'tasks,processes,processes_idle,threads,threads_idle,linear';

/**
 * will-it-scale's CSV (runtest.py): total operations per second over all tasks for each mode, the
 * host idle percentage during it, and `linear` = the one-task result times the tasks; -1 for a mode
 * that was not run (runtest.py's value when a run gave no average). The row `0,0,100,0,100,0` opens
 * the data as in runtest.py. The shootdown suite appends p50_ns,p90_ns,p99_ns.
 */
export function formatBenchCsv(b: BenchResult): string {
  const lat = b.suite === 'shootdown';
  const lines = [WILL_IT_SCALE_HEADER + (lat ? ',p50_ns,p90_ns,p99_ns' : ''), '0,0,100,0,100,0' + (lat ? ',0,0,0' : '')];
  const first = b.points[0];
  const one = first ? Math.max(first.processes?.total ?? 0, first.threads?.total ?? 0) / first.cpus : 0;
  for (const p of b.points) {
    const m = (r: ModeResult | undefined) => (r ? `${Math.round(r.total)},${r.idlePct.toFixed(2)}` : '-1,-1');
    let row = `${p.cpus},${m(p.processes)},${m(p.threads)},${Math.round(lat ? one : one * p.cpus)}`;
    if (lat) {
      const l = p.threads?.latency;
      row += l ? `,${l.p50Ns},${l.p90Ns},${l.p99Ns}` : ',-1,-1,-1';
    }
    lines.push(row);
  }
  return lines.join('\n');
}

interface BenchFlags {
  cpus: string;
  time: string;
  warmup?: string;
  mode?: string;
  param: string[];
  tlb?: string;
  flushCeiling?: string;
  seed: string;
  lockdep: boolean;
  daemons: boolean;
  baseline: boolean;
  json?: boolean;
  csv?: boolean;
  plot?: string;
  progress?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function benchCommand(p: Command): void {
  p.command('bench <suite>')
    .description('scaling benchmarks: access (TLB-hit accesses/s), faults (write-notify faults/s), shootdown (single-page flush latency), msync (case-msync pages/s)')
    .option('--cpus <list>', 'simulated CPU counts', '1,2,4,8')
    .option('--time <T>', 'host time per run (e.g. 500ms, 2s)', '1s')
    .option('--warmup <T>', 'untimed warm-up run at the largest CPU count first (default: --time, at most 1s, times simulated CPUs per host core; 0: none)')
    .option('--mode <mode>', 'processes | threads | both (default: the suite\'s)')
    .option('--param <key=value>', 'workload parameter (repeatable)', collect, [])
    .option('--tlb <geometry>', 'L1 dTLB [,L2] as SETSxWAYS')
    .option('--flush-ceiling <pages>', 'ranges above this become full flushes')
    .option('--seed <s>', 'seed', '1')
    .option('--lockdep', 'run with the lock validator (off by default in benchmarks)', false)
    .option('--daemons', 'run the flusher, journal and reclaim threads (off by default in benchmarks)', false)
    .option('--no-baseline', 'skip the native baseline')
    .option('--json', 'print JSON')
    .option('--csv', 'print will-it-scale CSV')
    .option('--plot <file.svg>', 'write an SVG plot of throughput (latency for shootdown) against CPUs')
    .option('--progress', 'a line on stderr after each run')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .action(async (suite: string, f: BenchFlags) => {
      if (!(suite in BENCH_SUITES)) throw new UsageError(`unknown bench suite '${suite}' (one of: ${BENCH_SUITE_NAMES.join(', ')})`);
      if (f.json && f.csv) throw new UsageError('--json and --csv are exclusive');
      let modes: BenchMode[] | undefined;
      if (f.mode !== undefined) {
        if (f.mode === 'both') modes = ['processes', 'threads'];
        else if (f.mode === 'processes' || f.mode === 'threads') modes = [f.mode];
        else throw new UsageError(`--mode must be processes, threads or both, got '${f.mode}'`);
      }
      if (f.plot !== undefined && !/\.svg$/i.test(f.plot)) throw new UsageError(`--plot writes SVG: the file name must end in .svg, got '${f.plot}'`);
      const run: BenchOptions['run'] = { seed: parseIntStrict(f.seed, '--seed', 0, 2 ** 31 - 1), lockdep: f.lockdep, daemons: f.daemons };
      if (f.tlb !== undefined) run.tlb = parseTlb(f.tlb);
      if (f.flushCeiling !== undefined) run.flushCeiling = parseIntStrict(f.flushCeiling, '--flush-ceiling', 1);
      const b = await runBench(suite, parseList(f.cpus, '--cpus', 1, 32), parseDuration(f.time, '--time'), {
        ...(modes ? { modes } : {}),
        ...(f.warmup !== undefined ? { warmupMs: f.warmup === '0' ? 0 : parseDuration(f.warmup, '--warmup') } : {}),
        baseline: f.baseline,
        params: Object.fromEntries(f.param.map(parseParam)),
        run,
        ...(f.progress ? { onProgress: (l: string) => process.stderr.write(l + '\n') } : {}),
      });
      if (f.plot !== undefined) await (await import('./bench-plot.js')).writePlot(b, f.plot);
      if (f.json) process.stdout.write(JSON.stringify(b) + '\n');
      else if (f.csv) {
        process.stdout.write(formatBenchCsv(b) + '\n');
        const over = b.points.filter((x) => x.oversubscribed).map((x) => x.cpus);
        process.stderr.write(`host: ${b.hostCores} core(s)${over.length ? `; simulated CPUs outnumber them at tasks ${over.join(',')}` : ''}\n`);
      } else {
        process.stdout.write(formatBench(b) + '\n');
        if (f.plot !== undefined) process.stdout.write(`plot written to ${f.plot}\n`);
      }
      process.exitCode = b.ok ? 0 : 1;
    });
}
