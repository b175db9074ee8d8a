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
 * Time bases: `host` (the default) measures the simulator, in host time; `simulated` measures the
 * simulated kernel: every run is in timed mode (sched/timed.ts), `--time` is simulated time, and the
 * rates are simulated operations per simulated second, the same on any host (no warm-up, no native
 * baseline, no host figures in the results).
 *
 * Modes, as in will-it-scale: `processes` gives every CPU its own process (mm), `threads` runs all
 * CPUs in one process, so every TLB flush of the mm reaches all of them. Output: a table, the
 * will-it-scale CSV (`--csv`), JSON (`--json`), and an SVG plot (`--plot`).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { type CounterName, costPreset, DEFAULT_COSTS, defaultConfig, KERNEL_PRESETS } from '@smpsim/core';
import { formatTlb, UsageError } from '../parse.js';
import { costPresetName, CpuWorkerPool, runMachine } from '../run.js';
import { DEFAULT_RUN, type RunOptions } from '../run-options.js';
import { counterOf, type RunSummary } from '../summary.js';
import { type Baseline, compileBaseline, runBaseline } from './baseline.js';
import { cpuTimes, idlePercent } from './host-idle.js';
import type { BenchMode, BenchOptions, BenchPoint, BenchResult, BenchSuite, HostIdentity, LatencyStats, ModeResult } from './result.js';
import { BENCH_RUN, BENCH_SUITE_NAMES, BENCH_SUITES, num, res, type SuiteDef } from './suites.js';

type Hdr = typeof import('hdr-histogram-js');

function latencyStats(hdr: Hdr, pairs: unknown, timerNs: number): LatencyStats | undefined {
  if (!Array.isArray(pairs) || pairs.length === 0) return undefined;
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
  for (const p of pairs as Array<[number, number]>) h.recordValueWithCount(Math.max(1, Math.round(p[0])), p[1]);
  // A percentile is the highest value of its HDR bucket, which can lie above the largest sample
  // recorded in that bucket: report no percentile above the maximum.
  const at = (q: number) => Math.min(h.getValueAtPercentile(q), h.maxValue);
  const s: LatencyStats = {
    samples: h.totalCount,
    minNs: h.minNonZeroValue,
    p50Ns: at(50),
    p90Ns: at(90),
    p99Ns: at(99),
    p999Ns: at(99.9),
    maxNs: h.maxValue,
    meanNs: h.mean,
    timerNs,
  };
  h.destroy();
  return s;
}

/** The model counters a point reports (ModeResult.counters), by their CTR names. */
const BENCH_COUNTERS: readonly CounterName[] = ['accesses', 'tlbMisses', 'tlbL2Hits', 'faultsNotPresent', 'faultsWriteNotify', 'ipisSent', 'flushesPage', 'flushesRange', 'flushesFull', 'flushesElided', 'pagesCleaned', 'pagesWritten', 'msyncs', 'lockContended'];
/** Names bench results have always used instead of the counter's. */
const BENCH_NAMES: Partial<Record<CounterName, string>> = { flushesElided: 'flushesLocalOnly' };

function counters(s: RunSummary): Record<string, number> {
  const c = Object.fromEntries(BENCH_COUNTERS.map((n) => [BENCH_NAMES[n] ?? n, counterOf(s.stats, n)]));
  // timed mode: no host time in the figures, so that two runs print the same numbers
  if (s.timed) return { ...c, simCycles: s.stats.simCycles, simMs: Math.max(...s.timed.simMs), switches: s.timed.switches };
  return { ...c, simCycles: s.stats.simCycles, workloadMs: s.stats.workloadMs };
}

