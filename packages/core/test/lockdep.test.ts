/**
 * Lockdep on synthetic lock sequences: the spare classes test_lock_a/b/c (LockClass.Test0..Test2)
 * on spinlocks placed in spare lock words (the private locks of three files nobody maps), taken with
 * locks.ts on CPUs of a test machine. Inversions are reported from the lock chains alone, though
 * every sequence here runs to completion without contention.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Cpu, DEFAULT_KERNEL, type LockIdx, lockdepEdges, MachineStop, StopReason } from '@smpsim/core';
import { file, layout as L, LOCK_CLASS_NAMES, LockClass, locks, SITES } from '@smpsim/core/testing';
import { small } from './helpers.js';

const A = LockClass.Test0;
const B = LockClass.Test1;
const C = LockClass.Test2;

function rig(cpus = 3) {
  const { m, cpus: cs } = small({ cpus, files: [file(1), file(1), file(1)] });
  // Three spinlocks of two words each, in the address_space records of files no path touches here.
  const word = [0, 1, 2].map((f) => (m.layout.file(f) + L.F_PRIVATE_LOCK) as LockIdx);
  const lock = (cpu: Cpu, cls: LockClass, site: number) => locks.spinLock(cpu, word[cls - A]!, cls, site);
  const unlock = (cpu: Cpu, cls: LockClass) => locks.spinUnlock(cpu, word[cls - A]!);
  const edges = () => lockdepEdges(m.meta, m.layout).filter((e) => e.from >= A && e.to >= A).map((e) => [e.from - A, e.to - A]);
  return { m, cpus: cs, lock, unlock, edges };
}

/** Runs `fn`, which must stop the machine with a violation; returns the violation. */
function stops(cpu: Cpu, fn: () => void) {
  const before = cpu.violations.length;
  assert.throws(fn, (e: unknown) => e instanceof MachineStop);
  assert.is(cpu.violations.length, before + 1);
  return cpu.violations[before]!;
}

test('the spare classes carry the names reports print', () => {
  assert.equal([A, B, C].map((c) => LOCK_CLASS_NAMES[c]), ['test_lock_a', 'test_lock_b', 'test_lock_c']);
});

