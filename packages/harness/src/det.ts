/**
 * Deterministic mode in the harness: the scheduler's shared state for a run, the summary's
 * deterministic fields (trace hash, schedule string), and the mapping between run options and the
 * options a schedule string carries.
 *
 * Time in deterministic mode is logical only: a run is `--ops N` long (a `--duration` is refused,
 * since host time would make the run depend on the host), kernel-thread periods and checkpoints are
 * simulated cycles, and the watchdog counts scheduling steps (`--deadlock-steps`).
 */
import { isAbsolute, resolve } from 'node:path';
import { BUG_IDS, type CostModel, DEFAULT_COSTS, type Decision, decodeSchedule, encodeSchedule, KERNEL_PRESETS, newExecution, type Schedule, type SchedState } from '@smpsim/core';
import { BUILTIN_WORKLOADS } from '@smpsim/cpu-worker';
import { UsageError } from './parse.js';
import type { RunOptions, RunSummary } from './run.js';

export type RunMode = 'free' | 'deterministic';
export type SchedName = 'random' | 'pct';
export const RUN_MODES: readonly RunMode[] = ['free', 'deterministic'];
export const SCHED_NAMES: readonly SchedName[] = ['random', 'pct'];

/** Ops per CPU of a deterministic run that gives neither --ops nor --duration. */
export const DEFAULT_DET_OPS = 20_000;
/** The random walk's default switch probability per decision point. */
export const DEFAULT_SWITCH_PROB = 0.01;
/** PCT's default bug depth. */
export const DEFAULT_PCT_DEPTH = 3;
/** Consecutive all-blocked scheduling steps that are a deadlock. */
export const DEFAULT_DEADLOCK_STEPS = 1000;
/** Decision points per op assumed by the PCT step estimate (measured on dirty-share: about 2). */
export const PCT_STEPS_PER_OP = 2;
/** Scheduling steps a deterministic run may take before it is reported as a hang (a livelock). */
export const MAX_STEPS = 500_000_000;
/** Switches the decision log holds. */
const LOG_CAPACITY = 1 << 20;

/** The deterministic part of a run summary. */
export interface DetInfo {
  /** 'random', 'pct', or 'replay'. */
  policy: string;
  switchProb?: number;
  pctDepth?: number;
  pctSteps?: number;
  /** Scheduling decision points of the run. */
  steps: number;
  /** Decisions that switched CPUs. */
  switches: number;
  /** Decisions in the schedule string: those a replay's default would not make (the first CPU included). */
  decisions: number;
  /** The versioned schedule string that replays the run (null if the decision log overflowed). */
  string: string | null;
  /** The command that replays it. */
  replay: string | null;
}

/** PCT's k: the expected number of decision points of a run. */
export function pctSteps(o: RunOptions): number {
  return o.pctSteps > 0 ? o.pctSteps : Math.max(1, o.ops * o.cpus * PCT_STEPS_PER_OP);
}

/** Refuses what deterministic mode cannot do (exit status 2). */
export function checkDeterministic(o: RunOptions): void {
  if (o.mode !== 'deterministic') {
    if (o.replay) throw new UsageError('a replay runs in deterministic mode');
    return;
  }
  if (!o.ops) throw new UsageError('deterministic mode counts --ops, never host time: give --ops N (a --duration is refused)');
  if (!SCHED_NAMES.includes(o.sched)) throw new UsageError(`--sched must be one of ${SCHED_NAMES.join(', ')}, got '${o.sched}'`);
  if (!(o.switchProb > 0 && o.switchProb <= 1)) throw new UsageError(`--switch-prob must be a probability in (0, 1], got ${o.switchProb}`);
  if (!(Number.isInteger(o.pctDepth) && o.pctDepth >= 1 && o.pctDepth <= 64)) throw new UsageError(`--pct-depth must be an integer from 1 to 64, got ${o.pctDepth}`);
}

