/**
 * Deterministic mode's waiter, one per CPU worker: exactly one CPU runs at a time, and at every
 * preemption point the running CPU asks the policy who runs next and, if another, hands over with
 * Atomics.wait/notify on the shared turn word (each CPU sleeps on its own wake word, so a handover
 * wakes exactly one thread).
 *
 * Waiting is a preemption point too (sched/wait.ts). A CPU that fails to take a lock, waits for flush
 * acknowledgements, idles after its workload or parks at a checkpoint calls `block` with the meta
 * words its wait depends on (a futex-like watch), and yields. It stays schedulable: the policy sees it
 * as enabled again once a watched word changed, an interrupt is pending for it (with interrupts on),
 * or the machine stops; it then re-checks and, if still blocked, yields again. When every CPU is
 * blocked the runtime re-checks them in turn; `deadlockSteps` consecutive such decision points are a
 * deadlock (the watchdog in logical time), and so is a single wait longer than `waitLimitSteps`.
 *
 * Nothing here reads host time: steps and simulated cycles only.
 */
import { type CpuMask, maskClear, maskFill, maskIsEmpty, maskSet, newMask } from '../cpumask.js';
import type { Cpu } from '../hw/cpu.js';
import { MachineStop } from '../hw/entry.js';
import * as L from '../machine/layout.js';
import { CTR } from '../machine/machine.js';
import { fireWatchdog } from '../oracles/watchdog.js';
import { withDecisionLog, type SchedulerPolicy } from './policy.js';
import { pctPolicy } from './pct.js';
import { randomPolicy } from './random.js';
import { replayPolicy } from './replay.js';
import { type CpuWaiter, WAIT_POLICY, waitLoop } from './wait.js';
import {
  F_ALL_BLOCKED,
  F_CLOCK,
  F_DEADLOCK_STEPS,
  F_EPOCH,
  F_MAX_STEPS,
  F_STEP,
  F_WAIT_LIMIT,
  I_BLOCKED,
  I_DEADLOCK,
  I_TURN,
  PC_W1_ADDR,
  PC_W1_VAL,
  PC_W2_ADDR,
  PC_W2_VAL,
  PC_WAKE,
  PF_CYCLES_SEEN,
  PF_WAIT_START,
  type PolicyName,
  type SchedOptions,
  SchedState,
  TURN_FREE,
} from './state.js';

/** The policy module of each name. */
export const POLICIES: Readonly<Record<PolicyName, SchedulerPolicy>> = {
  random: randomPolicy,
  pct: pctPolicy,
  replay: replayPolicy,
};

/**
 * Creates the shared state of a new execution (main thread): the policy initialises its part and
 * names the first CPU, which is logged as the decision at step 0. `spare`: an earlier execution's
 * buffer to use again (SchedState.create).
 */
export function newExecution(o: SchedOptions, spare?: SharedArrayBuffer | null): SchedState {
  const s = SchedState.create(o, spare);
  // Timed mode: every clock starts at 0 and ties go to the lowest id.
  const first = o.timed ? 0 : POLICIES[o.policy].newExecution(s);
  s.log(0, first);
  s.fold(0);
  s.fold(first);
  s.i[I_TURN] = first;
  for (let c = 0; c < o.cpus; c++) s.f[s.pf(c) + PF_WAIT_START] = -1;
  return s;
}

/**
 * Waits until it is CPU `me`'s turn (deterministic and timed mode): a short spin, since a hand-over
 * often comes back within microseconds, then a sleep on its own wake word. Throws MachineStop once
 * the machine stopped (no more turns).
 */
export function waitTurn(s: SchedState, me: number): void {
  const i = s.i;
  const w = s.pc(me) + PC_WAKE;
  for (let spins = 0; ; spins++) {
    const seen = Atomics.load(i, w);
    const t = Atomics.load(i, I_TURN);
    if (t === me) return;
    if (t === TURN_FREE) throw new MachineStop('machine stopped');
    if (spins < 64) continue;
    // The timeout only bounds a sleep; the loop re-checks, so host time decides nothing.
    Atomics.wait(i, w, seen, 1000);
  }
}

/**
 * The wait loop of sched/wait.ts for a waiter that schedules one CPU at a time (deterministic and
 * timed mode): each failed check calls `block` with the watched words and the values they hold now;
 * kinds the watchdog bounds record the step at which the wait began (PF_WAIT_START).
 */
