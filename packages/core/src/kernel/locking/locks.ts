/**
 * Locks in shared memory, built on Atomics and correct under real workers: spinlocks (2 words: owner
 * CPU + 1, sleepers), the rw-semaphore behind mmap_sem (3 words: count, sleepers, writers waiting) and
 * the page lock (PG_locked in the page's flags). A contended acquisition waits through the CPU's
 * waiter (sched/wait.ts), taking interrupts before each attempt: in free mode it spins, then sleeps on
 * the lock word so that more simulated CPUs than host cores does not collapse throughput; in
 * deterministic mode each failed attempt yields until the lock word changes. Every acquisition goes
 * through the lock validator (lockdep.ts) and pushes a record on the CPU's held-lock stack in shared
 * memory.
 */
import type { Cpu } from '../../hw/cpu.js';
import * as L from '../../machine/layout.js';
import { lockLine } from '../../hw/coherence.js';
import { heldLocksLines, lockdepAcquire, lockdepHardirqsOn, lockdepTrylock } from './lockdep.js';
import { LockClass, LOCK_CLASS_NAMES, SITE_NAMES } from './lockorder.js';
import { CTR, LS, LS_FIELDS, type MachineView } from '../../machine/machine.js';
import type { FileId, LockIdx, Pfn } from '../../handles.js';

function validate(cpu: Cpu, cls: LockClass, site: number, read = false): void {
  if (!cpu.config.kernel.lockdep) return;
  const report = lockdepAcquire(cpu, cls, site, read);
  if (report) cpu.violation('lockdep', report, { class: LOCK_CLASS_NAMES[cls], site: SITE_NAMES[site] });
}

/** A trylock succeeded: lockdep records its IRQ usage only (no dependency). */
function validateTrylock(cpu: Cpu, cls: LockClass, site: number): void {
  if (!cpu.config.kernel.lockdep) return;
  const report = lockdepTrylock(cpu, cls, site);
  if (report) cpu.violation('lockdep', report, { class: LOCK_CLASS_NAMES[cls], site: SITE_NAMES[site] });
}

/**
 * might_sleep (CONFIG_DEBUG_SPINLOCK_SLEEP), for the sleeping locks (the rw-semaphore, the page
 * lock): not in hardirq context, not with hardirqs off. A CPU that waited here with its interrupt
 * flag clear could not acknowledge flush IPIs, and a holder of the lock flushing would wait forever.
 */
function mightSleep(cpu: Cpu, cls: LockClass, site: number): void {
  if (!cpu.config.kernel.lockdep) return;
  const b = cpu.base;
  const hc = cpu.meta[b + L.C_HARDIRQ]!;
  const off = cpu.meta[b + L.C_IRQ] === 0;
  if (hc === 0 && !off) return;
  cpu.violation(
    'lockdep',
    [
      `BUG: sleeping function called from invalid context at ${SITE_NAMES[site]}`,
      `in_atomic(): ${hc > 0 ? 1 : 0}, irqs_disabled(): ${off ? 1 : 0}, cpu: ${cpu.id}`,
      `taking: (${LOCK_CLASS_NAMES[cls]})`,
      `${cpu.meta[b + L.C_HELD_DEPTH]} lock(s) held by cpu${cpu.id}:`,
      ...heldLocksLines(cpu.meta, cpu.layout, cpu.id),
    ].join('\n'),
    { class: LOCK_CLASS_NAMES[cls], site: SITE_NAMES[site] },
  );
}

/**
 * trace_hardirqs_on: the interrupt flag is about to be set again by the release of a lock taken at
 * `site`; locks still held become HARDIRQ-ON (lockdep's mark_held_locks).
 */
function hardirqsOn(cpu: Cpu, site: number): void {
  if (!cpu.config.kernel.lockdep || cpu.meta[cpu.base + L.C_HELD_DEPTH] === 0) return;
  const report = lockdepHardirqsOn(cpu, site);
  if (report) cpu.violation('lockdep', report, { site: SITE_NAMES[site] });
}

/** The flags word of a held-lock record (L.HELD_F_*): how it was taken, and in which context. */
function heldFlags(cpu: Cpu, trylock: boolean, read: boolean): number {
  return (trylock ? L.HELD_F_TRYLOCK : 0) | (read ? L.HELD_F_READ : 0) | (cpu.meta[cpu.base + L.C_HARDIRQ]! > 0 ? L.HELD_F_HARDIRQ : 0);
}

