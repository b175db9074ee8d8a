/**
 * The block device under the files: each file's pages have a home in the backing store ("the disk",
 * the machine's disk buffer), and the I/O of a page read (readpage) or of one buffer's write is a copy
 * between a frame and that home. It knows nothing of the page cache or of buffer heads, so both
 * fs/buffer.c's writes and mm/filemap.c's reads stand on it.
 */
import { WORDS_PER_PAGE } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { CTR, type MachineView } from '../machine/machine.js';
import type { FileId, PgOff, Pfn } from '../handles.js';

/** First word of the backing-store block of file page `index`. */
export const diskWord = (view: MachineView, file: FileId, index: PgOff): number => (view.meta[view.layout.file(file) + L.F_BASE]! + index) * WORDS_PER_PAGE;

/** Reads file page `index` from the backing store into frame `pfn` (the I/O of readpage). */
export function readPageFromDisk(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff): void {
  const src = diskWord(cpu, file, index);
  cpu.mem.set(cpu.m.disk.subarray(src, src + WORDS_PER_PAGE), pfn * WORDS_PER_PAGE);
  cpu.ctr[CTR.cycles]! += cpu.config.costs.pageCopy;
}

/** Writes block `i` of frame `pfn` (file page `index`) to the backing store (the I/O of one buffer head). */
export function writeBlockToDisk(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff, i: number): void {
  const words = WORDS_PER_PAGE / cpu.layout.buffersPerPage;
  const src = pfn * WORDS_PER_PAGE + i * words;
  cpu.m.disk.set(cpu.mem.subarray(src, src + words), diskWord(cpu, file, index) + i * words);
  cpu.ctr[CTR.bufferWrites]!++;
}
