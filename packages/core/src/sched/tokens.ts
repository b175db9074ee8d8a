/**
 * Run tokens: free mode with more simulated CPUs than host threads. Left to the host OS, simulated
 * CPUs that outnumber its cores run by its time slices, so every synchronous cross-CPU step (a flush
 * acknowledgement, a lock held by a descheduled CPU) waits milliseconds for an OS reschedule. With
 * tokens at most K simulated CPUs execute at once (G_TOKENS counts the free ones); the others are
 * parked — at a preemption point, or in a wait — and the host threads of parked CPUs sleep. This is
 * what hypervisors do with vCPUs, and the same three remedies apply:
 *
 * - **Time slices**: a CPU holding a token gives it up at a user-mode preemption point once its slice
 *   (host µs) is used and another CPU waits for one, at once if that one's wait has just ended (WOKEN,
 *   as the OS runs a woken task). A slice never ends in a kernel path, so a lock holder is not parked
 *   by it (the lock-holder-preemption problem of vCPUs).
 * - **Race points**: the host OS's preemptions at arbitrary points are what widened race windows
 *   before. With perturbation on (`--perturb p`), a race point that chooses to delay the CPU parks it
 *   there instead, locks held or not (one park in eight keeps it off the host 0-2 ms), and user-mode
 *   points where it holds no lock hand over at random with probability p/4 (seeded).
 * - **Directed yield**: a CPU about to sleep in a wait gives its token away at once, to the CPU that
 *   holds the spinlock (or rw-semaphore, page lock) it waits for when that one is parked (yield_to in
 *   KVM's pause-loop exiting), or that must complete the write it waits for (a buffer lock, a page
 *   under writeback: only the submitting CPU completes its disk queue), to a parked target of its
 *   flush, else to the parked CPU next in turn. A flush initiator keeps its token and (perturbation
 *   off) spins while its targets can acknowledge without one (see beforeSleep).
 * - **Flush by proxy**: a CPU waiting for flush acknowledgements takes the flush IPI of a parked
 *   target itself, on a view of that CPU (its TLB, counters and acknowledgement words are in shared
 *   memory), as timed mode does (sched/timed.ts) and as KVM's paravirtual flush does for a preempted
 *   vCPU. The target is parked at an instruction boundary with interrupts on and cannot run meanwhile
 *   (its state word is BUSY), so the kernel sees what it would see if the target took the IPI at its
 *   next preemption point; the target drops its one-entry translation cache when it runs again (the
 *   generation in its state word moved). Counted as ipisProxied. The same for a target without a
 *   token asleep in a kernel wait with interrupts on (SLEEPING: a spinlock's waiter takes IPIs between
 *   two looks at the lock), so a lock holder flushing under the lock does not wait for its waiters'
 *   host threads to be scheduled; only the flush vectors are taken, a disk completion stays pending.
 *   Nor does the IPI wake such a sleeper's host thread (wakeForIpi): it would run only to find its
 *   IPI taken and sleep again.
 *   And (perturbation off) for a token holder napping in its own flush wait (NAPPING): two token
 *   holders that flush the same mm at once each wait for the other's acknowledgement, and one napping
 *   (its targets' threads looked off the cores) used to make the other nap too, both until their
 *   naps' timeouts.
 *
 * Each CPU's state word (C_TOKEN) holds a state in its low three bits and the proxy generation above:
 * NONE (no token: in a wait, or taking its interrupts itself), SLEEPING (no token, asleep in a wait
 * with interrupts on), RUNNING (holds a token), NAPPING (holds a token, napping in a flush wait with
 * interrupts on), PARKED (wants one; sleeps on this word, or is about to: a CPU that hands its token
 * over at a preemption point is PARKED before it wakes the taker), WOKEN (parked as its wait ended: a
 * woken task, which the host OS would run at once; running CPUs hand it their token at their next
 * user-mode point), HANDED (given one, its host thread not yet awake: still parked for a proxy), BUSY
 * (parked, handed, sleeping or napping, a proxy taking its interrupts). Hand-overs are
 * compare-and-swaps PARKED/WOKEN -> HANDED, so a CPU is handed at most one token and never while BUSY;
 * it takes it up with HANDED -> RUNNING.
 *
 * Tokens change only host scheduling: what any CPU does next is what it would have done under some
 * OS schedule, so correctness never depends on them.
 */
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { CTR } from '../machine/machine.js';
import { stopReason } from '../machine/stop.js';
import { FreeWaiter, Sleep } from './wait.js';

