/**
 * Dirty state and writeback (mm/page-writeback.c, mm/filemap.c): set_page_dirty, the order of
 * clear_page_dirty_for_io, writing one page, fsync/msync of a file, and dirty accounting.
 */
import { cleanPagesReadOnly, hasBug, WORDS_PER_PAGE } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { assertHeld, lockPage, pageLock, spinLockIrqsave, spinUnlockIrqrestore, treeLock, unlockPage, waitOnPageWriteback } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { CTR } from '../machine/machine.js';
import type { FileId, PgOff, Pfn } from '../handles.js';
import { blockWriteFullPage, setPageDirtyBuffers } from './buffer.js';
import { findGetPage, filePages, slotOf, slotPage, tagDirtyLocked, tagOf } from './filemap.js';
import { clearPageFlag, mkcleanBeforeWriteback, pageFlags, pageIndex, pageMapped, pageMapping, putPage, setPageFlag, testSetPageWriteback } from './mm.js';
import { diskWord } from './blkdev.js';
import { firstDifference, lostWriteDetails, storeIntoCleanPageMessage } from '../oracles/lost-write.js';
import { pageMkclean } from './rmap.js';

function accountDirtied(cpu: Cpu, file: FileId, delta: number): void {
  if (delta > 0) cpu.ctr[CTR.pagesDirtied]!++;
  Atomics.add(cpu.meta, L.G_NR_DIRTY, delta);
  Atomics.add(cpu.meta, cpu.layout.file(file) + L.F_NRDIRTY, delta);
}

/**
 * TestSetPageDirty, then (if newly dirty) account it and tag it dirty in the index under tree_lock:
 * the tail of 2.6.20's __set_page_dirty_buffers, and mark_buffer_dirty's. The tagging is what later
 * kernels split out as __set_page_dirty in fs/buffer.c; both stay here: in buffer.ts they would need
 * filemap.ts's index (treeLock, tagDirtyLocked), a new buffer.ts <-> filemap.ts import cycle.
 */
export function testSetPageDirtyAndTag(cpu: Cpu, pfn: Pfn, file: FileId): boolean {
  if (setPageFlag(cpu, pfn, L.PG_dirty) & L.PG_dirty) return false;
  tagNewlyDirty(cpu, pfn, file);
  return true;
}

/**
 * __set_page_dirty (fs/buffer.c since a8e7d49a): a page this CPU has just set PG_dirty on is
 * accounted and tagged dirty in the index under tree_lock.
 */
export function tagNewlyDirty(cpu: Cpu, pfn: Pfn, file: FileId): void {
  cpu.racePoint(); // RACE: PG_dirty set, the radix-tree dirty tag not yet
  const tl = treeLock(cpu, file);
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.__set_page_dirty_buffers);
  if (pageMapping(cpu, pfn) === file) {
    accountDirtied(cpu, file, 1);
    tagDirtyLocked(cpu, file, pageIndex(cpu, pfn), pfn);
  }
  spinUnlockIrqrestore(cpu, tl, flags);
}

/** TestClearPageDirty with the accounting. */
export function testClearPageDirty(cpu: Cpu, pfn: Pfn): boolean {
  if (clearPageFlag(cpu, pfn, L.PG_dirty) & L.PG_dirty) {
    const file = pageMapping(cpu, pfn);
    if (file !== -1) accountDirtied(cpu, file, -1);
    return true;
  }
  return false;
}

/** set_page_dirty: file pages through __set_page_dirty_buffers, anonymous ones by the flag alone. */
export function setPageDirty(cpu: Cpu, pfn: Pfn): boolean {
  const file = pageMapping(cpu, pfn);
  if (file !== -1) return setPageDirtyBuffers(cpu, pfn, file);
  return (setPageFlag(cpu, pfn, L.PG_dirty) & L.PG_dirty) === 0;
}

