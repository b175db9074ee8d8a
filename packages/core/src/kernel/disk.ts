/**
 * The asynchronous disk (DaemonConfig.diskLatency > 0): 2.6.20's submit_bh and its completion.
 *
 * __block_write_full_page locks each dirty buffer, clears its dirty bit and submits it (submitWrite):
 * the block's data is taken at submission (the DMA may read it any time before completion; taking it
 * first is the case where later stores are not in the write) into an entry of the submitting CPU's
 * queue, the buffer stays locked and marked BH_Async_Write, and the disk interrupt is raised on that
 * CPU (DISK_PENDING in C_IPI_PENDING, so every scheduler sees an interrupt pending). The CPU takes it
 * at its interrupt polls (preemption points and wait steps, interrupts enabled), in hardirq context
 * (diskInterrupt): each poll advances its disk clock, and an entry completes once `diskLatency` polls
 * have passed since its submission — end_buffer_async_write: the data reaches the backing store, the
 * buffer is unlocked; for the page's last buffer in flight, end_page_writeback: PG_writeback cleared
 * under tree_lock (taken with interrupts saved, in hardirq) and its waiters woken.
 *
 * Only the submitting CPU completes its queue (the disk's interrupt is routed to it), so each queue has
 * one producer and one consumer. A stop with I/O in flight leaves exactly the completed writes on the
 * backing store. In timed mode the disk's interrupt is due at every poll, like the other modes' (an
 * IPI waits for its arrival time; TimedWaiter.interruptDue), so its latency is counted in polls there
 * too — a poll every TIMED_INTERVAL accesses instead of every PREEMPT_INTERVAL — and a CPU blocked with
 * it pending is woken to take it itself (no proxy runs a completion).
 */
import { cleanPagesReadOnly, WORDS_PER_PAGE } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { CTR } from '../machine/machine.js';
import type { FileId, PgOff, Pfn } from '../handles.js';
import { spinLockIrqsave, spinUnlockIrqrestore, treeLock, unlockBuffer, wakeUpPage } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { diskWord } from './blkdev.js';
import { mkcleanBeforeWriteback, testClearPageWriteback } from './mm.js';
import { firstDifference, lostWriteDetails, storeIntoCleanPageMessage } from '../oracles/lost-write.js';

/** The words of one block. */
const blockWords = (cpu: Cpu): number => WORDS_PER_PAGE / cpu.layout.buffersPerPage;

/**
 * submit_bh(WRITE) of buffer `i` of frame `pfn` (file page `index`), which the caller has locked and
 * cleaned: its data is queued on this CPU's disk. A full queue first completes its oldest entries
 * (the submitter waits for the disk, as a full request queue makes it).
 */
export function submitWrite(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff, i: number): void {
  const meta = cpu.meta;
  const lay = cpu.layout;
  const q = lay.diskQueue(cpu.id);
  while (meta[q + L.DQ_TAIL]! - meta[q + L.DQ_HEAD]! >= L.DISK_QUEUE) cpu.hardirq(completeOldest);
  const tail = meta[q + L.DQ_TAIL]!;
  const slot = tail % L.DISK_QUEUE;
  const e = lay.diskEntry(cpu.id, slot);
  const bh = lay.bh(pfn, i);
  meta[e + L.DQE_BH] = bh;
  meta[e + L.DQE_PFN] = pfn;
  meta[e + L.DQE_FILE] = file;
  meta[e + L.DQE_INDEX] = index;
  meta[e + L.DQE_BLOCK] = i;
  meta[e + L.DQE_DUE] = meta[q + L.DQ_TICK]! + cpu.config.daemons.diskLatency;
  const words = blockWords(cpu);
  const src = pfn * WORDS_PER_PAGE + i * words;
  meta.set(cpu.mem.subarray(src, src + words), lay.diskData(cpu.id, slot));
  Atomics.or(meta, bh, L.BH_Async_Write);
  meta[q + L.DQ_TAIL] = tail + 1;
  const depth = tail + 1 - meta[q + L.DQ_HEAD]!;
  cpu.ctr[CTR.ioSubmitted]!++;
  if (depth > cpu.ctr[CTR.ioInflightMax]!) cpu.ctr[CTR.ioInflightMax] = depth;
  if (cpu.tracer !== null) cpu.tracer.ioSubmit(file, index, i, depth);
  Atomics.or(meta, cpu.base + L.C_IPI_PENDING, L.DISK_PENDING);
}

/**
 * Takes this CPU's disk interrupt (at its interrupt polls, interrupts enabled) until its queue is
 * empty: every write it has in flight completes, as its next polls would complete them.
 */
export function drainDisk(cpu: Cpu): void {
  while (cpu.meta[cpu.base + L.C_IRQ] !== 0 && Atomics.load(cpu.meta, cpu.base + L.C_IPI_PENDING) & L.DISK_PENDING) {
    cpu.pollInterrupts();
    cpu.checkStop();
  }
}

