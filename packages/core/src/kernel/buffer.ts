/**
 * Buffer heads (fs/buffer.c): each page-cache page has PAGE_SIZE / blockSize buffers, one Int32 of
 * state each, attached while PG_private is set. The buffer list is guarded by the file's private_lock.
 */
import { hasBug } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { assertHeld, lockBuffer, pageLock, spinLock, spinUnlock, unlockBuffer } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { CTR, type MachineView } from '../machine/machine.js';
import type { FileId, LockIdx, PgOff, Pfn } from '../handles.js';
import { writeBlockToDisk } from './blkdev.js';
import { endPageWriteback, pageHasAsyncWrite, submitWrite } from './disk.js';
import { clearPageFlag, pageFlags, pageMapping, setPageFlag, testClearPageWriteback, testSetPageWriteback } from './mm.js';
import { cancelDirtyPage, clearPageDirty2619, tagNewlyDirty, testSetPageDirtyAndTag } from './page-writeback.js';

/** mapping->private_lock. */
export const privateLock = (view: MachineView, file: FileId): LockIdx => (view.layout.file(file) + L.F_PRIVATE_LOCK) as LockIdx;

/**
 * create_empty_buffers (2.6.20 fs/buffer.c): attaches buffers with `state` to a page, and under
 * private_lock (atomically with __set_page_dirty_buffers' marking) makes them dirty if the page is
 * dirty and uptodate if it is: a page dirtied through a PTE while it had no buffers keeps all its
 * data dirty when write(2) or writepage gives it buffers. Enters with the page locked.
 */
export function createEmptyBuffers(cpu: Cpu, pfn: Pfn, state: number): void {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  const n = cpu.layout.buffersPerPage;
  const file = pageMapping(cpu, pfn);
  const pl = file !== -1 ? privateLock(cpu, file) : -1;
  if (pl !== -1) spinLock(cpu, pl as LockIdx, LockClass.PrivateLock, S.create_empty_buffers);
  const flags = pageFlags(cpu, pfn);
  const inherited = (flags & L.PG_dirty ? L.BH_Dirty : 0) | (flags & L.PG_uptodate ? L.BH_Uptodate : 0);
  for (let i = 0; i < n; i++) Atomics.store(cpu.meta, cpu.layout.bh(pfn, i), state | inherited | L.BH_Mapped);
  setPageFlag(cpu, pfn, L.PG_private);
  if (pl !== -1) spinUnlock(cpu, pl as LockIdx);
}

/**
 * __set_page_dirty_buffers: under private_lock mark every buffer dirty and TestSetPageDirty, then
 * (newly dirty) tag the page dirty in the index under tree_lock — a8e7d49a's order (2.6.28), so
 * create_empty_buffers, which reads PG_dirty under private_lock, sees the page either clean with no
 * set_page_dirty still to come or dirty. Returns true if the page was newly dirtied.
 * Bug `dirty-flag-after-private-lock` (2.6.18-2.6.20): TestSetPageDirty after private_lock is
 * dropped; a caller without the page lock (zap, or a fault with set-page-dirty-unlocked) on a page
 * without buffers can set PG_dirty after create_empty_buffers attached clean ones.
 */
export function setPageDirtyBuffers(cpu: Cpu, pfn: Pfn, file: FileId): boolean {
  const meta = cpu.meta;
  const pl = privateLock(cpu, file);
  spinLock(cpu, pl, LockClass.PrivateLock, S.__set_page_dirty_buffers);
  if (pageFlags(cpu, pfn) & L.PG_private) {
    const n = cpu.layout.buffersPerPage;
    for (let i = 0; i < n; i++) Atomics.or(meta, cpu.layout.bh(pfn, i), L.BH_Dirty);
  }
  if (hasBug(cpu.config, 'dirty-flag-after-private-lock')) {
    spinUnlock(cpu, pl);
    cpu.racePoint(); // RACE: the buffers marked, PG_dirty not yet: create_empty_buffers may attach clean ones here
    return testSetPageDirtyAndTag(cpu, pfn, file);
  }
  const newlyDirty = (setPageFlag(cpu, pfn, L.PG_dirty) & L.PG_dirty) === 0;
  spinUnlock(cpu, pl);
  if (newlyDirty) tagNewlyDirty(cpu, pfn, file);
  return newlyDirty;
}


