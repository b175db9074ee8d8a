/**
 * The random-walk policy: at every decision point the running CPU keeps running, except with
 * probability p (the switch probability) it hands over to a CPU drawn uniformly from the other
 * enabled ones. A blocked CPU always hands over. All draws come from the schedule's shared RNG.
 */
import { maskCount, maskHas, maskNth } from '../cpumask.js';
import type { SchedulerPolicy } from './policy.js';
import { F_SWITCH_P, type SchedState } from './state.js';

export const randomPolicy: SchedulerPolicy = {
  name: 'random',
  newExecution(s: SchedState): number {
    return s.below(s.cpus);
  },
  nextCpu(s, cur, enabled) {
    const mine = maskHas(enabled, cur);
    if (mine && s.nextU32() >= s.f[F_SWITCH_P]! * 4294967296) return cur;
    const others = maskCount(enabled) - (mine ? 1 : 0);
    if (others === 0) return cur;
    // The k-th enabled CPU other than cur: the k-th of `enabled` if it comes before cur, else the next.
    const k = s.below(others);
    const c = maskNth(enabled, k);
    return mine && c >= cur ? maskNth(enabled, k + 1) : c;
  },
};