function pushHeld(cpu: Cpu, idx: number, cls: LockClass, site: number, flags = 0, contended = false): void {
  const b = cpu.base;
  const d = cpu.meta[b + L.C_HELD_DEPTH]!;
  if (cpu.tracer !== null) cpu.tracer.lockAcquired(idx, cls, site, d, contended);
  if (cpu.lockstat) {
    cpu.holdStartNs[d] = performance.now() * 1e6;
    cpu.holdStartCy[d] = cpu.ctr[CTR.cycles]!;
  }
  if (d >= L.HELD_MAX) throw new Error(`cpu${cpu.id}: more than ${L.HELD_MAX} locks held`);
  // timed mode: the acquisition wrote the lock word (a transfer if another CPU wrote it last)
  if (cpu.lines !== null) cpu.lines.write(cpu, lockLine(idx));
  const h = b + L.C_HELD + d * L.HELD_FIELDS;
  cpu.meta[h + L.HELD_LOCK] = idx;
  cpu.meta[h + L.HELD_CLASS] = cls;
  cpu.meta[h + L.HELD_SITE] = site;
  cpu.meta[h + L.HELD_TRYLOCK] = flags;
  Atomics.store(cpu.meta, b + L.C_HELD_DEPTH, d + 1);
}

/** Pops the record of `idx` from the held-lock stack; returns the site that took it. */
function popHeld(cpu: Cpu, idx: number): number {
  const b = cpu.base;
  const meta = cpu.meta;
  const d = meta[b + L.C_HELD_DEPTH]!;
  for (let i = d - 1; i >= 0; i--) {
    const h = b + L.C_HELD + i * L.HELD_FIELDS;
    if (meta[h + L.HELD_LOCK] === idx) {
      if (cpu.lockstat) recordHold(cpu, meta[h + L.HELD_CLASS]!, i);
      if (cpu.tracer !== null) cpu.tracer.lockReleased(idx, meta[h + L.HELD_CLASS]!, meta[h + L.HELD_SITE]!, i, d);
      const site = meta[h + L.HELD_SITE]!;
      for (let j = i; j < d - 1; j++) {
        const to = b + L.C_HELD + j * L.HELD_FIELDS;
        meta[to] = meta[to + L.HELD_FIELDS]!;
        meta[to + 1] = meta[to + L.HELD_FIELDS + 1]!;
        meta[to + 2] = meta[to + L.HELD_FIELDS + 2]!;
        meta[to + 3] = meta[to + L.HELD_FIELDS + 3]!;
        cpu.holdStartNs[j] = cpu.holdStartNs[j + 1]!;
        cpu.holdStartCy[j] = cpu.holdStartCy[j + 1]!;
      }
      Atomics.store(meta, b + L.C_HELD_DEPTH, d - 1);
      if (cpu.lines !== null) cpu.lines.write(cpu, lockLine(idx));
      return site;
    }
  }
  throw new Error(`cpu${cpu.id}: releasing lock@${idx} which it does not hold`);
}

// ---- lock statistics (/proc/lock_stat) ----

function recordTimes(ls: Float64Array, o: number, count: number, minF: number, ns: number, cy: number): void {
  // fields: min, max, total for ns at minF..minF+2, then the same for cycles
  if (count === 1 || ns < ls[o + minF]!) ls[o + minF] = ns;
  if (ns > ls[o + minF + 1]!) ls[o + minF + 1] = ns;
  ls[o + minF + 2]! += ns;
  if (count === 1 || cy < ls[o + minF + 3]!) ls[o + minF + 3] = cy;
  if (cy > ls[o + minF + 4]!) ls[o + minF + 4] = cy;
  ls[o + minF + 5]! += cy;
}

/** An acquisition of class `cls`; `waitStartNs` >= 0 if it had to wait (a contention). */
function recordAcquire(cpu: Cpu, cls: number, waitStartNs: number, waitStartCy: number, bounced: boolean): void {
  const ls = cpu.lockstat!;
  const o = cls * LS_FIELDS;
  ls[o + LS.acquisitions]!++;
  if (bounced) ls[o + LS.acqBounces]!++;
  if (waitStartNs >= 0) {
    const n = ++ls[o + LS.contentions]!;
    if (bounced) ls[o + LS.conBounces]!++;
    recordTimes(ls, o, n, LS.waitMinNs, performance.now() * 1e6 - waitStartNs, cpu.ctr[CTR.cycles]! - waitStartCy);
  }
}

