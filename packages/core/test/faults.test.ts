/**
 * Fault paths (mm/memory.c 2.6.20): do_no_page for reads and writes, do_wp_page's shared-writable
 * reuse (write notification) and its private copy, and SIGSEGV for bad accesses.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkInvariants, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, SegvError, sysFsync, sysMmap, sysMunmap } from '@smpsim/core';
import { file, layout as L, pte as P } from '@smpsim/core/testing';
import { buffers, cachedPfn, diskWord, dirtyTag, isDirty, memWord, pageField, pteOf, recordFaults, small, vpnOf } from './helpers.js';

const RWD = P.PTE_P | P.PTE_RW | P.PTE_US | P.PTE_A | P.PTE_D;

test('do_no_page read on a write-notify VMA maps read-only; the first write takes a write-notify fault', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const log = recordFaults(a);
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  m.disk[diskWord(m, 0, 1) + 3] = 1234; // the backing store's content
  assert.is(a.load(addr + 4096 + 12), 1234, 'read from the backing store');
  const pfn = cachedPfn(m, 0, 1);
  assert.is(pteOf(m, 0, addr + 4096), (pfn << 12) | P.PTE_P | P.PTE_US | P.PTE_A);
  assert.not.ok(isDirty(m, pfn));
  assert.equal(buffers(m, pfn).map((b) => b & L.BH_Dirty), [0, 0, 0, 0]);
  assert.is(pageField(m, pfn, L.PG_MAPCOUNT), 1);
  assert.is(pageField(m, pfn, L.PG_COUNT), 2, 'page cache + PTE');
  assert.is(m.counter(0, 'faultsNotPresent'), 1);
  a.store(addr + 4096, 7);
  assert.equal(log, [0x4, 0x7]);
  assert.is(m.counter(0, 'faultsWriteNotify'), 1);
  assert.is(pteOf(m, 0, addr + 4096), (pfn << 12) | RWD, 'RW | D');
  assert.ok(isDirty(m, pfn), 'PG_dirty');
  assert.ok(buffers(m, pfn).every((b) => b & L.BH_Dirty), 'all buffers dirty');
  assert.is(dirtyTag(m, 0, 1), 1, 'tagged dirty in the page cache');
  assert.is(pageField(m, pfn, L.PG_COUNT), 2, 'the fault dropped its extra reference');
  a.store(addr + 4096 + 4, 8);
  assert.is(log.length, 2, 'then writes go straight through');
  assert.equal(checkInvariants(m), []);
});

test('do_no_page write maps writable and dirty at once (no write-notify fault)', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const log = recordFaults(a);
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr + 2 * 4096, 5);
  assert.equal(log, [0x6]);
  const pfn = cachedPfn(m, 0, 2);
  assert.is(pteOf(m, 0, addr + 2 * 4096), (pfn << 12) | RWD);
  assert.ok(isDirty(m, pfn));
  assert.ok(buffers(m, pfn).every((b) => b & L.BH_Dirty));
  assert.is(m.counter(0, 'faultsWriteNotify'), 0);
  assert.is(m.counter(0, 'faultsNotPresent'), 1);
  assert.is(memWord(m, pfn, 0), 5);
  assert.equal(checkInvariants(m), []);
});

test('a private mapping copies on write (after a read): the file page stays clean', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  m.disk[diskWord(m, 0, 0) + 1] = 99;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  assert.is(a.load(addr + 4), 99);
  const cache = cachedPfn(m, 0, 0);
  assert.is(pteOf(m, 0, addr) >>> 12, cache, 'the read maps the page-cache page');
  assert.is(pteOf(m, 0, addr) & P.PTE_RW, 0, 'read-only (PAGE_COPY)');
  a.store(addr, 42);
  const lo = pteOf(m, 0, addr);
  const copy = lo >>> 12;
  assert.is.not(copy, cache, 'now maps a copy');
  assert.is(lo & RWD, RWD);
  assert.is(pageField(m, copy, L.PG_KIND), L.FrameKind.Anon);
  assert.is(memWord(m, copy, 0), 42);
  assert.is(memWord(m, copy, 1), 99, 'the copy carries the file content');
  assert.is(memWord(m, cache, 0), 0, 'the file page is unchanged');
  assert.not.ok(isDirty(m, cache));
  assert.is(dirtyTag(m, 0, 0), 0);
  assert.is(pageField(m, cache, L.PG_MAPCOUNT), 0);
  assert.is(m.counter(0, 'cowFaults'), 1);
  assert.is(m.counter(0, 'faultsWriteNotify'), 0);
  sysFsync(a, 0);
  assert.is(m.disk[diskWord(m, 0, 0)], 0, 'nothing reaches the backing store');
  assert.equal(checkInvariants(m), []);
  sysMunmap(a, addr, 4);
  assert.is(pageField(m, copy, L.PG_KIND), L.FrameKind.Free, 'the copy is freed at munmap');
  assert.equal(checkInvariants(m), []);
});

test('a private mapping written first copies in do_no_page', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  a.store(addr + 4096, 3);
  const cache = cachedPfn(m, 0, 1);
  const copy = pteOf(m, 0, addr + 4096) >>> 12;
  assert.ok(cache > 0 && copy !== cache);
  assert.is(pageField(m, copy, L.PG_KIND), L.FrameKind.Anon);
  assert.not.ok(isDirty(m, cache));
  assert.is(memWord(m, cache, 0), 0);
  assert.is(m.counter(0, 'cowFaults'), 1);
  assert.equal(checkInvariants(m), []);
});

test('a shared and a private mapping of one page: the private copy no longer sees shared writes', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const sh = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  const pr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  a.store(sh, 1);
  assert.is(a.load(pr), 1, 'before the copy both see the page cache');
  a.store(pr + 4, 2);
  a.store(sh, 3);
  assert.is(a.load(pr), 1);
  assert.is(a.load(sh + 4), 0);
  assert.equal(checkInvariants(m), []);
});

function segv(fn: () => void): SegvError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SegvError) return e;
    throw e;
  }
  throw new Error('expected SIGSEGV');
}

test('SIGSEGV: an access outside any VMA; the kernel left nothing held', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  const e1 = segv(() => a.load(addr + 2 * 4096));
  assert.is(e1.addr, addr + 2 * 4096);
  assert.is(e1.errcode, 0x4);
  const e2 = segv(() => a.store(0x1000, 1));
  assert.is(e2.addr, 0x1000);
  assert.is(e2.errcode, 0x6);
  const b = m.layout.cpu(0);
  assert.is(m.meta[b + L.C_HELD_DEPTH], 0, 'mmap_sem released');
  assert.is(m.meta[b + L.C_IN_KERNEL], 0, 'back in user mode');
  a.store(addr, 1); // the CPU goes on
  assert.is(a.load(addr), 1);
});

test('addresses past 2^31 and 2^32 reach their own pages; those outside [0, TASK_SIZE) fault (load and store shift small addresses)', () => {
  const { m, cpus } = small({ files: [file(3)] });
  const a = cpus[0]!;
  const rw = PROT_READ | PROT_WRITE;
  const low = sysMmap(a, 0, 0, 1, rw, MAP_SHARED);
  const past31 = sysMmap(a, 0, 1, 1, rw, MAP_SHARED | MAP_FIXED, 'none', 2 ** 31 + low);
  const past32 = sysMmap(a, 0, 2, 1, rw, MAP_SHARED | MAP_FIXED, 'none', 2 ** 32 + low); // low's page modulo 2^32
  assert.is(past32, 2 ** 32 + low);
  for (let round = 0; round < 2; round++) {
    // the one-entry translation cache holds each page in turn before the next is used
    a.store(low, 1 + round);
    a.store(past32, 10 + round);
    a.store(past31, 20 + round);
    assert.equal([a.load(low), a.load(past32), a.load(past31), a.load(low + 4)], [1 + round, 10 + round, 20 + round, 0]);
  }
  a.load(low);
  for (const bad of [-4, -4096 - 4, -0.5, -(2 ** 32) + low, 2 ** 43 + low, 2 ** 44 + low]) segv(() => a.load(bad));
  // the fault at 2^44 + low (page 2^32 + low's) left low's translation alone
  assert.ok(m.tlbEntry(0, vpnOf(low)) !== null, "low's TLB entry survives the faults outside the user range");
  segv(() => a.store(-4, 1));
  segv(() => a.store(2 ** 43 + low, 1));
  assert.is(a.load(low), 2, 'nothing stored through an address outside the user range');
});

test('SIGSEGV: a write to a read-only mapping, faulted in or not', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ, MAP_SHARED);
  const e1 = segv(() => a.store(addr, 1));
  assert.is(e1.errcode, 0x6, 'not present');
  a.load(addr + 4096);
  const e2 = segv(() => a.store(addr + 4096, 1));
  assert.is(e2.errcode, 0x7, 'present, read-only');
  assert.is(pteOf(m, 0, addr + 4096) & P.PTE_RW, 0);
  assert.not.ok(isDirty(m, cachedPfn(m, 0, 1)));
  assert.is(m.counter(0, 'faultsWriteNotify'), 0);
  assert.is(m.meta[m.layout.cpu(0) + L.C_HELD_DEPTH], 0);
  assert.equal(checkInvariants(m), []);
});

test('SIGBUS-like: a mapping longer than the file is refused at mmap', () => {
  const { cpus } = small({ files: [file(2)] });
  assert.throws(() => sysMmap(cpus[0]!, 0, 1, 2, PROT_READ, MAP_SHARED), /EINVAL/);
});

test.run();
