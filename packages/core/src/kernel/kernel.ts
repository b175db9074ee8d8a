/**
 * The kernel's entry points as the CPUs see them: the page-fault handler and the system calls,
 * each entered in kernel mode (C_IN_KERNEL, so checkpoints and kernel threads never start inside a
 * half-done path), and the end-of-run sync that makes the backing store complete.
 */
import type { Cpu } from '../hw/cpu.js';
import type { KernelEntry } from '../hw/entry.js';
import * as L from '../machine/layout.js';
import { CTR } from '../machine/machine.js';
import { S } from './locking/lockorder.js';
import { mutexLockIMutex, mutexUnlockIMutex } from './locking/locks.js';
import { asKernelThread, installDaemons } from './daemons.js';
import { handleMmFault } from './memory.js';
import { putPage, vmaEnd, vmaFlags, vmaSlot, vmaStart } from './mm.js';
import type { FileId, MmId, PgOff } from '../handles.js';
import { WORDS_PER_PAGE } from '../config.js';
import { filePages, fileSize, readCachePage } from './filemap.js';
import { doMmap, doMprotect, doMsync, doMunmap, harvestDirty, type SpecialMapping, SyscallError } from './mmap.js';
import { balanceDirtyPagesRatelimited, doFsync } from './page-writeback.js';
import { bufferedWriteWord } from './write.js';
import { doTruncate } from './truncate.js';
import { diskInterrupt } from './disk.js';
import { smpInvalidateInterrupt, switchMm } from './smp.js';
import { reclaimPages } from './vmscan.js';

/** The kernel's vectors: do_page_fault, and the flush IPI (the only interrupt this machine sends), in hardirq context. */
export class Kernel implements KernelEntry {
  pageFault(cpu: Cpu, addr: number, errcode: number): void {
    handleMmFault(cpu, addr, errcode);
  }

  interrupt(cpu: Cpu): void {
    cpu.hardirq(takeInterrupts);
  }
}

/** The vectors pending on this CPU: the flush IPI, the disk's completion interrupt (kernel/disk.ts). */
function takeInterrupts(cpu: Cpu): void {
  const pending = Atomics.load(cpu.meta, cpu.base + L.C_IPI_PENDING) & cpu.dueVectors;
  if (pending & ~L.DISK_PENDING) smpInvalidateInterrupt(cpu);
  if (pending & L.DISK_PENDING) diskInterrupt(cpu);
}

const KERNEL = new Kernel();

/** Boots `cpu` into its task: the kernel entry, the task's mm, and the kernel threads it hosts. */
export function bootCpu(cpu: Cpu, mm: number, daemons = true): void {
  cpu.kernel = KERNEL;
  switchMm(cpu, mm);
  Atomics.store(cpu.meta, cpu.base + L.C_STATE, L.CpuState.Running);
  if (daemons) installDaemons(cpu);
}

/** A system call: its entry and exit cost `syscall` cycles, and its body runs in kernel mode. */
const syscall = <T>(cpu: Cpu, fn: () => T): T => {
  cpu.ctr[CTR.cycles]! += cpu.config.costs.syscall;
  return cpu.kernelMode(fn);
};

export const sysMmap = (cpu: Cpu, file: number, pgoff: number, pages: number, prot: number, flags: number, special?: SpecialMapping, addr = 0) =>
  syscall(cpu, () => doMmap(cpu, file, pgoff, pages, prot, flags, special, addr));
export const sysMunmap = (cpu: Cpu, addr: number, pages: number) => syscall(cpu, () => doMunmap(cpu, addr, pages));
export const sysMprotect = (cpu: Cpu, addr: number, pages: number, prot: number) => syscall(cpu, () => doMprotect(cpu, addr, pages, prot));
export const sysMsync = (cpu: Cpu, addr: number, pages: number, flags: number) => syscall(cpu, () => doMsync(cpu, addr, pages, flags));
export const sysFsync = (cpu: Cpu, file: number) => syscall(cpu, () => doFsync(cpu, file as FileId));
/**
 * pread(2) of one 32-bit word of `file` (2.6.20 do_generic_mapping_read: find_get_page, else
 * page_cache_read + readpage; copy out; page_cache_release). Past i_size: 0 bytes read, returned as
 * null.
 */