function recordHold(cpu: Cpu, cls: number, i: number): void {
  const ls = cpu.lockstat!;
  const o = cls * LS_FIELDS;
  recordTimes(ls, o, ls[o + LS.acquisitions]!, LS.holdMinNs, performance.now() * 1e6 - cpu.holdStartNs[i]!, cpu.ctr[CTR.cycles]! - cpu.holdStartCy[i]!);
}

/** Does this CPU hold the lock at meta index `idx`? */
export function holds(cpu: Cpu, idx: LockIdx): boolean {
  const b = cpu.base;
  const d = cpu.meta[b + L.C_HELD_DEPTH]!;
  for (let i = 0; i < d; i++) if (cpu.meta[b + L.C_HELD + i * L.HELD_FIELDS + L.HELD_LOCK] === idx) return true;
  return false;
}

/**
 * Precondition assertion, as the kernel's lockdep_assert_held: the caller must hold `idx` (a
 * spinlock, the page lock, or an rw-semaphore for reading or writing: every holder is on the
 * CPU's held-lock stack). Reads only, so it changes nothing a run does.
 */
export function assertHeld(cpu: Cpu, idx: LockIdx, what: string): void {
  if (!holds(cpu, idx)) throw new Error(`cpu${cpu.id}: ${what} must be held here`);
}

/** As assertHeld, for an rw-semaphore that must be held for writing (mmap_assert_write_locked). */
export function assertHeldWrite(cpu: Cpu, idx: LockIdx, what: string): void {
  if (!holds(cpu, idx) || Atomics.load(cpu.meta, idx + L.RWSEM_COUNT) !== -1) throw new Error(`cpu${cpu.id}: ${what} must be held for writing here`);
}

/**
 * A contended acquisition: waits until `tryTake()` succeeds, taking interrupts (when enabled) before
 * each attempt, as the kernel's spin loops do. `watch2` is a second word whose change may let it in
 * (the rw-semaphore's writers-waiting count); `sleepersIdx` counts the lock's sleepers.
 */
function waitLoop(cpu: Cpu, idx: number, kind: L.WaitKind, tryTake: () => boolean, sleepersIdx: number, watch2 = -1): void {
  cpu.ctr[CTR.lockContended]!++;
  cpu.waiter.waitUntil(
    kind,
    idx,
    () => {
      cpu.pollInterrupts();
      return tryTake();
    },
    idx,
    watch2,
    sleepersIdx,
  );
}

// ------------------------------------------------------------------ spinlocks

/**
 * spin_lock: returns with the lock held. `idx` is the lock's first word in meta: 0 never taken,
 * cpu + 1 while held, -(cpu + 1) after that CPU released it (so lock-stat can count bounces).
 */
export function spinLock(cpu: Cpu, idx: LockIdx, cls: LockClass, site: number): void {
  cpu.preempt();
  validate(cpu, cls, site);
  const meta = cpu.meta;
  const me = cpu.id + 1;
  let cur = Atomics.load(meta, idx);
  let waitNs = -1;
  let waitCy = 0;
  let contended = false;
  if (cur > 0 || Atomics.compareExchange(meta, idx, cur, me) !== cur) {
    contended = true;
    if (cur === me) {
      cpu.violation('deadlock', `recursive locking: cpu${cpu.id} takes ${LOCK_CLASS_NAMES[cls]} (lock@${idx}) again at ${SITE_NAMES[site]}`);
    }
    if (cpu.lockstat) {
      waitNs = performance.now() * 1e6;
      waitCy = cpu.ctr[CTR.cycles]!;
    }
    waitLoop(
      cpu,
      idx,
      L.WaitKind.Spin,
      () => {
        cur = Atomics.load(meta, idx);
        return cur <= 0 && Atomics.compareExchange(meta, idx, cur, me) === cur;
      },
      idx + L.SPIN_SLEEPERS,
    );
  }
  cpu.ctr[CTR.cycles]! += cpu.config.costs.lockAcquire;
  if (cpu.lockstat) recordAcquire(cpu, cls, waitNs, waitCy, cur !== 0 && cur !== -me);
  pushHeld(cpu, idx, cls, site, heldFlags(cpu, false, false), contended);
}