async function runMode(hdr: Hdr, def: SuiteDef, cpus: number, mode: BenchMode, timeMs: number, params: Record<string, string | number | boolean>, o: BenchOptions, pool: CpuWorkerPool): Promise<ModeResult> {
  const procs = mode === 'processes' ? cpus : 1;
  const before = cpuTimes();
  const cpu0 = process.cpuUsage();
  const simulated = o.timeBase === 'simulated';
  const memoryBytes = benchMemory(cpus, params);
  const ops0 = o.ops ?? 0;
  const s = await runMachine({ ...BENCH_RUN, ...o.run, ...(simulated ? { mode: 'timed' as const } : {}), memoryBytes, workload: def.workload, cpus, procs, ops: ops0, durationMs: ops0 ? 0 : timeMs, params }, pool);
  const used = process.cpuUsage(cpu0);
  const idlePct = idlePercent(before, cpuTimes());
  const m = def.measure(s);
  const ops = m.reduce((a, x) => a + x.ops, 0);
  const hostCpuMs = (used.user + used.system) / 1000;
  const per = m.map((x) => (x.ms > 0 ? x.ops / (x.ms / 1000) : 0));
  // A throughput suite's total is every CPU's ops over the longest CPU's window: a sum of the CPUs'
  // own rates counted CPUs that ran one after another (run tokens rotating only at their ends, as they
  // did while slices could not end in kernel paths) as if they had run at once — 1.9x the ops over
  // the run in write-notify on 8 CPUs of one process.
  const windowMs = Math.max(0, ...m.map((x) => x.ms));
  const total = def.latency ? per.reduce((a, b) => a + b, 0) : windowMs > 0 ? ops / (windowMs / 1000) : 0;
  const perCpu = def.latency ? total : total / cpus;
  const r0 = res(s, 0);
  const latency = def.latency ? latencyStats(hdr, r0?.latencyNs, num(r0?.timerNs)) : undefined;
  const host = { idlePct, hostWallMs: s.stats.hostWallMs, hostCpuMs, cpuNsPerOp: ops > 0 ? (hostCpuMs * 1e6) / ops : 0 };
  return {
    mode,
    procs,
    ok: s.ok,
    violations: s.violations.map((v) => ({ kind: v.kind, message: v.message })),
    total,
    perCpu,
    nsPerOp: perCpu > 0 ? 1e9 / perCpu : 0,
    perCpuRates: per,
    ...(simulated ? {} : host),
    counters: counters(s),
    extra: def.extra?.(s, cpus) ?? {},
    ...(latency ? { latency } : {}),
  };
}

/**
 * Physical memory for a point: the default, or more where the suite's files (`pages` per CPU: a file
 * each or a region each) would not fit twice over (page cache, page tables and free frames for the
 * kernel), rounded up to a power of two.
 */
function benchMemory(cpus: number, params: Record<string, string | number | boolean>): number {
  const need = 2 * cpus * Number(params.pages ?? 0) * 4096;
  return Math.max(defaultConfig().memoryBytes, 2 ** Math.ceil(Math.log2(Math.max(1, need))));
}

/**
 * This host's CPU model as the kernel names it ('unknown' where it does not), with its family and
 * model numbers where /proc/cpuinfo gives them (a VM may name only the vendor's line: "AMD EPYC"),
 * and the Node.js and V8 versions.
 */
function hostIdentity(): HostIdentity {
  let cpu = cpus()[0]?.model.trim() || 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    if (family !== undefined && model !== undefined) cpu += ` (family ${family}, model ${model})`;
  } catch {
    // not Linux: the model name alone
  }
  return { cpu, node: process.versions.node, v8: process.versions.v8 };
}

