/**
 * Writeback, the journal, reclaim, munmap and mprotect (mm/page-writeback.c, fs/buffer.c,
 * mm/vmscan.c, mm/memory.c, mm/mprotect.c), single-threaded and deterministic, including the
 * rtorrent corruption (bug `clean-before-mkclean`) reproduced step by step.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BugId, type FileId, type PgOff, checkBackingStore, checkInvariants, Cpu, DEFAULT_DAEMONS, DEFAULT_KERNEL, finalSync, type Machine, MAP_SHARED, MS_SYNC, PROT_READ, PROT_WRITE, SegvError, sysDropCaches, sysFsync, sysMmap, sysMprotect, sysMsync, sysMunmap, sysPread, sysPwrite, sysFtruncate, BusError, fileSize, stopMachine, StopReason, CTR, MachineStop } from '@smpsim/core';
import { file, kdaemons, kvmscan, layout as L, pte as P } from '@smpsim/core/testing';

const { journalPass } = kdaemons;
import {
  buffers,
  completeIo,
  cachedPfn,
  cacheSlot,
  dirtyBuffers,
  dirtyTag,
  diskWord,
  isDirty,
  ownedStore,
  pageField,
  pteOf,
  recordFaults,
  small,
  vpnOf,
} from './helpers.js';

const withBugs = (...bugs: BugId[]) => ({ kernel: { ...DEFAULT_KERNEL, bugs } });
const writableTlb = (m: Machine, cpu: number, addr: number) => m.tlbEntry(cpu, vpnOf(addr))?.writable === true;

// ---------------------------------------------------------------- msync / fsync

test('the asynchronous disk: writepage submits and unlocks, PG_writeback outlives the page lock, the write lands only when the disk interrupt completes it; fsync waits for it; a stop with I/O in flight leaves the old data', () => {
  const { m, cpus } = small({ cpus: 1, files: [file(4)], daemons: { ...DEFAULT_DAEMONS, diskLatency: 3, stripBuffers: false } });
  const a = cpus[0]!;
  const va = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(va, 5);
  const pfn = cachedPfn(m, 0, 0);
  kdaemons.asKernelThread(a, () => kdaemons.flusherPass(a, 16, { file: 0 as FileId, index: 0 as PgOff }));
  const flags = () => pageField(m, pfn, L.PG_FLAGS);
  assert.ok(flags() & L.PG_writeback, 'under writeback');
  assert.not.ok(flags() & L.PG_locked, 'and unlocked');
  assert.ok(buffers(m, pfn).every((b) => (b & (L.BH_Lock | L.BH_Async_Write)) === (L.BH_Lock | L.BH_Async_Write)), 'every buffer in flight');
  assert.is(m.disk[diskWord(m, 0, 0)], 0, 'not on disk yet');
  assert.is(kvmscan.reclaimPages(a, 4, false), 0, 'reclaim refuses a page under writeback');
  assert.ok(Atomics.load(m.meta, m.layout.cpu(0) + L.C_IPI_PENDING) & L.DISK_PENDING, 'the disk interrupt is pending');
  a.pollInterrupts();
  a.pollInterrupts();
  assert.ok(flags() & L.PG_writeback, 'two polls: not due yet');
  a.pollInterrupts();
  assert.not.ok(flags() & L.PG_writeback, 'the third completes it: end_page_writeback');
  assert.is(m.disk[diskWord(m, 0, 0)], 5);
  assert.ok(buffers(m, pfn).every((b) => (b & (L.BH_Lock | L.BH_Async_Write)) === 0));
  assert.is(m.total('ioSubmitted'), 4);
  assert.is(m.total('ioCompleted'), 4);
  // fsync: WB_SYNC_ALL submits and waits; its wait steps take the disk interrupt
  a.store(va + 4096, 6);
  sysFsync(a, 0);
  assert.is(m.disk[diskWord(m, 0, 1)], 6);
  assert.not.ok(pageField(m, cachedPfn(m, 0, 1), L.PG_FLAGS) & L.PG_writeback);
  // a stop with I/O in flight: only completed writes are on the backing store
  a.store(va + 2 * 4096, 7);
  kdaemons.asKernelThread(a, () => kdaemons.flusherPass(a, 16, { file: 0 as FileId, index: 2 as PgOff }));
  assert.ok(pageField(m, cachedPfn(m, 0, 2), L.PG_FLAGS) & L.PG_writeback);
  stopMachine(m, StopReason.Abort);
  assert.is(m.disk[diskWord(m, 0, 2)], 0, 'the write in flight never landed');
  assert.equal([m.disk[diskWord(m, 0, 0)], m.disk[diskWord(m, 0, 1)]], [5, 6], 'the completed ones did');
});

test('ftruncate (2.6.20 vmtruncate): shrinking unmaps the tail in every process, drops its pages with their dirty state and frees the blocks; past the end is SIGBUS; growing reads a hole', () => {
  const { m, cpus } = small({ cpus: 2, procs: 2, files: [file(8)] });
  const [a, b] = cpus as [Cpu, Cpu];
  const va = sysMmap(a, 0, 0, 8, PROT_READ | PROT_WRITE, MAP_SHARED);
  const vb = sysMmap(b, 0, 0, 8, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(va + 6 * 4096, 60);
  sysFsync(a, 0); // page 6 on disk
  a.store(va + 6 * 4096 + 4, 61); // and dirty again
  b.store(vb + 7 * 4096, 70);
  const p6 = cachedPfn(m, 0, 6);
  const dirtyBefore = m.total('dirtyCancelled');
  sysFtruncate(a, 0, 5);
  assert.is(fileSize(m, 0 as FileId), 5);
  for (const [mm, v] of [[0, va], [1, vb]] as const) for (let p = 5; p < 8; p++) assert.is(pteOf(m, mm, v + p * 4096), 0, `mm ${mm} page ${p} unmapped`);
  assert.is(m.tlbEntry(1, vpnOf(vb + 7 * 4096)), null, 'shot down on the other CPU');
  for (let p = 5; p < 8; p++) assert.is(cacheSlot(m, 0, p), 0, `page ${p} gone from the cache (no shadow entry)`);
  assert.is(pageField(m, p6, L.PG_KIND), L.FrameKind.Free);
  assert.is(m.total('dirtyCancelled') - dirtyBefore, 2, 'the dirty pages 6 and 7 cancelled');
  assert.is(m.disk[diskWord(m, 0, 6)], 0, 'the blocks freed: a hole');
  assert.throws(() => a.load(va + 5 * 4096), (e: unknown) => e instanceof BusError);
  assert.throws(() => b.store(vb + 7 * 4096, 1), (e: unknown) => e instanceof BusError);
  assert.is(sysPread(a, 0, 5, 0), null, 'read past the end: nothing');
  assert.equal(checkInvariants(m), []);
  sysFtruncate(a, 0, 8);
  assert.is(a.load(va + 6 * 4096), 0, 'grown again: the hole reads zeros');
  assert.throws(() => sysFtruncate(a, 0, 9), /more than the file's room of 8/);
  assert.equal(checkInvariants(m), []);
});

test('pwrite (2.6.20 generic_file_buffered_write on ext3): one word dirties the one buffer holding it and the page, leaves the PTEs alone; fsync writes that buffer only', () => {
  const { m, cpus } = small({ cpus: 1, files: [file(4)], daemons: { ...DEFAULT_DAEMONS, journalEveryPage: false } });
  const a = cpus[0]!;
  const va = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  assert.is(a.load(va + 4096 + 600 * 4), 0); // page 1 mapped read-only (clean)
  sysPwrite(a, 0, 1, 600, 77); // word 600: buffer 2 of 4 (256 words each)
  const pfn = cachedPfn(m, 0, 1);
  assert.ok(isDirty(m, pfn) && dirtyTag(m, 0, 1), 'page dirty and tagged');
  assert.equal(buffers(m, pfn).map((b) => (b & L.BH_Dirty) !== 0), [false, false, true, false]);
  assert.ok(pageField(m, pfn, L.PG_FLAGS) & L.PG_jbd_data, 'ext3_ordered_commit_write filed the buffers on the transaction');
  assert.is(a.load(va + 4096 + 600 * 4), 77, 'the mapping sees it: one page cache');
  assert.is(pteOf(m, 0, va + 4096) & P.PTE_RW, 0, 'the PTE stays read-only: a store still write-faults');
  assert.is(sysPread(a, 0, 1, 600), 77);
  const writes = m.total('bufferWrites');
  sysFsync(a, 0);
  assert.is(m.total('bufferWrites') - writes, 1, 'only the dirty buffer is written');
  assert.is(m.disk[diskWord(m, 0, 1) + 600], 77);
  assert.is(m.total('pagesDirtied'), 1);
  assert.throws(() => sysPwrite(a, 0, 4, 0, 1), /past the file's room of 4 pages/);
  assert.equal(checkInvariants(m), []);
});

test('dirty throttling (2.6.20 balance_dirty_pages): past dirty_ratio the faulting task writes pages back itself; dirtyRatio 0: never', () => {
  for (const dirtyRatio of [40, 0]) {
    // 128 frames, 64 of them mapped: get_dirty_limits lowers 40% to half the unmapped 50%, 32 pages
    const { m, cpus } = small({ cpus: 1, memoryBytes: 512 * 1024, files: [file(64)], daemons: { ...DEFAULT_DAEMONS, dirtyRatio, dirtyBackgroundRatio: 10, ratelimitPages: 4 } });
    const a = cpus[0]!;
    const va = sysMmap(a, 0, 0, 64, PROT_READ | PROT_WRITE, MAP_SHARED);
    for (let p = 0; p < 64; p++) a.load(va + p * 4096); // every page mapped first
    for (let p = 0; p < 64; p++) a.store(va + p * 4096, p + 1);
    const clean = Array.from({ length: 64 }, (_, p) => p).filter((p) => !isDirty(m, cachedPfn(m, 0, p)));
    if (dirtyRatio === 0) {
      assert.is(m.total('throttled'), 0);
      assert.equal(clean, [], 'every page still dirty');
      continue;
    }
    assert.ok(m.total('throttled') >= 1, `throttled ${m.total('throttled')}`);
    assert.ok(m.total('throttleWritten') >= 4, `wrote ${m.total('throttleWritten')}`);
    assert.is(clean.length, m.total('throttleWritten'), 'the pages the writer wrote are clean');
    assert.ok(64 - clean.length <= 32 + 8, `${64 - clean.length} dirty: held near the limit`);
    // what the writer wrote is on disk once the disk completes it, and its pages were
    // write-protected again (page_mkclean)
    completeIo(cpus);
    for (const p of clean) {
      assert.is(m.disk[diskWord(m, 0, p)], p + 1, `page ${p} on disk`);
      assert.is(pteOf(m, 0, va + p * 4096) & P.PTE_RW, 0, `page ${p} read-only again`);
    }
    assert.equal(checkInvariants(m), []);
  }
});

test('msync(MS_SYNC) scope: 3.16\'s range writes the pages of the range; 2.6.20\'s whole file (do_fsync) every dirty page of the file', () => {
  for (const [msyncScope, written] of [['range', [true, false, false]], ['file', [true, true, true]]] as const) {
    const { m, cpus } = small({ cpus: 1, files: [file(8)], kernel: { ...DEFAULT_KERNEL, msyncScope } });
    const a = cpus[0]!;
    const va = sysMmap(a, 0, 0, 8, PROT_READ | PROT_WRITE, MAP_SHARED);
    // pages 0 and 5 through the mapping msync is given; page 7 through a second mapping of the file
    const vb = sysMmap(a, 0, 7, 1, PROT_READ | PROT_WRITE, MAP_SHARED);
    a.store(va, 1);
    a.store(va + 5 * 4096, 2);
    a.store(vb, 3);
    sysMsync(a, va, 2, MS_SYNC);
    assert.equal([0, 5, 7].map((pg) => !isDirty(m, cachedPfn(m, 0, pg))), [...written], `${msyncScope}: pages 0, 5, 7 clean after msync of pages 0-1`);
    assert.equal([[0, 1], [5, 2], [7, 3]].map(([pg, v]) => m.disk[diskWord(m, 0, pg!)] === v), [...written], `${msyncScope}: on disk`);
  }
});


test('msync(MS_SYNC): clear_page_dirty_for_io cleans and write-protects the page in every process', () => {
  const { m, cpus } = small({ cpus: 2, procs: 2, files: [file(4)] });
  const [a, b] = cpus as [Cpu, Cpu];
  const va = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  const vb = sysMmap(b, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(va, 11);
  b.store(vb + 4, 22);
  a.store(va + 4096, 33);
  b.load(vb + 4096);
  const p0 = cachedPfn(m, 0, 0);
  const p1 = cachedPfn(m, 0, 1);
  assert.is(pteOf(m, 0, va) >>> 12, p0);
  assert.is(pteOf(m, 1, vb) >>> 12, p0, 'both processes map the same page-cache page');
  assert.ok(writableTlb(m, 0, va) && writableTlb(m, 1, vb));
  const writes = m.total('bufferWrites');
  sysMsync(a, va, 4, MS_SYNC);
  for (const [mm, addr] of [[0, va], [1, vb], [0, va + 4096], [1, vb + 4096]] as const) {
    const lo = pteOf(m, mm, addr);
    assert.ok(lo & P.PTE_P);
    assert.is(lo & (P.PTE_RW | P.PTE_D), 0, `mm ${mm} 0x${addr.toString(16)}: read-only and clean`);
  }
  assert.not.ok(writableTlb(m, 0, va), 'the local TLB was flushed');
  assert.not.ok(writableTlb(m, 1, vb), "the other process's CPU was shot down");
  assert.ok(m.counter(0, 'shootdownsMkclean') >= 1);
  assert.ok(m.counter(1, 'ipisReceived') >= 1);
  for (const p of [p0, p1]) {
    assert.not.ok(isDirty(m, p));
    assert.is(dirtyBuffers(m, p), 0);
  }
  assert.is(dirtyTag(m, 0, 0), 0);
  assert.is(m.disk[diskWord(m, 0, 0)], 11);
  assert.is(m.disk[diskWord(m, 0, 0) + 1], 22);
  assert.is(m.disk[diskWord(m, 0, 1)], 33);
  assert.is(m.total('bufferWrites') - writes, 8, 'two pages of four dirty buffers');
  assert.equal(checkInvariants(m), []);
  // The next write in each process faults again.
  a.store(va, 12);
  b.store(vb + 4, 23);
  assert.is(m.counter(0, 'faultsWriteNotify'), 1);
  assert.is(m.counter(1, 'faultsWriteNotify'), 1);
  assert.ok(isDirty(m, p0));
  // fsync from the other process writes them.
  sysFsync(b, 0);
  assert.is(m.disk[diskWord(m, 0, 0)], 12);
  assert.is(m.disk[diskWord(m, 0, 0) + 1], 23);
  assert.is(pteOf(m, 0, va) & P.PTE_RW, 0);
  assert.equal(checkInvariants(m), []);
});

test('wb_kupdate (dirty_expire_centisecs): a periodic flusher pass writes only files first dirtied long enough ago; background writeout any; a written file is clean again', () => {
  const { m, cpus } = small({ cpus: 1, files: [file(4), file(4)], daemons: { ...DEFAULT_DAEMONS, diskLatency: 0, dirtyExpire: 3000 } });
  const a = cpus[0]!;
  const when = (f: number) => m.meta[m.layout.fileExt(f) + L.FX_DIRTIED_WHEN]!;
  const va = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  const vb = sysMmap(a, 1, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  assert.equal([when(0), when(1)], [0, 0], 'clean files have no dirtied_when');
  a.store(va, 1); // file 0 dirtied now
  assert.ok(when(0) > 0);
  const first = when(0);
  a.store(va + 4096, 2);
  assert.is(when(0), first, 'only the first page since clean sets it (__mark_inode_dirty)');
  const kupdate = () => kdaemons.asKernelThread(a, () => kdaemons.flusherPass(a, 16, { file: 0 as FileId, index: 0 as PgOff }, 3000));
  assert.is(kupdate(), 0, 'nothing is 30 s old yet');
  a.ctr[CTR.cycles]! += 31 * 3e9; // 31 simulated seconds at 3 GHz
  a.store(vb, 3); // file 1 dirtied now, file 0 31 s ago
  assert.is(kupdate(), 2, "file 0's two pages, not file 1's");
  assert.is(when(0), 0, 'file 0 written and clean');
  assert.ok(when(1) > 0 && isDirty(m, cachedPfn(m, 1, 0)));
  const background = kdaemons.asKernelThread(a, () => kdaemons.flusherPass(a, 16, { file: 0 as FileId, index: 0 as PgOff }, 0));
  assert.is(background, 1, 'background writeout writes any age');
  assert.equal([when(0), when(1)], [0, 0]);
  assert.equal(checkInvariants(m), []);
});

test('create_empty_buffers: write(2) giving buffers to a page dirtied through a PTE makes them all dirty, so fsync writes the mapped store too (a false lost write before the fix)', () => {
  // ext3's readpage attaches no buffers (readpageBuffers false): the store dirties a page without any
  const { m, cpus } = small({ cpus: 1, files: [file(2)], daemons: { ...DEFAULT_DAEMONS, readpageBuffers: false, diskLatency: 0 } });
  const a = cpus[0]!;
  const va = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(va + 500 * 4, 7); // word 500: buffer 1
  const pfn = cachedPfn(m, 0, 0);
  assert.ok(isDirty(m, pfn));
  assert.is(pageField(m, pfn, L.PG_FLAGS) & L.PG_private, 0, 'no buffers yet');
  sysPwrite(a, 0, 0, 10, 8); // word 10: buffer 0; block_prepare_write attaches buffers
  assert.equal(buffers(m, pfn).map((b) => (b & L.BH_Dirty) !== 0), [true, true, true, true], 'the dirty page gave its new buffers its dirty state');
  sysMunmap(a, va, 2);
  sysFsync(a, 0);
  assert.equal([m.disk[diskWord(m, 0, 0) + 10], m.disk[diskWord(m, 0, 0) + 500]], [8, 7]);
  assert.equal(checkInvariants(m), []);
});

/**
 * munmap's zap moves a dirty PTE into a page that has no buffers (a file without dirty accounting, read
 * in by ext3's readpage) while another CPU's write(2) gives the page buffers: the write(2) is run inside
 * zap's set_page_dirty, once private_lock is dropped (2.6.20 then sets PG_dirty; a8e7d49a has already).
 * Returns what the final-state oracle reports after an fsync.
 */