export function spinTrylock(cpu: Cpu, idx: LockIdx, cls: LockClass, site: number): boolean {
  cpu.preempt();
  const cur = Atomics.load(cpu.meta, idx);
  if (cur > 0 || Atomics.compareExchange(cpu.meta, idx, cur, cpu.id + 1) !== cur) return false;
  validateTrylock(cpu, cls, site);
  if (cpu.lockstat) recordAcquire(cpu, cls, -1, 0, cur !== 0 && cur !== -(cpu.id + 1));
  pushHeld(cpu, idx, cls, site, heldFlags(cpu, true, false));
  return true;
}

/** spin_unlock. Returns the site that took the lock. */
export function spinUnlock(cpu: Cpu, idx: LockIdx): number {
  const site = popHeld(cpu, idx);
  const meta = cpu.meta;
  if (Atomics.load(meta, idx) !== cpu.id + 1) throw new Error(`cpu${cpu.id}: unlocking lock@${idx} owned by ${Atomics.load(meta, idx) - 1}`);
  Atomics.store(meta, idx, -(cpu.id + 1));
  if (Atomics.load(meta, idx + L.SPIN_SLEEPERS) > 0) Atomics.notify(meta, idx, 1);
  cpu.waiter.released(idx);
  return site;
}

/**
 * spin_lock_irqsave (and write_lock_irqsave / read_lock_irq of 2.6.20's rwlock tree_lock, modelled
 * as a spinlock): interrupts off, then the lock; returns the saved flags. As with lockdep on in
 * 2.6.20 (_spin_lock_irqsave under CONFIG_PROVE_LOCKING), the flag stays clear while it spins: a
 * pending interrupt waits until spin_unlock_irqrestore.
 */
export function spinLockIrqsave(cpu: Cpu, idx: LockIdx, cls: LockClass, site: number): number {
  const flags = cpu.irqSave();
  spinLock(cpu, idx, cls, site);
  return flags;
}

/** spin_unlock_irqrestore: the lock, then the saved interrupt flag (pending interrupts are taken if it is set). */
export function spinUnlockIrqrestore(cpu: Cpu, idx: LockIdx, flags: number): void {
  const site = spinUnlock(cpu, idx);
  if (flags !== 0 && cpu.meta[cpu.base + L.C_IRQ] === 0) hardirqsOn(cpu, site);
  cpu.irqRestore(flags);
}

/** spin_lock_irq (write_lock_irq): interrupts off unconditionally, then the lock. */
export function spinLockIrq(cpu: Cpu, idx: LockIdx, cls: LockClass, site: number): void {
  cpu.irqSave();
  spinLock(cpu, idx, cls, site);
}

/** spin_unlock_irq (write_unlock_irq): the lock, then interrupts on unconditionally. */
export function spinUnlockIrq(cpu: Cpu, idx: LockIdx): void {
  const site = spinUnlock(cpu, idx);
  if (cpu.meta[cpu.base + L.C_IRQ] === 0) hardirqsOn(cpu, site);
  cpu.irqRestore(1);
}

let statStartCy = 0;
/** Start of a possible wait, for lock-stat (host ns; -1 when lock-stat is off). */
function statStart(cpu: Cpu): number {
  if (!cpu.lockstat) return -1;
  statStartCy = cpu.ctr[CTR.cycles]!;
  return performance.now() * 1e6;
}

// ------------------------------------------------------------------ rw-semaphore (mmap_sem)

const SEM_COUNT = L.RWSEM_COUNT;
const SEM_SLEEPERS = L.RWSEM_SLEEPERS;
const SEM_WRITERS = L.RWSEM_WRITERS;

/** down_read: shared; new readers wait while a writer waits, so writers are not starved. */
export function downRead(cpu: Cpu, idx: LockIdx, cls: LockClass, site: number): void {
  cpu.preempt();
  mightSleep(cpu, cls, site);
  validate(cpu, cls, site, true);
  const meta = cpu.meta;
  const take = () => {
    const c = Atomics.load(meta, idx + SEM_COUNT);
    return c >= 0 && Atomics.load(meta, idx + SEM_WRITERS) === 0 && Atomics.compareExchange(meta, idx + SEM_COUNT, c, c + 1) === c;
  };
  const w = statStart(cpu);
  const contended = !take();
  if (contended) waitLoop(cpu, idx + SEM_COUNT, L.WaitKind.RwsemRead, take, idx + SEM_SLEEPERS, idx + SEM_WRITERS);
  if (cpu.lockstat) recordAcquire(cpu, cls, contended ? w : -1, statStartCy, false);
  pushHeld(cpu, idx, cls, site, heldFlags(cpu, false, true), contended);
}