/** The scheduler state of a new deterministic execution of `o`. */
export function createSchedState(o: RunOptions): SchedState {
  return newExecution({
    cpus: o.cpus,
    policy: o.replay ? 'replay' : o.sched,
    seed: o.seed,
    switchProb: o.switchProb,
    pctDepth: o.pctDepth,
    pctSteps: pctSteps(o),
    ...(o.replay ? { replay: o.replay } : {}),
    logCapacity: LOG_CAPACITY,
    deadlockSteps: o.deadlockSteps,
    waitLimitSteps: Math.max(20_000_000, o.deadlockSteps * 1000),
    maxSteps: MAX_STEPS,
  });
}

/** The flags that select deterministic mode and its scheduler (for reproduce commands). */
export function detFlags(o: RunOptions): string[] {
  if (o.mode !== 'deterministic') return [];
  const a = ['--mode deterministic', `--sched ${o.sched}`];
  if (o.sched === 'random' && o.switchProb !== DEFAULT_SWITCH_PROB) a.push(`--switch-prob ${o.switchProb}`);
  if (o.sched === 'pct' && o.pctDepth !== DEFAULT_PCT_DEPTH) a.push(`--pct-depth ${o.pctDepth}`);
  if (o.sched === 'pct' && o.pctSteps > 0) a.push(`--pct-steps ${o.pctSteps}`);
  if (o.deadlockSteps !== DEFAULT_DEADLOCK_STEPS) a.push(`--deadlock-steps ${o.deadlockSteps}`);
  return a;
}

export function costFlags(o: RunOptions): string[] {
  return Object.entries(o.costs ?? {}).map(([k, v]) => `--cost ${k}=${v}`);
}

/** `--cost key=value` settings, checked against the cost model's fields. */
export function parseCosts(list: readonly string[]): Partial<CostModel> {
  const out: Record<string, number> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    const k = item.slice(0, i);
    const v = Number(item.slice(i + 1));
    if (i <= 0 || !(k in DEFAULT_COSTS)) throw new UsageError(`--cost must be key=value with key one of ${Object.keys(DEFAULT_COSTS).join(', ')}, got '${item}'`);
    if (!(Number.isFinite(v) && v >= 0)) throw new UsageError(`--cost ${k} must be a non-negative number of cycles, got '${item.slice(i + 1)}'`);
    out[k] = v;
  }
  return out as Partial<CostModel>;
}

export const replayCommand = (schedule: string): string => `npx smpsim replay '${schedule}'`;

/** The options a schedule string carries: everything that decides the run, nothing host-specific. */
export function scheduleOptions(o: RunOptions, traceHash: string | null): Record<string, unknown> {
  const workload = BUILTIN_WORKLOADS[o.workload] || isAbsolute(o.workload) ? o.workload : resolve(o.cwd, o.workload);
  const opts: Record<string, unknown> = {
    cpus: o.cpus,
    procs: o.procs,
    workload,
    ops: o.ops,
    seed: o.seed,
    memoryBytes: o.memoryBytes,
    tlb: o.tlb,
    params: o.params,
    bugs: o.bugs,
    kernel: o.kernel,
    lockdep: o.lockdep,
    checkEvery: o.checkEvery,
    daemons: o.daemons,
    daemonConfig: o.daemonConfig,
    flushCeiling: o.flushCeiling,
    costs: o.costs ?? {},
    sched: o.sched,
    switchProb: o.switchProb,
    pctDepth: o.pctDepth,
    pctSteps: o.pctSteps,
    deadlockSteps: o.deadlockSteps,
  };
  if (o.lockStat) opts.lockStat = true;
  if (traceHash) opts.traceHash = traceHash;
  return opts;
}

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * The run options of a decoded schedule (deterministic mode, replaying its decisions). Throws
 * UsageError naming the first field that does not fit.
 */
