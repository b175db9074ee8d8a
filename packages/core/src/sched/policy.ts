/**
 * The scheduler is a small interface with one policy per module (after awslabs/shuttle): a policy
 * starts a new execution (initialising its part of the shared state and naming the first CPU) and
 * says which CPU runs next at each decision point, drawing any random choice from the schedule's one
 * RNG (SchedState.nextU32). Policies keep no state in their objects: all of it is in the SchedState
 * shared by the CPU workers, because whichever CPU runs continues the same sequence. (Shuttle's third
 * method, a random value for the program under test, has no use here: each CPU's workload draws from
 * its own seeded Rng.)
 *
 * Cross-cutting features are wrappers around a policy, not flags inside it: `withDecisionLog` records
 * every switch (what a schedule string is made of).
 */
import { type CpuMask, maskHas } from '../cpumask.js';
import { I_SWITCHES, type SchedState } from './state.js';

export interface SchedulerPolicy {
  readonly name: string;
  /** A new execution: initialises the policy's part of `s` (main thread); returns the first CPU to run. */
  newExecution(s: SchedState): number;
  /**
   * Who runs next. `cur` is the CPU at the decision point; `enabled` the mask of CPUs that can make
   * progress (never empty: when every CPU is blocked the runtime passes the one it re-checks next);
   * it is the runtime's scratch mask, to read only and not to keep. `step` is the decision point's
   * number (1, 2, ...).
   */
  nextCpu(s: SchedState, cur: number, enabled: CpuMask, step: number): number;
}

/** Runtime guard for policies given from outside (experiments). */
export function isSchedulerPolicy(x: unknown): x is SchedulerPolicy {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as Record<string, unknown>;
  return typeof p.name === 'string' && typeof p.newExecution === 'function' && typeof p.nextCpu === 'function';
}

/** The first CPU of `enabled` after `cur` in cyclic order (cur itself if it is the only one). */
export function nextInOrder(enabled: CpuMask, cur: number, cpus: number): number {
  for (let k = 1; k <= cpus; k++) {
    const c = (cur + k) % cpus;
    if (maskHas(enabled, c)) return c;
  }
  return cur;
}

/**
 * What a replay does where its decision list is silent: the running CPU goes on unless it is
 * blocked; then the next enabled CPU in cyclic order runs.
 */
export function defaultNext(enabled: CpuMask, cur: number, cpus: number): number {
  return maskHas(enabled, cur) ? cur : nextInOrder(enabled, cur, cpus);
}

/**
 * Logs into the shared decision log every decision that differs from the replay default (so a
 * replay of the log makes the same decisions), and counts the switches.
 */
export function withDecisionLog(p: SchedulerPolicy): SchedulerPolicy {
  return {
    name: p.name,
    newExecution: (s) => p.newExecution(s),
    nextCpu(s, cur, enabled, step) {
      const next = p.nextCpu(s, cur, enabled, step);
      if (next !== cur) s.i[I_SWITCHES]!++;
      if (next !== defaultNext(enabled, cur, s.cpus)) s.log(step, next);
      return next;
    },
  };
}