function setDirtyVsCreateBuffers(bugs: BugId[]): { lost: ReturnType<typeof checkBackingStore>; dirty: boolean[] } {
  const { m, cpus } = small({ cpus: 2, files: [file(2, { accountDirty: false })], ...withBugs(...bugs), daemons: { ...DEFAULT_DAEMONS, readpageBuffers: false, diskLatency: 0 } });
  const [a, b] = [cpus[0]!, cpus[1]!];
  const va = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  // a read fault maps the page writable (no write notification) and clean; the store sets D, no fault
  a.load(va + 500 * 4);
  ownedStore(m, a, 0, 0, 500, va + 500 * 4, 7); // word 500: buffer 1, dirty in the PTE only
  const pfn = cachedPfn(m, 0, 0);
  assert.is(pageField(m, pfn, L.PG_FLAGS) & (L.PG_private | L.PG_dirty), 0, 'no buffers, not dirty');
  let fired = false;
  a.racePoint = () => {
    if (fired || !new Error().stack!.includes('setPageDirtyBuffers')) return;
    fired = true;
    sysPwrite(b, 0, 0, 10, 8); // word 10: buffer 0; block_prepare_write's create_empty_buffers
    m.shadow[diskWord(m, 0, 0) + 10] = 8;
  };
  sysMunmap(a, va, 2);
  assert.ok(fired, "write(2) ran inside zap's set_page_dirty");
  const dirty = buffers(m, pfn).map((x) => (x & L.BH_Dirty) !== 0);
  sysFsync(b, 0);
  return { lost: checkBackingStore(m), dirty };
}

