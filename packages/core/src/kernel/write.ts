/**
 * write(2) through the page cache (mm/filemap.c generic_file_buffered_write with ext3's
 * prepare_write / commit_write, fs/buffer.c mark_buffer_dirty), one word at a time.
 */
import { WORDS_PER_PAGE } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import type { FileId, PgOff } from '../handles.js';
import { lockPage, unlockPage } from './locking/locks.js';
import { S } from './locking/lockorder.js';
import { createEmptyBuffers } from './buffer.js';
import { readCachePage } from './filemap.js';
import { pageFlags, pageMapping, putPage, setPageFlag } from './mm.js';
import { testSetPageDirtyAndTag } from './page-writeback.js';

/**
 * The page-cache part of generic_file_buffered_write for one word (write(2) on ext3 data=ordered):
 * read and lock the page, attach buffers if it has none (block_prepare_write), copy the word in, then
 * commit_write — mark_buffer_dirty of the buffer holding it, which dirties and tags the page if that
 * buffer was clean (__set_page_dirty_nobuffers), and ext3_ordered_commit_write filing the page's
 * buffers on the transaction. Returns true if the page was newly dirtied.
 */
export function bufferedWriteWord(cpu: Cpu, file: FileId, index: PgOff, word: number, value: number): boolean {
  const pfn = readCachePage(cpu, file, index);
  lockPage(cpu, pfn, S.generic_file_buffered_write);
  let dirtied = false;
  if (pageMapping(cpu, pfn) === file) {
    if (!(pageFlags(cpu, pfn) & L.PG_private)) createEmptyBuffers(cpu, pfn, L.BH_Uptodate);
    cpu.mem[pfn * WORDS_PER_PAGE + word] = value;
    const bh = cpu.layout.bh(pfn, Math.floor(word / (WORDS_PER_PAGE / cpu.layout.buffersPerPage)));
    if (!(Atomics.or(cpu.meta, bh, L.BH_Dirty | L.BH_Uptodate) & L.BH_Dirty)) dirtied = testSetPageDirtyAndTag(cpu, pfn, file);
    if (!cpu.config.daemons.journalEveryPage) setPageFlag(cpu, pfn, L.PG_jbd_data);
  }
  unlockPage(cpu, pfn);
  putPage(cpu, pfn);
  return dirtied;
}