function bufferBusy(cpu: Cpu, pfn: Pfn): boolean {
  const n = cpu.layout.buffersPerPage;
  // buffer_busy: dirty, or I/O in flight (locked)
  for (let i = 0; i < n; i++) if (Atomics.load(cpu.meta, cpu.layout.bh(pfn, i)) & (L.BH_Dirty | L.BH_Lock)) return true;
  return false;
}

/** drop_buffers: detaches the buffers unless one is busy (dirty). private_lock held. */
function dropBuffers(cpu: Cpu, pfn: Pfn, file: FileId): boolean {
  assertHeld(cpu, privateLock(cpu, file), 'private_lock');
  if (bufferBusy(cpu, pfn)) return false;
  const n = cpu.layout.buffersPerPage;
  for (let i = 0; i < n; i++) Atomics.store(cpu.meta, cpu.layout.bh(pfn, i), 0);
  clearPageFlag(cpu, pfn, L.PG_private);
  return true;
}

/**
 * try_to_free_buffers: drops the buffers of a page not under writeback. Enters with the page locked.
 *
 * 2.6.20 (ecdfc9787fe5): under private_lock, drop the buffers and cancel the page's dirty state
 * without page_mkclean. "If the filesystem writes its buffers by hand (eg ext3) then we can have
 * clean buffers against a dirty page. We clean the page here."
 * Bug `strip-buffers-unlocked` (2.6.19 as released, the seed): clear_page_dirty — which runs
 * page_mkclean — after private_lock is dropped; a set_page_dirty in between is lost.
 * Bug `mkclean-under-private-lock` (before the seed): clear_page_dirty with page_mkclean under
 * private_lock, inverting private_lock -> i_mmap_lock -> pte lock against zap_pte_range.
 */
export function tryToFreeBuffers(cpu: Cpu, pfn: Pfn, file: FileId): boolean {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  if (pageFlags(cpu, pfn) & L.PG_writeback) return false;
  const pl = privateLock(cpu, file);
  spinLock(cpu, pl, LockClass.PrivateLock, S.try_to_free_buffers);
  const ret = dropBuffers(cpu, pfn, file);
  if (hasBug(cpu.config, 'mkclean-under-private-lock')) {
    if (ret) clearPageDirty2619(cpu, pfn);
    spinUnlock(cpu, pl);
  } else if (hasBug(cpu.config, 'strip-buffers-unlocked')) {
    spinUnlock(cpu, pl);
    cpu.racePoint(); // a set_page_dirty here finds no buffers; its dirty bit is then cleared below
    if (ret) clearPageDirty2619(cpu, pfn);
  } else {
    if (ret) cancelDirtyPage(cpu, pfn);
    spinUnlock(cpu, pl);
  }
  return ret;
}

/**
 * block_invalidatepage for the whole page (truncate): each buffer locked (waiting for I/O on it),
 * discarded — dirty bit and mapping cleared — and unlocked; then the buffers are dropped
 * (try_to_release_page). Enters with the page locked and not under writeback.
 */
export function invalidatePageBuffers(cpu: Cpu, pfn: Pfn, file: FileId): void {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  if (!(pageFlags(cpu, pfn) & L.PG_private)) return;
  const n = cpu.layout.buffersPerPage;
  for (let i = 0; i < n; i++) {
    const bh = cpu.layout.bh(pfn, i);
    lockBuffer(cpu, bh);
    Atomics.and(cpu.meta, bh, ~(L.BH_Dirty | L.BH_Mapped | L.BH_Uptodate)); // discard_buffer
    unlockBuffer(cpu, bh);
  }
  tryToFreeBuffers(cpu, pfn, file);
}