test('dirty-flag-after-private-lock: zap\'s set_page_dirty racing create_empty_buffers leaves a dirty page with clean buffers and the oracle finds the mapped store lost after fsync; a8e7d49a\'s order keeps it', () => {
  const bad = setDirtyVsCreateBuffers(['dirty-flag-after-private-lock']);
  assert.equal(bad.dirty, [true, false, false, false], '2.6.20: only write(2)\'s buffer is dirty');
  assert.is(bad.lost.length, 1);
  assert.match(bad.lost[0]!.message, /page 0 word 500: the backing store holds 0 after the final sync, the owner last wrote 7/);
  const good = setDirtyVsCreateBuffers([]);
  assert.equal(good.dirty, [true, true, true, true], 'fixed: create_empty_buffers saw the page dirty');
  assert.equal(good.lost, []);
});

/**
 * The clean-page oracle: after writeback every PTE of the page is read-only, so a store can reach it
 * only through a stale TLB entry (zap's window, a skipped flush); such a store is poked into memory
 * here. It is found at the next write fault, and (the asynchronous disk) at the completion of a write
 * in flight; the fixed kernel's own faults and writes are silent.
 */
test('the clean-page oracle: a store into a clean page is found at the next write fault and at the completion of its write in flight; silent otherwise', () => {
  // at a write fault
  {
    const { m, cpus } = small({ cpus: 1, files: [file(2)], daemons: { ...DEFAULT_DAEMONS, diskLatency: 0 } });
    const a = cpus[0]!;
    const va = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
    a.store(va + 5 * 4, 1);
    sysFsync(a, 0);
    a.store(va + 6 * 4, 2); // write fault on the clean page: memory = backing store, silent
    sysFsync(a, 0);
    m.mem[cachedPfn(m, 0, 0) * 1024 + 7] = 3; // a store no PTE records
    assert.throws(() => a.store(va + 8 * 4, 4), (e: unknown) => e instanceof MachineStop);
    assert.is(a.violations[0]!.kind, 'lost-write');
    assert.match(a.violations[0]!.message, /^lost write at file 0 page 0 word 7: a write fault found the page clean, but memory holds 3 and the backing store holds 0/);
    assert.is(a.violations[0]!.details!.when, 'write fault');
  }
  // at a write's completion
  for (const poke of [false, true]) {
    const { m, cpus } = small({ cpus: 1, files: [file(2)], daemons: { ...DEFAULT_DAEMONS, diskLatency: 3, stripBuffers: false } });
    const a = cpus[0]!;
    const va = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
    a.store(va + 5 * 4, 1);
    kdaemons.asKernelThread(a, () => kdaemons.flusherPass(a, 16, { file: 0 as FileId, index: 0 as PgOff }));
    const pfn = cachedPfn(m, 0, 0);
    assert.ok(pageField(m, pfn, L.PG_FLAGS) & L.PG_writeback);
    if (!poke) {
      a.store(va + 6 * 4, 2); // faults and dirties the page first: the write in flight stays right
      completeIo(cpus);
      assert.equal(a.violations, []);
      continue;
    }
    m.mem[pfn * 1024 + 5] = 9; // a store after submission that no PTE records
    assert.throws(() => completeIo(cpus), (e: unknown) => e instanceof MachineStop);
    assert.match(a.violations[0]!.message, /^lost write at file 0 page 0 word 5: the completion of its write found the page clean, but memory holds 9 and that write carried 1/);
    assert.is(a.violations[0]!.details!.when, 'write completion');
  }
});