export const enum TokenState {
  None = 0,
  Running = 1,
  Parked = 2,
  Busy = 3,
  Handed = 4,
  /** Parked after a wait ended (a woken task): handed a token before PARKED CPUs, and sooner. */
  Woken = 5,
  /**
   * No token, asleep in a kernel wait with interrupts on (a spinlock or rwsem waiter, a flush
   * initiator): its flush IPIs may be taken by proxy, as the wait loop would take them between two
   * looks. It takes SLEEPING -> NONE back when its sleep ends (after a proxy's BUSY).
   */
  Sleeping = 6,
  /**
   * Holds a token, napping in a flush wait with interrupts on (TokenWaiter.beforeSleep's Sleep.Nap):
   * its flush IPIs may be taken by proxy, as SLEEPING's. It takes NAPPING -> RUNNING back when its
   * nap ends (after a proxy's BUSY) and drops its one-entry translation cache if a proxy ran.
   */
  Napping = 7,
}
const STATE = 7;
const GEN = 8;
/** G_TOKENS: the free tokens in the low 16 bits, the WOKEN CPUs counted above them. */
const FREE = 0xffff;
const WOKEN = 1 << 16;
const waiting = (st: number): boolean => st === TokenState.Parked || st === TokenState.Woken;

/**
 * Of the hand-overs at race points, the share that keeps the CPU off the host for 0-2 ms (an OS time
 * slice of another thread) before it queues for a token again: measured on jbd-data-buffers (three CPUs
 * must meet in zap's window), which short parks alone found in none of 82 runs in 150 s, and these in
 * runs 19 and 23 (the free-for-all host scheduling before tokens: run 9).
 */
const LONG_PREEMPT = 1 / 8;

/**
 * Failed checks of a flush wait (past its spins) between two looks at its targets' heartbeats. A
 * running CPU's heartbeat moves every 256 accesses (1-4 µs in the shootdown bench), a check takes
 * about 20-40 ns, so a target that passed no preemption point in 512 is not on a host core.
 */
const PROGRESS_SPINS = 512;

/** Preemption points between two readings of the host clock for the slice's end. */
const SLICE_CHECK = 8;

/**
 * The host-time slice of a token, in µs, unless the run says otherwise. Each hand-over costs the
 * host a thread switch (on the 2-core VM about 100 µs of a core: the taker's thread must be woken,
 * the giver's core may idle meanwhile) and the taker's caches, so a slice is long beside it, as the
 * host OS's own (CFS gives a few ms); a woken CPU does not wait for it (WOKEN: handed the next token
 * at a user-mode point). Alternated 200 / 1 000 µs, four rounds (`bench access --cpus 2,8 --mode
 * processes` and `bench faults --cpus 2,8`, 2 s): total at 8 over total at 2, medians 0.64 / 0.84
 * (access), 0.58 / 0.66 (faults, processes), 0.57 / 0.64 (faults, threads); the shootdown p50 at 3,
 * 4 and 8 CPUs no worse.
 */
export const DEFAULT_TOKEN_SLICE_US = 1000;

/** Sets up run tokens on a machine before its CPUs start: `k` tokens, every CPU without one. */
export function initTokens(meta: Int32Array, layout: { cpus: number; cpu(c: number): number }, k: number): void {
  Atomics.store(meta, L.G_TOKENS, k);
  for (let c = 0; c < layout.cpus; c++) Atomics.store(meta, layout.cpu(c) + L.C_TOKEN, TokenState.None);
}

