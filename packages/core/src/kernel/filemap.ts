/**
 * The page cache (mm/filemap.c): one index per file, under the file's tree_lock, mapping file pages
 * to frames, with a dirty tag per page (the radix tree's PAGECACHE_TAG_DIRTY). Slot values: frame + 1,
 * 0 for never cached, -1 for evicted (a shadow entry, so a later read counts as a refault).
 */
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { adoptPageLock, assertHeld, lockPage, pageLock, spinLockIrqsave, spinUnlockIrqrestore, treeLock, unlockPage } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { CTR, type MachineView } from '../machine/machine.js';
import type { FileId, LockIdx, PgOff, Pfn } from '../handles.js';
import { readPageFromDisk } from './blkdev.js';
import { createEmptyBuffers } from './buffer.js';
import { allocFrame, getPage, OutOfMemory, pageFlags, pageIndex, pageMapping, putPage, setPageFlag } from './mm.js';

/** Meta index of the page-cache slot of (file, index). */
export const slotOf = (view: MachineView, file: FileId, index: PgOff): number => view.layout.pcacheBase + view.meta[view.layout.file(file) + L.F_BASE]! + index;
/** Meta index of the dirty tag of (file, index). */
export const tagOf = (view: MachineView, file: FileId, index: PgOff): number => view.layout.tagBase + view.meta[view.layout.file(file) + L.F_BASE]! + index;
export const filePages = (view: MachineView, file: FileId): number => view.meta[view.layout.file(file) + L.F_PAGES]!;
/** i_size_read, in pages. */
export const fileSize = (view: MachineView, file: FileId): number => Atomics.load(view.meta, view.layout.fileExt(file) + L.FX_SIZE);
/** mapping->truncate_count. */
export const truncateCount = (view: MachineView, file: FileId): number => Atomics.load(view.meta, view.layout.fileExt(file) + L.FX_TRUNCATE_COUNT);
/** The frame a page-cache slot value names, or -1 (never cached, or evicted). */
export const slotPage = (v: number): Pfn | -1 => (v > 0 ? ((v - 1) as Pfn) : -1);

/** find_get_page: the cached frame of (file, index) with a reference taken, or -1. */
export function findGetPage(cpu: Cpu, file: FileId, index: PgOff): Pfn | -1 {
  const tl = treeLock(cpu, file);
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.find_get_page);
  const pfn = slotPage(cpu.meta[slotOf(cpu, file, index)]!);
  if (pfn !== -1) getPage(cpu, pfn);
  spinUnlockIrqrestore(cpu, tl, flags);
  return pfn;
}

/**
 * add_to_page_cache: inserts a new, locked frame at (file, index). Returns false if another CPU
 * cached the page first. On success the page cache holds its own reference.
 */
function addToPageCache(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff): { added: boolean; refault: boolean } {
  const tl = treeLock(cpu, file);
  const meta = cpu.meta;
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.add_to_page_cache);
  const slot = slotOf(cpu, file, index);
  const v = meta[slot]!;
  if (v > 0) {
    spinUnlockIrqrestore(cpu, tl, flags);
    return { added: false, refault: false };
  }
  const p = cpu.layout.page(pfn);
  setPageFlag(cpu, pfn, L.PG_locked);
  Atomics.store(meta, p + L.PG_MAPPING, file + 1);
  Atomics.store(meta, p + L.PG_INDEX, index);
  getPage(cpu, pfn);
  meta[slot] = pfn + 1;
  meta[tagOf(cpu, file, index)] = 0;
  Atomics.add(meta, cpu.layout.file(file) + L.F_NRPAGES, 1);
  spinUnlockIrqrestore(cpu, tl, flags);
  return { added: true, refault: v < 0 };
}

/**
 * Reads (file, index) into the page cache if absent (page_cache_read + readpage), and returns the
 * frame, uptodate, with a reference for the caller.
 */
