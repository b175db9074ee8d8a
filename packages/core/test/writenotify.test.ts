/**
 * vma_wants_writenotify (2.6.20 include/linux/mm.h): every condition of the seed's heuristic. A mapping
 * that passes gets write-protect faults (faultsWriteNotify) on the first write after each writeback;
 * a mapping that fails one condition gets none, and keeps the write bit in vm_page_prot.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Cpu, DEFAULT_KERNEL, type FileSpec, KERNEL_PRESETS, type Machine, MAP_PRIVATE, MAP_SHARED, MS_SYNC, PROT_READ, PROT_WRITE, SegvError, type SpecialMapping, sysFsync, sysMmap, sysMprotect, sysMsync, sysMunmap, checkInvariants } from '@smpsim/core';
import { file, layout as L, pte as P } from '@smpsim/core/testing';
import { diskWord, pteOf, small, vpnOf } from './helpers.js';

/** vm_page_prot of the VMA mapping `addr` in mm 0. */
function vmaProt(m: Machine, addr: number): number {
  const vpn = vpnOf(addr);
  for (let s = 0; s < m.layout.vmasPerMm; s++) {
    const v = m.layout.vma(0, s);
    if (m.meta[v + L.VMA_FLAGS] && vpn >= m.meta[v + L.VMA_START]! && vpn < m.meta[v + L.VMA_END]!) return m.meta[v + L.VMA_PROT]!;
  }
  throw new Error('no VMA');
}

/** write, msync(MS_SYNC), write, msync, write — on two pages; returns the write-notify faults taken. */
function cycles(m: Machine, a: Cpu, addr: number): number {
  for (let round = 1; round <= 3; round++) {
    a.store(addr, round);
    a.store(addr + 4096 + 8, round * 10);
    if (round < 3) sysMsync(a, addr, 2, MS_SYNC);
  }
  return m.counter(0, 'faultsWriteNotify');
}

interface Case {
  readonly name: string;
  readonly spec?: Partial<FileSpec>;
  readonly flags?: number;
  readonly special?: SpecialMapping;
  readonly preset?: 'linux-2.6.18';
}

function run(c: Case) {
  const kernel = c.preset ? { ...DEFAULT_KERNEL, ...KERNEL_PRESETS[c.preset] } : DEFAULT_KERNEL;
  const { m, cpus } = small({ files: [file(4, c.spec)], kernel });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, c.flags ?? MAP_SHARED, c.special);
  const prot = vmaProt(m, addr);
  const faults = cycles(m, a, addr);
  return { m, a, addr, prot, faults };
}

test('passing mapping (shared, writable, plain file that accounts dirty pages): write-protect faults after each msync', () => {
  const { m, prot, faults } = run({ name: 'pass' });
  assert.is(prot & P.PTE_RW, 0, 'vm_page_prot without the write bit');
  // First writes fault the pages in writable and dirty; each msync write-protects them again, so
  // rounds 2 and 3 take one write-notify fault per page.
  assert.is(faults, 4);
  assert.is(m.disk[diskWord(m, 0, 1) + 2], 20, 'and msync wrote the data');
});

const failing: Case[] = [
  { name: 'not shared (MAP_PRIVATE)', flags: MAP_PRIVATE },
  { name: 'VM_PFNMAP', special: 'pfnmap' },
  { name: 'VM_INSERTPAGE', special: 'insertpage' },
  { name: 'the backing does not account dirty pages', spec: { accountDirty: false } },
  { name: 'linux-2.6.18 (no write notification)', preset: 'linux-2.6.18' },
];

for (const c of failing) {
  test(`fails the heuristic — ${c.name}: no write-protect faults across write/msync/write`, () => {
    const { m, a, addr, prot, faults } = run(c);
    if (c.flags !== MAP_PRIVATE) assert.ok(prot & P.PTE_RW, 'vm_page_prot keeps the write bit');
    assert.is(faults, 0);
    assert.is(m.counter(0, 'faultsOther'), 0);
    assert.equal(checkInvariants(m), []);
    if (c.flags === MAP_PRIVATE) return;
    // The data still reaches the backing store. 2.6.18's msync harvested the dirty PTE bits; since
    // 2.6.19 msync walks no page tables, so the dirty state stays in the PTEs until munmap.
    if (c.preset === 'linux-2.6.18') assert.is(m.disk[diskWord(m, 0, 1) + 2], 20, 'msync harvested');
    else {
      // (the first write faulted the page in dirty, and the first msync wrote that value)
      assert.ok(m.disk[diskWord(m, 0, 1) + 2]! < 20, 'the later writes are dirty only in the PTEs: msync missed them');
      sysMunmap(a, addr, 4);
      sysFsync(a, 0);
      assert.is(m.disk[diskWord(m, 0, 1) + 2], 30, 'munmap moved the D bits of the last write into the page; fsync wrote it');
    }
  });
}