/**
 * up_read. The sleepers are woken only by the last reader out, as lib/rwsem-spinlock.c's __up_read
 * wakes a waiting writer only when the activity drops to 0: while readers remain, no sleeper can take
 * the semaphore (a reader sleeps only while a writer holds or waits for it, a writer until the count
 * is 0). Waking them at every up_read only made host wake-ups: dirty-share at 8 CPUs on 2 host
 * cores slept a sixth fewer times in rw-semaphore waits without them.
 */
export function upRead(cpu: Cpu, idx: LockIdx): void {
  popHeld(cpu, idx);
  const meta = cpu.meta;
  if (Atomics.sub(meta, idx + SEM_COUNT, 1) === 1 && Atomics.load(meta, idx + SEM_SLEEPERS) > 0) Atomics.notify(meta, idx + SEM_COUNT);
  cpu.waiter.released(idx + SEM_COUNT);
}

/** down_write: exclusive. */
export function downWrite(cpu: Cpu, idx: LockIdx, cls: LockClass, site: number): void {
  cpu.preempt();
  mightSleep(cpu, cls, site);
  validate(cpu, cls, site);
  const meta = cpu.meta;
  const take = () => Atomics.compareExchange(meta, idx + SEM_COUNT, 0, -1) === 0;
  const w = statStart(cpu);
  const contended = !take();
  if (contended) {
    Atomics.add(meta, idx + SEM_WRITERS, 1);
    try {
      waitLoop(cpu, idx + SEM_COUNT, L.WaitKind.RwsemWrite, take, idx + SEM_SLEEPERS);
    } finally {
      Atomics.sub(meta, idx + SEM_WRITERS, 1);
    }
  }
  if (cpu.lockstat) recordAcquire(cpu, cls, contended ? w : -1, statStartCy, false);
  pushHeld(cpu, idx, cls, site, heldFlags(cpu, false, false), contended);
}

export function upWrite(cpu: Cpu, idx: LockIdx): void {
  popHeld(cpu, idx);
  const meta = cpu.meta;
  Atomics.store(meta, idx + SEM_COUNT, 0);
  if (Atomics.load(meta, idx + SEM_SLEEPERS) > 0) Atomics.notify(meta, idx + SEM_COUNT);
  cpu.waiter.released(idx + SEM_COUNT);
}

// ------------------------------------------------------------------ page lock (PG_locked)

/** The page lock's word: PG_locked is a bit of the page's flags, so the lock is that word (lock_page). */
export const pageLock = (view: MachineView, pfn: Pfn): LockIdx => (view.layout.page(pfn) + L.PG_FLAGS) as LockIdx;
/** mapping->tree_lock. */
export const treeLock = (view: MachineView, file: FileId): LockIdx => (view.layout.file(file) + L.F_TREE_LOCK) as LockIdx;

/** inode->i_mutex of `file`. */
export const iMutex = (view: MachineView, file: FileId): LockIdx => (view.layout.fileExt(file) + L.FX_I_MUTEX) as LockIdx;

/** mutex_lock(&inode->i_mutex): a sleeping lock, as down_write of an rw-semaphore. */
export function mutexLockIMutex(cpu: Cpu, file: FileId, site: number): void {
  downWrite(cpu, iMutex(cpu, file), LockClass.IMutex, site);
}

/** mutex_unlock(&inode->i_mutex). */
export function mutexUnlockIMutex(cpu: Cpu, file: FileId): void {
  upWrite(cpu, iMutex(cpu, file));
}

/** wake_up_page: after a bit of the page's flags word was cleared (PG_locked, PG_writeback), wakes its sleepers. */
export function wakeUpPage(cpu: Cpu, pfn: Pfn): void {
  const f = pageLock(cpu, pfn);
  if (Atomics.load(cpu.meta, cpu.layout.page(pfn) + L.PG_WAITERS) > 0) Atomics.notify(cpu.meta, f);
  cpu.waiter.released(f);
}

