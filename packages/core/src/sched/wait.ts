/**
 * Waiting, written once. Whenever a simulated CPU must wait for something only another CPU can give —
 * a spinlock, the rw-semaphore, the page lock, flush acknowledgements, the other CPUs finishing or
 * parking at a checkpoint — it calls `cpu.waiter.waitUntil(kind, obj, ready, watch1, watch2)`:
 *
 *   loop: ready()? -> done; take interrupts (if enabled); ready()? -> done; idle one step
 *
 * Interrupts are taken between the checks, so two CPUs flushing each other cannot deadlock (an
 * initiator waiting for acknowledgements services the flush requests sent to it). `ready()` may have
 * a side effect that ends the wait (a lock wait's ready() takes the lock). `watch1`/`watch2` are the
 * meta words whose change can make ready() true: a sleeping waiter is woken through them.
 *
 * How one idle step is spent is the waiter's business, chosen once per CPU when the machine is set up
 * (the shuttle habit: the execution mode is a wrapper around the CPU, not a flag tested everywhere):
 * - `FreeWaiter` (free mode): spin a while, then sleep on watch1 with Atomics.wait (so simulated CPUs
 *   that outnumber host cores give their core away); the watchdog counts host milliseconds.
 * - `DetWaiter` (deterministic mode, sched/det.ts): yield to the scheduler, which runs this CPU again
 *   once a watched word changed or an interrupt is pending; the watchdog counts scheduling steps.
 * - `TimedWaiter` (timed mode, sched/timed.ts): as deterministic mode, but the CPU with the lowest
 *   simulated clock runs, and a wait costs the simulated time until the waker's clock.
 * - `InlineWaiter` (single-thread tests, testing.ts): the other CPUs live in the same thread, so the
 *   waiter takes their interrupts itself; a wait nothing in the thread can end is a deadlock at once.
 *
 * The same waiter is the scheduling part of every preemption point (`point`).
 */
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { CTR } from '../machine/machine.js';
import { fireWatchdog } from '../oracles/watchdog.js';

export interface CpuWaiter {
  /** Accesses between two slow paths of the preemption point (0: the CPU's default). */
  readonly interval: number;
  /** Host-time perturbation (random delays at preemption points) may be applied. */
  readonly hostDelays: boolean;
  /** Called once before the CPU runs its task (deterministic mode: waits for its first turn). */
  enter(): void;
  /** The scheduling part of a preemption point: nothing in free mode; a decision in deterministic mode. */
  point(): void;
  /**
   * A kernel path returned to user mode after a preemption point's slow path had fallen inside it
   * (Cpu.returnToUser): what point() does only in user mode is due now (run tokens: a slice's end).
   */
  userReturn(): void;
  /**
   * A perturbation at a kernel race point (Cpu.racePoint) chose to delay this CPU: with run tokens
   * (sched/tokens.ts) it is parked instead, as the host OS used to preempt it; returns true if so
   * (it has run again), false if the caller should spin its random delay.
   */
  preemptHere(): boolean;
  /**
   * Returns once `ready()` holds, taking interrupts meanwhile (see the module comment). `kind` and
   * `obj` (a lock's meta index, the number of flush targets...) are published for the watchdog's report;
   * kinds that can deadlock are bounded by the watchdog. `sleepers`: a word counting the lock's
   * sleepers (so that its release knows to wake them), or -1. Throws MachineStop if the machine stops.
   */
  waitUntil(kind: L.WaitKind, obj: number, ready: () => boolean, watch1: number, watch2?: number, sleepers?: number): void;
  /** One failed check of a workload's own busy-wait on meta[idx] (still `expected`): cpu_relax. */
  pause(idx: number, expected: number): void;
  /** This CPU released the lock whose waiters watch meta[word] (timed mode: a waiter runs now). */
  released(word: number): void;
  /** This CPU sends an IPI to `target` (timed mode stamps its arrival time). */
  ipiSent(target: number): void;
  /**
   * Whether this CPU's IPI to `target` (its pending word already set) must wake target's host thread
   * if it sleeps (run tokens: not when a proxy takes it, see TokenWaiter).
   */
  wakeForIpi(target: number): boolean;
  /** An interrupt is pending: may it be taken now? (Timed mode: once it has arrived at this CPU's clock.) */
  interruptDue(): boolean;
  /** The machine stopped: nobody waits for a turn any more; every CPU runs free to unwind. */
  release(): void;
}

/** How each kind of wait is spent in free mode, and whether it is bounded by the watchdog. */
interface WaitPolicy {
  /** Failed checks before the waiter starts sleeping between checks (Infinity: never sleeps). */
  readonly spins: number;
  /** Longest sleep per check (ms); the watched word or an interrupt wakes it earlier. */
  readonly sleepMs: number;
  /** Bounded by the watchdog (a deadlock if it lasts longer than watchdogMs / the step limit). */
  readonly watchdog: boolean;
  /** Costs lockAcquire simulated cycles per failed check (a lock spin). */
  readonly spinCost: boolean;
}

const LOCK: WaitPolicy = { spins: 64, sleepMs: 1, watchdog: true, spinCost: true };

/** The policy of each WaitKind (index = kind). */
export const WAIT_POLICY: readonly WaitPolicy[] = [
  /* None */ { spins: 0, sleepMs: 1, watchdog: false, spinCost: false },
  /* Spin */ LOCK,
  /* FlushAck: a flush is short, so spin longer before giving the core away */ { spins: 256, sleepMs: 1, watchdog: true, spinCost: false },
  /* RwsemRead */ LOCK,
  /* RwsemWrite */ LOCK,
  /* PageLock */ LOCK,
  /* Idle */ { spins: 0, sleepMs: 20, watchdog: false, spinCost: false },
  /* Park */ { spins: 0, sleepMs: 5, watchdog: false, spinCost: false },
  /* Checkpoint */ { spins: 256, sleepMs: 1, watchdog: true, spinCost: false },
  /* BufferLock: held only for the copy of one block */ { spins: 64, sleepMs: 1, watchdog: true, spinCost: false },
];