export function scheduledWait(cpu: Cpu, s: SchedState, kind: L.WaitKind, obj: number, ready: () => boolean, watch1: number, watch2: number, block: (a1: number, v1: number, a2: number, v2: number) => void): void {
  const meta = cpu.meta;
  const pf = s.pf(cpu.id) + PF_WAIT_START;
  const bounded = WAIT_POLICY[kind]!.watchdog;
  if (bounded) s.f[pf] = s.f[F_STEP]!;
  waitLoop(cpu, kind, obj, s.f[F_STEP]!, ready, () => {
    block(watch1, watch1 >= 0 ? Atomics.load(meta, watch1) : 0, watch2, watch2 >= 0 ? Atomics.load(meta, watch2) : 0);
    return false;
  });
  if (bounded) s.f[pf] = -1;
}

/**
 * A failed re-check of a scheduled wait: publishes the watched meta words (index -1: none) and the
 * values they held, and fires the logical watchdog if the wait has lasted longer than its limit.
 */
export function publishWatch(cpu: Cpu, s: SchedState, mode: string, a1: number, v1: number, a2: number, v2: number): void {
  const pc = s.pc(cpu.id);
  s.i[pc + PC_W1_ADDR] = a1;
  s.i[pc + PC_W1_VAL] = v1;
  s.i[pc + PC_W2_ADDR] = a2;
  s.i[pc + PC_W2_VAL] = v2;
  const since = s.f[s.pf(cpu.id) + PF_WAIT_START]!;
  if (since >= 0 && s.f[F_STEP]! - since > s.f[F_WAIT_LIMIT]!) {
    schedDeadlock(cpu, s, mode, `cpu${cpu.id} has waited ${s.f[F_STEP]! - since} scheduling steps (limit ${s.f[F_WAIT_LIMIT]})`);
  }
}

/** Gives the turn to CPU `next` and wakes it (exactly that thread sleeps on its wake word). */
export function handOver(s: SchedState, next: number): void {
  Atomics.store(s.i, I_TURN, next);
  Atomics.add(s.i, s.pc(next) + PC_WAKE, 1);
  Atomics.notify(s.i, s.pc(next) + PC_WAKE, 1);
}

/** The logical watchdog (steps, not host time) fires: a deadlock report, and the machine stops. */
export function schedDeadlock(cpu: Cpu, s: SchedState, mode: string, why: string): never {
  s.i[I_DEADLOCK] = 1;
  fireWatchdog(cpu, `watchdog (${mode} mode): ${why}, at step ${s.f[F_STEP]}`, { step: s.f[F_STEP] });
  throw new MachineStop('machine stopped'); // another violation was reported first
}

/** Releases every CPU (the machine stopped): no more scheduling, each unwinds on its own. */
export function releaseAll(s: SchedState): void {
  Atomics.store(s.i, I_TURN, TURN_FREE);
  for (let c = 0; c < s.cpus; c++) {
    Atomics.add(s.i, s.pc(c) + PC_WAKE, 1);
    Atomics.notify(s.i, s.pc(c) + PC_WAKE);
  }
}

export class DetWaiter implements CpuWaiter {
  readonly interval = 1;
  readonly hostDelays = false;
  readonly policy: SchedulerPolicy;
  private readonly meta: Int32Array;
  /** Every CPU of the machine. */
  private readonly all: CpuMask;
  /** The enabled set handed to the policy at each decision (refilled, never reallocated). */
  private readonly enabled: CpuMask = newMask();
  /** Mask words the machine's CPUs occupy (the others stay 0). */
  private readonly words: number;

  constructor(
    readonly cpu: Cpu,
    readonly s: SchedState,
  ) {
    this.policy = withDecisionLog(POLICIES[s.policy]);
    this.meta = cpu.meta;
    this.all = newMask();
    maskFill(this.all, s.cpus);
    this.words = Math.ceil(s.cpus / 32);
  }

  /** Waits for this CPU's first turn (the start of its run). */
  enter(): void {
    waitTurn(this.s, this.cpu.id);
    this.cpu.tracer?.schedIn();
  }

  /** A preemption point at which the CPU makes progress. */
  /** No host-time perturbation here: the schedule decides. */
  preemptHere(): boolean {
    return false;
  }

  point(): void {
    this.decide(false);
  }

  /** Never called: with a slow path at every point nothing waits for the return to user mode (Cpu.preemptSlow). */
  userReturn(): void {}

  pause(idx: number, expected: number): void {
    this.block(idx, expected);
  }

  released(): void {}

  ipiSent(): void {}

  wakeForIpi(): boolean {
    return true;
  }

  interruptDue(): boolean {
    return true;
  }

  /**
   * The wait loop of sched/wait.ts in logical time: each failed check yields until a watched word
   * changes (or an interrupt is pending for this CPU), and a lock spin costs lockAcquire cycles per
   * failed check. The logical watchdog bounds waits that can deadlock.
   */
  waitUntil(kind: L.WaitKind, obj: number, ready: () => boolean, watch1: number, watch2 = -1): void {
    scheduledWait(this.cpu, this.s, kind, obj, ready, watch1, watch2, this.blockFn);
  }