export const sysPread = (cpu: Cpu, file: number, page: number, word: number): number | null =>
  syscall(cpu, () => {
    if (word < 0 || word >= WORDS_PER_PAGE) throw new SyscallError('EINVAL', `word ${word} is not in a page`);
    cpu.ctr[CTR.preads]!++;
    if (page < 0 || page >= fileSize(cpu, file as FileId)) return null;
    const pfn = readCachePage(cpu, file as FileId, page as PgOff);
    const v = cpu.mem[pfn * WORDS_PER_PAGE + word]!;
    putPage(cpu, pfn);
    return v;
  });
/**
 * pwrite(2) of one 32-bit word of `file`, within its room (a write past i_size extends it), as 2.6.20's
 * generic_file_buffered_write does it on ext3 data=ordered: the page found or read and locked
 * (__grab_cache_page; the model reads the whole page where block_prepare_write reads the partial
 * block), buffers attached if it has none (create_empty_buffers), the word copied in, then
 * commit_write: mark_buffer_dirty of the one buffer holding the word (which dirties and tags the page
 * if the buffer was clean: __set_page_dirty_nobuffers) and the page's buffers filed on the journal's
 * transaction (ext3_ordered_commit_write); unlock, release, balance_dirty_pages_ratelimited. Not yet
 * seen by the owned-word oracle, so no workload calls it (smpsim difftest does).
 */
export const sysPwrite = (cpu: Cpu, file: number, page: number, word: number, value: number): void =>
  syscall(cpu, () => {
    if (word < 0 || word >= WORDS_PER_PAGE) throw new SyscallError('EINVAL', `word ${word} is not in a page`);
    if (page < 0 || page >= filePages(cpu, file as FileId)) throw new SyscallError('EFBIG', `page ${page} is past the file's room of ${filePages(cpu, file as FileId)} pages (smpsim's files do not grow past it)`);
    cpu.ctr[CTR.pwrites]!++;
    // generic_file_aio_write: the write, i_size and balance_dirty_pages_ratelimited under i_mutex
    mutexLockIMutex(cpu, file as FileId, S.generic_file_aio_write);
    try {
      if (bufferedWriteWord(cpu, file as FileId, page as PgOff, word, value)) cpu.balancePending++;
      // generic_commit_write: a write past the end extends i_size
      if (page >= fileSize(cpu, file as FileId)) Atomics.store(cpu.meta, cpu.layout.fileExt(file) + L.FX_SIZE, page + 1);
      if (cpu.balancePending !== 0) balanceDirtyPagesRatelimited(cpu);
    } finally {
      mutexUnlockIMutex(cpu, file as FileId);
    }
  });
/** ftruncate(2) to `pages` pages (within the file's room): kernel/truncate.ts. */
export const sysFtruncate = (cpu: Cpu, file: number, pages: number): void =>
  syscall(cpu, () => {
    cpu.ctr[CTR.truncates]!++;
    // do_truncate: under i_mutex (so no write(2) of the file runs meanwhile)
    mutexLockIMutex(cpu, file as FileId, S.do_truncate);
    try {
      doTruncate(cpu, file as FileId, pages);
    } finally {
      mutexUnlockIMutex(cpu, file as FileId);
    }
  });
/** echo 1 > /proc/sys/vm/drop_caches: evicts every clean, evictable page-cache page it can. */
export const sysDropCaches = (cpu: Cpu) => syscall(cpu, () => reclaimPages(cpu, cpu.layout.frames, false));

/**
 * The end-of-run sync, on one CPU while the others idle. With write notification, first an fsync of
 * every file as 2.6.19+ do_fsync does it (no PTE is looked at), then `cpu.afterPlainFsync` (the
 * fsync-durability check, set by the CPU worker for owned-word workloads). Then the PTE dirty bits of
 * every shared mapping of every process are moved into the pages (what munmap or exit would do) and
 * every file is written back. Afterwards the backing store holds everything the CPUs wrote, unless
 * the kernel lost a write.
 */
export function finalSync(cpu: Cpu): void {
  asKernelThread(cpu, () => {
    const lay = cpu.layout;
    if (cpu.config.kernel.writeNotify && cpu.afterPlainFsync !== null) {
      for (let f = 0 as FileId; f < lay.nfiles; f++) doFsync(cpu, f);
      cpu.afterPlainFsync(cpu);
    }
    for (let mm = 0 as MmId; mm < lay.procs; mm++) {
      for (let s = 0; s < lay.vmasPerMm; s++) {
        const v = vmaSlot(cpu, mm, s);
        if (vmaFlags(cpu, v)) harvestDirty(cpu, mm, vmaStart(cpu, v), vmaEnd(cpu, v), S.do_fsync);
      }
    }
    for (let f = 0 as FileId; f < lay.nfiles; f++) doFsync(cpu, f);
  });
}
