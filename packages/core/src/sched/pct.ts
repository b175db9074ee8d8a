/**
 * PCT, probabilistic concurrency testing (S. Burckhardt, P. Kothari, M. Musuvathi, S. Nagarakatte,
 * "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
 *
 * The n CPUs get distinct random priorities d, d+1, ..., d+n-1; d-1 change points k_1..k_{d-1} are
 * drawn uniformly from the steps 1..k. At every decision point the enabled CPU with the highest
 * priority runs; when the run reaches change point k_i, the running CPU's priority drops to i (below
 * every initial priority). For a program of n threads and k steps, a bug of depth d (d ordering
 * constraints between events) is found by one run with probability at least 1 / (n k^(d-1)).
 *
 * Here a step is a decision point (every preemption point of deterministic mode), and k is an
 * estimate given with the run (`--pct-steps`; see the harness for the default).
 *
 * Past the horizon k the schedule turns fair: a random walk (the random policy, with the run's switch
 * probability). Strict priorities are not fair: a CPU that busy-waits for a lower-priority CPU without
 * blocking (a workload spinning on a flag it polls with loads) would otherwise run for ever. The
 * guarantee above concerns bugs within the first k steps, where nothing changes.
 */
import { type CpuMask, maskHas } from '../cpumask.js';
import type { SchedulerPolicy } from './policy.js';
import { randomPolicy } from './random.js';
import { F_PCT_K, F_PCT_POINTS, I_PCT_CHANGES, I_PCT_DEPTH, PC_PRIO, type SchedState } from './state.js';

export const pctPolicy: SchedulerPolicy = {
  name: 'pct',
  newExecution(s: SchedState): number {
    const n = s.cpus;
    const d = s.i[I_PCT_DEPTH]!;
    // A random permutation of the priorities d .. d+n-1 (Fisher-Yates on the scheduler's RNG).
    const prio = Array.from({ length: n }, (_, c) => d + c);
    for (let j = n - 1; j > 0; j--) {
      const r = s.below(j + 1);
      [prio[j], prio[r]] = [prio[r]!, prio[j]!];
    }
    for (let c = 0; c < n; c++) s.i[s.pc(c) + PC_PRIO] = prio[c]!;
    const k = Math.max(1, Math.floor(s.f[F_PCT_K]!));
    for (let j = 0; j < d - 1; j++) s.f[F_PCT_POINTS + j] = 1 + s.below(k);
    s.i[I_PCT_CHANGES] = 0;
    return highest(s, null);
  },
  nextCpu(s, cur, enabled, step) {
    if (step > s.f[F_PCT_K]!) return randomPolicy.nextCpu(s, cur, enabled, step);
    const d = s.i[I_PCT_DEPTH]!;
    for (let j = 0; j < d - 1; j++) {
      if (s.f[F_PCT_POINTS + j] === step) {
        // change point k_(j+1): the running CPU's priority becomes j + 1
        s.i[s.pc(cur) + PC_PRIO] = j + 1;
        s.i[I_PCT_CHANGES]!++;
      }
    }
    return highest(s, enabled);
  },
};

/** The CPU of `mask` (null: of all) with the highest priority. */
function highest(s: SchedState, mask: CpuMask | null): number {
  let best = -1;
  let bestPrio = -1;
  for (let c = 0; c < s.cpus; c++) {
    if (mask !== null && !maskHas(mask, c)) continue;
    const p = s.i[s.pc(c) + PC_PRIO]!;
    if (p > bestPrio) {
      bestPrio = p;
      best = c;
    }
  }
  return best;
}
