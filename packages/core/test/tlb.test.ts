/**
 * The simulated TLB (set-associative, LRU, two levels) and the hardware page walk with its
 * accessed/dirty rules (SDM vol. 3 §4.8, §4.10), on one CPU in the test thread.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cpu, Machine, MAP_SHARED, PROT_READ, PROT_WRITE, sysMmap, type TlbGeometry } from '@smpsim/core';
import { file, ksmp, layout as L, pte as P } from '@smpsim/core/testing';
import { memWord, pteIndex, pteOf, recordFaults, small, tlbEntries, tlbLevel, vpnOf, walkPath } from './helpers.js';

/** A machine with the given TLB, a read-only shared mapping of 16 pages, all pages faulted in, TLB empty. */
function tlbRig(l1: TlbGeometry, l2: TlbGeometry | null, procs = 1) {
  const { m, cpus } = small({ cpus: 2, procs, files: [file(16)], tlb: { l1, l2 } });
  const a = cpus[0]!;
  const base = sysMmap(a, 0, 0, 16, PROT_READ, MAP_SHARED);
  for (let i = 0; i < 16; i++) a.load(base + i * 4096);
  a.flushAllLocal();
  const vpn0 = vpnOf(base);
  const ctr = (name: 'tlbMisses' | 'tlbL2Hits' | 'faultsNotPresent') => m.counter(0, name);
  const at = (i: number) => base + i * 4096;
  return { m, a, cpus, base, vpn0, ctr, at, v: (i: number) => vpn0 + i };
}

test('the mapping starts on a set boundary (the tests below index sets by page number)', () => {
  const { vpn0 } = tlbRig({ sets: 2, ways: 2 }, null);
  assert.is(vpn0 % 4096, 0);
});

test('L1: set-associative, LRU replacement within a set (not FIFO), other sets untouched', () => {
  const { m, a, at, v, ctr } = tlbRig({ sets: 2, ways: 2 }, null);
  const l1 = (i: number) => tlbLevel(m, 0, 1, v(i)) !== null;
  for (const i of [0, 2, 1, 3]) a.load(at(i)); // sets 0: {0, 2}, 1: {1, 3}
  assert.ok([0, 1, 2, 3].every(l1), 'two sets of two ways hold four pages');
  const misses = ctr('tlbMisses');
  a.load(at(0)); // hit: page 0 becomes most recently used
  assert.is(ctr('tlbMisses'), misses);
  a.load(at(4)); // set 0 is full: evicts the least recently used, page 2
  assert.is(ctr('tlbMisses'), misses + 1);
  assert.ok(l1(0) && l1(4));
  assert.not.ok(l1(2), 'LRU victim was page 2 (FIFO would have evicted page 0)');
  assert.ok(l1(1) && l1(3), 'set 1 untouched');
  a.load(at(2)); // miss again: walk (no fault, the PTE is there)
  assert.is(ctr('tlbMisses'), misses + 2);
  assert.is(ctr('faultsNotPresent'), 16);
  assert.not.ok(l1(0), 'page 0 was now the LRU of set 0');
});

test('L2: LRU replacement; an L2 hit promotes to L1 and refreshes the L2 entry', () => {
  // One L1 entry, so every other page goes to the L2.
  const { m, a, at, v, ctr } = tlbRig({ sets: 1, ways: 1 }, { sets: 1, ways: 3 });
  const l1 = (i: number) => tlbLevel(m, 0, 1, v(i)) !== null;
  const l2 = (i: number) => tlbLevel(m, 0, 2, v(i)) !== null;
  for (const i of [0, 1, 2]) a.load(at(i));
  assert.ok(l2(0) && l2(1) && l2(2));
  assert.ok(l1(2) && !l1(0) && !l1(1));
  const hits = ctr('tlbL2Hits');
  const misses = ctr('tlbMisses');
  a.load(at(0)); // L1 miss, L2 hit
  assert.is(ctr('tlbL2Hits'), hits + 1);
  assert.is(ctr('tlbMisses'), misses);
  assert.ok(l1(0), 'promoted to L1');
  assert.not.ok(l1(2), 'the L1 victim');
  a.load(at(0)); // now an L1 hit: neither counter moves
  assert.is(ctr('tlbL2Hits'), hits + 1);
  assert.is(ctr('tlbMisses'), misses);
  a.load(at(3)); // misses both: the L2 victim is the LRU, page 1 (page 0 was refreshed by its hit)
  assert.is(ctr('tlbMisses'), misses + 1);
  assert.ok(l2(0) && l2(2) && l2(3));
  assert.not.ok(l2(1));
  assert.is(m.tlbEntry(0, v(1)), null);
  a.load(at(1));
  assert.is(ctr('tlbMisses'), misses + 2);
});

