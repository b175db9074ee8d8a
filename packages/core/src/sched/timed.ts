/**
 * Timed mode's waiter, one per CPU worker: every simulated CPU has a clock (its simulated cycles,
 * CTR.cycles, advanced by the cost model) and exactly one CPU runs at a time: the runnable CPU whose
 * clock is lowest. It runs until it is `quantum` cycles ahead of the next lowest runnable clock (or
 * until it blocks) and only then does the scheduler decide again, so hand-overs stay rare; a quantum
 * bounds how far apart two CPUs' clocks are when they interact.
 *
 * Waiting costs simulated time, as it does on hardware: a CPU that fails to take a lock, waits for
 * flush acknowledgements or for the page lock blocks (a futex-like watch of the words its wait depends
 * on, as in deterministic mode); the CPU that changes a watched word wakes it at the waker's clock, so
 * the waiter is charged the time until the holder released (its clock becomes max(own, waker's)). The
 * hand-over itself is the cache-line transfer the cost model charges where the waiter then takes the
 * lock or reads the acknowledgement (hw/coherence.ts).
 *
 * IPIs arrive `ipiLatency` cycles after they are sent: a target whose clock is still earlier keeps
 * running until its clock reaches the arrival time and takes the interrupt at its first preemption
 * point after that; a target blocked with interrupts on (idle, spinning) is woken at the arrival time.
 * All pending IPIs are taken together when the earliest is due (a later one may so be taken up to its
 * latency early).
 *
 * A lock's release is a scheduling point when a CPU waits for it (`released`): the waiter, woken at
 * the release time, runs before the releaser goes on, so the releaser cannot take the lock again
 * within its quantum while the waiter's spin would on hardware have seen the release first.
 *
 * The run is deterministic: decisions depend only on clocks and CPU ids (ties go to the running CPU,
 * then the lowest id), never on host time, so the same flags give the same clocks on any host. A run
 * ends by ops or at a simulated time (`endCycles`: each CPU's workload stops when its clock gets
 * there). The deadlock watchdog counts scheduling steps, as deterministic mode's does.
 */
import type { Cpu } from '../hw/cpu.js';
import { MachineStop } from '../hw/entry.js';
import * as L from '../machine/layout.js';
import { CTR, CTR_COUNT } from '../machine/machine.js';
import { handOver, publishWatch, releaseAll, schedDeadlock, scheduledWait, waitTurn } from './det.js';
import type { CpuWaiter } from './wait.js';
import {
  F_ALL_BLOCKED,
  F_DEADLOCK_STEPS,
  F_END_CYCLES,
  F_IPI_LATENCY,
  F_MAX_STEPS,
  F_QUANTUM,
  F_STEP,
  I_IPI_WAITING,
  I_NBLOCKED,
  I_PROXIED,
  I_SWITCHES,
  I_TURN,
  PC_BLOCKED,
  PC_PROXIED,
  PC_W1_ADDR,
  PC_W1_VAL,
  PC_W2_ADDR,
  PC_W2_VAL,
  PF_IPI_AT,
  type SchedState,
  TURN_FREE,
} from './state.js';

/** The wait kinds that wait for a lock's release (index = WaitKind). */
const LOCK_WAIT: readonly boolean[] = (() => {
  const k: boolean[] = [];
  for (const w of [L.WaitKind.Spin, L.WaitKind.RwsemRead, L.WaitKind.RwsemWrite, L.WaitKind.PageLock, L.WaitKind.BufferLock]) k[w] = true;
  return k;
})();

/** Accesses between two slow paths of the preemption point in timed mode. */
export const TIMED_INTERVAL = 8;

export class TimedWaiter implements CpuWaiter {
  readonly interval = TIMED_INTERVAL;
  readonly hostDelays = false;
  /** This CPU runs on until its clock reaches this (then the scheduler decides again). */
  private limit = 0;
  /** Views of the other CPUs, to take their IPIs by proxy (created when first needed). */
  private readonly proxies: Array<Cpu | null>;
  /** Interrupts taken by proxy for this CPU, as last seen (its one-entry TLB cache is stale past it). */
  private proxiedSeen = 0;
  /** The latest clock at which a proxied handler acknowledged a flush, in the current decision. */
  private ackedAt = -1;
  private readonly clocks: Float64Array;
  private readonly meta: Int32Array;

  constructor(
    readonly cpu: Cpu,
    readonly s: SchedState,
  ) {
    this.clocks = cpu.m.stats;
    this.meta = cpu.meta;
    this.proxies = Array.from({ length: s.cpus }, () => null);
  }

  /** CPU c's simulated clock (cycles). */
  clock(c: number): number {
    return this.clocks[c * CTR_COUNT + CTR.cycles]!;
  }

