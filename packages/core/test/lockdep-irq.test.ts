/**
 * Lockdep's IRQ state (lockdep.ts): usage bits per class (IN-HARDIRQ / HARDIRQ-ON, write and read),
 * hardirq context (Cpu.hardirq, which every interrupt vector runs in), and the three reports —
 * inconsistent lock state, HARDIRQ-safe -> HARDIRQ-unsafe lock order, irq lock inversion — on
 * synthetic sequences of the spare classes test_lock_a/b/c; then the correct kernel, driven through
 * every path with an extra hardirq handler that takes tree_lock at every interrupt (as 2.6.20's
 * end_page_writeback does from the disk interrupt), stays silent.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Cpu, type CpuWaiter, DEFAULT_KERNEL, type FileId, Kernel, type LockIdx, lockdepEdges, lockdepUsage, MachineStop, type Pfn, USAGE_STR } from '@smpsim/core';
import { file, InlineWaiter, kdisk, ksmp, layout as L, LockClass, LockUsage, locks, SITES, testMachine } from '@smpsim/core/testing';
import { driveEveryPath, small } from './helpers.js';

const A = LockClass.Test0;
const B = LockClass.Test1;
const C = LockClass.Test2;
const IN = 1 << LockUsage.InHardirq;
const ON = 1 << LockUsage.HardirqOn;

function rig(cpus = 2, lockdep = true) {
  const { m, cpus: cs } = small({ cpus, files: [file(1), file(1), file(1)], kernel: { ...DEFAULT_KERNEL, lockdep } });
  // Three spinlocks in the address_space records of files no path touches here (as lockdep.test.ts).
  const word = [0, 1, 2].map((f) => (m.layout.file(f) + L.F_PRIVATE_LOCK) as LockIdx);
  const w = (cls: LockClass) => word[cls - A]!;
  const lock = (cpu: Cpu, cls: LockClass, site: number = SITES.test_site) => locks.spinLock(cpu, w(cls), cls, site);
  const unlock = (cpu: Cpu, cls: LockClass) => locks.spinUnlock(cpu, w(cls));
  const lockIrqsave = (cpu: Cpu, cls: LockClass, site: number = SITES.test_site) => locks.spinLockIrqsave(cpu, w(cls), cls, site);
  const unlockIrqrestore = (cpu: Cpu, cls: LockClass, flags: number) => locks.spinUnlockIrqrestore(cpu, w(cls), flags);
  /** An interrupt handler on `cpu` that takes and releases `cls` (with IRQs off, as a handler runs). */
  const inHardirq = (cpu: Cpu, cls: LockClass, site: number = SITES.test_site) =>
    cpu.hardirq((c) => {
      lock(c, cls, site);
      unlock(c, cls);
    });
  const usage = (cls: LockClass) => lockdepUsage(m.meta, m.layout)[cls]!;
  const edges = () => lockdepEdges(m.meta, m.layout).filter((e) => e.from >= A && e.to >= A).map((e) => [e.from - A, e.to - A]);
  return { m, cpus: cs, lock, unlock, lockIrqsave, unlockIrqrestore, inHardirq, usage, edges };
}

/** Runs `fn`, which must stop the machine with a violation; returns the violation. */
function stops(cpu: Cpu, fn: () => void) {
  const before = cpu.violations.length;
  assert.throws(fn, (e: unknown) => e instanceof MachineStop);
  assert.is(cpu.violations.length, before + 1);
  return cpu.violations[before]!;
}

test('usage strings and the hardirq context of a handler', () => {
  assert.equal([...USAGE_STR], ['IN-HARDIRQ-W', 'HARDIRQ-ON-W', 'IN-HARDIRQ-R', 'HARDIRQ-ON-R']);
  const { m, cpus } = rig(1);
  const c = cpus[0]!;
  const b = m.layout.cpu(0);
  let seen: number[] = [];
  c.hardirq(() => {
    seen = [m.meta[b + L.C_HARDIRQ]!, m.meta[b + L.C_IRQ]!];
  });
  assert.equal(seen, [1, 0], 'in hardirq context, interrupt flag clear');
  assert.equal([m.meta[b + L.C_HARDIRQ], m.meta[b + L.C_IRQ]], [0, 1], 'restored by iret');
});