export function runOptionsFromSchedule(s: Schedule): { run: Partial<RunOptions>; traceHash: string | null } {
  const x = s.options;
  const bad = (k: string) => new UsageError(`schedule string: bad option ${k}: ${JSON.stringify(x[k])}`);
  if (!isInt(x.cpus, 1, 32)) throw bad('cpus');
  if (!isInt(x.procs, 1, 32)) throw bad('procs');
  if (typeof x.workload !== 'string') throw bad('workload');
  if (!isInt(x.ops, 1)) throw bad('ops');
  if (!isInt(x.seed, 0)) throw bad('seed');
  if (!isInt(x.memoryBytes, 4096)) throw bad('memoryBytes');
  if (!Array.isArray(x.bugs) || !x.bugs.every((b) => (BUG_IDS as readonly string[]).includes(b))) throw bad('bugs');
  if (typeof x.kernel !== 'string' || !(x.kernel in KERNEL_PRESETS)) throw bad('kernel');
  for (const d of s.decisions) if (!isInt(d.cpu, 0, (x.cpus as number) - 1)) throw new UsageError(`schedule string: a decision names cpu${d.cpu} of a ${x.cpus}-CPU machine`);
  const obj = (k: string) => {
    const v = x[k];
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(k);
    return v as Record<string, never>;
  };
  const run: Partial<RunOptions> = {
    mode: 'deterministic',
    cpus: x.cpus,
    procs: x.procs,
    workload: x.workload,
    ops: x.ops,
    durationMs: 0,
    seed: x.seed,
    memoryBytes: x.memoryBytes,
    params: obj('params'),
    bugs: x.bugs as RunOptions['bugs'],
    kernel: x.kernel as RunOptions['kernel'],
    daemonConfig: obj('daemonConfig'),
    costs: obj('costs'),
    replay: s.decisions as Decision[],
  };
  if (x.tlb !== undefined) run.tlb = x.tlb as RunOptions['tlb'];
  if (typeof x.lockdep === 'boolean') run.lockdep = x.lockdep;
  if (typeof x.lockStat === 'boolean') run.lockStat = x.lockStat;
  if (isInt(x.checkEvery, 0)) run.checkEvery = x.checkEvery;
  if (typeof x.daemons === 'boolean') run.daemons = x.daemons;
  if (isInt(x.flushCeiling, 1)) run.flushCeiling = x.flushCeiling;
  if (x.sched === 'random' || x.sched === 'pct') run.sched = x.sched;
  if (typeof x.switchProb === 'number') run.switchProb = x.switchProb;
  if (isInt(x.pctDepth, 1, 64)) run.pctDepth = x.pctDepth;
  if (isInt(x.pctSteps, 0)) run.pctSteps = x.pctSteps;
  if (isInt(x.deadlockSteps, 1)) run.deadlockSteps = x.deadlockSteps;
  return { run, traceHash: typeof x.traceHash === 'string' ? x.traceHash : null };
}

/** Decodes a schedule string into run options (UsageError for a bad string). */
export function parseScheduleString(text: string): { schedule: Schedule; run: Partial<RunOptions>; traceHash: string | null } {
  let schedule: Schedule;
  try {
    schedule = decodeSchedule(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return { schedule, ...runOptionsFromSchedule(schedule) };
}

/** The summary's deterministic fields, read from the scheduler state after the run. */
export function detInfo(o: RunOptions, st: SchedState): { traceHash: string; schedule: DetInfo } {
  const decisions = st.decisions();
  const traceHash = st.hash;
  const string = st.logOverflow ? null : encodeSchedule({ options: scheduleOptions(o, traceHash), decisions });
  const info: DetInfo = {
    policy: st.policy,
    ...(o.sched === 'random' && !o.replay ? { switchProb: o.switchProb } : {}),
    ...(o.sched === 'pct' && !o.replay ? { pctDepth: o.pctDepth, pctSteps: pctSteps(o) } : {}),
    steps: st.step,
    switches: st.switches,
    decisions: decisions.length,
    string,
    replay: string ? replayCommand(string) : null,
  };
  return { traceHash, schedule: info };
}

/**
 * The part of a summary that two runs with the same flags must agree on: everything but host
 * timings, host identities (thread ids, cores) and lock-stat host nanoseconds.
 */
export function deterministicPart(s: RunSummary): unknown {
  const c = structuredClone(s) as unknown as Record<string, any>;
  delete c.config.hostCores;
  delete c.stats.hostWallMs;
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
