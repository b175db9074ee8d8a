/**
 * Machine assembly and one run: from options to a configuration, the shared memory, one CPU worker per
 * simulated CPU, the run, the end-of-run oracles, and the summary object `--json` prints (summary.ts).
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import {
  BUG_IDS,
  initTokens,
  checkBackingStore,
  chromeTrace,
  type CostModel,
  costPreset,
  DEFAULT_COSTS,
  DEFAULT_DAEMONS,
  defaultConfig,
  KERNEL_PRESETS,
  FAITHFUL_DAEMONS,
  Machine,
  type MachineBuffers,
  type MachineConfig,
  type SchedState,
  StopReason,
  type Violation,
} from '@smpsim/core';
import { CpuWorker, loadWorkload, resolveWorkload, runOnWorkers, type Workload, type WorkerRunResult, workloadFiles, workloadMemory } from '@smpsim/cpu-worker';
import { UsageError } from './parse.js';
import { DEFAULT_RUN, type RunOptions } from './run-options.js';
import { checkDeterministic, createSchedState, createTimedState, DEFAULT_TIMED_COSTS, detInfo, timedInfo } from './schedule-options.js';
import { type RunSummary, summarize } from './summary.js';

/**
 * The machine configuration for a run of workload `w`: its files, and its memory where the run gives
 * no --memory (throws ConfigError / UsageError / WorkloadError on bad input).
 */
export function configFor(o: RunOptions, w: Workload): MachineConfig {
  const wo = { cpus: o.cpus, procs: o.procs, ops: o.ops, seed: o.seed, params: o.params };
  return buildConfig(o, workloadFiles(w, wo), workloadMemory(w, wo));
}

/**
 * Builds the machine configuration for a run (throws ConfigError / UsageError on bad input). Memory:
 * --memory, else what the workload asks for (`workloadMemoryBytes`), else the machine's default.
 */
export function buildConfig(o: RunOptions, files: MachineConfig['files'], workloadMemoryBytes: number | null = null): MachineConfig {
  for (const b of o.bugs) if (!BUG_IDS.includes(b)) throw new UsageError(`unknown bug '${b}' (see: smpsim bugs)`);
  const preset = KERNEL_PRESETS[o.kernel];
  if (!preset) throw new UsageError(`unknown kernel '${o.kernel}' (one of: ${Object.keys(KERNEL_PRESETS).join(', ')})`);
  const bugs = [...new Set([...preset.bugs, ...o.bugs])];
  return defaultConfig({
    cpus: o.cpus,
    procs: o.procs,
    ...(o.memoryBytes || workloadMemoryBytes ? { memoryBytes: o.memoryBytes || workloadMemoryBytes! } : {}),
    files,
    tlb: o.tlb,
    seed: o.seed,
    kernel: {
      writeNotify: preset.writeNotify,
      bugs,
      flushCeiling: o.flushCeiling,
      flushProtocol: o.flushProtocol || preset.flushProtocol,
      arch: o.arch,
      msyncScope: o.msyncScope || preset.msyncScope,
      lockdep: o.lockdep,
      lockStat: o.lockStat,
    },
    watchdogMs: o.watchdogMs,
    // deterministic and timed mode: no host-time delays; the schedule is the only source of interleaving
    perturb: o.mode === 'free' ? o.perturb : 0,
    costs: { ...baseCosts(o), ...(o.costs ?? {}) },
    daemons: { ...DEFAULT_DAEMONS, ...(o.faithful ? FAITHFUL_DAEMONS : {}), ...o.daemonConfig },
  });
}

/** The name of the cost preset a run uses (`--costs`, or the mode's default). */
export function costPresetName(o: Pick<RunOptions, 'costPreset' | 'mode'>): string {
  return o.costPreset || (o.mode === 'timed' ? DEFAULT_TIMED_COSTS : 'default');
}

/** The costs `--cost` overrides apply to: the preset's, or the per-operation defaults. */
function baseCosts(o: RunOptions): CostModel {
  const name = costPresetName(o);
  if (name === 'default') return DEFAULT_COSTS;
  const p = costPreset(name);
  if (!p) throw new UsageError(`unknown cost preset '${name}'`);
  return p.costs;
}

/** A finished run's shared memory, for the next run of a pool (see Machine.create). */
interface SpareBuffers {
  readonly machine: MachineBuffers;
  readonly sched: SharedArrayBuffer | null;
}

/**
 * Worker threads kept between runs, so short runs pay no thread start-up, and the shared memory of
 * the last finished run, which the next run uses again where the sizes fit: a run of a campaign then
 * allocates no new SharedArrayBuffers, and the memory stays flat however many runs a pool serves.
 */
export class CpuWorkerPool {
  private idle: CpuWorker[] = [];
  private spare: SpareBuffers | null = null;

  acquire(n: number): CpuWorker[] {
    const out: CpuWorker[] = [];
    while (out.length < n) {
      const w = this.idle.pop();
      if (!w) out.push(CpuWorker.spawn());
      else if (w.alive) out.push(w);
    }
    return out;
  }

  release(ws: CpuWorker[]): void {
    for (const w of ws) if (w.alive) this.idle.push(w);
  }

  /** The buffers a finished run left (once: a run owns them until it gives them back). */
  takeSpare(): SpareBuffers | null {
    const s = this.spare;
    this.spare = null;
    return s;
  }

