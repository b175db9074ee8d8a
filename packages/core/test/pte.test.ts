/**
 * PTE encoding: bit positions from the Intel SDM (vol. 3 §4.5) as the constants state them, as the
 * kernel writes them into page tables in memory, and as the hardware walk interprets them; page-fault
 * error codes (SDM §4.7).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAP_SHARED, type Pfn, PROT_READ, PROT_WRITE, SegvError, sysMmap } from '@smpsim/core';
import { file, layout as L, pte as P } from '@smpsim/core/testing';
import { pteIndex, pteOf, recordFaults, small, vpnOf, walkPath } from './helpers.js';

test('flag bits sit at the SDM positions', () => {
  const bits: Array<[number, number]> = [
    [P.PTE_P, 0],
    [P.PTE_RW, 1],
    [P.PTE_US, 2],
    [P.PTE_PWT, 3],
    [P.PTE_PCD, 4],
    [P.PTE_A, 5],
    [P.PTE_D, 6],
    [P.PTE_PS, 7],
    [P.PTE_G, 8],
  ];
  for (const [v, bit] of bits) assert.is(v, 2 ** bit, `bit ${bit}`);
  assert.is(P.PTE_PFN_SHIFT, 12);
  // NX is bit 63: bit 31 of the high half.
  assert.is(P.PTE_NX_HI >>> 0, 2 ** 31);
  assert.is(P.PTE_FLAGS_MASK, 0xfff);
});

test('mkPte puts the PFN from bit 12 and keeps flags below it; the accessors read them back', () => {
  const pfn = 0x12345 as Pfn;
  const lo = P.mkPte(pfn, P.PTE_P | P.PTE_RW | P.PTE_US | P.PTE_A | P.PTE_D);
  assert.is(lo >>> 0, pfn * 4096 + 0x67);
  assert.is(P.ptePfn(lo), pfn);
  assert.ok(P.ptePresent(lo) && P.pteWrite(lo) && P.pteDirty(lo) && P.pteYoung(lo));
  assert.is(P.ptePfn(P.pteWrprotect(lo)), pfn);
  assert.not.ok(P.pteWrite(P.pteWrprotect(lo)));
  assert.not.ok(P.pteDirty(P.pteMkclean(lo)));
  assert.ok(P.pteNone(0));
  // Flag bits above 11 never leak into the PFN; the largest 20-bit PFN survives the signed store.
  const maxPfn = 0xfffff as Pfn;
  assert.is(P.ptePfn(P.mkPte(maxPfn, 0xffff)), 0xfffff);
  assert.is(P.mkPte(maxPfn, 0xffff) & 0xfff, 0xfff);
  const arr = new Int32Array(1);
  arr[0] = P.mkPte(maxPfn, P.PTE_P);
  assert.is(P.ptePfn(arr[0]!), 0xfffff);
});

test('tableIndex splits a VPN into four 9-bit indices', () => {
  const vpn = (3 << 27) | (5 << 18) | (7 << 9) | 11;
  assert.equal([4, 3, 2, 1].map((l) => P.tableIndex(vpn, l)), [3, 5, 7, 11]);
  // The top of the simulated address space (2^43 bytes, VPN 2^31 - 1).
  assert.equal([4, 3, 2, 1].map((l) => P.tableIndex(2 ** 31 - 1, l)), [15, 511, 511, 511]);
});

test('the kernel writes PTEs in that format: a read fault on a write-notify mapping, then a write', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.load(addr);
  const lo = pteOf(m, 0, addr);
  const pfn = lo >>> 12;
  assert.ok(pfn > 0);
  assert.is(lo & 0xfff, P.PTE_P | P.PTE_US | P.PTE_A, 'read fault: present, user, accessed; no RW, no D');
  // The high half (NX, PFN bits 32..51) stays zero.
  assert.is(m.mem[pteIndex(m, 0, addr) + 1], 0);
  a.store(addr, 1);
  assert.is(pteOf(m, 0, addr), (pfn << 12) | P.PTE_P | P.PTE_RW | P.PTE_US | P.PTE_A | P.PTE_D);
  // Intermediate levels are _PAGE_TABLE: P | RW | US | A | D.
  const path = walkPath(m, 0, vpnOf(addr));
  for (const idx of path.slice(0, 3)) assert.is(m.mem[idx]! & 0xfff, 0x67);
});

test('the hardware walk reads US from bit 2 and RW from bit 1', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr, 1);
  const idx = pteIndex(m, 0, addr);
  const vpn = vpnOf(addr);
  // Supervisor-only leaf: a user read is a protection fault, error code P|U = 0x5.
  Atomics.and(m.mem, idx, ~P.PTE_US);
  a.invlpg(vpn);
  assert.is(a.walk(vpn, false), -1);
  assert.is(a.walkErr, 0x5);
  Atomics.or(m.mem, idx, P.PTE_US);
  // Read-only at the PD level only: a write is refused with P|W|U = 0x7 though the leaf is RW.
  const pd = walkPath(m, 0, vpn)[2]!;
  Atomics.and(m.mem, pd, ~P.PTE_RW);
  assert.is(a.walk(vpn, true), -1);
  assert.is(a.walkErr, 0x7);
  assert.ok(a.walk(vpn, false) > 0, 'reads still pass');
  Atomics.or(m.mem, pd, P.PTE_RW);
  assert.is(a.walk(vpn, true), pteOf(m, 0, addr) >>> 12);
  // Not present: a read is U = 0x4, a write W|U = 0x6.
  const other = vpn + 1;
  assert.is(a.walk(other, false), -1);
  assert.is(a.walkErr, 0x4);
  assert.is(a.walk(other, true), -1);
  assert.is(a.walkErr, 0x6);
});

test('page-fault error codes: not-present write 0x6, user write to a present read-only page 0x7', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const log = recordFaults(a);
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr, 1); // not present
  assert.equal(log, [0x6]);
  a.load(addr + 4096); // not present, read
  assert.equal(log, [0x6, 0x4]);
  a.store(addr + 4096, 2); // present, read-only (write notification), TLB holds it read-only
  assert.equal(log, [0x6, 0x4, 0x7]);
  a.load(addr + 2 * 4096);
  a.invlpg(vpnOf(addr) + 2);
  a.store(addr + 2 * 4096, 3); // present read-only, not in the TLB: the walk reports it
  assert.equal(log, [0x6, 0x4, 0x7, 0x4, 0x7]);
  // CR2 and the error code of the last fault are in the per-CPU area.
  const b = m.layout.cpu(0);
  assert.is(m.meta[b + L.C_ERRCODE], 0x7);
  assert.is(m.meta[b + L.C_CR2_LO]! >>> 0, (addr + 2 * 4096) % 2 ** 32);
  assert.is(m.meta[b + L.C_CR2_HI], Math.floor((addr + 2 * 4096) / 2 ** 32));
  const ro = sysMmap(a, 0, 0, 1, PROT_READ, MAP_SHARED);
  a.load(ro);
  const e = (() => {
    try {
      a.store(ro, 9);
    } catch (x) {
      return x;
    }
    return null;
  })();
  assert.instance(e, SegvError);
  assert.is((e as SegvError).errcode, 0x7);
  assert.is((e as SegvError).addr, ro);
});

test.run();
