/**
 * Dirty state and writeback (mm/page-writeback.c, mm/filemap.c): set_page_dirty, the order of
 * clear_page_dirty_for_io, writing one page, fsync/msync of a file, and dirty accounting.
 */
import { hasBug } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { assertHeld, lockPage, pageLock, spinLockIrqsave, spinUnlockIrqrestore, unlockPage, waitOnPageWriteback } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { CTR } from '../machine/machine.js';
import type { FileId, PgOff, Pfn } from '../handles.js';
import { blockWriteFullPage, setPageDirtyBuffers } from './buffer.js';
import { findGetPage, filePages, slotOf, slotPage, tagDirtyLocked, tagOf, treeLock } from './filemap.js';
import { clearPageFlag, mkcleanBeforeWriteback, pageFlags, pageIndex, pageMapped, pageMapping, putPage, setPageFlag } from './mm.js';
import { pageMkclean } from './rmap.js';

function accountDirtied(cpu: Cpu, file: FileId, delta: number): void {
  Atomics.add(cpu.meta, L.G_NR_DIRTY, delta);
  Atomics.add(cpu.meta, cpu.layout.file(file) + L.F_NRDIRTY, delta);
}

/**
 * TestSetPageDirty, then (if newly dirty) account it and tag it dirty in the index under tree_lock:
 * the tail of 2.6.20's __set_page_dirty_buffers, which later kernels split out as __set_page_dirty
 * in fs/buffer.c. It stays here: in buffer.ts it would need filemap.ts's index (treeLock,
 * tagDirtyLocked), a new buffer.ts <-> filemap.ts import cycle.
 */
export function testSetPageDirtyAndTag(cpu: Cpu, pfn: Pfn, file: FileId): boolean {
  if (setPageFlag(cpu, pfn, L.PG_dirty) & L.PG_dirty) return false;
  cpu.racePoint(); // RACE: PG_dirty set, the radix-tree dirty tag not yet
  const tl = treeLock(cpu, file);
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.__set_page_dirty_buffers);
  if (pageMapping(cpu, pfn) === file) {
    accountDirtied(cpu, file, 1);
    tagDirtyLocked(cpu, file, pageIndex(cpu, pfn), pfn);
  }
  spinUnlockIrqrestore(cpu, tl, flags);
  return true;
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
 * set_page_dirty_balance: dirties the page and, past the dirty threshold, asks the background
 * flusher to run (balance_dirty_pages_ratelimited).
 */
export function setPageDirtyBalance(cpu: Cpu, pfn: Pfn): void {
  if (setPageDirty(cpu, pfn) && Atomics.load(cpu.meta, L.G_NR_DIRTY) > cpu.config.daemons.dirtyThreshold) {
    Atomics.store(cpu.meta, L.G_FLUSH_KICK, 1);
  }
}

/**
 * cancel_dirty_page (2.6.20): drops the dirty state without touching the PTEs. On a mapped page a
 * dirty writable PTE may stay over the now clean page (L.PG_dirty_cancelled marks that for the oracles).
 */
export function cancelDirtyPage(cpu: Cpu, pfn: Pfn): void {
  if (testClearPageDirty(cpu, pfn) && pageMapped(cpu, pfn)) setPageFlag(cpu, pfn, L.PG_dirty_cancelled);
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
 * lock it, check it is still this file's, clear_page_dirty_for_io, writepage. Returns true if written.
 */
export function writebackPage(cpu: Cpu, file: FileId, index: PgOff, site: number): boolean {
  const pfn = findGetPage(cpu, file, index);
  if (pfn === -1) return false;
  lockPage(cpu, pfn, site);
  let written = false;
  if (pageMapping(cpu, pfn) === file && pageIndex(cpu, pfn) === index) {
    if (clearPageDirtyForIo(cpu, pfn)) {
      // set_page_writeback: PG_writeback before the dirty tag goes, so a WB_SYNC_ALL sync that no
      // longer finds the tag finds the page under writeback and waits for it (filemap_fdatawait)
      setPageFlag(cpu, pfn, L.PG_writeback);
      clearDirtyTag(cpu, file, index, pfn);
      blockWriteFullPage(cpu, pfn, file, index);
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
    if (Atomics.load(cpu.meta, tagOf(cpu, file, i)) !== 0 && writebackPage(cpu, file, i, site)) n++;
  }
  fdatawait(cpu, file, Math.max(0, first) as PgOff, last as PgOff);
  return n;
}

/**
 * filemap_fdatawait over [first, end): waits for every page another CPU is writing (PG_writeback) —
 * the flusher or another sync took its dirty tag before this sync's pass, so only the wait makes
 * this sync's data-integrity promise hold. (2.6.20 finds them by the WRITEBACK tag; here writeback
 * is synchronous under the page lock, so PG_writeback of the cached page says the same.)
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