test('taking a lock with hardirqs on, with them off, and in a handler sets the usage bits', () => {
  const { cpus, lock, unlock, lockIrqsave, unlockIrqrestore, inHardirq, usage } = rig(1);
  const c = cpus[0]!;
  lock(c, A);
  unlock(c, A);
  assert.is(usage(A), ON);
  const f = lockIrqsave(c, B);
  unlockIrqrestore(c, B, f);
  assert.is(usage(B), 0, 'irq-off only: neither safe nor unsafe');
  inHardirq(c, C);
  assert.is(usage(C), IN);
  // a read acquisition (down_read of an rw-semaphore) sets the read bit
  const sem = (c.layout.mm(0) + L.MM_SEM) as LockIdx;
  locks.downRead(c, sem, LockClass.MmapSem, SITES.handle_mm_fault);
  locks.upRead(c, sem);
  assert.is(usage(LockClass.MmapSem), 1 << LockUsage.HardirqOnRead);
  assert.equal(c.violations, []);
});

test('inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W}: used in a handler on cpu0, then with hardirqs on on cpu1', () => {
  const { cpus, lock, inHardirq } = rig(2);
  const [c0, c1] = cpus as [Cpu, Cpu];
  inHardirq(c0, A, SITES.do_fsync);
  const v = stops(c1, () => lock(c1, A, SITES.sys_msync));
  assert.is(v.kind, 'lockdep');
  const msg = v.message;
  assert.match(msg, 'WARNING: inconsistent lock state');
  assert.match(msg, 'inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage.');
  assert.match(msg, 'cpu1 [HC0[0]:HE1] takes:\n (test_lock_a){?.}, at: sys_msync');
  assert.match(msg, '{IN-HARDIRQ-W} state was registered at:\n  do_fsync (cpu0, in hardirq context)');
  assert.match(msg, '{HARDIRQ-ON-W} state is this one:\n  sys_msync (cpu1, hardirqs enabled)');
  assert.match(msg, '  lock(test_lock_a);\n  <Interrupt>\n    lock(test_lock_a);');
  assert.match(msg, '*** DEADLOCK ***');
  assert.equal(v.details, { class: 'test_lock_a', site: 'sys_msync' });
});

test('inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W}: the other order, reported in the handler', () => {
  const { cpus, lock, unlock, inHardirq } = rig(1);
  const c = cpus[0]!;
  lock(c, A, SITES.zap_pte_range);
  unlock(c, A);
  const v = stops(c, () => inHardirq(c, A, SITES.do_fsync));
  assert.match(v.message, 'inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.');
  assert.match(v.message, 'cpu0 [HC1[1]:HE0] takes:\n (test_lock_a){?.}, at: do_fsync');
  assert.match(v.message, '{HARDIRQ-ON-W} state was registered at:\n  zap_pte_range (cpu0, hardirqs enabled)');
});

test('a lock held when spin_unlock_irqrestore enables hardirqs becomes HARDIRQ-ON (mark_held_locks)', () => {
  const { cpus, lock, lockIrqsave, unlockIrqrestore, inHardirq, usage } = rig(1);
  const c = cpus[0]!;
  inHardirq(c, A, SITES.do_fsync); // A is hardirq-safe
  const f = lockIrqsave(c, B, SITES.find_get_page);
  lock(c, A, SITES.page_mkclean); // hardirqs off: fine so far
  assert.is(usage(A), IN);
  // releasing B first turns hardirqs back on while A is still held
  const v = stops(c, () => unlockIrqrestore(c, B, f));
  assert.match(v.message, 'inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage.');
  assert.match(v.message, '{HARDIRQ-ON-W} state is this one:\n  page_mkclean (cpu0, held when spin_unlock_irqrestore of the lock taken at find_get_page enabled hardirqs)');
});

