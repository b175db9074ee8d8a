/**
 * ftruncate (2.6.20 mm/truncate.c, mm/memory.c vmtruncate and unmap_mapping_range): i_size first, then
 * on a shrink every PTE of the pages past the new end unmapped in every mapping of the file (private
 * copies too: even_cows), then those pages taken out of the page cache — locked, writeback waited for,
 * buffers invalidated, dirty state cancelled (cancel_dirty_page's other caller), removed — and their
 * blocks freed (the backing store reads zeros there again, as a hole). A grow only sets i_size; the new
 * pages read as zeros. A fault that looked a page up before the truncate retries (truncate_count), and
 * an access past i_size gets SIGBUS. The caller (sysFtruncate, do_truncate) holds the file's i_mutex,
 * as write(2) does, so no write(2) of the file runs meanwhile. Not modelled: the partial page at the
 * new end (sizes are whole pages).
 */
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import type { FileId, PgOff } from '../handles.js';
import { lockPage, spinLock, spinUnlock, unlockPage, waitOnPageWriteback } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { diskWord } from './blkdev.js';
import { invalidatePageBuffers } from './buffer.js';
import { filePages, fileSize, findGetPage, truncateFromPageCache } from './filemap.js';
import { zapPteRange } from './memory.js';
import { pageIndex, pageMapping, putPage } from './mm.js';
import { cancelDirtyPage } from './page-writeback.js';
import { forEachVmaInRange, iMmapLock } from './rmap.js';
import { SyscallError } from './mmap.js';

/** vmtruncate: sets the size of `file` to `pages` pages. */
export function doTruncate(cpu: Cpu, file: FileId, pages: number): void {
  if (pages > filePages(cpu, file)) throw new SyscallError('EFBIG', `${pages} pages is more than the file's room of ${filePages(cpu, file)} (smpsim's files do not grow past it)`);
  const old = fileSize(cpu, file);
  Atomics.store(cpu.meta, cpu.layout.fileExt(file) + L.FX_SIZE, pages); // i_size_write
  if (pages >= old) return;
  unmapMappingRange(cpu, file, pages as PgOff);
  truncateInodePages(cpu, file, pages as PgOff);
  // ext3_truncate frees the blocks past the end: the file has a hole there now
  cpu.m.disk.fill(0, diskWord(cpu, file, pages as PgOff), diskWord(cpu, file, old as PgOff));
}

/**
 * unmap_mapping_range(mapping, from, to end, even_cows = 1): under i_mmap_lock, truncate_count bumped
 * (so a racing fault retries), every VMA of the file zapped from page `from` of the file on.
 */
export function unmapMappingRange(cpu: Cpu, file: FileId, from: PgOff): void {
  const il = iMmapLock(cpu, file);
  spinLock(cpu, il, LockClass.IMmapLock, S.unmap_mapping_range);
  Atomics.add(cpu.meta, cpu.layout.fileExt(file) + L.FX_TRUNCATE_COUNT, 1);
  forEachVmaInRange(cpu, file, from, filePages(cpu, file) as PgOff, (v, a, b) => zapPteRange(cpu, v, a, b, true));
  spinUnlock(cpu, il);
}

/** truncate_inode_pages(mapping, from): every cached page from `from` on leaves the file. */
function truncateInodePages(cpu: Cpu, file: FileId, from: PgOff): void {
  const room = filePages(cpu, file);
  for (let i = from; i < room; i++) {
    const pfn = findGetPage(cpu, file, i as PgOff);
    if (pfn === -1) continue;
    lockPage(cpu, pfn, S.truncate_inode_pages);
    if (pageMapping(cpu, pfn) === file && pageIndex(cpu, pfn) === i) {
      waitOnPageWriteback(cpu, pfn);
      invalidatePageBuffers(cpu, pfn, file); // do_invalidatepage
      cancelDirtyPage(cpu, pfn);
      truncateFromPageCache(cpu, pfn);
    }
    unlockPage(cpu, pfn);
    putPage(cpu, pfn);
  }
}