test('L2 sets: pages of different L2 sets do not evict each other', () => {
  const { m, a, at, v } = tlbRig({ sets: 1, ways: 1 }, { sets: 2, ways: 2 });
  for (const i of [0, 2, 1, 3, 5]) a.load(at(i)); // set 1 gets 1, 3, 5: evicts 1; set 0 keeps 0, 2
  const l2 = (i: number) => tlbLevel(m, 0, 2, v(i)) !== null;
  assert.ok(l2(0) && l2(2) && l2(3) && l2(5));
  assert.not.ok(l2(1));
});

test('invlpg drops one page from both levels; the next access walks (no fault)', () => {
  const { m, a, at, v, ctr } = tlbRig({ sets: 2, ways: 2 }, { sets: 4, ways: 2 });
  a.load(at(0));
  a.load(at(1));
  assert.ok(tlbLevel(m, 0, 1, v(0)) && tlbLevel(m, 0, 2, v(0)));
  a.invlpg(v(0));
  assert.is(tlbLevel(m, 0, 1, v(0)), null);
  assert.is(tlbLevel(m, 0, 2, v(0)), null);
  assert.ok(tlbLevel(m, 0, 1, v(1)) && tlbLevel(m, 0, 2, v(1)), 'the other page stays');
  const misses = ctr('tlbMisses');
  const faults = ctr('faultsNotPresent');
  a.load(at(0));
  assert.is(ctr('tlbMisses'), misses + 1);
  assert.is(ctr('faultsNotPresent'), faults);
});

test('a CR3 reload drops everything: flushAllLocal, and switch_mm to another mm', () => {
  const { m, a, at } = tlbRig({ sets: 2, ways: 2 }, { sets: 4, ways: 4 }, 2);
  for (let i = 0; i < 8; i++) a.load(at(i));
  assert.ok(tlbEntries(m, 0) > 8);
  a.flushAllLocal();
  assert.is(tlbEntries(m, 0), 0);
  for (let i = 0; i < 8; i++) a.load(at(i));
  const mask = (mm: number) => m.meta[m.layout.mmCpuMask(mm)]!;
  assert.ok(mask(0) & 1);
  ksmp.switchMm(a, 0); // same mm, still in its cpu_vm_mask: no reload
  assert.ok(tlbEntries(m, 0) > 8);
  ksmp.switchMm(a, 1);
  assert.is(tlbEntries(m, 0), 0);
  assert.is(mask(0) & 1, 0, 'left the old mm cpu_vm_mask');
  assert.ok(mask(1) & 1);
  assert.is(m.meta[m.layout.cpu(0) + L.C_ACTIVE_MM], 1);
});

test('Machine.tlbEntry reads the TLB from shared memory (a view attached elsewhere sees it)', () => {
  const { m, a, at, v } = tlbRig({ sets: 2, ways: 2 }, { sets: 4, ways: 2 });
  const view = Machine.attach(m.config, m.buffers);
  assert.is(view.tlbEntry(0, v(0)), null);
  a.load(at(0));
  const e = view.tlbEntry(0, v(0));
  assert.ok(e);
  assert.is(e!.pfn, pteOf(m, 0, at(0)) >>> 12);
  assert.is(e!.writable, false, 'read-only mapping');
  assert.ok(e!.user);
  assert.is(view.tlbEntry(1, v(0)), null, "cpu1's TLB is its own");
  // An entry only in L2 is found too.
  a.load(at(2));
  a.load(at(4)); // L1 set 0 (two ways) now holds 2 and 4: page 0, the LRU, left L1 but not L2
  assert.is(tlbLevel(m, 0, 1, v(0)), null);
  assert.ok(view.tlbEntry(0, v(0)), 'found in L2');
});

// ---------------------------------------------------------------- page walk and A/D