/**
 * set_page_dirty_balance: dirties the page and, if it was newly dirtied, balance_dirty_pages_ratelimited
 * — deferred to the end of the fault (handle_mm_fault calls balanceDirtyPagesRatelimited while it
 * still holds mmap_sem for reading), because the fixed kernel dirties the page under its page lock and
 * balance_dirty_pages locks pages to write them; 2.6.20 calls it right after dropping the pte lock,
 * with no page lock held and mmap_sem still held, which is the same place for every lock.
 * Past `dirtyThreshold` dirty pages it also kicks the background flusher at once (the model's
 * stand-in, older than the throttling, for pdflush being woken by earlier writers).
 */
export function setPageDirtyBalance(cpu: Cpu, pfn: Pfn): void {
  if (!setPageDirty(cpu, pfn)) return;
  cpu.balancePending++;
  if (Atomics.load(cpu.meta, L.G_NR_DIRTY) > cpu.config.daemons.dirtyThreshold) Atomics.store(cpu.meta, L.G_FLUSH_KICK, 1);
}

/**
 * ->page_mkwrite's dirtying (the fixed kernel's write faults, do_wp_page and do_no_page): with the
 * page locked and before its PTE becomes writable, the clean-page oracle, then set_page_dirty_balance.
 */
export function pageMkwriteDirty(cpu: Cpu, pfn: Pfn): void {
  checkCleanPage(cpu, pfn);
  setPageDirtyBalance(cpu, pfn);
}

/**
 * The clean-page oracle at a write fault: a page whose writeback runs page_mkclean (write
 * notification, dirty accounting; config.ts cleanPagesReadOnly says where the premise holds) and that
 * is clean holds what the backing store holds in every block
 * with no write in flight (kernel/disk.ts checks those at their completion): while it is clean every
 * PTE of it is read-only, so nothing can have stored into it. A word that differs was stored through
 * a stale TLB entry, or a writable PTE nobody made read-only, and no dirty bit records it; the fault
 * about to dirty the page would hide the loss until a crash, an eviction or an msync shows it. The
 * eviction oracle's invariant (vmscan.ts checkEvictedPage), checked where the page leaves the clean
 * state. The caller holds the page lock, so no writeback, truncate or write(2) of it is half done.
 */
function checkCleanPage(cpu: Cpu, pfn: Pfn): void {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  const file = pageMapping(cpu, pfn);
  if (file === -1 || !mkcleanBeforeWriteback(cpu, file) || !cleanPagesReadOnly(cpu.config) || pageFlags(cpu, pfn) & L.PG_dirty) return;
  const index = pageIndex(cpu, pfn);
  const n = cpu.layout.buffersPerPage;
  const words = WORDS_PER_PAGE / n;
  const hasBuffers = (pageFlags(cpu, pfn) & L.PG_private) !== 0;
  const d0 = diskWord(cpu, file, index);
  for (let b = 0; b < n; b++) {
    if (hasBuffers && Atomics.load(cpu.meta, cpu.layout.bh(pfn, b)) & L.BH_Async_Write) continue;
    const m = pfn * WORDS_PER_PAGE + b * words;
    const d = d0 + b * words;
    const w = firstDifference(cpu.m.memBytes, m, cpu.m.diskBytes, d, words);
    if (w < 0) continue;
    const now = cpu.mem[m + w]!;
    const onDisk = cpu.m.disk[d + w]!;
    const at = { file, page: index, word: b * words + w };
    cpu.violation('lost-write', storeIntoCleanPageMessage(at, now, onDisk, 'a write fault'), lostWriteDetails(at, now, onDisk, 'write fault', { cpu: cpu.id }));
  }
}

/** ratelimit_pages: the setting, or 2.6.20's writeback_set_ratelimit (frames / (CPUs x 32), 16 to 4 MiB). */
function ratelimitPages(cpu: Cpu): number {
  const set = cpu.config.daemons.ratelimitPages;
  if (set > 0) return set;
  const r = Math.floor(cpu.layout.frames / (cpu.layout.cpus * 32));
  return Math.min(Math.max(r, 16), (4096 * 1024) / 4096);
}