test('writepage writes only the dirty buffers', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  for (let blk = 0; blk < 4; blk++) a.store(addr + blk * 1024, 10 + blk); // one word per 1 KiB block
  const pfn = cachedPfn(m, 0, 0);
  sysMunmap(a, addr, 2); // unmapped: clear_page_dirty_for_io has no PTE to re-dirty buffers from
  assert.ok(isDirty(m, pfn));
  for (let i = 1; i < 4; i++) Atomics.and(m.meta, m.layout.bh(pfn, i), ~L.BH_Dirty); // only buffer 0 dirty
  const writes = m.total('bufferWrites');
  const pages = m.total('pagesWritten');
  sysFsync(a, 0);
  assert.is(m.total('bufferWrites') - writes, 1);
  assert.is(m.total('pagesWritten') - pages, 1);
  const d = diskWord(m, 0, 0);
  assert.equal([0, 256, 512, 768].map((w) => m.disk[d + w]), [10, 0, 0, 0]);
  assert.not.ok(isDirty(m, pfn));
  assert.is(pageField(m, pfn, L.PG_FLAGS) & L.PG_writeback, 0, 'writeback ended');
});

/** One journal commit over a page stored to once (word 2 = 5): its four buffers are written and clean. */
function journalOnce(bugs: BugId[]) {
  const { m, cpus } = small({ files: [file(2)], ...withBugs(...bugs) });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  ownedStore(m, a, 0, 0, 2, addr + 8, 5);
  const pfn = cachedPfn(m, 0, 0);
  const writes = m.total('bufferWrites');
  journalPass(a);
  completeIo(cpus);
  assert.is(m.total('bufferWrites') - writes, 4);
  assert.is(m.disk[diskWord(m, 0, 0) + 2], 5);
  assert.is(dirtyBuffers(m, pfn), 0, 'buffers clean');
  return { m, a, addr, pfn, writes };
}

