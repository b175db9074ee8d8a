/**
 * The replay policy: follows a recorded decision list. At the step of the next entry, its CPU runs;
 * at any other step the default: the running CPU keeps running, unless it is blocked, in which case
 * the next enabled CPU in cyclic order runs. A recorded list reproduces the recorded execution
 * exactly (the recording logged every decision that differs from the default); a shortened one
 * (shrinking) is still a valid schedule.
 */
import { defaultNext, type SchedulerPolicy } from './policy.js';
import { I_REPLAY_N, I_REPLAY_POS, type SchedState } from './state.js';

export const replayPolicy: SchedulerPolicy = {
  name: 'replay',
  newExecution(s: SchedState): number {
    s.i[I_REPLAY_POS] = 0;
    // An entry at step 0 names the first CPU.
    if (s.i[I_REPLAY_N]! > 0 && s.replayStep(0) === 0) {
      s.i[I_REPLAY_POS] = 1;
      return s.replayCpu(0);
    }
    return 0;
  },
  nextCpu(s, cur, enabled, step) {
    const n = s.i[I_REPLAY_N]!;
    let pos = s.i[I_REPLAY_POS]!;
    // Entries at steps already passed (a shortened list) are skipped.
    while (pos < n && s.replayStep(pos) < step) pos++;
    let next = -1;
    if (pos < n && s.replayStep(pos) === step) {
      next = s.replayCpu(pos);
      pos++;
    }
    s.i[I_REPLAY_POS] = pos;
    if (next >= 0 && next < s.cpus) return next;
    return defaultNext(enabled, cur, s.cpus);
  },
};