export function readCachePage(cpu: Cpu, file: FileId, index: PgOff): Pfn {
  for (;;) {
    let pfn = findGetPage(cpu, file, index);
    if (pfn !== -1) {
      if (!(pageFlags(cpu, pfn) & L.PG_uptodate)) {
        // Another CPU is reading it in: wait for the page lock (wait_on_page_locked).
        lockPage(cpu, pfn, S.filemap_nopage);
        unlockPage(cpu, pfn);
        if (!(pageFlags(cpu, pfn) & L.PG_uptodate) || pageMapping(cpu, pfn) !== file) {
          putPage(cpu, pfn);
          continue;
        }
      }
      return pfn;
    }
    pfn = allocFrame(cpu, L.FrameKind.PageCache);
    if (pfn === -1) throw new OutOfMemory();
    const r = addToPageCache(cpu, pfn, file, index);
    if (!r.added) {
      putPage(cpu, pfn);
      continue;
    }
    // readpage (mpage / block_read_full_page): fill from the backing store, attach clean buffers.
    // The page is locked (add_to_page_cache locked it) until it is uptodate.
    adoptPageLock(cpu, pfn, S.add_to_page_cache);
    readPageFromDisk(cpu, pfn, file, index);
    // (DaemonConfig.readpageBuffers: an amplifier; ext3's mpage_readpage attaches none here)
    if (cpu.config.daemons.readpageBuffers) createEmptyBuffers(cpu, pfn, L.BH_Uptodate | L.BH_Mapped);
    setPageFlag(cpu, pfn, L.PG_uptodate);
    cpu.ctr[CTR.pageReads]!++;
    if (r.refault) cpu.ctr[CTR.refaults]!++;
    unlockPage(cpu, pfn);
    return pfn;
  }
}

/**
 * remove_from_page_cache for reclaim (__remove_mapping): under tree_lock, only if nobody but the page
 * cache and the caller holds a reference (page_count == 2). Leaves a shadow entry. Enters with the
 * page locked.
 */
export function removeFromPageCache(cpu: Cpu, pfn: Pfn, check?: (cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff) => void): boolean {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  const meta = cpu.meta;
  const p = cpu.layout.page(pfn);
  const file = pageMapping(cpu, pfn);
  if (file === -1) throw new Error(`remove_from_page_cache: frame ${pfn} is not in the page cache`);
  const index = pageIndex(cpu, pfn);
  const tl = treeLock(cpu, file);
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.remove_from_page_cache);
  if (Atomics.load(meta, p + L.PG_COUNT) !== 2 || pageFlags(cpu, pfn) & L.PG_dirty) {
    spinUnlockIrqrestore(cpu, tl, flags);
    return false;
  }
  check?.(cpu, pfn, file, index);
  deleteFromPageCache(cpu, pfn, file, index, -1);
  spinUnlockIrqrestore(cpu, tl, flags);
  putPage(cpu, pfn); // the page cache's reference
  return true;
}

/**
 * __remove_from_page_cache, tree_lock held: the page leaves the index (its slot becomes `slot`: -1 a
 * shadow entry, whose next read counts as a refault; 0 none) and the file.
 */
function deleteFromPageCache(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff, slot: number): void {
  const meta = cpu.meta;
  meta[slotOf(cpu, file, index)] = slot;
  meta[tagOf(cpu, file, index)] = 0;
  Atomics.store(meta, cpu.layout.page(pfn) + L.PG_MAPPING, 0);
  Atomics.sub(meta, cpu.layout.file(file) + L.F_NRPAGES, 1);
}

/**
 * remove_from_page_cache for truncate (truncate_complete_page): unconditionally, leaving no shadow
 * entry (the page is gone from the file, not evicted). Enters with the page locked and clean; drops the
 * page cache's reference.
 */
export function truncateFromPageCache(cpu: Cpu, pfn: Pfn): void {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  const file = pageMapping(cpu, pfn);
  if (file === -1) return;
  const tl = treeLock(cpu, file);
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.remove_from_page_cache);
  deleteFromPageCache(cpu, pfn, file, pageIndex(cpu, pfn), 0);
  spinUnlockIrqrestore(cpu, tl, flags);
  putPage(cpu, pfn);
}

/** Tags (file, index) dirty in the index if the page is still cached there. Called with tree_lock held. */
export function tagDirtyLocked(cpu: Cpu, file: FileId, index: PgOff, pfn: Pfn): void {
  assertHeld(cpu, treeLock(cpu, file), 'tree_lock');
  if (cpu.meta[slotOf(cpu, file, index)] === pfn + 1) {
    cpu.meta[tagOf(cpu, file, index)] = 1;
    markInodeDirty(cpu, file);
  }
}

/** Simulated time in centiseconds (jiffies at HZ=100) on `cpu`'s clock, + 1 so that 0 means none. */
export const centisecs = (cpu: Cpu): number => Math.floor(cpu.ctr[CTR.cycles]! / (cpu.config.costs.ghz * 1e7)) + 1;

/** __mark_inode_dirty: a file that had no dirty page gets its dirtied_when (wb_kupdate's age). */
export function markInodeDirty(cpu: Cpu, file: FileId): void {
  Atomics.compareExchange(cpu.meta, cpu.layout.fileExt(file) + L.FX_DIRTIED_WHEN, 0, centisecs(cpu));
}