test('jbd-data-buffers: the journal (ext3 data=ordered) writes the dirty buffers and leaves PG_dirty', () => {
  const { m, a, addr, pfn, writes } = journalOnce(['jbd-data-buffers']);
  assert.ok(isDirty(m, pfn), 'PG_dirty stays');
  assert.is(dirtyTag(m, 0, 0), 1, 'and the dirty tag');
  assert.ok(pteOf(m, 0, addr) & P.PTE_RW, 'the PTE stays writable');
  assert.is(m.counter(0, 'journalRuns'), 1);
  journalPass(a);
  assert.is(m.total('bufferWrites') - writes, 4, 'a second pass has nothing to write');
  assert.equal(checkInvariants(m), []);
});

test('the fixed journal (jbd2 ordered mode) writes dirty pages through writepage: page clean, PTE write-protected', () => {
  const { m, a, addr, pfn } = journalOnce([]);
  assert.not.ok(isDirty(m, pfn), 'and the page: clear_page_dirty_for_io ran');
  assert.is(dirtyTag(m, 0, 0), 0, 'the dirty tag is gone');
  assert.is(pteOf(m, 0, addr) & (P.PTE_RW | P.PTE_D), 0, 'page_mkclean write-protected the PTE');
  const wn = m.total('faultsWriteNotify');
  ownedStore(m, a, 0, 0, 3, addr + 12, 6);
  assert.is(m.total('faultsWriteNotify'), wn + 1, 'the next store faults and dirties the page again');
  assert.ok(isDirty(m, pfn));
  assert.is(dirtyBuffers(m, pfn), 4);
  finalSync(a);
  assert.equal(checkBackingStore(m), []);
  assert.equal(checkInvariants(m), []);
});