test('HARDIRQ-safe -> HARDIRQ-unsafe lock order: holding a lock a handler takes, taking one taken with hardirqs on', () => {
  const { cpus, lock, unlock, lockIrqsave, inHardirq, usage, edges } = rig(2);
  const [c0, c1] = cpus as [Cpu, Cpu];
  inHardirq(c0, A, SITES.do_fsync); // A: hardirq-safe
  lock(c1, B, SITES.zap_pte_range); // B: hardirq-unsafe
  unlock(c1, B);
  assert.equal([usage(A), usage(B)], [IN, ON]);
  lockIrqsave(c1, A, SITES.find_get_page);
  const v = stops(c1, () => lock(c1, B, SITES.add_to_page_cache));
  assert.is(v.kind, 'lockdep');
  const msg = v.message;
  assert.match(msg, 'WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected');
  assert.match(msg, 'cpu1 [HC0[0]:HE0] is trying to acquire:\n (test_lock_b){+.}, at: add_to_page_cache');
  assert.match(msg, 'and this task is already holding:\n (test_lock_a){-.}, at: find_get_page');
  assert.match(msg, 'which would create a new lock dependency:\n (test_lock_a){-.} -> (test_lock_b){+.}');
  assert.match(msg, 'but this new dependency connects a HARDIRQ-irq-safe lock:\n (test_lock_a){-.}');
  assert.match(msg, '... which became HARDIRQ-irq-safe at:\n  do_fsync (cpu0, in hardirq context)');
  assert.match(msg, 'to a HARDIRQ-irq-unsafe lock:\n (test_lock_b){+.}');
  assert.match(msg, '... which became HARDIRQ-irq-unsafe at:\n...\n  zap_pte_range (cpu1, hardirqs enabled)');
  assert.match(msg, '  lock(test_lock_b);\n                               local_irq_disable();\n                               lock(test_lock_a);');
  assert.match(msg, /1 lock\(s\) held by cpu1:\n #0: \(test_lock_a\)\{lock@\d+\}, at: find_get_page/);
  assert.equal(edges(), [[0, 1]]);
});

test('HARDIRQ-safe -> HARDIRQ-unsafe through the graph: the new edge A -> C meets C -> B, B unsafe', () => {
  const { cpus, lock, unlock, lockIrqsave, unlockIrqrestore, inHardirq } = rig(2);
  const [c0, c1] = cpus as [Cpu, Cpu];
  lock(c0, B, SITES.zap_pte_range); // B unsafe
  unlock(c0, B);
  const f = lockIrqsave(c0, C, SITES.test_site); // C -> B with hardirqs off: C stays neutral
  lock(c0, B, SITES.page_mkclean);
  unlock(c0, B);
  unlockIrqrestore(c0, C, f);
  inHardirq(c1, A, SITES.do_fsync); // A safe
  lockIrqsave(c1, A, SITES.find_get_page);
  const v = stops(c1, () => lock(c1, C, SITES.sys_msync));
  const msg = v.message;
  assert.match(msg, 'HARDIRQ-safe -> HARDIRQ-unsafe lock order detected');
  assert.match(msg, ' Chain exists of:\n   test_lock_a --> test_lock_c --> test_lock_b');
  assert.match(msg, 'the dependencies between the lock to be acquired and HARDIRQ-irq-unsafe lock:\n -> (test_lock_b) taken at page_mkclean while holding (test_lock_c) from test_site');
  assert.match(msg, 'the dependencies between HARDIRQ-irq-safe lock and the holding lock:\n (test_lock_a): the same lock');
});

test('irq lock inversion, forwards: a class that took an unsafe class becomes hardirq-safe', () => {
  const { cpus, lock, unlock, lockIrqsave, unlockIrqrestore, inHardirq } = rig(1);
  const c = cpus[0]!;
  lock(c, B, SITES.zap_pte_range); // B unsafe
  unlock(c, B);
  const f = lockIrqsave(c, A, SITES.find_get_page); // A -> B, A neutral
  lock(c, B, SITES.add_to_page_cache);
  unlock(c, B);
  unlockIrqrestore(c, A, f);
  assert.equal(c.violations, []);
  const v = stops(c, () => inHardirq(c, A, SITES.do_fsync));
  const msg = v.message;
  assert.match(msg, 'WARNING: possible irq lock inversion dependency detected');
  assert.match(msg, 'cpu0 [HC1[1]:HE0] just changed the state of lock:\n (test_lock_a){-.}, at: do_fsync');
  assert.match(msg, 'but this lock took another, HARDIRQ-unsafe lock in the past:\n (test_lock_b){+.}');
  assert.match(msg, 'and interrupts could create inverse lock ordering between them.');
  assert.match(msg, '{HARDIRQ-ON-W} state of test_lock_b was registered at:\n  zap_pte_range (cpu0, hardirqs enabled)');
  assert.match(msg, 'the shortest dependencies between 2nd lock and 1st lock:\n -> (test_lock_b) taken at add_to_page_cache while holding (test_lock_a) from find_get_page');
});

test('irq lock inversion, backwards: a class taken under a hardirq-safe class becomes hardirq-unsafe', () => {
  const { cpus, lock, unlock, lockIrqsave, unlockIrqrestore, inHardirq } = rig(2);
  const [c0, c1] = cpus as [Cpu, Cpu];
  inHardirq(c0, A, SITES.do_fsync); // A safe
  const f = lockIrqsave(c0, A, SITES.find_get_page); // A -> C -> B, all with hardirqs off
  lock(c0, C, SITES.test_site);
  lock(c0, B, SITES.add_to_page_cache);
  unlock(c0, B);
  unlock(c0, C);
  unlockIrqrestore(c0, A, f);
  assert.equal(c0.violations, []);
  const v = stops(c1, () => lock(c1, B, SITES.zap_pte_range));
  const msg = v.message;
  assert.match(msg, 'possible irq lock inversion dependency detected');
  assert.match(msg, 'cpu1 [HC0[0]:HE1] just changed the state of lock:\n (test_lock_b){+.}, at: zap_pte_range');
  assert.match(msg, 'but this lock was taken by another, HARDIRQ-safe lock in the past:\n (test_lock_a){-.}');
  assert.match(msg, ' Chain exists of:\n   test_lock_a --> test_lock_c --> test_lock_b');
});

test('a handler starts a chain of its own: no dependency on the locks the interrupted code holds', () => {
  const { cpus, lock, unlock, inHardirq, edges, usage } = rig(1);
  const c = cpus[0]!;
  lock(c, A); // hardirqs on: an interrupt may come
  inHardirq(c, B);
  lock(c, C);
  unlock(c, C);
  unlock(c, A);
  assert.equal(edges(), [[0, 2]], 'A -> C only; nothing to or from B');
  assert.equal([usage(A), usage(B), usage(C)], [ON, IN, ON]);
  assert.equal(c.violations, []);
});

test('a sleeping lock with hardirqs off, and a flush that waits with them off, are reported', () => {
  const { cpus, lockIrqsave } = rig(2);
  const c0 = cpus[0]!;
  lockIrqsave(c0, A, SITES.find_get_page);
  let v = stops(c0, () => locks.lockPage(c0, 1 as Pfn, SITES.lock_page));
  assert.match(v.message, 'BUG: sleeping function called from invalid context at lock_page\nin_atomic(): 0, irqs_disabled(): 1, cpu: 0');
  // (a fresh machine: the first violation stopped this one)
  const r = rig(2);
  const [d0] = r.cpus as [Cpu, Cpu];
  r.lockIrqsave(d0, A, SITES.find_get_page);
  const targets = d0.flushTargets;
  targets.fill(0);
  targets[0] = 2; // cpu1
  v = stops(d0, () => ksmp.flushTlbOthers(d0, 0, 0, 0, true, targets, true));
  assert.match(v.message, 'WARNING: flush_tlb_others() waits for acknowledgements with hardirqs disabled');
  assert.match(v.message, /1 lock\(s\) held by cpu0:\n #0: \(test_lock_a\)/);
});

test('interrupts wait while the interrupt flag is clear, and are taken when spin_unlock_irqrestore sets it', () => {
  const { m, cpus, lockIrqsave, unlockIrqrestore } = rig(2);
  const [c0, c1] = cpus as [Cpu, Cpu];
  const f = lockIrqsave(c0, A);
  const targets = c1.flushTargets;
  targets.fill(0);
  targets[0] = 1; // cpu0
  ksmp.flushTlbOthers(c1, 0, 0, 0, true, targets, false); // sends the IPI, does not wait
  const pending = () => Atomics.load(m.meta, m.layout.cpu(0) + L.C_IPI_PENDING);
  assert.ok(pending() !== 0);
  c0.pollInterrupts();
  for (let i = 0; i < 1000; i++) c0.preempt();
  assert.ok(pending() !== 0, 'not taken with the flag clear');
  assert.is(m.counter(0, 'ipisReceived'), 0);
  unlockIrqrestore(c0, A, f);
  assert.is(pending(), 0, 'taken at the restore');
  assert.is(m.counter(0, 'ipisReceived'), 1);
  assert.is(Atomics.load(m.meta, m.layout.cpu(1) + L.C_FLUSH_ACK), 0, 'and acknowledged');
});

test('with lockdep off no usage is recorded and nothing is reported', () => {
  const { cpus, lock, unlock, inHardirq, usage } = rig(2, false);
  const [c0, c1] = cpus as [Cpu, Cpu];
  inHardirq(c0, A);
  lock(c1, A);
  unlock(c1, A);
  assert.equal([usage(A)], [0]);
  assert.equal(c1.violations, []);
});

// ------------------------------------------------------------------ the correct kernel

const TREE = LockClass.TreeLock;

/**
 * The one-thread waiter, with every access a preemption point and an interrupt raised on its own CPU at every preemption point (the
 * summary bit of an empty initiator word: smp_invalidate_interrupt then services nobody), so that
 * interrupts arrive wherever the kernel paths have the interrupt flag set — inside them too, with
 * locks held — and wait wherever it is clear.
 */
function irqEveryPoint(self: Cpu, peers: readonly Cpu[]): CpuWaiter {
  const w = new InlineWaiter(self, peers);
  return {
    interval: 1,
    hostDelays: true,
    enter: () => w.enter(),
    point: () => {
      w.point();
      Atomics.or(self.meta, self.base + L.C_IPI_PENDING, 1);
    },
    userReturn: () => w.userReturn(),
    preemptHere: () => w.preemptHere(),
    waitUntil: (kind, obj, ready) => w.waitUntil(kind, obj, ready),
    pause: () => w.pause(),
    released: () => w.released(),
    ipiSent: () => w.ipiSent(),
    wakeForIpi: () => w.wakeForIpi(),
    interruptDue: () => w.interruptDue(),
    release: () => w.release(),
  };
}

/**
 * A machine whose CPUs take an interrupt at every preemption point with the flag set (irqEveryPoint)
 * and, besides the flush IPI's work, run a handler that takes file 0's tree_lock as end_page_writeback
 * does from the disk interrupt (write_lock_irqsave). Counts the handler runs, and those that
 * interrupted code holding locks.
 */
function kernelRig(flushProtocol: 'modern' | 'linux-2.6.20') {
  const procs = flushProtocol === 'modern' ? 2 : 1;
  const { m, cpus } = testMachine({ cpus: 2, procs, memoryBytes: 4 * 1024 * 1024, files: [file(16), file(8)], kernel: { ...DEFAULT_KERNEL, flushProtocol } }, { daemons: true });
  const kernel = new Kernel();
  const runs = { all: 0, underLocks: 0 };
  const endPageWriteback = (c: Cpu) => {
    ksmp.smpInvalidateInterrupt(c);
    if (Atomics.load(c.meta, c.base + L.C_IPI_PENDING) & L.DISK_PENDING) kdisk.diskInterrupt(c); // the disk's completions, as the kernel's vector runs them
    runs.all++;
    if (m.meta[c.base + L.C_HELD_DEPTH]! > 0) runs.underLocks++;
    const tl = locks.treeLock(c, 0 as FileId);
    const f = locks.spinLockIrqsave(c, tl, TREE, SITES.test_site);
    locks.spinUnlockIrqrestore(c, tl, f);
  };
  for (const c of cpus) {
    c.useWaiter(irqEveryPoint(c, cpus));
    c.kernel = { pageFault: (cpu, addr, err) => kernel.pageFault(cpu, addr, err), interrupt: (cpu) => cpu.hardirq(endPageWriteback) };
  }
  return { m, cpus, runs };
}

for (const flushProtocol of ['modern', 'linux-2.6.20'] as const) {
  test(`the correct kernel (${flushProtocol} flush protocol), every path, with tree_lock taken in hardirq at every interrupt: silent`, () => {
    const { m, cpus, runs } = kernelRig(flushProtocol);
    // tree_lock hardirq-safe before any kernel path runs, and again after them all
    cpus[1]!.hardirq((c) => {
      const f = locks.spinLockIrqsave(c, locks.treeLock(c, 0 as FileId), TREE, SITES.test_site);
      locks.spinUnlockIrqrestore(c, locks.treeLock(c, 0 as FileId), f);
    });
    driveEveryPath(m, cpus);
    for (const c of cpus) assert.equal(c.violations, []);
    assert.ok(runs.all > 0, 'interrupts were taken');
    assert.ok(runs.underLocks > 0, 'some of them interrupted code holding locks');
    const u = lockdepUsage(m.meta, m.layout);
    assert.is(u[TREE], IN, 'tree_lock: used in hardirq, never taken with hardirqs on');
    for (const k of [LockClass.PteLock, LockClass.PageLock, LockClass.IMmapLock, LockClass.PrivateLock, LockClass.ZoneLock]) assert.is(u[k]! & (IN | ON), ON, `${k}: hardirq-unsafe only`);
    assert.is(u[LockClass.MmapSem], (1 << LockUsage.HardirqOnRead) | ON, 'mmap_sem: down_read and down_write with hardirqs on');
    // the handler's tree_lock is no dependency of what it interrupted
    const toTree = lockdepEdges(m.meta, m.layout).filter((e) => e.to === TREE).map((e) => e.heldSite);
    assert.not.ok(toTree.includes('test_site'));
    // the negative control: tree_lock taken once with hardirqs on (a plain write_lock) is reported
    const c = cpus[0]!;
    const v = stops(c, () => locks.spinLock(c, locks.treeLock(c, 0 as FileId), TREE, SITES.find_get_page));
    assert.match(v.message, 'inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage.');
    assert.match(v.message, '(&mapping->tree_lock){?.}, at: find_get_page');
  });
}

test('the correct kernel: the flush IPI handler takes no lock and the disk interrupt only tree_lock, so tree_lock alone is hardirq-safe after a run of every path', () => {
  const { m, cpus } = testMachine({ cpus: 2, procs: 2, memoryBytes: 4 * 1024 * 1024, files: [file(16), file(8)] }, { daemons: true });
  driveEveryPath(m, cpus);
  for (const c of cpus) assert.equal(c.violations, []);
  assert.ok(m.total('ipisReceived') > 0);
  assert.ok(m.total('ioCompleted') > 0, 'the disk completed writes (end_page_writeback in hardirq)');
  const u = lockdepUsage(m.meta, m.layout);
  assert.equal(u.map((x, c) => (c === TREE ? 0 : x & IN)), u.map(() => 0), 'no class but tree_lock taken in hardirq');
  assert.ok(u[TREE]! & IN, 'tree_lock: taken in hardirq by end_page_writeback');
  assert.is(u[TREE]! & ~IN, 0, 'and otherwise always with hardirqs off');
  for (let c = 0; c < 2; c++) assert.equal([m.meta[m.layout.cpu(c) + L.C_HARDIRQ], m.meta[m.layout.cpu(c) + L.C_IRQ]], [0, 1]);
});

test.run();