/**
 * get_dirty_limits (2.6.20): [background, dirty] thresholds in pages, as percentages of memory (every
 * frame: vm_total_pages), dirty_ratio lowered to half the share of memory not mapped
 * (NR_FILE_MAPPED + NR_ANON_PAGES: G_NR_MAPPED counts every frame some PTE maps) but not below 5, the background ratio to half
 * the dirty ratio if it is not below it.
 */
function dirtyLimits(cpu: Cpu): [number, number] {
  const d = cpu.config.daemons;
  const total = cpu.layout.frames;
  const unmappedRatio = 100 - Math.floor((Atomics.load(cpu.meta, L.G_NR_MAPPED) * 100) / total);
  let dirtyRatio = d.dirtyRatio;
  if (dirtyRatio > unmappedRatio / 2) dirtyRatio = Math.floor(unmappedRatio / 2);
  if (dirtyRatio < 5) dirtyRatio = 5;
  const backgroundRatio = d.dirtyBackgroundRatio >= dirtyRatio ? Math.floor(dirtyRatio / 2) : d.dirtyBackgroundRatio;
  return [Math.floor((backgroundRatio * total) / 100), Math.floor((dirtyRatio * total) / 100)];
}

/**
 * balance_dirty_pages_ratelimited (2.6.20 mm/page-writeback.c): every ratelimit_pages pages this CPU
 * dirtied (8 while dirty_exceeded), balance_dirty_pages. Called at the end of a write fault that
 * dirtied pages, with mmap_sem held for reading and no other lock.
 */
export function balanceDirtyPagesRatelimited(cpu: Cpu): void {
  const n = cpu.balancePending;
  cpu.balancePending = 0;
  if (cpu.config.daemons.dirtyRatio <= 0) return;
  const limit = Atomics.load(cpu.meta, L.G_DIRTY_EXCEEDED) !== 0 ? 8 : ratelimitPages(cpu);
  cpu.bdpRatelimits += n;
  if (cpu.bdpRatelimits < limit) return;
  cpu.bdpRatelimits = 0;
  balanceDirtyPages(cpu);
}

/** congestion_wait rounds of one balance_dirty_pages call at most (2.6.20 loops until under the limit). */
const BALANCE_ROUNDS = 16;

/**
 * balance_dirty_pages (2.6.20): while dirty pages exceed the dirty threshold, the task writes back up
 * to write_chunk (1.5 x ratelimit_pages) pages of any file itself (writeback_inodes, WB_SYNC_NONE:
 * lock_page, clear_page_dirty_for_io — page_mkclean and its shootdowns — writepage), then waits
 * (congestion_wait: here a preemption point) and looks again; past the background threshold it wakes
 * the flusher. The model bounds the rounds (BALANCE_ROUNDS: a round that writes nothing means every
 * dirty page was being written or dirtied again by others). As 2.6.20 it compares dirty pages plus
 * pages under writeback (NR_WRITEBACK: the asynchronous disk's writes in flight) with the limit.
 */
function balanceDirtyPages(cpu: Cpu): void {
  const meta = cpu.meta;
  const chunk = ratelimitPages(cpu) + (ratelimitPages(cpu) >> 1);
  let written = 0;
  let [background, dirty] = dirtyLimits(cpu);
  let reclaimable = Atomics.load(meta, L.G_NR_DIRTY);
  const over = () => reclaimable + Atomics.load(meta, L.G_NR_WRITEBACK) > dirty;
  for (let round = 0; round < BALANCE_ROUNDS; round++) {
    if (!over()) break;
    if (round === 0) cpu.ctr[CTR.throttled]!++;
    if (Atomics.load(meta, L.G_DIRTY_EXCEEDED) === 0) Atomics.store(meta, L.G_DIRTY_EXCEEDED, 1);
    if (reclaimable > 0) {
      const w = writebackInodes(cpu, chunk - written);
      written += w;
      cpu.ctr[CTR.throttleWritten]! += w;
      [background, dirty] = dirtyLimits(cpu);
      reclaimable = Atomics.load(meta, L.G_NR_DIRTY);
      if (!over() || written >= chunk) break;
    }
    cpu.preempt(); // congestion_wait(WRITE, HZ/10)
    reclaimable = Atomics.load(meta, L.G_NR_DIRTY);
  }
  if (!over() && Atomics.load(meta, L.G_DIRTY_EXCEEDED) !== 0) Atomics.store(meta, L.G_DIRTY_EXCEEDED, 0);
  if (reclaimable > background) Atomics.store(meta, L.G_FLUSH_KICK, 1); // pdflush_operation(background_writeout)
}