test('the walk sets A in all four levels, D only in the final entry and only on a write', () => {
  // No write notification (the file does not account dirty pages): the hardware sets A and D itself.
  const { m, cpus } = small({ files: [file(2, { accountDirty: false })] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.load(addr);
  const path = walkPath(m, 0, vpnOf(addr));
  const clearAD = () => {
    for (const idx of path) Atomics.and(m.mem, idx, ~(P.PTE_A | P.PTE_D));
    a.flushAllLocal();
  };
  const bits = (mask: number) => path.map((idx) => (m.mem[idx]! & mask) !== 0);
  clearAD();
  assert.equal(bits(P.PTE_A), [false, false, false, false]);
  a.load(addr);
  assert.equal(bits(P.PTE_A), [true, true, true, true], 'A at every level after a read');
  assert.equal(bits(P.PTE_D), [false, false, false, false], 'a read sets no D');
  clearAD();
  a.store(addr, 5);
  assert.equal(bits(P.PTE_A), [true, true, true, true]);
  assert.equal(bits(P.PTE_D), [false, false, false, true], 'a write sets D in the final entry only');
  assert.is(memWord(m, pteOf(m, 0, addr) >>> 12, 0), 5);
});

/**
 * A shared mapping without write notification (the file does not account dirty pages): a read
 * fault installs a writable, clean PTE, so the TLB caches W=1, D=0.
 */
function cleanWritable() {
  const { m, cpus } = small({ files: [file(2, { accountDirty: false })] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.load(addr);
  const idx = pteIndex(m, 0, addr);
  const vpn = vpnOf(addr);
  const lo = Atomics.load(m.mem, idx);
  assert.ok(lo & P.PTE_RW && !(lo & P.PTE_D), 'PTE writable and clean');
  const e = m.tlbEntry(0, vpn)!;
  assert.equal([e.writable, e.dirty], [true, false], 'TLB: writable, D = 0');
  const faults = recordFaults(a);
  return { m, a, addr, idx, vpn, faults, pfn: lo >>> 12 };
}

test('write through a writable TLB entry with D=0: locked PTE update sets D, no fault', () => {
  const { m, a, addr, idx, vpn, faults, pfn } = cleanWritable();
  a.store(addr + 4, 77);
  assert.equal(faults, []);
  assert.ok(Atomics.load(m.mem, idx) & P.PTE_D, 'D appears in the PTE');
  assert.equal([m.tlbEntry(0, vpn)!.writable, m.tlbEntry(0, vpn)!.dirty], [true, true]);
  assert.is(memWord(m, pfn, 1), 77);
});

test('write through a writable TLB entry with D=0 faults if the PTE was made read-only meanwhile', () => {
  const { m, a, addr, idx, faults, pfn } = cleanWritable();
  Atomics.and(m.mem, idx, ~P.PTE_RW); // another CPU write-protected it; our TLB entry is stale
  a.store(addr, 1);
  assert.equal(faults, [P.PF_PROT | P.PF_WRITE | P.PF_USER], 'a protection fault, 0x7');
  assert.is(m.counter(0, 'faultsWriteNotify'), 1, 'do_wp_page reused the page');
  assert.ok(Atomics.load(m.mem, idx) & P.PTE_RW);
  assert.is(memWord(m, pfn, 0), 1);
});

test('write through a writable TLB entry with D=0 faults if the PTE was cleared meanwhile', () => {
  const { m, a, addr, idx, faults } = cleanWritable();
  Atomics.store(m.mem, idx, 0);
  a.store(addr, 1);
  assert.equal(faults, [P.PF_WRITE | P.PF_USER], 'a not-present fault, 0x6');
  assert.ok(Atomics.load(m.mem, idx) & P.PTE_P, 're-established by do_no_page');
  assert.is(m.counter(0, 'faultsNotPresent'), 2);
});

test('hazard: a writable+dirty TLB entry writes straight to memory after the PTE was cleared, until flushed', () => {
  const { m, a, addr, idx, vpn, faults, pfn } = cleanWritable();
  a.store(addr, 1); // TLB now W|D
  Atomics.store(m.mem, idx, 0); // PTE gone, no flush
  for (let w = 0; w < 8; w++) a.store(addr + 4 * w, 100 + w);
  assert.equal(faults, [], 'no fault: the stale entry never looks at the PTE');
  assert.is(Atomics.load(m.mem, idx), 0, 'the PTE was not touched (no D set in a cleared entry)');
  for (let w = 0; w < 8; w++) assert.is(memWord(m, pfn, w), 100 + w, 'the stores landed in the old frame');
  a.invlpg(vpn); // the flush
  a.store(addr, 5);
  assert.equal(faults, [P.PF_WRITE | P.PF_USER], 'after the flush the write faults');
});

test.run();
