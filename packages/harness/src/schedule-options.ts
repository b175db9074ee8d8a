/**
 * Deterministic mode in the harness: the scheduler's shared state for a run, the summary's
 * deterministic fields (trace hash, schedule string), and the mapping between run options and the
 * options a schedule string carries (both ways derived from the run-option table, run-options.ts).
 * The scheduler itself is core's (sched/det.ts).
 *
 * Time in deterministic mode is logical only: a run is `--ops N` long (a `--duration` is refused,
 * since host time would make the run depend on the host), kernel-thread periods and checkpoints are
 * simulated cycles, and the watchdog counts scheduling steps (`--deadlock-steps`).
 */
import { type Decision, decodeSchedule, encodeSchedule, type Machine, type MachineConfig, newExecution, type Schedule, type SchedState } from '@smpsim/core';
import type { CpuRunResult } from '@smpsim/cpu-worker';
import { replayLine } from './command-lines.js';
import { UsageError } from './parse.js';
import { PCT_STEPS_PER_OP, RUN_OPTION_ROWS, type RunOptions } from './run-options.js';

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

/** Refuses what deterministic mode cannot do (exit status 2): no ops, and what a row's `refusedInDet` names. */
export function checkDeterministic(o: RunOptions): void {
  if (o.mode !== 'deterministic') {
    if (o.replay) throw new UsageError('a replay runs in deterministic mode');
    if (o.mode === 'timed' && o.checkEvery > 0) throw new UsageError('timed mode does not run stop-the-world checkpoints (--check-every): they would cost simulated time that no kernel spends');
    return;
  }
  if (!o.ops) throw new UsageError('deterministic mode counts --ops, never host time: give --ops N (a --duration is refused)');
  for (const [key, row] of RUN_OPTION_ROWS) {
    const why = (row.refusedInDet as ((v: unknown) => string | undefined) | undefined)?.(o[key]);
    if (why) throw new UsageError(why);
  }
}

/** Timed mode's default cost preset (costs.ts). */
export const DEFAULT_TIMED_COSTS = 'modern-x86';

/**
 * The scheduler state of a new timed execution of `o` on a machine of `config`: the quantum, the IPI
 * latency of the cost model, and the simulated end of a `--duration` run (ms at the preset's clock).
 */
export function createTimedState(o: RunOptions, config: MachineConfig, spare?: SharedArrayBuffer | null): SchedState {
  const endCycles = o.ops ? Infinity : o.durationMs * config.costs.ghz * 1e6;
  return newExecution(
    {
      cpus: o.cpus,
      policy: 'random',
      seed: o.seed,
      switchProb: 0,
      pctDepth: 1,
      pctSteps: 1,
      logCapacity: 0,
      deadlockSteps: o.deadlockSteps,
      waitLimitSteps: Math.max(20_000_000, o.deadlockSteps * 1000),
      maxSteps: MAX_STEPS,
      timed: { quantum: o.quantum, ipiLatency: config.costs.ipiLatency, endCycles },
    },
    spare,
  );
}

/** The summary's timed-mode fields. */
export interface TimedInfo {
  /** Cost preset and clock. */
  costs: string;
  ghz: number;
  quantum: number;
  /** Each CPU's simulated clock at the end of the run (cycles). */
  clocks: number[];
  /** Each CPU's simulated time when its workload returned (ms): what bench divides by. */
  simMs: number[];
  /** Scheduling decisions and hand-overs. */
  steps: number;
  switches: number;
}

/** The summary's timed fields, read from the machine and the scheduler state after the run. */
export function timedInfo(o: RunOptions, m: Machine, st: SchedState, results: readonly CpuRunResult[]): { traceHash: string; timed: TimedInfo } {
  const ghz = m.config.costs.ghz;
  const clocks = Array.from({ length: o.cpus }, (_, c) => m.counter(c, 'cycles'));
  const simMs = clocks.map((_, c) => (results.find((r) => r.cpu === c)?.taskCycles ?? 0) / (ghz * 1e6));
  return {
    traceHash: st.hash,
    timed: { costs: o.costPreset || DEFAULT_TIMED_COSTS, ghz, quantum: o.quantum, clocks, simMs, steps: st.step, switches: st.switches },
  };
}

/** The scheduler state of a new deterministic execution of `o` (in `spare`, an earlier one's buffer, if it fits). */
export function createSchedState(o: RunOptions, spare?: SharedArrayBuffer | null): SchedState {
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
  }, spare);
}

/** The rows a schedule string carries, in the order of its options. */
const IN_SCHEDULE = RUN_OPTION_ROWS.filter(([, r]) => r.schedule).sort(([, a], [, b]) => a.schedule!.at - b.schedule!.at);

/** The options a schedule string carries: everything that decides the run, nothing host-specific. */
export function scheduleOptions(o: RunOptions, traceHash: string | null): Record<string, unknown> {
  const opts: Record<string, unknown> = {};
  for (const [key, row] of IN_SCHEDULE) {
    const v = row.schedule!.write ? row.schedule!.write(o) : o[key];
    if (v !== undefined) opts[key] = v;
  }
  if (traceHash) opts.traceHash = traceHash;
  return opts;
}

const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The run options of a decoded schedule (deterministic mode, replaying its decisions). Throws
 * UsageError naming the first field that does not fit: the required fields first, then the decisions'
 * CPUs, then the maps.
 */
export function runOptionsFromSchedule(s: Schedule): { run: Partial<RunOptions>; traceHash: string | null } {
  const x = s.options;
  const bad = (k: string) => new UsageError(`schedule string: bad option ${k}: ${JSON.stringify(x[k])}`);
  const run: Record<string, unknown> = { mode: 'deterministic', durationMs: 0 };
  for (const [key, { schedule: sc }] of IN_SCHEDULE) {
    if (sc!.read === 'map') continue;
    const ok = sc!.valid ? sc!.valid(x[key]) : x[key] !== undefined;
    if (ok) run[key] = x[key];
    else if (sc!.read === 'required') throw bad(key);
  }
  for (const d of s.decisions) if (!(Number.isInteger(d.cpu) && d.cpu >= 0 && d.cpu < (x.cpus as number))) throw new UsageError(`schedule string: a decision names cpu${d.cpu} of a ${x.cpus}-CPU machine`);
  for (const [key, { schedule: sc }] of IN_SCHEDULE) {
    if (sc!.read !== 'map') continue;
    if (x[key] !== undefined && !isMap(x[key])) throw bad(key);
    run[key] = x[key] ?? {};
  }
  run.replay = s.decisions as Decision[];
  return { run: run as Partial<RunOptions>, traceHash: typeof x.traceHash === 'string' ? x.traceHash : null };
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
    replay: string ? replayLine(string) : null,
  };
  return { traceHash, schedule: info };
}