/**
 * writeback_inodes for a throttled writer (WB_SYNC_NONE): up to `n` dirty-tagged pages, continuing
 * over the files from where this CPU stopped last time. Returns the pages written.
 */
function writebackInodes(cpu: Cpu, n: number): number {
  const c = cpu.bdpCursor;
  const total = cpu.layout.filePagesTotal;
  let written = 0;
  for (let scanned = 0; written < n && scanned < total; scanned++) {
    if (c.index >= filePages(cpu, c.file as FileId)) {
      c.file = (c.file + 1) % cpu.layout.nfiles;
      c.index = 0;
      continue;
    }
    const file = c.file as FileId;
    const index = c.index++ as PgOff;
    if (Atomics.load(cpu.meta, tagOf(cpu, file, index)) !== 0 && writebackPage(cpu, file, index, S.balance_dirty_pages)) written++;
  }
  return written;
}

/**
 * cancel_dirty_page (2.6.20): drops the dirty state without touching the PTEs. On a mapped page a
 * dirty writable PTE may stay over the now clean page (L.PG_dirty_cancelled marks that for the oracles).
 */
export function cancelDirtyPage(cpu: Cpu, pfn: Pfn): void {
  if (!testClearPageDirty(cpu, pfn)) return;
  cpu.ctr[CTR.dirtyCancelled]!++;
  if (pageMapped(cpu, pfn)) setPageFlag(cpu, pfn, L.PG_dirty_cancelled);
}

/**
 * 2.6.19 clear_page_dirty / test_clear_page_dirty: TestClearPageDirty, then page_mkclean if the
 * mapping accounts dirty pages. Used by the restored try_to_free_buffers bugs.
 */
export function clearPageDirty2619(cpu: Cpu, pfn: Pfn): boolean {
  if (!testClearPageDirty(cpu, pfn)) return false;
  const file = pageMapping(cpu, pfn);
  if (mkcleanBeforeWriteback(cpu, file)) pageMkclean(cpu, pfn);
  return true;
}

/**
 * clear_page_dirty_for_io (after 7658cc289288, "VM: Fix nasty and subtle race in shared mmap'ed page
 * writeback"): page_mkclean first and, if it found a dirty or writable PTE, set_page_dirty again —
 * which re-dirties every buffer, so writepage writes what went through the old PTE — and only then
 * test-and-clear PG_dirty. Enters with the page locked. Returns true if the page was dirty (write it).
 *
 * Bug `clean-before-mkclean` (2.6.19): TestClearPageDirty first, then page_mkclean, and the buffers
 * are not re-dirtied: if the journal already wrote them, writepage writes nothing (rtorrent).
 */
export function clearPageDirtyForIo(cpu: Cpu, pfn: Pfn): boolean {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  const file = pageMapping(cpu, pfn);
  const accounting = mkcleanBeforeWriteback(cpu, file);
  if (hasBug(cpu.config, 'clean-before-mkclean')) {
    if (!testClearPageDirty(cpu, pfn)) return false;
    cpu.racePoint();
    if (accounting) pageMkclean(cpu, pfn);
    return true;
  }
  if (accounting && pageMkclean(cpu, pfn)) setPageDirty(cpu, pfn);
  if (accounting) clearPageFlag(cpu, pfn, L.PG_dirty_cancelled); // no PTE is dirty any more
  cpu.racePoint(); // RACE: PTEs clean; a fault not holding the page lock may map it writable here
  return testClearPageDirty(cpu, pfn);
}

/**
 * Writes one cached page of `file` if it is dirty (the body of write_cache_pages for one page):
 * lock it, check it is still this file's; a page still under writeback (the asynchronous disk) is
 * waited for by a data-integrity sync (`sync`: WB_SYNC_ALL) and skipped otherwise (WB_SYNC_NONE);
 * then clear_page_dirty_for_io, writepage. Returns true if written.
 */