  private setClock(c: number, t: number): void {
    this.clocks[c * CTR_COUNT + CTR.cycles] = t;
  }

  /** This CPU's clock, for the tracer (cycles). */
  now(): number {
    return this.cpu.ctr[CTR.cycles]!;
  }

  enter(): void {
    waitTurn(this.s, this.cpu.id);
    this.resume();
    this.cpu.tracer?.schedIn();
  }

  /** The scheduling part of a preemption point: the simulated deadline, wake-ups, and a decision once past the limit. */
  /** No host-time perturbation here: the schedule decides. */
  preemptHere(): boolean {
    return false;
  }

  point(): void {
    const s = this.s;
    const now = this.cpu.ctr[CTR.cycles]!;
    if (now >= s.f[F_END_CYCLES]!) this.cpu.timeUp = true;
    if (s.i[I_NBLOCKED]! > 0) this.wakeBlocked(now);
    if (now >= this.limit) this.decide();
  }

  /** Nothing of point() waits for user mode here (the hooks and the deadline are the Cpu's). */
  userReturn(): void {}

  pause(idx: number, expected: number): void {
    this.block(idx, expected);
  }

  waitUntil(kind: L.WaitKind, obj: number, ready: () => boolean, watch1: number, watch2 = -1): void {
    scheduledWait(this.cpu, this.s, kind, obj, ready, watch1, watch2, this.blockFn);
  }

  private readonly blockFn = (a1: number, v1: number, a2: number, v2: number): void => this.block(a1, v1, a2, v2);

  wakeForIpi(): boolean {
    return true;
  }

  /** An IPI from this CPU to `target`: it arrives ipiLatency cycles from now. */
  ipiSent(target: number): void {
    const s = this.s;
    const at = this.cpu.ctr[CTR.cycles]! + s.f[F_IPI_LATENCY]!;
    const k = s.pf(target) + PF_IPI_AT;
    if (s.f[k] === Infinity) s.i[I_IPI_WAITING]!++;
    if (at < s.f[k]!) s.f[k] = at;
  }

  /**
   * Pending IPIs are taken once the earliest has arrived at this CPU's clock; the disk's interrupt
   * (raised by this CPU's own submissions, its latency counted in these polls) whenever it is pending.
   */
  interruptDue(): boolean {
    const cpu = this.cpu;
    const k = this.s.pf(cpu.id) + PF_IPI_AT;
    const at = this.s.f[k]!;
    if (cpu.ctr[CTR.cycles]! < at) {
      if ((Atomics.load(this.meta, cpu.base + L.C_IPI_PENDING) & L.DISK_PENDING) === 0) return false;
      cpu.dueVectors = L.DISK_PENDING;
      return true;
    }
    if (at !== Infinity) this.s.i[I_IPI_WAITING]!--;
    this.s.f[k] = Infinity;
    cpu.dueVectors = -1;
    return true;
  }

  release(): void {
    releaseAll(this.s);
  }

  /**
   * A failed re-check of a wait: blocks until a watched word (index -1: none) no longer holds the
   * value given or an interrupt arrives for this CPU; returns when it runs again (the caller
   * re-checks). Throws MachineStop if the machine stopped.
   */
  private block(a1: number, v1: number, a2 = -1, v2 = 0): void {
    const s = this.s;
    const pc = s.pc(this.cpu.id);
    publishWatch(this.cpu, s, 'timed', a1, v1, a2, v2);
    if (s.i[pc + PC_BLOCKED] === 0) {
      s.i[pc + PC_BLOCKED] = 1;
      s.i[I_NBLOCKED]!++;
    }
    this.cpu.publishCounters(); // the clock includes every access before the wait
    this.decide();
    this.cpu.checkStop();
  }

  /**
   * Wakes the blocked CPUs whose wait may be over: a watched word changed (at the latest at `now`,
   * this CPU's clock: the waiter's clock becomes at least that), or an interrupt is pending with
   * interrupts on (its clock becomes at least the arrival time).
   */
  private wakeBlocked(now: number): number {
    const s = this.s;
    const meta = this.meta;
    const lay = this.cpu.layout;
    let first = Infinity;
    for (let c = 0; c < s.cpus; c++) {
      const pc = s.pc(c);
      if (s.i[pc + PC_BLOCKED] === 0) continue;
      const a1 = s.i[pc + PC_W1_ADDR]!;
      const a2 = s.i[pc + PC_W2_ADDR]!;
      let t = -1;
      // lock waiters are woken by the release of their lock (released), not by any change of its word
      const lockWait = LOCK_WAIT[Atomics.load(meta, lay.cpu(c) + L.C_WAIT_KIND)] === true;
      if (!lockWait && ((a1 >= 0 && Atomics.load(meta, a1) !== s.i[pc + PC_W1_VAL]) || (a2 >= 0 && Atomics.load(meta, a2) !== s.i[pc + PC_W2_VAL]))) {
        // an initiator whose acknowledgements a proxied handler gave: at the clock that handler ended
        t = this.ackedAt > now && Atomics.load(meta, lay.cpu(c) + L.C_WAIT_KIND) === L.WaitKind.FlushAck ? this.ackedAt : now;
      } else {
        const cb = lay.cpu(c);
        const pending = meta[cb + L.C_IRQ] !== 0 ? Atomics.load(meta, cb + L.C_IPI_PENDING) : 0;
        // its own disk's interrupt is due at once (interruptDue), an IPI at its arrival
        if (pending !== 0) t = (pending & L.DISK_PENDING) !== 0 ? now : s.f[s.pf(c) + PF_IPI_AT]!;
        if (t === Infinity) t = now;
      }
      if (t < 0) continue;
      const ct = this.wake(c, t);
      if (ct < first) first = ct;
    }
    return first;
  }