/**
 * Writes buffer `i` if it is dirty: lock_buffer, test_clear_buffer_dirty, copy (the I/O), unlock.
 * Returns true if it wrote.
 */
function writeBufferIfDirty(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff, i: number): boolean {
  const bh = cpu.layout.bh(pfn, i);
  lockBuffer(cpu, bh);
  const dirty = (Atomics.and(cpu.meta, bh, ~L.BH_Dirty) & L.BH_Dirty) !== 0;
  if (dirty) writeBlockToDisk(cpu, pfn, file, index, i);
  unlockBuffer(cpu, bh);
  return dirty;
}

/**
 * block_write_full_page (writepage): writes only the page's dirty buffers, clearing their dirty bits,
 * under PG_writeback; a page without buffers gets dirty ones first. Enters with the page locked and
 * PG_dirty just cleared by clear_page_dirty_for_io; returns with the page still locked (its caller,
 * writebackPage, unlocks it).
 */
export function blockWriteFullPage(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff): void {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  if (!(pageFlags(cpu, pfn) & L.PG_private)) createEmptyBuffers(cpu, pfn, L.BH_Dirty | L.BH_Uptodate);
  testSetPageWriteback(cpu, pfn);
  const n = cpu.layout.buffersPerPage;
  cpu.ctr[CTR.pagesWritten]!++;
  cpu.ctr[CTR.cycles]! += cpu.config.costs.pageCopy;
  if (cpu.layout.diskBase < 0) {
    for (let i = 0; i < n; i++) writeBufferIfDirty(cpu, pfn, file, index, i);
    testClearPageWriteback(cpu, pfn);
    return;
  }
  // The asynchronous disk (kernel/disk.ts): each dirty buffer submitted; the page's writeback ends
  // when the last completes — here if none was dirty, or all completed while this loop waited.
  setPageFlag(cpu, pfn, L.PG_io_submitting);
  for (let i = 0; i < n; i++) {
    const bh = cpu.layout.bh(pfn, i);
    lockBuffer(cpu, bh);
    if (Atomics.and(cpu.meta, bh, ~L.BH_Dirty) & L.BH_Dirty) submitWrite(cpu, pfn, file, index, i);
    else unlockBuffer(cpu, bh);
  }
  clearPageFlag(cpu, pfn, L.PG_io_submitting);
  if (!pageHasAsyncWrite(cpu, pfn)) endPageWriteback(cpu, pfn, file);
}

/**
 * The ext3 data=ordered journal commit (journal_submit_data_buffers): writes the dirty buffers of a
 * dirty page to the backing store and clears their dirty bits, without the page lock and without
 * touching PG_dirty. This is what makes the rtorrent corruption reachable with `clean-before-mkclean`.
 */
export function journalWritePage(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff): void {
  const pl = privateLock(cpu, file);
  spinLock(cpu, pl, LockClass.PrivateLock, S.ext3_journal_commit);
  const has = (pageFlags(cpu, pfn) & L.PG_private) !== 0 && pageMapping(cpu, pfn) === file;
  let mask = 0;
  if (has) {
    const n = cpu.layout.buffersPerPage;
    for (let i = 0; i < n; i++) if (Atomics.load(cpu.meta, cpu.layout.bh(pfn, i)) & L.BH_Dirty) mask |= 1 << i;
  }
  spinUnlock(cpu, pl);
  // ll_rw_block(WRITE): each dirty buffer locked, cleaned and written (the caller holds a page
  // reference, so the buffer heads stay; the page itself is not locked).
  for (let i = 0; mask !== 0; i++, mask >>>= 1) if (mask & 1) writeBufferIfDirty(cpu, pfn, file, index, i);
}