/**
 * The rtorrent corruption (Linus, 29 Dec 2006): a write fault dirties the page and its buffers; the
 * journal (ext3's, by buffer) writes the buffers; a later write goes through the still-writable PTE; fsync.
 */
function rtorrent(bugs: BugId[]) {
  const { m, cpus } = small({ files: [file(2)], ...withBugs('jbd-data-buffers', ...bugs) });
  const a = cpus[0]!;
  const log = recordFaults(a);
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  ownedStore(m, a, 0, 0, 0, addr, 1); // write fault: PG_dirty, all buffers dirty
  journalPass(a); // buffers written and clean, PG_dirty still set
  ownedStore(m, a, 0, 0, 300, addr + 300 * 4, 2); // through the writable PTE: no fault, no buffer dirtied
  assert.is(log.length, 1);
  sysFsync(a, 0);
  return { m, a, addr };
}

test('rtorrent sequence, correct order (7658cc289288): page_mkclean re-dirties the buffers, the write is not lost', () => {
  const { m, a, addr } = rtorrent([]);
  assert.is(m.disk[300], 2);
  assert.is(pteOf(m, 0, addr) & (P.PTE_RW | P.PTE_D), 0);
  finalSync(a);
  assert.equal(checkBackingStore(m), []);
  assert.equal(checkInvariants(m), []);
});

test('rtorrent sequence with clean-before-mkclean: fsync leaves the backing store stale, the write is lost', () => {
  const { m, a, addr } = rtorrent(['clean-before-mkclean']);
  assert.is(m.disk[0], 1);
  assert.is(m.disk[300], 0, 'writepage found no dirty buffer');
  const pfn = cachedPfn(m, 0, 0);
  assert.not.ok(isDirty(m, pfn), 'and the page is clean');
  assert.is(pteOf(m, 0, addr) & (P.PTE_RW | P.PTE_D), 0, 'and its PTE clean: nothing will write it again');
  assert.equal(checkInvariants(m), [], 'no structural invariant sees it');
  finalSync(a);
  const lost = checkBackingStore(m);
  assert.is(lost.length, 1);
  assert.is(lost[0]!.kind, 'lost-write');
  assert.equal({ ...lost[0]!.details }, { file: 0, page: 0, word: 300, expected: 2, seen: 0, when: 'final' });
});

// ---------------------------------------------------------------- reclaim

