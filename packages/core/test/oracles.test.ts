/**
 * The oracles fire on states built to break them, and stay silent on correct ones: the structural
 * invariants (checkInvariants) and the end-of-run owned-word comparison (checkBackingStore).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BugId, checkBackingStore, checkDurableAtFsync, checkInvariants, type CheckFinding, type Cpu, DEFAULT_KERNEL, finalSync, locateWord, MAP_PRIVATE, MAP_SHARED, MS_SYNC, PROT_READ, PROT_WRITE, sysDropCaches, sysFsync, sysMmap, sysMprotect, sysMsync, sysMunmap } from '@smpsim/core';
import { file, layout as L, pte as P } from '@smpsim/core/testing';
import { cachedPfn, diskWord, ownedStore, pteIndex, small, vpnOf } from './helpers.js';

/**
 * The invariants found, one per (invariant, object): a stale TLB entry sits in both TLB levels and
 * checkInvariants reports each copy, so findings are deduplicated here.
 */
const kinds = (f: CheckFinding[]) => [...new Set(f.map((x) => `${x.details['invariant']}`))];

/** One process on two CPUs, a write-notify mapping of 4 pages: page 0 written by cpu0, page 1 read. */
function rig(bugs: BugId[] = []) {
  const { m, cpus } = small({ cpus: 2, files: [file(4), file(4)], kernel: { ...DEFAULT_KERNEL, bugs } });
  const [a, b] = cpus as [Cpu, Cpu];
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr, 1);
  a.load(addr + 4096);
  assert.equal(checkInvariants(m), []);
  return { m, a, b, addr, p0: cachedPfn(m, 0, 0), p1: cachedPfn(m, 0, 1) };
}

test('invariant 1: a writable PTE of a clean page in a write-notify VMA', () => {
  const { m, addr, p0 } = rig();
  // Writable, clean in the PTE (D cleared, as page_mkclean would, but RW kept), page and buffers clean.
  Atomics.and(m.mem, pteIndex(m, 0, addr), ~P.PTE_D);
  Atomics.and(m.meta, m.layout.page(p0) + L.PG_FLAGS, ~L.PG_dirty);
  for (let i = 0; i < m.layout.buffersPerPage; i++) Atomics.and(m.meta, m.layout.bh(p0, i), ~L.BH_Dirty);
  const f = checkInvariants(m);
  assert.equal(kinds(f), ['writable-pte-implies-dirty']);
  assert.equal({ ...f[0]!.details, invariant: 0 }, { invariant: 0, mm: 0, vpn: vpnOf(addr), pfn: p0, file: 0 });
  assert.match(f[0]!.message, /writable PTE of a clean page in a write-notify VMA/);
});

test('invariant 1 with D=1: a writable dirty PTE over a clean page fires, unless cancel_dirty_page left it (PG_dirty_cancelled)', () => {
  const { m, addr, p0 } = rig();
  // The PTE writable and dirty (as after the store), the page clean without cancel_dirty_page: a
  // dirty-accounting bug such as fault-dirty-race or mkclean-unlocked-check leaves exactly this.
  assert.ok(m.mem[pteIndex(m, 0, addr)]! & P.PTE_D);
  Atomics.and(m.meta, m.layout.page(p0) + L.PG_FLAGS, ~L.PG_dirty);
  for (let i = 0; i < m.layout.buffersPerPage; i++) Atomics.and(m.meta, m.layout.bh(p0, i), ~L.BH_Dirty);
  assert.equal(kinds(checkInvariants(m)), ['writable-pte-implies-dirty']);
  // 2.6.20's try_to_free_buffers on a mapped page whose buffers the journal wrote: allowed.
  Atomics.or(m.meta, m.layout.page(p0) + L.PG_FLAGS, L.PG_dirty_cancelled);
  assert.equal(checkInvariants(m), []);
});