  /**
   * This CPU released the lock whose waiters watch meta[word]: a CPU waiting for it is woken now, at
   * this CPU's clock, and runs before this one goes on (which could otherwise take the lock again
   * within its quantum, where on hardware the spinning CPU sees the release within a line transfer).
   * Lock waiters are woken here only, by the lock they wait for: for a spinlock or an rw-semaphore's
   * writer side only the waiter that takes it (the lowest clock, then the lowest id) — the others
   * would find it taken and block again, a hand-over of the host thread each — for the rest (readers,
   * the page lock, whose waiters may only wait for the bit to clear, buffer locks) every waiter.
   */
  released(word: number): void {
    const s = this.s;
    if (s.i[I_NBLOCKED]! === 0 || s.i[I_TURN] === TURN_FREE) return;
    this.cpu.publishCounters();
    const now = this.cpu.ctr[CTR.cycles]!;
    const meta = this.meta;
    const lay = this.cpu.layout;
    let one = -1;
    let oneAt = Infinity;
    let first = Infinity;
    for (let c = 0; c < s.cpus; c++) {
      const pc = s.pc(c);
      if (s.i[pc + PC_BLOCKED] === 0 || (s.i[pc + PC_W1_ADDR] !== word && s.i[pc + PC_W2_ADDR] !== word)) continue;
      const kind = Atomics.load(meta, lay.cpu(c) + L.C_WAIT_KIND);
      if (!LOCK_WAIT[kind]) continue;
      if (kind === L.WaitKind.Spin || kind === L.WaitKind.RwsemWrite) {
        if (this.clock(c) < oneAt) {
          oneAt = this.clock(c);
          one = c;
        }
        continue;
      }
      first = Math.min(first, this.wake(c, now));
    }
    if (one >= 0) first = Math.min(first, this.wake(one, now));
    if (first <= now) this.decide(true);
  }

  /** Unblocks CPU c at simulated time t at the earliest; returns its clock. */
  private wake(c: number, t: number): number {
    const s = this.s;
    s.i[s.pc(c) + PC_BLOCKED] = 0;
    s.i[I_NBLOCKED]!--;
    const ct = Math.max(this.clock(c), t);
    this.setClock(c, ct);
    if (ct + s.f[F_QUANTUM]! < this.limit) this.limit = ct + s.f[F_QUANTUM]!;
    return ct;
  }

  /**
   * Who runs next: the runnable CPU with the lowest clock (ties: this CPU, then the lowest id; with
   * `yieldTies`, another CPU). A CPU that blocks has set PC_BLOCKED, which a wake-up may clear.
   */
  private decide(yieldTies = false): void {
    const s = this.s;
    const i = s.i;
    if (i[I_TURN] === TURN_FREE) throw new MachineStop('machine stopped');
    const me = this.cpu.id;
    const step = ++s.f[F_STEP]!;
    if (step > s.f[F_MAX_STEPS]!) {
      this.cpu.violation('hang', `timed mode: the run did not finish within ${s.f[F_MAX_STEPS]} scheduling steps (a livelock, or a workload far longer than its ops suggest)`, { step });
    }
    const now = this.cpu.ctr[CTR.cycles]!;
    this.ackedAt = -1;
    this.proxyInterrupts();
    if (i[I_NBLOCKED]! > 0) this.wakeBlocked(now);
    this.ackedAt = -1;
    // this CPU first (ties stay with it), unless it blocks and nothing woke it
    let next = -1;
    let best = Infinity;
    if (i[s.pc(me) + PC_BLOCKED] === 0) {
      next = me;
      best = this.clock(me);
    }
    for (let c = 0; c < s.cpus; c++) {
      if (c === me || i[s.pc(c) + PC_BLOCKED] !== 0) continue;
      const t = this.clock(c);
      if (t < best || (yieldTies && next === me && t === best)) {
        best = t;
        next = c;
      }
    }
    if (next >= 0) s.f[F_ALL_BLOCKED] = 0;
    else {
      // Every CPU is blocked and none can be woken: re-check them in turn; if that goes on, it is a
      // deadlock.
      const n = ++s.f[F_ALL_BLOCKED]!;
      if (n > s.f[F_DEADLOCK_STEPS]!) this.deadlock(`every CPU has been blocked for ${n - 1} scheduling steps`);
      next = (me + 1) % s.cpus;
    }
    if (next === me) {
      this.limit = this.nextLimit();
      return;
    }
    i[I_SWITCHES]!++;
    s.fold(step | 0);
    s.fold(next);
    this.cpu.tracer?.schedOut(next, step);
    handOver(s, next);
    waitTurn(this.s, this.cpu.id);
    this.resume();
    this.cpu.tracer?.schedIn();
  }