export function writebackPage(cpu: Cpu, file: FileId, index: PgOff, site: number, sync = false): boolean {
  const pfn = findGetPage(cpu, file, index);
  if (pfn === -1) return false;
  lockPage(cpu, pfn, site);
  let written = false;
  if (sync && pageMapping(cpu, pfn) === file) waitOnPageWriteback(cpu, pfn);
  if (pageMapping(cpu, pfn) === file && pageIndex(cpu, pfn) === index && !(pageFlags(cpu, pfn) & L.PG_writeback)) {
    if (clearPageDirtyForIo(cpu, pfn)) {
      // set_page_writeback: PG_writeback before the dirty tag goes, so a WB_SYNC_ALL sync that no
      // longer finds the tag finds the page under writeback and waits for it (filemap_fdatawait)
      testSetPageWriteback(cpu, pfn);
      clearDirtyTag(cpu, file, index, pfn);
      blockWriteFullPage(cpu, pfn, file, index);
      // ext3_ordered_writepage: journal_dirty_data files the page's buffers on the transaction
      if (!cpu.config.daemons.journalEveryPage) setPageFlag(cpu, pfn, L.PG_jbd_data);
      if (cpu.tracer !== null) cpu.tracer.writeback(file, index, pfn);
      written = true;
    } else clearDirtyTag(cpu, file, index, pfn);
  }
  unlockPage(cpu, pfn);
  putPage(cpu, pfn);
  return written;
}

/** set_page_writeback's side: a page no longer dirty loses its dirty tag. */
function clearDirtyTag(cpu: Cpu, file: FileId, index: PgOff, pfn: Pfn): void {
  const tl = treeLock(cpu, file);
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.write_cache_pages);
  if (!(pageFlags(cpu, pfn) & L.PG_dirty)) cpu.meta[tagOf(cpu, file, index)] = 0;
  spinUnlockIrqrestore(cpu, tl, flags);
}

/**
 * do_fsync / filemap_write_and_wait over [first, end) of `file`: writes every page tagged dirty.
 * Returns the number of pages written.
 */
export function syncFileRange(cpu: Cpu, file: FileId, first: PgOff, end: PgOff, site: number): number {
  let n = 0;
  const last = Math.min(end, filePages(cpu, file));
  for (let i = Math.max(0, first) as PgOff; i < last; i++) {
    if (Atomics.load(cpu.meta, tagOf(cpu, file, i)) !== 0 && writebackPage(cpu, file, i, site, true)) n++;
  }
  fdatawait(cpu, file, Math.max(0, first) as PgOff, last as PgOff);
  return n;
}

/**
 * filemap_fdatawait over [first, end): waits for every page under writeback (PG_writeback) — this
 * sync's own writes on the asynchronous disk, and pages the flusher or another sync took the dirty tag
 * of before this sync's pass, so only the wait makes this sync's data-integrity promise hold. (2.6.20
 * finds them by the radix tree's WRITEBACK tag; the model looks up each cached page of the range and
 * reads its PG_writeback, which finds the same pages.)
 */
function fdatawait(cpu: Cpu, file: FileId, first: PgOff, end: PgOff): void {
  const meta = cpu.meta;
  for (let i = first; i < end; i++) {
    const pfn = slotPage(Atomics.load(meta, slotOf(cpu, file, i)));
    if (pfn !== -1 && Atomics.load(meta, cpu.layout.page(pfn) + L.PG_FLAGS) & L.PG_writeback) waitOnPageWriteback(cpu, pfn);
  }
}

/** fsync(file): every dirty page of the file. */
export function doFsync(cpu: Cpu, file: FileId): number {
  cpu.ctr[CTR.msyncs]!++;
  cpu.onSyncRange?.(file, 0, filePages(cpu, file));
  return syncFileRange(cpu, file, 0 as PgOff, filePages(cpu, file) as PgOff, S.do_fsync);
}