export class TokenWaiter extends FreeWaiter {
  /** This CPU holds a token. */
  private held = false;
  /** performance.now() at which the slice ends. */
  private sliceEnd = 0;
  private readonly sliceMs: number;
  /** The proxy generation last seen (its one-entry translation cache is stale past it). */
  private genSeen = 0;
  /** Views of the other CPUs, for flushes by proxy (created when first needed). */
  private readonly views: Array<Cpu | null>;
  private readonly word: number;
  /** The parked CPU the next undirected hand-over looks at first (round robin). */
  private next: number;
  /** Preemption points until the slice's clock is read again. */
  private countdown = SLICE_CHECK;
  /** Probability of a random hand-over at a preemption point (a quarter of --perturb's). */
  private readonly randomSwitch: number;
  /**
   * Perturbation off: flush waits spin while their targets progress, and a hand-over parks before it
   * wakes the taker (see beforeSleep, dropped); a holder napping in a flush wait is NAPPING, open to a
   * proxy (sleepBegins). With perturbation on, all as before: the host-level noise of a sleeping
   * initiator and of a giver that stays RUNNING until the host runs it again widened race windows
   * (dirty-after-writable's tuned campaign found its race in 21 % of runs on the build before, 8 %
   * with the first two changes, 10 % with either).
   */
  private readonly quiet: boolean;
  /** A flush wait's progress check (targetsStalled): the targets' heartbeats summed at the last one (-1: none yet in this wait). */
  private beats = -1;
  private beatSum = 0;
  /** Calls of targetsStalled until its next look at the heartbeats (1: the first call of a wait looks). */
  private beatSpins = 1;

  constructor(cpu: Cpu, sliceUs: number) {
    super(cpu);
    this.sliceMs = sliceUs / 1000;
    this.views = Array.from({ length: cpu.layout.cpus }, () => null);
    this.word = cpu.base + L.C_TOKEN;
    this.next = (cpu.id + 1) % cpu.layout.cpus;
    this.randomSwitch = cpu.config.perturb / 4;
    this.quiet = cpu.config.perturb === 0;
  }

  override enter(): void {
    this.acquire();
  }

  /**
   * The end of a slice: give the token to a parked CPU, if one waits, and wait for one. In user mode
   * only: a CPU in a kernel path gives its token up when it waits (so a lock holder is never parked,
   * and a CPU parked here has interrupts on, so its flush IPIs can be taken by proxy).
   */
  override point(): void {
    if (!this.held) return;
    const cpu = this.cpu;
    // a CPU whose wait ended waits for a token: make room for it, as the OS runs a woken task
    if (cpu.meta[L.G_TOKENS]! >= WOKEN && cpu.meta[cpu.base + L.C_IN_KERNEL] === 0) {
      this.switchIfParked();
      return;
    }
    // the host OS used to preempt simulated CPUs anywhere, widening race windows: with perturbation
    // on, a seeded random hand-over at any point where no lock is held and interrupts are on
    if (this.randomSwitch > 0 && cpu.rng.chance(this.randomSwitch)) {
      const b = cpu.base;
      if (cpu.meta[b + L.C_HELD_DEPTH] === 0 && cpu.meta[b + L.C_IRQ] !== 0) {
        this.switchIfParked();
        return;
      }
    }
    if (--this.countdown > 0) return;
    this.countdown = SLICE_CHECK;
    if (performance.now() < this.sliceEnd) return;
    if (cpu.meta[cpu.base + L.C_IN_KERNEL] !== 0) return;
    this.switchIfParked();
  }

  /**
   * Back in user mode after a slow path fell in a kernel path: what point() leaves to user mode is
   * due now — room for a woken CPU, or the slice's end (a workload whose every slow path falls in
   * the kernel held its token for good: page-fault3 on 4 CPUs made 2 slice hand-overs in 76 s).
   */
  override userReturn(): void {
    if (!this.held) return;
    if (this.cpu.meta[L.G_TOKENS]! >= WOKEN || performance.now() >= this.sliceEnd) this.switchIfParked();
  }