test('reclaim with aging (2.6.20 page_referenced): a page accessed since the last pass is kept and made old with a flush; untouched, the next pass evicts it; aging off evicts at once', () => {
  for (const aging of [true, false]) {
    const { m, cpus } = small({ cpus: 2, files: [file(1)], daemons: { ...DEFAULT_DAEMONS, aging, stripBuffers: false } });
    const [a, b] = cpus as [Cpu, Cpu];
    const addr = sysMmap(a, 0, 0, 1, PROT_READ | PROT_WRITE, MAP_SHARED);
    a.load(addr);
    b.load(sysMmap(b, 0, 0, 1, PROT_READ, MAP_SHARED)); // b runs the same mm: the flush is an IPI to it
    assert.ok(pteOf(m, 0, addr) & P.PTE_A, 'the walk set the accessed bit');
    const ipis = m.total('ipisSent');
    const first = kvmscan.reclaimPages(a, 1);
    if (!aging) {
      assert.is(first, 1, 'no aging: evicted although just accessed');
      continue;
    }
    assert.is(first, 0, 'young: kept');
    assert.is(m.counter(0, 'aged'), 1);
    assert.is(pteOf(m, 0, addr) & P.PTE_A, 0, 'made old');
    assert.ok(m.total('ipisSent') > ipis, 'ptep_clear_flush_young flushed the other CPU');
    assert.is(m.tlbEntry(1, vpnOf(addr)), null);
    assert.is(kvmscan.reclaimPages(a, 1), 1, 'untouched since: evicted on the next pass');
    assert.is(cacheSlot(m, 0, 0), -1);
    assert.equal(checkInvariants(m), []);
  }
});

test('reclaim with aging under memory pressure: a pass that fell short goes round again, so pages made old and not touched since are evicted', () => {
  const { m, cpus } = small({ cpus: 1, files: [file(4)], daemons: { ...DEFAULT_DAEMONS, aging: true, stripBuffers: false, lowWatermark: 1 << 30 } });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ, MAP_SHARED);
  for (let p = 0; p < 4; p++) a.load(addr + p * 4096);
  assert.is(kvmscan.reclaimPages(a, 4), 4, 'below the watermark: the second pass evicts the pages the first made old');
  assert.is(m.counter(0, 'aged'), 4);
});

test('drop_caches: clean unmapped pages are evicted, mapped ones unmapped first, the next access refaults from disk', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.load(addr); // page 0: mapped, clean
  const tmp = sysMmap(a, 0, 2, 1, PROT_READ, MAP_SHARED);
  a.load(tmp); // page 2: cached, then unmapped
  sysMunmap(a, tmp, 1);
  const p0 = cachedPfn(m, 0, 0);
  const p2 = cachedPfn(m, 0, 2);
  assert.ok(p0 > 0 && p2 > 0);
  assert.is(pageField(m, p2, L.PG_MAPCOUNT), 0);
  sysDropCaches(a);
  assert.is(cacheSlot(m, 0, 2), -1, 'page 2 evicted (shadow entry)');
  assert.is(cacheSlot(m, 0, 0), -1, 'page 0 unmapped and evicted');
  assert.is(pteOf(m, 0, addr), 0);
  assert.is(m.tlbEntry(0, vpnOf(addr)), null);
  for (const p of [p0, p2]) assert.is(pageField(m, p, L.PG_KIND), L.FrameKind.Free);
  assert.is(m.counter(0, 'evicted'), 2);
  assert.equal(checkInvariants(m), []);
  m.disk[diskWord(m, 0, 0) + 5] = 555; // the backing store changed behind the cache
  const reads = m.counter(0, 'pageReads');
  assert.is(a.load(addr + 20), 555, 'read back from the backing store');
  assert.is(m.counter(0, 'refaults'), 1);
  assert.is(m.counter(0, 'pageReads'), reads + 1);
  assert.equal(checkInvariants(m), []);
});

