/**
 * The random-walk policy: at every decision point the running CPU keeps running, except with
 * probability p (the switch probability) it hands over to a CPU drawn uniformly from the other
 * enabled ones. A blocked CPU always hands over. All draws come from the schedule's shared RNG.
 */
import { nthBit, popcount, type SchedulerPolicy } from './policy.js';
import { F_SWITCH_P, type SchedState } from './state.js';

export const randomPolicy: SchedulerPolicy = {
  name: 'random',
  newExecution(s: SchedState): number {
    return s.below(s.cpus);
  },
  nextCpu(s, cur, enabled) {
    const me = 1 << cur;
    if (enabled & me && s.nextU32() >= s.f[F_SWITCH_P]! * 4294967296) return cur;
    const others = enabled & ~me;
    if (others === 0) return cur;
    return nthBit(others, s.below(popcount(others)));
  },
};