  /**
   * A perturbation at a kernel race point: park here, inside the window, while a parked CPU runs (a
   * host-OS preemption, which is what widened these windows before run tokens; locks held or not: a
   * CPU that then waits for one of them hands its token to the holder). False when no CPU is parked.
   */
  override preemptHere(): boolean {
    if (!this.held || !this.handOver(-1, true)) return false;
    const cpu = this.cpu;
    cpu.ctr[CTR.tokenSwitches]!++;
    if (cpu.rng.chance(LONG_PREEMPT)) this.preempted(cpu.rng.below(2000) / 1000);
    this.acquire();
    return true;
  }

  /**
   * Off the host for `ms` (an OS time slice of another thread): asleep without a token, taking its
   * interrupts (a flush initiator waits for them), then back in line for a token.
   */
  private preempted(ms: number): void {
    const cpu = this.cpu;
    const meta = cpu.meta;
    const until = performance.now() + ms;
    for (let left = ms; left > 0; left = until - performance.now()) {
      cpu.checkStop();
      cpu.pollInterrupts();
      const b = cpu.base + L.C_IPI_PENDING;
      cpu.sleepOn(b, Atomics.load(meta, b), left);
    }
  }

  /** A workload's busy-wait: let a parked CPU run (it may be the one that changes the word). */
  override pause(): void {
    if (this.held) this.switchIfParked();
  }

  /** Hands the token to a parked CPU, if one waits, and parks (at a point where a proxy may take this CPU's interrupts). */
  private switchIfParked(): void {
    if (!this.handOver(-1, true, this.quiet ? TokenState.Parked : TokenState.None)) {
      this.sliceEnd = performance.now() + this.sliceMs;
      return;
    }
    this.cpu.ctr[CTR.tokenSwitches]!++;
    this.acquire();
  }

  override release(): void {
    // The machine stops: parked CPUs see it in their acquire loop (stopReason) once woken.
    const cpu = this.cpu;
    for (let c = 0; c < cpu.layout.cpus; c++) cpu.wake(c);
    for (let c = 0; c < cpu.layout.cpus; c++) Atomics.notify(cpu.meta, cpu.layout.cpu(c) + L.C_TOKEN);
  }

  /**
   * A target asleep in a wait with interrupts on (SLEEPING, NAPPING) is not woken: this CPU's flush
   * wait takes the IPI by proxy at its first idle step, before the woken thread would have run (a
   * target that leaves the state meanwhile is awake and takes it itself). Those wake-ups were a third
   * of the sleeps of dirty-share's lock waiters at 8 CPUs on 2 host cores: each a host thread switch
   * in and out for nothing.
   */
  override wakeForIpi(target: number): boolean {
    const st = Atomics.load(this.cpu.meta, this.cpu.layout.cpu(target) + L.C_TOKEN) & STATE;
    return st !== TokenState.Sleeping && st !== TokenState.Napping;
  }

  /** Waiting for flush acknowledgements: take the flush IPIs of parked targets by proxy. */
  protected override idleStep(kind: L.WaitKind): void {
    if (kind === L.WaitKind.FlushAck) this.proxyFlushTargets();
  }