test('drop_caches: a dirty PTE bit moves to the page, so the page is not evicted', () => {
  // No write notification: the write leaves its trace only in the PTE's D bit.
  const { m, cpus } = small({ files: [file(4, { accountDirty: false })] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.load(addr); // a read fault maps it writable and clean (a write fault would dirty the page: do_no_page)
  a.store(addr + 4, 9); // the hardware sets D
  const pfn = cachedPfn(m, 0, 0);
  assert.ok(pteOf(m, 0, addr) & P.PTE_D);
  assert.not.ok(isDirty(m, pfn), 'not PG_dirty: the dirt is in the PTE');
  sysDropCaches(a);
  assert.is(pteOf(m, 0, addr), 0, 'unmapped');
  assert.ok(isDirty(m, pfn), 'PG_dirty now');
  assert.is(dirtyBuffers(m, pfn), 4);
  assert.is(cachedPfn(m, 0, 0), pfn, 'still cached');
  assert.is(m.counter(0, 'evicted'), 0);
  assert.equal(checkInvariants(m), []);
  // A read maps it again without I/O.
  assert.is(a.load(addr + 4), 9);
  assert.is(m.counter(0, 'refaults'), 0);
  sysFsync(a, 0);
  assert.is(m.disk[diskWord(m, 0, 0) + 1], 9);
  sysDropCaches(a);
  assert.is(cacheSlot(m, 0, 0), -1, 'clean now: evicted');
  assert.is(a.load(addr + 4), 9);
  assert.is(m.counter(0, 'refaults'), 1);
});

test('drop_caches: a dirty write-notify page is unmapped but kept, its data intact', () => {
  const { m, cpus } = small({ files: [file(4)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  ownedStore(m, a, 0, 0, 3, addr + 12, 4);
  const pfn = cachedPfn(m, 0, 0);
  sysDropCaches(a);
  assert.is(cachedPfn(m, 0, 0), pfn);
  assert.ok(isDirty(m, pfn));
  assert.is(a.load(addr + 12), 4);
  finalSync(a);
  assert.equal(checkBackingStore(m), []);
  assert.equal(checkInvariants(m), []);
});

// ---------------------------------------------------------------- munmap and mprotect

test('munmap (zap_pte_range) moves dirty PTE bits into the page and shoots down other CPUs', () => {
  const { m, cpus } = small({ cpus: 2, files: [file(4, { accountDirty: false })] });
  const [a, b] = cpus as [Cpu, Cpu];
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  b.load(addr + 4096);
  b.store(addr + 4096, 6); // hardware D; cpu1 holds a writable, dirty TLB entry
  a.load(addr + 2 * 4096); // clean
  const p1 = cachedPfn(m, 0, 1);
  const p2 = cachedPfn(m, 0, 2);
  assert.not.ok(isDirty(m, p1));
  assert.ok(writableTlb(m, 1, addr + 4096));
  sysMunmap(a, addr, 4);
  assert.ok(isDirty(m, p1), 'the D bit moved into the page');
  assert.is(dirtyBuffers(m, p1), 4);
  assert.is(dirtyTag(m, 0, 1), 1);
  assert.not.ok(isDirty(m, p2), 'a clean PTE leaves its page clean');
  assert.is(m.tlbEntry(1, vpnOf(addr + 4096)), null, 'flushed on the other CPU');
  for (const p of [p1, p2]) {
    assert.is(pageField(m, p, L.PG_MAPCOUNT), 0);
    assert.is(pageField(m, p, L.PG_COUNT), 1, 'only the page cache holds it');
  }
  assert.throws(() => b.load(addr + 4096), (e: unknown) => e instanceof SegvError);
  sysFsync(a, 0);
  assert.is(m.disk[diskWord(m, 0, 1)], 6);
  assert.equal(checkInvariants(m), []);
});

function mprotectRig(bugs: BugId[]) {
  const { m, cpus } = small({ cpus: 2, files: [file(4)], ...withBugs(...bugs) });
  const [a, b] = cpus as [Cpu, Cpu];
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  b.store(addr, 1); // page 0: dirty, writable
  a.load(addr + 4096); // page 1: clean, read-only
  return { m, a, b, addr };
}

test('mprotect (change_pte_range) on a write-notify VMA: clean pages stay read-only, dirty ones writable', () => {
  const { m, a, b, addr } = mprotectRig([]);
  sysMprotect(a, addr, 4, PROT_READ);
  assert.is(pteOf(m, 0, addr) & P.PTE_RW, 0);
  assert.ok(pteOf(m, 0, addr) & P.PTE_D, 'D survives pte_modify');
  assert.not.ok(writableTlb(m, 1, addr), "cpu1's writable entry was flushed");
  assert.throws(() => b.store(addr, 2), (e: unknown) => e instanceof SegvError);
  sysMprotect(a, addr, 4, PROT_READ | PROT_WRITE);
  assert.ok(pteOf(m, 0, addr) & P.PTE_RW, 'the dirty page is writable again');
  assert.is(pteOf(m, 0, addr + 4096) & P.PTE_RW, 0, 'the clean page stays read-only');
  assert.equal(checkInvariants(m), []);
  const wn = m.total('faultsWriteNotify');
  b.store(addr, 3);
  assert.is(m.total('faultsWriteNotify'), wn, 'no fault on the dirty page');
  a.store(addr + 4096, 4);
  assert.is(m.total('faultsWriteNotify'), wn + 1, 'the clean page takes its write-notify fault');
  assert.ok(isDirty(m, cachedPfn(m, 0, 1)));
  assert.equal(checkInvariants(m), []);
});

test('mprotect-ignores-writenotify: clean pages become writable and the invariant checker says so', () => {
  const { m, a, addr } = mprotectRig(['mprotect-ignores-writenotify']);
  sysMprotect(a, addr, 4, PROT_READ | PROT_WRITE);
  const lo = pteOf(m, 0, addr + 4096);
  assert.ok(lo & P.PTE_RW, 'the clean page is writable');
  assert.not.ok(isDirty(m, cachedPfn(m, 0, 1)));
  const found = checkInvariants(m);
  assert.is(found.length, 1);
  assert.is(found[0]!.details['invariant'], 'writable-pte-implies-dirty');
  assert.is(found[0]!.details['vpn'], vpnOf(addr + 4096));
  assert.is(found[0]!.details['pfn'], cachedPfn(m, 0, 1));
  const wn = m.total('faultsWriteNotify');
  a.store(addr + 4096, 4);
  assert.is(m.total('faultsWriteNotify'), wn, 'the write is not noticed');
  assert.not.ok(isDirty(m, cachedPfn(m, 0, 1)));
  sysFsync(a, 0);
  assert.is(m.disk[diskWord(m, 0, 1)], 0, 'fsync does not write it');
});

test.run();