/** How a free-mode wait spends a step once it has spun its share (FreeWaiter.beforeSleep). */
export const enum Sleep {
  /** Spin on: the check comes again at once. */
  Spin = 0,
  /** Sleep until the watched word changes (its changer wakes this thread), an interrupt comes, or sleepMs. */
  Watched = 1,
  /**
   * Sleep NAP_MS, woken early only by an interrupt: the watched word's changer does not wake this
   * thread (a host wake-up costs the waker too; see TokenWaiter.beforeSleep).
   */
  Nap = 2,
}

/** A nap's length (ms): on the 2-core VM a timed Atomics.wait of 50 µs returns after about 140 (p50 of 20 000). */
export const NAP_MS = 0.05;

/**
 * The loop every waiter runs, written once because its order is part of deterministic mode's traces:
 * ready()? take interrupts; ready()? then (a lock spin costing lockAcquire cycles) one idle step, the
 * waiter's own, which returns true if it found the wait over itself. The wait is published (C_WAIT_*)
 * for the watchdog's report while it lasts; `since` is host ms or a scheduling step.
 */
export function waitLoop(cpu: Cpu, kind: L.WaitKind, obj: number, since: number, ready: () => boolean, idle: () => boolean): void {
  const b = cpu.base;
  cpu.meta[b + L.C_WAIT_OBJ] = obj;
  cpu.meta[b + L.C_WAIT_SINCE] = since % 0x7fffffff;
  Atomics.store(cpu.meta, b + L.C_WAIT_KIND, kind);
  const spinCost = WAIT_POLICY[kind]!.spinCost;
  for (;;) {
    if (ready()) break;
    cpu.pollInterrupts();
    if (ready()) break;
    if (spinCost) cpu.ctr[CTR.cycles]! += cpu.config.costs.lockAcquire;
    if (idle()) break;
  }
  Atomics.store(cpu.meta, b + L.C_WAIT_KIND, L.WaitKind.None);
}

/**
 * Free mode: spin, then sleep on the watched word; the watchdog counts host time. The run-token
 * waiter (sched/tokens.ts) extends it through the three hooks, which do nothing here.
 */
export class FreeWaiter implements CpuWaiter {
  readonly interval: number = 0;
  readonly hostDelays: boolean = true;

  constructor(protected readonly cpu: Cpu) {}

  /** Every failed check of a wait, before its spin-or-sleep decision. */
  protected idleStep(_kind: L.WaitKind, _obj: number): void {}

  /**
   * The wait has spun its share and would sleep now (give its host core away): how it spends this
   * step instead (asked again at the next).
   */
  protected beforeSleep(_kind: L.WaitKind, _obj: number): Sleep {
    return Sleep.Watched;
  }

  /**
   * The wait sleeps now: nothing of this CPU runs until it wakes (its wait found not over, only
   * Cpu.sleepOn's reads follow). Then afterSleep, also when it did not sleep.
   */
  protected sleepBegins(): void {}

  /** The wait's sleep is over (woken or timed out; or not slept: the wait was found over first). */
  protected afterSleep(): void {}

  /** The wait is over (also when the machine stops it). */
  protected afterWait(): void {}

  enter(): void {}

  point(): void {}

  userReturn(): void {}

  preemptHere(): boolean {
    return false;
  }

  pause(): void {}

  released(): void {}

  ipiSent(): void {}

  wakeForIpi(_target: number): boolean {
    return true;
  }

  interruptDue(): boolean {
    return true;
  }

  release(): void {}

  waitUntil(kind: L.WaitKind, obj: number, ready: () => boolean, watch1: number, watch2 = -1, sleepers = -1): void {
    void watch2; // a free-mode waiter sleeps on watch1 only, at most sleepMs: a change of watch2 is seen by then
    const cpu = this.cpu;
    const meta = cpu.meta;
    const p = WAIT_POLICY[kind]!;
    const start = Date.now();
    const sleepAt = watch1 >= 0 ? watch1 : cpu.base + L.C_IPI_PENDING;
    let spins = 0;
    try {
      waitLoop(cpu, kind, obj, start, ready, () => {
        cpu.meta[cpu.base + L.C_HEARTBEAT]!++;
        if ((++spins & 15) === 0) {
          cpu.checkStop();
          if (p.watchdog && Date.now() - start > cpu.config.watchdogMs) {
            fireWatchdog(cpu, `watchdog: cpu${cpu.id} has waited ${Date.now() - start} ms (threshold ${cpu.config.watchdogMs} ms)`, {});
          }
        }
        this.idleStep(kind, obj);
        if (spins <= p.spins) return false;
        // Give the host core away: sleep until the watched word changes or an interrupt arrives.
        const how = this.beforeSleep(kind, obj);
        if (how === Sleep.Spin) return false;
        const at = how === Sleep.Watched ? sleepAt : cpu.base + L.C_IPI_PENDING;
        const v = Atomics.load(meta, at);
        if (sleepers >= 0) Atomics.add(meta, sleepers, 1);
        let done: boolean;
        try {
          done = ready();
          if (!done) {
            this.sleepBegins();
            cpu.sleepOn(at, v, how === Sleep.Watched ? p.sleepMs : NAP_MS);
          }
        } finally {
          this.afterSleep();
        }
        if (sleepers >= 0) Atomics.sub(meta, sleepers, 1);
        return done;
      });
    } finally {
      this.afterWait();
    }
  }
}