  /**
   * About to sleep: give the token away, to the holder of the awaited lock if it is parked (a
   * spinlock's owner word; an rw-semaphore's or page lock's holders on the held-lock stacks, which is
   * also where the watchdog finds them), or to the parked CPU whose disk queue holds the write a
   * buffer lock or PG_writeback waits for (parkedWriter). A CPU waiting for flush acknowledgements
   * gives it to a parked target (one the proxy could not serve);
   * otherwise it keeps it while the targets can acknowledge without one (running, or in a wait with
   * interrupts on, which takes them), and with perturbation off spins on (Sleep.Spin) as long as they
   * make progress (their heartbeats move): a sleep costs a host wake-up on both sides (with it on, it
   * sleeps after its spins, woken by the ack, as before: see quiet). (It used to sleep with the token
   * kept after its spins, for the ack to wake it: the target's handler then made a futex wake, which
   * on the 2-core VM put the woken initiator on the target's core, and the initiator's next flush
   * found the target still descheduled inside that handler; in the 3-CPU shootdown bench 57 % of
   * flushes slept, p50 28 µs.) Once the targets' heartbeats stand still for PROGRESS_SPINS checks,
   * their host threads are off the cores (a token hand-over's wake-up has put one thread more than
   * the tokens on the host's cores for a moment): then this CPU naps (NAP_MS, token kept, not woken
   * by the acknowledgement, so the target's handler makes no host wake-up) and lets the host run them.
   * A target without a token and with interrupts off (spinning in spin_lock_irqsave on a lock whose
   * holder is parked) acknowledges only once the holder has run, which may need this token: then it
   * goes to the parked CPUs (found as a watchdog report on dirty-share, 8 CPUs, when the token was
   * always kept) and the initiator sleeps.
   */
  protected override beforeSleep(kind: L.WaitKind, obj: number): Sleep {
    if (!this.held) return Sleep.Watched;
    let to = -1;
    if (kind === L.WaitKind.FlushAck) {
      to = this.parkedTarget();
      if (to < 0 && !this.blockedTarget()) return !this.quiet ? Sleep.Watched : this.targetsStalled() ? Sleep.Nap : Sleep.Spin;
    } else if (kind === L.WaitKind.Spin) {
      const owner = Atomics.load(this.cpu.meta, obj) - 1;
      if (owner >= 0 && owner < this.cpu.layout.cpus) to = owner;
    } else if (kind === L.WaitKind.RwsemRead || kind === L.WaitKind.RwsemWrite || kind === L.WaitKind.PageLock) {
      to = this.parkedHolder(obj);
      if (to < 0 && kind === L.WaitKind.PageLock) to = this.parkedWriter(obj);
    } else if (kind === L.WaitKind.BufferLock) {
      to = this.parkedWriter(obj);
    }
    // without a parked CPU to take it, the token is free (G_TOKENS) for whoever asks next
    this.handOver(to, false);
    return Sleep.Watched;
  }

  /**
   * The wait sleeps now: without a token and with interrupts on, the CPU is SLEEPING until it wakes,
   * so a flush initiator takes its IPIs by proxy instead of waiting for this host thread to be
   * scheduled (the holder of the pte lock this CPU spins on, say, flushing under it). Nothing of this
   * CPU runs meanwhile (the proxy's handler writes its interrupt flag and context words). Interrupts
   * off: it stays NONE (isBlocked sees it). With its token (a flush wait's nap, the only sleep that
   * keeps it with perturbation off), NAPPING: the other token holder flushing the same mm takes this
   * CPU's IPI by proxy instead of finding its heartbeat still and napping in turn (write-notify, 8
   * CPUs of one mm on 2 cores: two in three of the naps were of a token holder whose target was the
   * other, napping). With perturbation on, a holder's sleep in a flush wait stays RUNNING, as before
   * (see quiet: the other's wait for it is noise that finds races).
   */
  protected override sleepBegins(): void {
    const cpu = this.cpu;
    if (cpu.meta[cpu.base + L.C_IRQ] === 0 || (this.held && !this.quiet)) return;
    const v = Atomics.load(cpu.meta, this.word);
    if ((v & STATE) === (this.held ? TokenState.Running : TokenState.None)) {
      Atomics.compareExchange(cpu.meta, this.word, v, (v & ~STATE) | (this.held ? TokenState.Napping : TokenState.Sleeping));
    }
  }

  /**
   * The sleep is over: SLEEPING -> NONE, or NAPPING -> RUNNING (dropping the one-entry translation
   * cache if a proxy ran meanwhile), once a proxy taking this CPU's interrupts (BUSY) is done.
   */
  protected override afterSleep(): void {
    const meta = this.cpu.meta;
    const w = this.word;
    for (;;) {
      const v = Atomics.load(meta, w);
      const st = v & STATE;
      if (st === TokenState.Busy) {
        Atomics.wait(meta, w, v, 1);
        continue;
      }
      if (st === TokenState.Napping) {
        if (Atomics.compareExchange(meta, w, v, (v & ~STATE) | TokenState.Running) !== v) continue;
        this.checkGen();
        return;
      }
      if (st !== TokenState.Sleeping || Atomics.compareExchange(meta, w, v, (v & ~STATE) | TokenState.None) === v) return;
    }
  }