test('AB-BA across two CPUs is reported without a deadlock, with both classes and all four sites', () => {
  const { m, cpus, lock, unlock, edges } = rig(2);
  const [c0, c1] = cpus as [Cpu, Cpu];
  lock(c0, A, SITES.sys_msync);
  lock(c0, B, SITES.do_fsync);
  unlock(c0, B);
  unlock(c0, A);
  assert.equal(edges(), [[0, 1]]);
  assert.equal(c0.violations, []);
  lock(c1, B, SITES.test_site);
  const v = stops(c1, () => lock(c1, A, SITES.lock_page));
  assert.is(v.kind, 'lockdep');
  assert.is(v.cpu, 1);
  const msg = v.message;
  assert.match(msg, 'possible circular locking dependency');
  assert.match(msg, 'cpu1 is trying to acquire lock:\n (test_lock_a), at: lock_page');
  assert.match(msg, 'but task is already holding lock:\n (test_lock_b), at: test_site');
  // The existing chain: A -> B, made by cpu0 holding A (sys_msync) and taking B (do_fsync).
  assert.match(msg, '-> #1 (test_lock_b):\n       do_fsync  (taken while holding test_lock_a from sys_msync)');
  assert.match(msg, '-> #0 (test_lock_a):\n       lock_page  (taken while holding test_lock_b from test_site)');
  assert.match(msg, '*** DEADLOCK ***');
  assert.match(msg, /1 lock\(s\) held by cpu1:\n #0: \(test_lock_b\)\{lock@\d+\}, at: test_site/);
  assert.equal(v.details, { class: 'test_lock_a', site: 'lock_page' });
  // The machine is stopping (the other CPUs unwind at their next preemption point) …
  assert.is(Atomics.load(m.meta, L.G_STOP), StopReason.Violation);
  assert.is(Atomics.load(m.meta, L.G_VIOLATION), 2, 'claimed by cpu1');
  // … and no lock was actually contended: A was free when cpu1 asked for it.
  assert.is(m.total('lockContended'), 0);
  assert.is(m.meta[m.layout.cpu(1) + L.C_HELD_DEPTH], 1, 'cpu1 holds only B: A was refused before it was taken');
});

test('a three-lock cycle (A->B on cpu0, B->C on cpu1, C->A on cpu2) is reported with the chain', () => {
  const { cpus, lock, unlock, edges } = rig(3);
  const [c0, c1, c2] = cpus as [Cpu, Cpu, Cpu];
  lock(c0, A, SITES.test_site);
  lock(c0, B, SITES.page_mkclean);
  unlock(c0, B);
  unlock(c0, A);
  lock(c1, B, SITES.test_site);
  lock(c1, C, SITES.zap_pte_range);
  unlock(c1, C);
  unlock(c1, B);
  assert.equal(edges(), [[0, 1], [1, 2]], 'no cycle yet');
  lock(c2, C, SITES.try_to_free_buffers);
  const v = stops(c2, () => lock(c2, A, SITES.test_site));
  assert.is(v.kind, 'lockdep');
  assert.match(v.message, 'possible circular locking dependency');
  assert.match(v.message, 'Chain exists of:\n   test_lock_a --> test_lock_b --> test_lock_c --> test_lock_a');
  assert.match(v.message, '-> #2 (test_lock_c):\n       zap_pte_range  (taken while holding test_lock_b');
  assert.match(v.message, '-> #1 (test_lock_b):\n       page_mkclean  (taken while holding test_lock_a');
  assert.match(v.message, 'but task is already holding lock:\n (test_lock_c), at: try_to_free_buffers');
});

test('the same cycle on a single CPU, at different times, is found too', () => {
  const { cpus, lock, unlock } = rig(1);
  const c0 = cpus[0]!;
  lock(c0, A, SITES.test_site);
  lock(c0, B, SITES.test_site);
  unlock(c0, B);
  unlock(c0, A);
  lock(c0, B, SITES.test_site);
  assert.is(stops(c0, () => lock(c0, A, SITES.test_site)).kind, 'lockdep');
});

test('a consistent order is silent, however often and on however many CPUs', () => {
  const { m, cpus, lock, unlock, edges } = rig(3);
  for (let round = 0; round < 5; round++) {
    for (const c of cpus) {
      lock(c, A, SITES.test_site);
      lock(c, B, SITES.test_site);
      lock(c, C, SITES.test_site);
      unlock(c, C);
      unlock(c, B);
      lock(c, C, SITES.test_site); // A -> C directly: still the same order
      unlock(c, C);
      unlock(c, A);
      lock(c, B, SITES.test_site);
      lock(c, C, SITES.test_site);
      unlock(c, B); // released out of order: fine
      unlock(c, C);
    }
  }
  for (const c of cpus) assert.equal(c.violations, []);
  assert.equal(edges(), [[0, 1], [0, 2], [1, 2]]);
  assert.is(Atomics.load(m.meta, L.G_STOP), 0);
  for (const c of cpus) assert.is(m.meta[m.layout.cpu(c.id) + L.C_HELD_DEPTH], 0);
});

test('the per-CPU chain cache: each chain is validated once per CPU', () => {
  const { m, cpus, lock, unlock, edges } = rig(2);
  const [c0, c1] = cpus as [Cpu, Cpu];
  const chainAB = () => {
    lock(c0, A, SITES.test_site);
    lock(c0, B, SITES.test_site);
    unlock(c0, B);
    unlock(c0, A);
  };
  const base = c0.lockdepCache.size;
  chainAB();
  assert.is(c0.lockdepCache.size, base + 2, '{} + A and {A} + B');
  for (let i = 0; i < 10; i++) chainAB();
  assert.is(c0.lockdepCache.size, base + 2, 'no new chains');
  lock(c0, B, SITES.test_site); // {} + B: a new chain
  unlock(c0, B);
  assert.is(c0.lockdepCache.size, base + 3);
  // A cached chain is not validated again: erase the A -> B edge from the shared graph, and c0
  // repeating the chain does not record it anew, while c1, with an empty cache, does.
  const edge = m.layout.lockdepBase + A * L.LOCKDEP_MAX_CLASSES + B;
  Atomics.store(m.meta, edge, 0);
  chainAB();
  assert.equal(edges(), []);
  assert.is(c1.lockdepCache.size, 0);
  lock(c1, A, SITES.test_site);
  lock(c1, B, SITES.test_site);
  unlock(c1, B);
  unlock(c1, A);
  assert.equal(edges(), [[0, 1]]);
  assert.is(c1.lockdepCache.size, 2);
});

test('with lockdep off nothing is recorded', () => {
  const { m, cpus } = small({ cpus: 2, files: [file(1), file(1)], kernel: { ...DEFAULT_KERNEL, lockdep: false } });
  const [c0, c1] = cpus as [Cpu, Cpu];
  const a = (m.layout.file(0) + L.F_PRIVATE_LOCK) as LockIdx;
  const b = (m.layout.file(1) + L.F_PRIVATE_LOCK) as LockIdx;
  locks.spinLock(c0, a, A, SITES.test_site);
  locks.spinLock(c0, b, B, SITES.test_site);
  locks.spinUnlock(c0, b);
  locks.spinUnlock(c0, a);
  locks.spinLock(c1, b, B, SITES.test_site);
  locks.spinLock(c1, a, A, SITES.test_site);
  locks.spinUnlock(c1, a);
  locks.spinUnlock(c1, b);
  assert.equal(lockdepEdges(m.meta, m.layout), []);
  assert.equal(c1.violations, []);
});

test.run();