  /**
   * Takes, by proxy, the pending IPIs of the CPUs that would take them at once if they ran: interrupts
   * on, and either blocked in a wait (whose loop takes interrupts before it re-checks: it would be
   * woken for exactly this) or stopped at a preemption point with its clock already past the
   * arrival. The handler runs on a view of that CPU (its TLB, counters and acknowledgements are in
   * shared memory), at that CPU's clock: max(its clock, the arrival) plus what the handler costs. It
   * is what the CPU itself would do next, without a hand-over of the host thread for each target of
   * each flush; the CPU drops its one-entry translation cache when it runs again (PC_PROXIED).
   */
  private proxyInterrupts(): void {
    const s = this.s;
    const meta = this.meta;
    const lay = this.cpu.layout;
    const me = this.cpu.id;
    if (s.i[I_IPI_WAITING] === 0) return;
    for (let c = 0; c < s.cpus; c++) {
      if (c === me) continue;
      const cb = lay.cpu(c);
      // (not while its disk interrupt is pending: completion takes locks and wakes waiters, which a
      // proxy in the scheduler's step must not; the CPU is woken to take it itself, wakeBlocked)
      const pending = Atomics.load(meta, cb + L.C_IPI_PENDING);
      if (meta[cb + L.C_IRQ] === 0 || pending === 0 || (pending & L.DISK_PENDING) !== 0) continue;
      const k = s.pf(c) + PF_IPI_AT;
      const at = s.f[k]!;
      const blocked = s.i[s.pc(c) + PC_BLOCKED] !== 0;
      const before = this.clock(c);
      if (!blocked && !(before >= at)) continue;
      // The handler starts at the arrival; a CPU already past it (it ran ahead within its quantum)
      // spends the handler's cycles from its own clock, but its acknowledgement counts from the
      // arrival, as it would on hardware (the initiator is not charged the lookahead).
      const start = at === Infinity ? before : at;
      if (start > before) this.setClock(c, start);
      if (at !== Infinity) s.i[I_IPI_WAITING]!--;
      s.f[k] = Infinity;
      const p = this.proxy(c);
      p.kernel!.interrupt(p);
      s.i[s.pc(c) + PC_PROXIED]!++;
      s.i[I_PROXIED]!++;
      const end = start + (this.clock(c) - Math.max(before, start));
      if (end > this.ackedAt) this.ackedAt = end;
    }
  }

  /** A view of CPU c in this thread, for its proxied interrupts. */
  private proxy(c: number): Cpu {
    return (this.proxies[c] ??= this.cpu.viewOf(c));
  }

  /** This CPU has the turn: it is not blocked any more, and runs until the next limit. */
  private resume(): void {
    const s = this.s;
    const pc = s.pc(this.cpu.id);
    if (s.i[pc + PC_PROXIED] !== this.proxiedSeen) {
      this.proxiedSeen = s.i[pc + PC_PROXIED]!;
      this.cpu.tlbChangedElsewhere();
    }
    if (s.i[pc + PC_BLOCKED] !== 0) {
      s.i[pc + PC_BLOCKED] = 0;
      s.i[I_NBLOCKED]!--;
    }
    this.limit = this.nextLimit();
  }

  /** quantum cycles past the lowest clock of the other runnable CPUs (Infinity if there is none). */
  private nextLimit(): number {
    const s = this.s;
    const me = this.cpu.id;
    let lo = Infinity;
    for (let c = 0; c < s.cpus; c++) {
      if (c === me || s.i[s.pc(c) + PC_BLOCKED] !== 0) continue;
      const t = this.clock(c);
      if (t < lo) lo = t;
    }
    return lo + s.f[F_QUANTUM]!;
  }

  private deadlock(why: string): never {
    return schedDeadlock(this.cpu, this.s, 'timed', why);
  }
}