  protected override afterWait(): void {
    this.beats = -1;
    this.beatSpins = 1;
    if (!this.held) this.acquire(true);
  }

  /**
   * Called at each failed check of a flush wait past its spins: true once the heartbeats of the
   * targets that have not acknowledged stood still for PROGRESS_SPINS checks (their host threads are
   * off the cores), and then again only after as many more. The first call takes the baseline.
   */
  private targetsStalled(): boolean {
    if (--this.beatSpins > 0) return false;
    this.beatSpins = PROGRESS_SPINS;
    this.beatSum = 0;
    this.findTarget(this.addBeat);
    const stalled = this.beatSum === this.beats;
    this.beats = this.beatSum;
    return stalled;
  }

  private readonly addBeat = (c: number): boolean => {
    this.beatSum = (this.beatSum + Atomics.load(this.cpu.meta, this.cpu.layout.cpu(c) + L.C_HEARTBEAT)) | 0;
    return false;
  };

  /**
   * A parked CPU that holds lock `obj` (an rw-semaphore, a page lock), found on the held-lock stacks
   * as the watchdog finds holders, or -1. These locks record no owner (a semaphore has many readers);
   * a parked CPU's stack does not change while it is parked, and a running one's record read as it
   * changes only makes the yield undirected (give() hands a token to a parked CPU only).
   */
  private parkedHolder(obj: number): number {
    return L.findHolder(this.cpu.meta, this.cpu.layout, obj, this.otherParked);
  }

  /**
   * A parked CPU with a write in flight that the wait on `obj` needs completed (a buffer lock held
   * for asynchronous I/O, a page's PG_writeback), or -1: only its own interrupt polls complete it
   * (kernel/disk.ts), so nothing ends the wait until it runs. (A buffer's state word records no
   * owner: the BH_* flags were read as one here before.)
   */
  private parkedWriter(obj: number): number {
    return L.findWriter(this.cpu.meta, this.cpu.layout, obj, this.otherParked);
  }

  private readonly otherParked = (c: number): boolean => c !== this.cpu.id && this.isParked(c);

  // ---- tokens ----

  /**
   * Gives this CPU's token up: to `to` if it is parked (a directed yield), else to the next parked
   * CPU in turn; with none parked, keeps it and returns false if `keep`, else frees it (G_TOKENS).
   * This CPU then takes state `then` (see dropped).
   */
  private handOver(to: number, keep: boolean, then: TokenState.None | TokenState.Parked = TokenState.None): boolean {
    const cpu = this.cpu;
    const meta = cpu.meta;
    const n = cpu.layout.cpus;
    if (to >= 0 && to !== cpu.id && this.give(to, false)) {
      cpu.ctr[CTR.directedYields]!++;
      this.dropped(to, then);
      return true;
    }
    // the woken first, then the parked, each in turn
    for (const wokenOnly of [true, false]) {
      if (wokenOnly && Atomics.load(meta, L.G_TOKENS) < WOKEN) continue;
      for (let i = 0; i < n; i++) {
        const c = (this.next + i) % n;
        if (c !== cpu.id && this.give(c, wokenOnly)) {
          this.next = (c + 1) % n;
          this.dropped(c, then);
          return true;
        }
      }
    }
    if (keep) return false;
    Atomics.add(meta, L.G_TOKENS, 1);
    this.dropped(-1, then);
    return true;
  }

  /** Hands a token to CPU c if it is parked (PARKED or WOKEN, or only WOKEN): HANDED, woken by dropped. */
  private give(c: number, wokenOnly: boolean): boolean {
    const meta = this.cpu.meta;
    const w = this.cpu.layout.cpu(c) + L.C_TOKEN;
    const v = Atomics.load(meta, w);
    const st = v & STATE;
    if (wokenOnly ? st !== TokenState.Woken : !waiting(st)) return false;
    if (Atomics.compareExchange(meta, w, v, (v & ~STATE) | TokenState.Handed) !== v) return false;
    if (st === TokenState.Woken) Atomics.sub(meta, L.G_TOKENS, WOKEN);
    return true;
  }