  /** Gives back a run's buffers: no thread may touch them any more (its workers returned or were terminated). */
  keepSpare(s: SpareBuffers): void {
    this.spare = s;
  }

  async close(): Promise<void> {
    this.spare = null;
    const ws = this.idle;
    this.idle = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** How many simulated CPUs may execute at once in free mode (--host-threads; 0: the host's cores). */
export const hostThreadsOf = (o: Pick<RunOptions, 'hostThreads'>): number => o.hostThreads || availableParallelism();

/**
 * Runs one machine. Resolves with the summary; a violation is in `violations` (ok: false). Throws
 * UsageError, ConfigError or WorkloadError for bad input, before any worker starts.
 */
export async function runMachine(partial: Partial<RunOptions>, pool?: CpuWorkerPool): Promise<RunSummary> {
  const tStart = Date.now();
  const o: RunOptions = { ...DEFAULT_RUN, ...partial, params: { ...(partial.params ?? {}) } };
  if (!o.ops && !o.durationMs) throw new UsageError('a run needs --ops or --duration');
  checkDeterministic(o);
  const url = await resolveWorkload(o.workload, o.cwd);
  const workload = await loadWorkload(url);
  const config = configFor(o, workload);
  const own = !pool;
  const p = pool ?? new CpuWorkerPool();
  const spare = p.takeSpare();
  const m = Machine.create(config, spare?.machine);
  // free mode with more simulated CPUs than host threads: run tokens (core's sched/tokens.ts)
  const runTokens = o.mode === 'free' && o.cpus > hostThreadsOf(o) ? hostThreadsOf(o) : 0;
  if (runTokens) initTokens(m.meta, m.layout, runTokens);
  const workers = p.acquire(o.cpus);
  const sched: SchedState | null = o.mode === 'deterministic' ? createSchedState(o, spare?.sched) : o.mode === 'timed' ? createTimedState(o, config, spare?.sched) : null;
  const t0 = Date.now();
  // timed mode's --duration is simulated time (createTimedState), never a host deadline
  const deadline = o.ops || o.mode === 'timed' ? 0 : Date.now() + o.durationMs;
  const setup = (cpu: number) => ({
    proc: cpu % o.procs,
    workloadUrl: url,
    ops: o.ops,
    deadline,
    params: o.params,
    checkEvery: o.checkEvery,
    daemons: o.daemons,
    ...(sched ? { sched: sched.buffer } : {}),
    ...(runTokens ? { tokenSliceUs: o.tokenSliceUs } : {}),
    ...(o.trace ? { trace: true } : {}),
  });
  const limitMs = (o.ops || o.mode === 'timed' ? 600_000 : o.durationMs + 60_000) + 3 * o.watchdogMs;
  let run: WorkerRunResult | null = null;
  try {
    run = await runOnWorkers(m, workers, { setup, limitMs, sched });
  } finally {
    if (!run || run.broken) await Promise.all(workers.map((w) => w.terminate()));
    else p.release(workers);
    if (own) await p.close();
  }
  const tRun = Date.now();
  try {
    const s = finish(o, m, run, sched, workload, tRun - t0, runTokens);
    s.stats.phasesMs = { start: t0 - tStart, setup: run.setupMs, run: tRun - t0 - run.setupMs, check: Date.now() - tRun };
    return s;
  } finally {
    // No CPU touches the buffers any more (the workers returned or were terminated), nor does the
    // summary (made): the pool's next run may have them.
    if (!own) p.keepSpare({ machine: m.buffers, sched: sched?.buffer ?? spare?.sched ?? null });
  }
}

/** The end of a run: the end-of-run oracles, the trace file, the summary. */
function finish(o: RunOptions, m: Machine, run: WorkerRunResult, sched: SchedState | null, workload: Workload, hostWallMs: number, runTokens: number): RunSummary {
  const { results } = run;
  // The CPU's violation that stopped the machine, then the run's own (a hang or a dead worker that
  // broke it); those reported while it stopped are kept apart.
  const all: Violation[] = [...results.flatMap((r) => r.violations), ...run.violations];
  const violations = all.filter((v) => !v.secondary);
  const afterStop = all.filter((v) => v.secondary);
  const finished = m.stopReason() === StopReason.Finished;
  if (violations.length === 0 && finished) o.beforeFinalCheck?.(m);
  if (violations.length === 0 && workload.oracle === 'owned-words' && finished) {
    for (const f of checkBackingStore(m)) violations.push({ kind: f.kind, message: f.message, details: f.details });
  }
  if (o.trace) {
    const t = chromeTrace(
      results.map((r) => r.trace ?? []),
      { cpus: o.cpus, deterministic: sched !== null && !sched.timed, title: `smpsim ${workload.name} (${o.mode}, seed ${o.seed})` },
    );
    try {
      writeFileSync(o.trace, JSON.stringify(t));
    } catch (e) {
      throw new UsageError(`cannot write the trace to ${o.trace}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const s = summarize(o, m, { workloadName: workload.name, results, violations, afterStop, hostWallMs, maxDirtyOnlyInPte: m.maxDirtyOnlyInPte, runTokens });
  if (sched?.timed) Object.assign(s, timedInfo(o, m, sched, results));
  else if (sched) {
    Object.assign(s, detInfo(o, sched));
    // a replay (possibly of a shrunk schedule) is repeated by its schedule string
    if (o.replay && s.schedule?.replay) s.reproduce = s.schedule.replay;
  }
  return s;
}