test('end of run as fsync sees it: a word only the PTE dirty bit holds is a finding; cancel_dirty_page and 2.6.18 are exempt', () => {
  const { m, cpus } = small({ cpus: 2, files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  ownedStore(m, a, 0, 0, 3, addr + 12, 41);
  ownedStore(m, a, 0, 1, 9, addr + 4096 + 36, 42);
  sysFsync(a, 0);
  assert.equal(checkDurableAtFsync(m), [], 'a plain fsync wrote both');
  // The page left clean under its writable dirty PTE (what mkclean-unlocked-check ends in), then written to.
  const p0 = cachedPfn(m, 0, 0);
  ownedStore(m, a, 0, 0, 3, addr + 12, 43);
  Atomics.and(m.meta, m.layout.page(p0) + L.PG_FLAGS, ~L.PG_dirty);
  Atomics.store(m.meta, m.layout.tagBase + m.meta[m.layout.file(0) + L.F_BASE]!, 0);
  for (let i = 0; i < m.layout.buffersPerPage; i++) Atomics.and(m.meta, m.layout.bh(p0, i), ~L.BH_Dirty);
  sysFsync(a, 0);
  const f = checkDurableAtFsync(m);
  assert.is(f.length, 1);
  assert.equal(f[0]!.details, { file: 0, page: 0, word: 3, expected: 43, seen: 41, when: 'fsync-end' });
  assert.match(f[0]!.message, /only the PTE dirty bit holds the write/);
  Atomics.or(m.meta, m.layout.page(p0) + L.PG_FLAGS, L.PG_dirty_cancelled);
  assert.equal(checkDurableAtFsync(m), [], 'exempt after cancel_dirty_page');
  // finalSync's harvest then saves it: the old end-of-run check alone could not see the loss.
  finalSync(a);
  assert.equal(checkBackingStore(m), []);
  const old = small({ cpus: 1, files: [file(1)], kernel: { ...DEFAULT_KERNEL, writeNotify: false } });
  const b = old.cpus[0]!;
  const y = sysMmap(b, 0, 0, 1, PROT_READ | PROT_WRITE, MAP_SHARED);
  ownedStore(old.m, b, 0, 0, 0, y, 5);
  sysFsync(b, 0);
  assert.equal(checkDurableAtFsync(old.m), [], '2.6.18 fsync never sees PTE dirty bits: not checked');
});

test('invariant 1 does not apply outside write notification: writable clean pages are fine there', () => {
  const { m, cpus } = small({ files: [file(2, { accountDirty: false })] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.load(addr);
  assert.ok(m.mem[pteIndex(m, 0, addr)]! & P.PTE_RW);
  assert.equal(checkInvariants(m), []);
});

test('invariant 2: a writable TLB entry without a writable PTE (write-protected, or another frame)', () => {
  const { m, a, addr } = rig();
  const idx = pteIndex(m, 0, addr);
  Atomics.and(m.mem, idx, ~P.PTE_RW); // write-protected without a flush
  let f = checkInvariants(m);
  assert.equal(kinds(f), ['writable-tlb-implies-writable-pte']);
  for (const x of f) assert.equal(x.details, { invariant: 'writable-tlb-implies-writable-pte', cpu: 0, vpn: vpnOf(addr) });
  a.invlpg(vpnOf(addr));
  assert.equal(checkInvariants(m), [], 'flushed: consistent again');
  a.store(addr, 2); // write-notify fault re-establishes RW
  assert.equal(checkInvariants(m), []);
  // The PTE now names another frame (page 1's): the TLB entry is stale although the PTE is writable.
  const other = cachedPfn(m, 0, 1);
  const saved = Atomics.load(m.mem, idx);
  Atomics.store(m.mem, idx, (other << 12) | (saved & 0xfff));
  f = checkInvariants(m);
  // (and the counts of both frames are off, and the writable dirty PTE now sits over page 1, which is clean)
  assert.equal(kinds(f), ['writable-pte-implies-dirty', 'writable-tlb-implies-writable-pte', 'mapcount', 'refcount']);
  Atomics.store(m.mem, idx, saved);
  assert.equal(checkInvariants(m), []);
});

test('invariant 3: a dirty buffer on a clean page (and not under writeback)', () => {
  const { m, p1 } = rig();
  Atomics.or(m.meta, m.layout.bh(p1, 2), L.BH_Dirty);
  const f = checkInvariants(m);
  assert.equal(kinds(f), ['dirty-buffer-implies-dirty-page']);
  assert.is(f[0]!.details['pfn'], p1);
  assert.match(f[0]!.message, /dirty buffer 2 on a clean page/);
  Atomics.or(m.meta, m.layout.page(p1) + L.PG_FLAGS, L.PG_writeback);
  // (PG_writeback set by hand, without test_set_page_writeback's NR_WRITEBACK count: that is a finding too)
  assert.equal(kinds(checkInvariants(m)), ['nr-writeback']);
  Atomics.add(m.meta, L.G_NR_WRITEBACK, 1);
  assert.equal(checkInvariants(m), [], 'under writeback it is allowed');
});

test('invariant 4: mapcount and reference count agree with the page tables', () => {
  const { m, p0, p1 } = rig();
  Atomics.add(m.meta, m.layout.page(p0) + L.PG_MAPCOUNT, 1);
  let f = checkInvariants(m);
  assert.equal(kinds(f), ['mapcount']);
  assert.is(f[0]!.details['pfn'], p0);
  Atomics.sub(m.meta, m.layout.page(p0) + L.PG_MAPCOUNT, 1);
  Atomics.add(m.meta, m.layout.page(p1) + L.PG_COUNT, 1); // a leaked reference
  f = checkInvariants(m);
  assert.equal(kinds(f), ['refcount']);
  assert.is(f[0]!.details['pfn'], p1);
  Atomics.sub(m.meta, m.layout.page(p1) + L.PG_COUNT, 2); // one reference short
  assert.equal(kinds(checkInvariants(m)), ['refcount']);
});

test('silent on correct states through a sequence of every path', () => {
  const { m, cpus } = small({ cpus: 3, procs: 2, files: [file(8), file(4, { accountDirty: false })] });
  const [a, b, c] = cpus as [Cpu, Cpu, Cpu];
  const ok = (what: string) => assert.equal(checkInvariants(m), [], what);
  const x = sysMmap(a, 0, 0, 8, PROT_READ | PROT_WRITE, MAP_SHARED);
  const y = sysMmap(b, 0, 2, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  const z = sysMmap(c, 1, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED); // cpu2 is in mm 0 with cpu0
  const w = sysMmap(b, 1, 0, 4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  ok('after mmap');
  for (let i = 0; i < 8; i++) a.store(x + i * 4096 + 4 * i, i + 1);
  for (let i = 0; i < 4; i++) b.load(y + i * 4096);
  for (let i = 0; i < 4; i++) c.load(z + i * 4096);
  c.store(z, 7);
  a.load(z + 4096);
  b.store(w, 3);
  ok('after faults');
  sysMsync(a, x, 8, MS_SYNC);
  ok('after msync');
  b.store(y + 4, 9);
  a.store(x + 4096, 10);
  sysMprotect(a, x, 4, PROT_READ);
  ok('after mprotect(READ)');
  sysMprotect(a, x, 4, PROT_READ | PROT_WRITE);
  ok('after mprotect(RW)');
  sysFsync(c, 1);
  sysDropCaches(b);
  ok('after drop_caches');
  for (let i = 0; i < 4; i++) b.store(y + i * 4096 + 8, 20 + i);
  sysMunmap(a, x + 2 * 4096, 2);
  ok('after a partial munmap');
  sysMunmap(b, w, 4);
  finalSync(a);
  ok('after the final sync');
  assert.is(m.disk[diskWord(m, 0, 3) + 2], 20 + 1);
});

test('checkBackingStore: silent after a complete sync; one corrupted word is reported exactly', () => {
  const { m, cpus } = small({ cpus: 2, files: [file(3), file(4)] });
  const [a, b] = cpus as [Cpu, Cpu];
  const x = sysMmap(a, 0, 0, 3, PROT_READ | PROT_WRITE, MAP_SHARED);
  const y = sysMmap(b, 1, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  for (let i = 0; i < 3; i++) for (let w = 0; w < 1024; w += 97) ownedStore(m, a, 0, i, w, x + i * 4096 + w * 4, 1000 + w);
  for (let i = 0; i < 4; i++) for (let w = 5; w < 1024; w += 101) ownedStore(m, b, 1, i, w, y + i * 4096 + w * 4, 2000 + i * 7 + w);
  finalSync(a);
  assert.equal(checkBackingStore(m), []);
  const at = diskWord(m, 1, 2) + 5;
  const good = m.disk[at]!;
  assert.is(good, 2000 + 14 + 5);
  m.disk[at] = good - 1; // a stale value
  const f = checkBackingStore(m);
  assert.is(f.length, 1);
  assert.is(f[0]!.kind, 'lost-write');
  assert.equal(f[0]!.details, { file: 1, page: 2, word: 5, expected: good, seen: good - 1, when: 'final' });
  assert.match(f[0]!.message, /file 1 page 2 word 5/);
  assert.equal(locateWord(m, diskWord(m, 0, 2) + 1023), { file: 0, page: 2, word: 1023 });
  assert.equal(locateWord(m, diskWord(m, 1, 0)), { file: 1, page: 0, word: 0 });
});

test('no-remote-flush: the stale writable entry is an invariant violation, and its write is lost', () => {
  const { m, a, b, addr } = rig(['no-remote-flush']);
  ownedStore(m, b, 0, 0, 7, addr + 28, 1); // cpu1: writable, dirty TLB entry
  sysMsync(a, addr, 4, MS_SYNC); // page_mkclean flushes cpu0 only
  const f = checkInvariants(m);
  assert.equal(kinds(f), ['writable-tlb-implies-writable-pte']);
  assert.ok(f.every((x) => x.details['cpu'] === 1 && x.details['vpn'] === vpnOf(addr)));
  ownedStore(m, b, 0, 0, 7, addr + 28, 2); // straight to memory, no fault
  assert.is(m.counter(1, 'faultsWriteNotify'), 0);
  m.shadow[diskWord(m, 0, 0)] = 1; // cpu0's earlier write, synced
  finalSync(a);
  const lost = checkBackingStore(m);
  assert.equal(lost.map((x) => [x.details['file'], x.details['page'], x.details['word'], x.details['expected'], x.details['seen']]), [[0, 0, 7, 2, 1]]);
});

for (const bugs of [[], ['flush-after-set']] as BugId[][]) {
  test(`${bugs[0] ?? 'the fixed kernel'}: the same sequence is clean`, () => {
    const { m, a, b, addr } = rig(bugs);
    ownedStore(m, b, 0, 0, 7, addr + 28, 1);
    sysMsync(a, addr, 4, MS_SYNC);
    assert.equal(checkInvariants(m), []);
    ownedStore(m, b, 0, 0, 7, addr + 28, 2);
    assert.is(m.counter(1, 'faultsWriteNotify'), 1);
    m.shadow[diskWord(m, 0, 0)] = 1;
    finalSync(a);
    assert.equal(checkBackingStore(m), []);
  });
}

test.run();