/** lock_page: sleeps until PG_locked is ours. */
export function lockPage(cpu: Cpu, pfn: Pfn, site: number): void {
  cpu.preempt();
  mightSleep(cpu, LockClass.PageLock, site);
  validate(cpu, LockClass.PageLock, site);
  const meta = cpu.meta;
  const f = pageLock(cpu, pfn);
  const take = () => (Atomics.or(meta, f, L.PG_locked) & L.PG_locked) === 0;
  const w = statStart(cpu);
  const contended = !take();
  if (contended) waitLoop(cpu, f, L.WaitKind.PageLock, take, cpu.layout.page(pfn) + L.PG_WAITERS);
  if (cpu.lockstat) recordAcquire(cpu, LockClass.PageLock, contended ? w : -1, statStartCy, false);
  pushHeld(cpu, f, LockClass.PageLock, site, heldFlags(cpu, false, false), contended);
}

/** TestSetPageLocked: takes the page lock only if it is free. */
export function trylockPage(cpu: Cpu, pfn: Pfn, site: number): boolean {
  cpu.preempt();
  const f = pageLock(cpu, pfn);
  if (Atomics.or(cpu.meta, f, L.PG_locked) & L.PG_locked) return false;
  validateTrylock(cpu, LockClass.PageLock, site);
  if (cpu.lockstat) recordAcquire(cpu, LockClass.PageLock, -1, 0, false);
  pushHeld(cpu, f, LockClass.PageLock, site, heldFlags(cpu, true, false));
  return true;
}

/** Records a page lock set atomically elsewhere (add_to_page_cache locks the new page under tree_lock). */
export function adoptPageLock(cpu: Cpu, pfn: Pfn, site: number): void {
  validate(cpu, LockClass.PageLock, site);
  if (cpu.lockstat) recordAcquire(cpu, LockClass.PageLock, -1, 0, false);
  pushHeld(cpu, pageLock(cpu, pfn), LockClass.PageLock, site, heldFlags(cpu, false, false));
}

export function unlockPage(cpu: Cpu, pfn: Pfn): void {
  const f = pageLock(cpu, pfn);
  popHeld(cpu, f);
  Atomics.and(cpu.meta, f, ~L.PG_locked);
  wakeUpPage(cpu, pfn);
}

/**
 * wait_on_page_locked: sleeps until PG_locked is clear, without taking the lock (not a lock
 * acquisition, so lockdep does not see it).
 */
export function waitOnPageLocked(cpu: Cpu, pfn: Pfn): void {
  const meta = cpu.meta;
  const f = pageLock(cpu, pfn);
  if (!(Atomics.load(meta, f) & L.PG_locked)) return;
  waitLoop(cpu, f, L.WaitKind.PageLock, () => (Atomics.load(meta, f) & L.PG_locked) === 0, cpu.layout.page(pfn) + L.PG_WAITERS);
}

/**
 * wait_on_page_writeback: sleeps until PG_writeback is clear. Writeback ends (clear_page_writeback)
 * before the writer unlocks the page, and unlock_page wakes the page's sleepers.
 */
export function waitOnPageWriteback(cpu: Cpu, pfn: Pfn): void {
  const meta = cpu.meta;
  const f = pageLock(cpu, pfn);
  if (!(Atomics.load(meta, f) & L.PG_writeback)) return;
  waitLoop(cpu, f, L.WaitKind.PageLock, () => (Atomics.load(meta, f) & L.PG_writeback) === 0, cpu.layout.page(pfn) + L.PG_WAITERS);
}

// ------------------------------------------------------------------ buffer lock (BH_Lock)

/**
 * lock_buffer: I/O on one buffer is serialised, so two writers of the same block (writepage and the
 * journal) cannot land an older copy over a newer one; a buffer under asynchronous I/O stays locked
 * until the disk completes it (kernel/disk.ts).
 */
export function lockBuffer(cpu: Cpu, bh: number): void {
  const meta = cpu.meta;
  const take = () => (Atomics.or(meta, bh, L.BH_Lock) & L.BH_Lock) === 0;
  if (!take()) cpu.waiter.waitUntil(L.WaitKind.BufferLock, bh, take, bh);
}

/** unlock_buffer. */
export function unlockBuffer(cpu: Cpu, bh: number): void {
  Atomics.and(cpu.meta, bh, ~L.BH_Lock);
  cpu.waiter.released(bh);
}