test('fails the heuristic — not writable: PROT_READ shared mapping, writes are refused, no write-notify faults', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ, MAP_SHARED);
  assert.is(vmaProt(m, addr), P.PTE_P | P.PTE_US | P.PTE_A, 'PAGE_READONLY');
  a.load(addr);
  assert.throws(() => a.store(addr, 1), (e: unknown) => e instanceof SegvError);
  sysMsync(a, addr, 4, MS_SYNC);
  a.load(addr);
  assert.is(m.counter(0, 'faultsWriteNotify'), 0);
  // mprotect(RW) makes it shared writable, and so write-notify: the clean page stays read-only.
  sysMprotect(a, addr, 4, PROT_READ | PROT_WRITE);
  assert.is(vmaProt(m, addr) & P.PTE_RW, 0);
  a.store(addr, 1);
  assert.is(m.counter(0, 'faultsWriteNotify'), 1);
});

test('fails the heuristic — the mmap hook changed the protection: no write-protect faults from the mapping itself', () => {
  const { m, cpus } = small({ files: [file(4, { mmapHookChangesProt: true })] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  const prot = vmaProt(m, addr);
  assert.ok(prot & P.PTE_RW, 'vm_page_prot keeps the write bit');
  assert.ok(prot & (P.PTE_PCD | P.PTE_PWT), "and the hook's cache attributes");
  // Read, then write, every page, twice: the read faults install writable PTEs, the writes set D in
  // hardware. The passing mapping takes one write-protect fault per page here (test below).
  for (let r = 0; r < 2; r++) {
    for (let i = 0; i < 4; i++) a.load(addr + i * 4096);
    for (let i = 0; i < 4; i++) a.store(addr + i * 4096, r + 1);
  }
  assert.is(m.counter(0, 'faultsWriteNotify'), 0);
  assert.is(m.counter(0, 'faultsNotPresent'), 4);
  // 2.6.20 msync walks no page tables: the dirty state is in the PTEs, so it writes nothing...
  sysMsync(a, addr, 4, MS_SYNC);
  for (let i = 0; i < 4; i++) assert.is(m.disk[diskWord(m, 0, i)], 0);
  assert.equal(checkInvariants(m), []);
  // ... until munmap moves the D bits into the pages, and fsync writes them.
  sysMunmap(a, addr, 4);
  sysFsync(a, 0);
  for (let i = 0; i < 4; i++) assert.is(m.disk[diskWord(m, 0, i)], 2);
});

test('passing mapping, same read-then-write pattern: one write-protect fault per page', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  for (let r = 0; r < 2; r++) {
    for (let i = 0; i < 4; i++) a.load(addr + i * 4096);
    for (let i = 0; i < 4; i++) a.store(addr + i * 4096, r + 1);
  }
  assert.is(m.counter(0, 'faultsWriteNotify'), 4);
});

test('mprotect overrides the hook condition: after mprotect(RW) a hook-prot mapping is write-notify', () => {
  const { m, cpus } = small({ files: [file(4, { mmapHookChangesProt: true })] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  assert.ok(vmaProt(m, addr) & P.PTE_RW);
  a.load(addr);
  a.load(addr + 4096);
  assert.ok(pteOf(m, 0, addr) & P.PTE_RW, 'before: read faults map writable');
  sysMprotect(a, addr, 4, PROT_READ | PROT_WRITE);
  const after = vmaProt(m, addr);
  assert.is(after & P.PTE_RW, 0, 'vm_page_prot lost the write bit');
  assert.is(after & (P.PTE_PCD | P.PTE_PWT), 0, 'recomputed from protection_map, without the hook');
  assert.is(pteOf(m, 0, addr) & P.PTE_RW, 0, 'clean pages write-protected');
  a.store(addr, 1);
  a.store(addr + 4096 + 4, 2);
  assert.is(m.counter(0, 'faultsWriteNotify'), 2);
  a.store(addr + 8, 3); // now writable and dirty: no fault
  assert.is(m.counter(0, 'faultsWriteNotify'), 2);
  sysFsync(a, 0);
  assert.is(m.disk[diskWord(m, 0, 1) + 1], 2);
  a.store(addr, 4);
  a.store(addr + 4096, 5);
  assert.is(m.counter(0, 'faultsWriteNotify'), 4, 'after writeback both pages fault again');
  a.load(addr + 2 * 4096);
  assert.is(pteOf(m, 0, addr + 2 * 4096) & P.PTE_RW, 0, 'a new read fault maps read-only');
  assert.equal(checkInvariants(m), []);
});

test.run();