  /**
   * This CPU's token is gone (to CPU `to`, or freed: -1): its state becomes `then`, and only then is
   * `to`'s host thread woken. The wake-up can take this thread off its host core at once (the host
   * runs the woken thread in its place) until the host schedules it again; a CPU that gave its token
   * at a preemption point where it parks next (switchIfParked: a slice's end in user mode, a random
   * switch with no lock held, a workload's busy-wait) is already PARKED then, so its flush IPIs are
   * taken by proxy meanwhile (before, it stayed RUNNING until it ran again, and a flush initiator
   * waited for it).
   */
  private dropped(to: number, then: TokenState.None | TokenState.Parked): void {
    this.held = false;
    const meta = this.cpu.meta;
    // with perturbation on, the wake-up first, as before (see quiet)
    if (!this.quiet && to >= 0) Atomics.notify(meta, this.cpu.layout.cpu(to) + L.C_TOKEN);
    const v = Atomics.load(meta, this.word);
    Atomics.store(meta, this.word, (v & ~STATE) | then);
    if (this.quiet && to >= 0) Atomics.notify(meta, this.cpu.layout.cpu(to) + L.C_TOKEN);
  }

  /**
   * Waits for a token: takes a free one, or parks (sleeping on its state word) until one is handed
   * over. Meanwhile its flush IPIs are taken by proxy; anything else waits until it runs. Once the
   * machine stops (finished or not) it returns without one: every CPU then runs free to unwind.
   */
  private acquire(woken = false): void {
    const cpu = this.cpu;
    const meta = cpu.meta;
    const w = this.word;
    const park = woken ? TokenState.Woken : TokenState.Parked;
    for (;;) {
      // the machine stopped (finished, or a violation): every CPU runs free to unwind
      if (stopReason(meta) !== 0) return this.resume(false);
      let v = Atomics.load(meta, w);
      const st = v & STATE;
      if (st === TokenState.Running) return this.resume(true);
      if (st === TokenState.Handed) {
        if (Atomics.compareExchange(meta, w, v, (v & ~STATE) | TokenState.Running) === v) return this.resume(true);
        continue;
      }
      if (st === TokenState.None) {
        if (this.takeFree()) {
          Atomics.store(meta, w, (v & ~STATE) | TokenState.Running);
          return this.resume(true);
        }
        if (Atomics.compareExchange(meta, w, v, (v & ~STATE) | park) !== v) continue;
        if (woken) Atomics.add(meta, L.G_TOKENS, WOKEN);
        v = Atomics.load(meta, w);
        if (!waiting(v & STATE)) continue;
      }
      if ((v & STATE) === TokenState.Busy) {
        // a proxy is taking our interrupts: it puts our state back
        Atomics.wait(meta, w, v, 1);
        continue;
      }
      // a free token (also one freed between the test above and the park): unpark (-> NONE) and take
      // it on the next turn of the loop
      if ((Atomics.load(meta, L.G_TOKENS) & FREE) > 0) {
        if (Atomics.compareExchange(meta, w, v, (v & ~STATE) | TokenState.None) === v && (v & STATE) === TokenState.Woken) Atomics.sub(meta, L.G_TOKENS, WOKEN);
        continue;
      }
      // Sleep until handed a token. No sleep address is published, so IPIs do not wake this thread:
      // a CPU that waits for our acknowledgement takes the flush by proxy instead of having a third
      // host thread compete for the cores; anything else pending is taken after at most 5 ms.
      Atomics.wait(meta, w, v, 5);
    }
  }

  /** Takes a free token. */
  private takeFree(): boolean {
    const meta = this.cpu.meta;
    for (let f = Atomics.load(meta, L.G_TOKENS); (f & FREE) > 0; f = Atomics.load(meta, L.G_TOKENS)) {
      if (Atomics.compareExchange(meta, L.G_TOKENS, f, f - 1) === f) return true;
    }
    return false;
  }

  private resume(held: boolean): void {
    this.held = held;
    this.sliceEnd = performance.now() + this.sliceMs;
    this.checkGen();
  }