/** The disk interrupt (hardirq): the disk clock advances, and every entry due completes, in order. */
export function diskInterrupt(cpu: Cpu): void {
  const meta = cpu.meta;
  const q = cpu.layout.diskQueue(cpu.id);
  const tick = ++meta[q + L.DQ_TICK]!;
  while (meta[q + L.DQ_HEAD]! < meta[q + L.DQ_TAIL]!) {
    const e = cpu.layout.diskEntry(cpu.id, meta[q + L.DQ_HEAD]! % L.DISK_QUEUE);
    if (meta[e + L.DQE_DUE]! > tick) break;
    completeOldest(cpu);
  }
}

/** end_buffer_async_write for the oldest entry of this CPU's queue (hardirq context). */
function completeOldest(cpu: Cpu): void {
  const meta = cpu.meta;
  const lay = cpu.layout;
  const q = lay.diskQueue(cpu.id);
  const head = meta[q + L.DQ_HEAD]!;
  const slot = head % L.DISK_QUEUE;
  const e = lay.diskEntry(cpu.id, slot);
  const bh = meta[e + L.DQE_BH]!;
  const pfn = meta[e + L.DQE_PFN]! as Pfn;
  const file = meta[e + L.DQE_FILE]! as FileId;
  const index = meta[e + L.DQE_INDEX]! as PgOff;
  const words = blockWords(cpu);
  const data = lay.diskData(cpu.id, slot);
  checkCleanBlock(cpu, pfn, file, index, meta[e + L.DQE_BLOCK]!, data);
  cpu.m.disk.set(meta.subarray(data, data + words), diskWord(cpu, file, index) + meta[e + L.DQE_BLOCK]! * words);
  meta[q + L.DQ_HEAD] = head + 1;
  if (head + 1 === meta[q + L.DQ_TAIL]) Atomics.and(meta, cpu.base + L.C_IPI_PENDING, ~L.DISK_PENDING);
  cpu.ctr[CTR.bufferWrites]!++;
  cpu.ctr[CTR.ioCompleted]!++;
  if (cpu.tracer !== null) cpu.tracer.ioComplete(file, index, meta[e + L.DQE_BLOCK]!);
  // end_buffer_async_write: clear_buffer_async_write, unlock_buffer (and wake a sleeper at once)
  Atomics.and(meta, bh, ~L.BH_Async_Write);
  unlockBuffer(cpu, bh);
  Atomics.notify(meta, bh);
  if (!(Atomics.load(meta, lay.page(pfn) + L.PG_FLAGS) & L.PG_io_submitting) && !pageHasAsyncWrite(cpu, pfn)) endPageWriteback(cpu, pfn, file);
}

/**
 * The clean-page oracle at a write's completion (see page-writeback.ts checkCleanPage): a page whose
 * writeback ran page_mkclean (write notification, dirty accounting; config.ts cleanPagesReadOnly says
 * where the premise holds), still clean and not locked, holds in this block what the write carried —
 * every PTE of it has been read-only since, so a store must have faulted and dirtied the page first.
 * A word that differs was stored through a stale TLB entry (or a writable PTE nobody made read-only)
 * and is in no dirty bit. A locked page is left alone
 * (write(2) copies its data in before marking the buffer dirty), and a word found different is judged
 * only if the page is still clean and unlocked after it was read.
 */
function checkCleanBlock(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff, block: number, data: number): void {
  const meta = cpu.meta;
  const fw = cpu.layout.page(pfn) + L.PG_FLAGS;
  if (Atomics.load(meta, fw) & (L.PG_dirty | L.PG_locked) || !mkcleanBeforeWriteback(cpu, file) || !cleanPagesReadOnly(cpu.config)) return;
  const words = blockWords(cpu);
  const m = pfn * WORDS_PER_PAGE + block * words;
  const w = firstDifference(cpu.m.memBytes, m, cpu.m.metaBytes, data, words);
  if (w < 0 || Atomics.load(meta, fw) & (L.PG_dirty | L.PG_locked)) return;
  const now = cpu.mem[m + w]!;
  const written = meta[data + w]!;
  const at = { file, page: index, word: block * words + w };
  cpu.violation('lost-write', storeIntoCleanPageMessage(at, now, written, 'the completion of its write'), lostWriteDetails(at, now, written, 'write completion', { cpu: cpu.id }));
}

/** A buffer of the page is still being written. */
export function pageHasAsyncWrite(cpu: Cpu, pfn: Pfn): boolean {
  const n = cpu.layout.buffersPerPage;
  for (let i = 0; i < n; i++) if (Atomics.load(cpu.meta, cpu.layout.bh(pfn, i)) & L.BH_Async_Write) return true;
  return false;
}

/**
 * end_page_writeback: test_clear_page_writeback under tree_lock (write_lock_irqsave in 2.6.20; the
 * WRITEBACK tag would go here), then wake_up_page(PG_writeback).
 */
export function endPageWriteback(cpu: Cpu, pfn: Pfn, file: FileId): void {
  const tl = treeLock(cpu, file);
  const flags = spinLockIrqsave(cpu, tl, LockClass.TreeLock, S.end_page_writeback);
  testClearPageWriteback(cpu, pfn);
  spinUnlockIrqrestore(cpu, tl, flags);
  wakeUpPage(cpu, pfn);
}