  private readonly blockFn = (a1: number, v1: number, a2: number, v2: number): void => this.block(a1, v1, a2, v2);

  /**
   * A failed re-check of a wait: the CPU yields until one of the watched meta words (index -1: none)
   * no longer holds the value given, an interrupt is pending for it, or the machine stops. Returns
   * when it runs again (the caller re-checks); throws MachineStop if the machine stopped.
   */
  private block(a1: number, v1: number, a2 = -1, v2 = 0): void {
    publishWatch(this.cpu, this.s, 'deterministic', a1, v1, a2, v2);
    this.decide(true);
    this.cpu.checkStop();
  }

  /** The logical clock: simulated cycles of every CPU, in the order they ran. */
  now(): number {
    const s = this.s;
    return s.f[F_CLOCK]! + this.cpu.ctr[CTR.cycles]! - s.f[s.pf(this.cpu.id) + PF_CYCLES_SEEN]!;
  }

  /** Stops scheduling: every CPU runs free to unwind. */
  release(): void {
    releaseAll(this.s);
  }

  private decide(blocking: boolean): void {
    const s = this.s;
    const i = s.i;
    if (i[I_TURN] === TURN_FREE) throw new MachineStop('machine stopped');
    const me = this.cpu.id;
    const myWord = this.cpu.maskWord;
    const bit = this.cpu.bit;
    const step = ++s.f[F_STEP]!;
    if (step > s.f[F_MAX_STEPS]!) {
      this.cpu.violation('hang', `deterministic mode: the run did not finish within ${s.f[F_MAX_STEPS]} scheduling steps (a livelock, or a workload far longer than its ops suggest)`, { step });
    }
    // the logical clock advances by the cycles this CPU spent since its last decision point
    const pf = s.pf(me);
    const cyc = this.cpu.ctr[CTR.cycles]!;
    s.f[F_CLOCK]! += cyc - s.f[pf + PF_CYCLES_SEEN]!;
    s.f[pf + PF_CYCLES_SEEN] = cyc;
    if (blocking) i[I_BLOCKED + myWord]! |= bit;
    else {
      i[I_BLOCKED + myWord]! &= ~bit;
      s.f[F_EPOCH]!++;
      s.f[F_ALL_BLOCKED] = 0;
    }
    // enabled = every CPU but the blocked ones, plus the blocked others that may make progress now
    const enabled = this.enabled;
    for (let w = 0; w < this.words; w++) {
      const blocked = i[I_BLOCKED + w]!;
      const others = w === myWord ? blocked & ~bit : blocked;
      enabled[w] = this.all[w]! & ~blocked;
      if (others !== 0) enabled[w]! |= this.wokenBlocked(w, others);
    }
    if (maskIsEmpty(enabled)) {
      // Every CPU is blocked: re-check them in turn; if that goes on, it is a deadlock.
      const n = ++s.f[F_ALL_BLOCKED]!;
      if (n > s.f[F_DEADLOCK_STEPS]!) this.deadlock(`every CPU has been blocked for ${n - 1} scheduling steps`);
      maskClear(enabled);
      maskSet(enabled, (me + 1) % s.cpus);
    }
    const next = this.policy.nextCpu(s, me, enabled, step);
    if (next === me) return;
    s.fold(step | 0);
    s.fold(next);
    this.cpu.tracer?.schedOut(next, step);
    handOver(s, next);
    waitTurn(this.s, this.cpu.id);
    this.cpu.tracer?.schedIn();
  }

  /** Which of the blocked CPUs in `mask`, word `w` of a CpuMask, may make progress now (that word of the answer). */
  private wokenBlocked(w: number, mask: number): number {
    const s = this.s;
    const meta = this.meta;
    const lay = this.cpu.layout;
    let woken = 0;
    for (let j = 0; j < 32; j++) {
      if (!(mask & (1 << j))) continue;
      const c = (w << 5) | j;
      if (c >= s.cpus) break;
      const pc = s.pc(c);
      const a1 = s.i[pc + PC_W1_ADDR]!;
      const a2 = s.i[pc + PC_W2_ADDR]!;
      const cb = lay.cpu(c);
      if (
        (a1 >= 0 && Atomics.load(meta, a1) !== s.i[pc + PC_W1_VAL]) ||
        (a2 >= 0 && Atomics.load(meta, a2) !== s.i[pc + PC_W2_VAL]) ||
        (meta[cb + L.C_IRQ] !== 0 && Atomics.load(meta, cb + L.C_IPI_PENDING) !== 0)
      ) {
        woken |= 1 << j;
      }
    }
    return woken;
  }

  private deadlock(why: string): never {
    return schedDeadlock(this.cpu, this.s, 'deterministic', why);
  }
}
