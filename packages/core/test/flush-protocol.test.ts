/**
 * The two shootdown protocols of kernel/smp.ts, in one thread: 'modern' flushes a range page by page
 * under the ceiling; 2.6.20's (x86_64 arch/x86_64/kernel/smp.c) flushes the whole mm for any range
 * and sends each flush under its slot's tlbstate_lock (cpu % 8).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Arch, DEFAULT_KERNEL, type FlushProtocol, MAP_SHARED, maskOf, PROT_READ, PROT_WRITE, sysMmap, sysMprotect } from '@smpsim/core';
import { file, ksmp, layout as L, LockClass, LOCK_CLASS_NAMES } from '@smpsim/core/testing';
import { small } from './helpers.js';

function rig(flushProtocol: FlushProtocol, cpus = 2, arch: Arch = 'x86_64') {
  const t = small({ cpus, procs: 1, files: [file(8)], kernel: { ...DEFAULT_KERNEL, flushProtocol, arch, lockStat: true } });
  const [a, b] = t.cpus;
  const va = sysMmap(a!, 0, 0, 8, PROT_READ | PROT_WRITE, MAP_SHARED);
  for (let p = 0; p < 8; p++) {
    a!.store(va + p * 4096, p);
    b!.load(va + p * 4096);
  }
  return { ...t, a: a!, va };
}

test('modern: an mprotect of 4 pages is a range flush; 2.6.20: a flush of the whole mm', () => {
  for (const [protocol, range, full] of [['modern', 1, 0], ['linux-2.6.20', 0, 1]] as const) {
    const { m, a, va } = rig(protocol);
    const before = { range: m.total('flushesRange'), full: m.total('flushesFull') };
    sysMprotect(a, va, 4, PROT_READ);
    assert.is(m.total('flushesRange') - before.range, range, `${protocol}: range flushes`);
    assert.is(m.total('flushesFull') - before.full, full, `${protocol}: full flushes`);
  }
});

test('2.6.20: a remote flush is sent under the sender slot\'s tlbstate_lock (cpu % 8); modern takes none', () => {
  for (const protocol of ['modern', 'linux-2.6.20'] as const) {
    const { m, a, va } = rig(protocol, 10);
    sysMprotect(a, va, 1, PROT_READ);
    const row = m.lockStats().find((r) => r.class === LOCK_CLASS_NAMES[LockClass.TlbState]);
    if (protocol === 'modern') assert.is(row?.acquisitions ?? 0, 0);
    else assert.ok(row && row.acquisitions >= 1, JSON.stringify(row));
  }
  const { m } = rig('linux-2.6.20', 10);
  assert.is(m.layout.flushLock(8 % L.FLUSH_SLOTS), m.layout.flushLock(0), 'CPUs 0 and 8 share slot 0');
  assert.is.not(m.layout.flushLock(1), m.layout.flushLock(0));
});

test('2.6.20 i386: every sender takes the one tlbstate_lock (slot 0); x86_64: its own slot (cpu % 8)', () => {
  for (const [arch, slot] of [['i386', 0], ['x86_64', 3]] as const) {
    const t = small({ cpus: 4, procs: 1, files: [file(8)], kernel: { ...DEFAULT_KERNEL, flushProtocol: 'linux-2.6.20', arch } });
    const [a, , , d] = t.cpus;
    const va = sysMmap(a!, 0, 0, 8, PROT_READ | PROT_WRITE, MAP_SHARED);
    a!.store(va, 1);
    d!.load(va);
    sysMprotect(d!, va, 1, PROT_READ);
    // an unlocked spinlock keeps its last holder as -(cpu + 1)
    assert.is(t.m.meta[t.m.layout.flushLock(slot)], -(3 + 1), `${arch}: cpu3 sent its flush under slot ${slot}`);
    if (arch === 'i386') assert.is(t.m.meta[t.m.layout.flushLock(3)], 0, 'i386: slot 3 never taken');
  }
});

test('free mode: a busy CPU takes a flush IPI within 32 accesses of its arrival, not at the end of its 256', () => {
  const { m, cpus, va } = rig('modern');
  const [sender, target] = cpus;
  const vpn = Math.floor(va / 4096);
  for (let round = 0; round < 40; round++) {
    const before = m.total('ipisReceived');
    // a request that does not wait (an inline initiator that waited would take the IPI for its target)
    ksmp.flushTlbOthers(sender!, 0, vpn, vpn + 1, false, maskOf([1]), false);
    for (let i = 0; i < 32; i++) target!.load(va + 4096 + 4 * i);
    assert.is(m.total('ipisReceived') - before, 1, `round ${round}: the IPI taken within 32 accesses`);
    // and a different phase of the preemption point for the next round
    for (let i = 0; i < round; i++) target!.load(va + 4096);
  }
});

test('free mode: interrupts taken early leave the full slow path every 256 accesses (user hooks keep their cadence)', () => {
  // Running the whole slow path at an early interrupt phase-locked it to the disk's completion in
  // msync-region on one CPU: it always fell in kernel mode and a --duration run never ended.
  const { m, cpus, va } = rig('modern');
  const [sender, target] = cpus;
  const vpn = Math.floor(va / 4096);
  let hooks = 0;
  target!.userHooks.push(() => hooks++);
  const received = m.total('ipisReceived');
  for (let i = 0; i < 256 * 8; i++) {
    if (i % 32 === 5) ksmp.flushTlbOthers(sender!, 0, vpn, vpn + 1, false, maskOf([1]), false);
    target!.load(va + 4096);
  }
  assert.is(m.total('ipisReceived') - received, 64, 'every IPI taken');
  assert.ok(hooks >= 7 && hooks <= 9, `user hooks ran ${hooks} times in 2048 accesses`);
});

test.run();