/** The cost model of a simulated-time bench: the preset's name, its clock and the overrides. */
function benchCosts(r: Partial<RunOptions>): { preset: string; ghz: number; overrides: Record<string, number> } {
  const preset = costPresetName({ costPreset: r.costPreset ?? '', mode: 'timed' });
  const base = preset === 'default' ? DEFAULT_COSTS : costPreset(preset)!.costs;
  return { preset, ghz: r.costs?.ghz ?? base.ghz, overrides: { ...(r.costs ?? {}) } as Record<string, number> };
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
  const simulated = o.timeBase === 'simulated';
  const hostCores = availableParallelism();
  const pool = o.pool ?? new CpuWorkerPool();
  const progress = o.onProgress ?? (() => {});
  // Loaded here, not at start-up: the CLI imports this module for every command.
  const hdr: Hdr = await import('hdr-histogram-js');
  let baseline: Baseline | null = null;
  // the native baseline runs in host time: nothing to compare a simulated rate with
  if (def.baseline && o.baseline !== false && !simulated) baseline = compileBaseline(def.baseline);
  const points: BenchPoint[] = [];
  const most = Math.max(1, ...cpusList);
  const secondPool = simulated && modes.length > 1 && hostCores > 1 ? new CpuWorkerPool() : null;
  // timed mode's numbers do not depend on host speed: no warm-up
  const warmupMs = simulated ? 0 : Math.max(0, o.warmupMs ?? Math.min(1000, timeMs) * Math.max(1, Math.ceil(most / hostCores)));
  try {
    if (warmupMs > 0 && cpusList.length > 0) {
      // Two machines, each half the warm-up: a workload's loop runs once per machine, so in a fresh
      // worker's first machine V8 compiles it on stack replacement, and the whole-function code it
      // compiles meanwhile is entered only by a later machine's call. With one warm-up machine the
      // first point measured the second machine: the TLB-hit loop at 2.6-2.7 ns per access there,
      // 2.2-2.3 ns from the third machine on (six 1 s machines in one pool, three processes), so
      // `bench access`'s processes mode, measured first, read 14 % below its threads mode at 1 CPU,
      // where the two are the same machine.
      for (const half of [Math.ceil(warmupMs / 2), Math.floor(warmupMs / 2)]) {
        await runMachine({ ...BENCH_RUN, ...o.run, workload: def.workload, cpus: most, procs: modes.includes('processes') ? most : 1, memoryBytes: benchMemory(most, params), ops: 0, durationMs: Math.max(1, half), params }, pool);
      }
      progress(`${suite}: warmed up ${most} CPU workers for ${warmupMs} ms (two machines)`);
    }
    for (const cpus of cpusList) {
      const byMode: Partial<Record<BenchMode, ModeResult>> = {};
      const done = (mode: BenchMode, r: ModeResult) => {
        byMode[mode] = r;
        progress(`${suite} cpus=${cpus} ${mode}: ${r.perCpu.toExponential(3)} ${def.unit} per CPU${r.ok ? '' : ' (violation)'}`);
      };
      if (secondPool) {
        // Simulated time does not depend on the host: the modes run at once, one pool each (a timed
        // run keeps one host core busy, one simulated CPU at a time).
        const rs = await Promise.all(modes.map((mode, k) => runMode(hdr, def, cpus, mode, timeMs, params, o, k === 0 ? pool : secondPool)));
        modes.forEach((mode, k) => done(mode, rs[k]!));
      } else for (const mode of modes) done(mode, await runMode(hdr, def, cpus, mode, timeMs, params, o, pool));
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
      // a latency suite's baseline is a round between processes: none at one CPU
      if (baseline?.available && !(def.latency && cpus < 2)) {
        try {
          point.baseline = await runBaseline(baseline, cpus, timeMs, params);
          // a latency suite compares its one initiator's rate with the baseline's (its task 0's)
          const native = def.latency ? point.baseline.total : point.baseline.perTask;
          point.ratio = native > 0 ? head.perCpu / native : 0;
          progress(`${suite} cpus=${cpus} native: ${native.toExponential(3)} per ${def.latency ? 'initiator' : 'task'}, smpsim/native ${point.ratio.toFixed(3)}`);
        } catch (e) {
          baseline.cleanup();
          baseline = { available: false, reason: `${baseline.spec.source} failed at ${cpus} processes: ${((e as Error).message ?? String(e)).split('\n')[0]}` };
        }
      }
      points.push(point);
    }
  } finally {
    if (!o.pool) await pool.close();
    await secondPool?.close();
    if (baseline?.available) baseline.cleanup();
  }
  const r = { ...BENCH_RUN, ...o.run };
  return {
    suite: suite as BenchSuite,
    title: def.title,
    unit: def.unit,
    workload: def.workload,
    params,
    hostCores,
    host: hostIdentity(),
    timeMs: o.ops ? 0 : timeMs,
    ops: o.ops ?? 0,
    warmupMs,
    modes,
    primary,
    timeBase: simulated ? 'simulated' : 'host',
    config: {
      lockdep: r.lockdep ?? false,
      daemons: r.daemons ?? false,
      tlb: formatTlb(r.tlb ?? DEFAULT_RUN.tlb),
      flushCeiling: r.flushCeiling ?? DEFAULT_RUN.flushCeiling,
      flushProtocol: r.flushProtocol || KERNEL_PRESETS[r.kernel ?? DEFAULT_RUN.kernel].flushProtocol,
      arch: r.arch ?? DEFAULT_RUN.arch,
      kernel: r.kernel ?? DEFAULT_RUN.kernel,
      seed: r.seed ?? DEFAULT_RUN.seed,
      ...(simulated ? { costs: benchCosts(r), quantum: r.quantum ?? DEFAULT_RUN.quantum } : {}),
    },
    baseline: baseline === null ? null : baseline.available ? { available: true, program: baseline.spec.source, description: baseline.spec.description, compiler: baseline.compiler, fs: baseline.fs } : { available: false, reason: baseline.reason },
    points,
    ok: points.every((p) => p.summary.ok),
  };
}