  /** A proxy took interrupts for this CPU since it last looked: its one-entry translation cache goes. */
  private checkGen(): void {
    const g = Atomics.load(this.cpu.meta, this.word) >>> 3;
    if (g !== this.genSeen) {
      this.genSeen = g;
      this.cpu.tlbChangedElsewhere();
    }
  }

  // ---- flush by proxy ----

  /** The first target of this CPU's flush that has not acknowledged and passes `test`, or -1. */
  private findTarget(test: (c: number) => boolean): number {
    const cpu = this.cpu;
    const left = cpu.maskBase + L.CM_FLUSH_LEFT;
    for (let wd = 0; wd < cpu.layout.maskWords; wd++) {
      for (let m = Atomics.load(cpu.meta, left + wd); m !== 0; ) {
        const j = 31 - Math.clz32(m);
        m &= ~(1 << j);
        if (test((wd << 5) | j)) return (wd << 5) | j;
      }
    }
    return -1;
  }

  /** Target c is parked (PARKED or WOKEN). */
  private readonly isParked = (c: number): boolean => waiting(Atomics.load(this.cpu.meta, this.cpu.layout.cpu(c) + L.C_TOKEN) & STATE);

  /** Target c holds no token and has interrupts off. */
  private readonly isBlocked = (c: number): boolean => {
    const cb = this.cpu.layout.cpu(c);
    return (Atomics.load(this.cpu.meta, cb + L.C_TOKEN) & STATE) === TokenState.None && this.cpu.meta[cb + L.C_IRQ] === 0;
  };

  private readonly proxyTarget = (c: number): boolean => {
    this.proxy(c);
    return false;
  };

  /** A parked target that has not acknowledged, or -1. */
  private parkedTarget(): number {
    return this.findTarget(this.isParked);
  }

  /** A target that has not acknowledged, holds no token and has interrupts off. */
  private blockedTarget(): boolean {
    return this.findTarget(this.isBlocked) >= 0;
  }

  /** Takes the pending IPIs of every parked target of this CPU's flush that has not acknowledged. */
  private proxyFlushTargets(): void {
    this.findTarget(this.proxyTarget);
  }

  /**
   * Takes CPU c's pending flush IPIs on its behalf, if it is parked or asleep in a wait (SLEEPING,
   * NAPPING) with interrupts on. Only the flush vectors: a disk completion pending beside them stays
   * for c to take when it runs (the invalidate IPIs' vectors are above every device's, so a CPU with
   * both pending takes the flush first, as a running CPU's early look does, Cpu.pollFlushIpis; the
   * disk counts its latency in c's own polls).
   */
  private proxy(c: number): void {
    const cpu = this.cpu;
    const meta = cpu.meta;
    const cb = cpu.layout.cpu(c);
    const w = cb + L.C_TOKEN;
    const v = Atomics.load(meta, w);
    const st = v & STATE;
    if (!waiting(st) && st !== TokenState.Handed && st !== TokenState.Sleeping && st !== TokenState.Napping) return;
    if (meta[cb + L.C_IRQ] === 0) return;
    if ((Atomics.load(meta, cb + L.C_IPI_PENDING) & ~L.DISK_PENDING) === 0) return;
    if (Atomics.compareExchange(meta, w, v, (v & ~STATE) | TokenState.Busy) !== v) return;
    const p = this.view(c);
    try {
      // re-checked under BUSY: c cannot have run since, but a flag may have changed before the swap
      if (meta[cb + L.C_IRQ] !== 0) {
        const before = p.ctr[CTR.ipisReceived]!;
        p.dueVectors = ~L.DISK_PENDING;
        p.kernel!.interrupt(p);
        p.ctr[CTR.ipisProxied]! += p.ctr[CTR.ipisReceived]! - before;
      }
    } finally {
      p.dueVectors = -1;
      // back to its state (PARKED, WOKEN, HANDED, SLEEPING or NAPPING) with the generation moved on; c is not woken (it sees the
      // generation when it resumes, and waking it would only put another thread on the host's cores)
      Atomics.store(meta, w, (v & ~STATE) + GEN + st);
    }
  }

  private view(c: number): Cpu {
    return (this.views[c] ??= this.cpu.viewOf(c));
  }
}
