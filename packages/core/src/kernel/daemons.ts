/**
 * Kernel threads, each hosted by one CPU and run at that CPU's user-mode preemption points when due
 * (in simulated cycles): the background flusher (pdflush / wb_kupdate, also woken by
 * balance_dirty_pages), the ext3 data=ordered journal commit (kjournald), and kswapd. While one runs
 * the CPU borrows the interrupted task's mm lazily (enter_lazy_tlb), as a real kernel thread does.
 * A pass is a sequence of work items; nothing is half done between passes.
 */
import { jbdWritesDataBuffers } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { S } from './locking/lockorder.js';
import { CTR } from '../machine/machine.js';
import type { FileId, PgOff } from '../handles.js';
import { journalWritePage } from './buffer.js';
import { centisecs, findGetPage, filePages, markInodeDirty, tagOf } from './filemap.js';
import { clearPageFlag, pageFlags, putPage } from './mm.js';
import { writebackPage } from './page-writeback.js';
import { enterLazyTlb, leaveLazyTlb } from './smp.js';
import { reclaimPages } from './vmscan.js';

/** Runs `fn` as a kernel thread on `cpu`. */
export function asKernelThread<T>(cpu: Cpu, fn: () => T): T {
  enterLazyTlb(cpu);
  try {
    return cpu.kernelMode(fn);
  } finally {
    leaveLazyTlb(cpu);
  }
}

/**
 * One background-writeback pass: up to `batch` dirty pages, round-robin over the files. `expire`
 * (centiseconds, 0: none): wb_kupdate's age test — only files first dirtied at least that long ago
 * (inode->dirtied_when) are written. Each file the pass finishes is marked clean if it has no dirty
 * page left (cleared first and marked again on a dirty tag, so a page dirtied meanwhile keeps it dirty).
 */
export function flusherPass(cpu: Cpu, batch: number, cursor: { file: FileId; index: PgOff }, expire = 0): number {
  const meta = cpu.meta;
  const nfiles = cpu.layout.nfiles;
  let written = 0;
  let scanned = 0;
  const total = cpu.layout.filePagesTotal;
  const now = centisecs(cpu);
  while (written < batch && scanned < total) {
    const pages = filePages(cpu, cursor.file);
    if (cursor.index >= pages) {
      inodeWritten(cpu, cursor.file);
      cursor.file = ((cursor.file + 1) % nfiles) as FileId;
      cursor.index = 0 as PgOff;
      continue;
    }
    if (expire > 0) {
      const when = Atomics.load(meta, cpu.layout.fileExt(cursor.file) + L.FX_DIRTIED_WHEN);
      if (when === 0 || now - when < expire) {
        // clean, or dirtied too recently: the next file
        scanned += pages - cursor.index;
        cursor.index = pages as PgOff;
        continue;
      }
    }
    const i = cursor.index;
    cursor.index++;
    scanned++;
    if (Atomics.load(meta, tagOf(cpu, cursor.file, i)) && writebackPage(cpu, cursor.file, i, S.write_cache_pages)) written++;
  }
  if (cursor.index >= filePages(cpu, cursor.file)) inodeWritten(cpu, cursor.file); // the last file finished
  cpu.ctr[CTR.flusherRuns]!++;
  return written;
}

/** After writeback of a whole file: it is clean (dirtied_when 0) unless a page is still, or again, dirty. */
function inodeWritten(cpu: Cpu, file: FileId): void {
  const w = cpu.layout.fileExt(file) + L.FX_DIRTIED_WHEN;
  if (Atomics.load(cpu.meta, w) === 0) return;
  Atomics.store(cpu.meta, w, 0);
  const pages = filePages(cpu, file);
  for (let i = 0 as PgOff; i < pages; i++) {
    if (Atomics.load(cpu.meta, tagOf(cpu, file, i))) {
      markInodeDirty(cpu, file); // redirty_tail: dirtied_when is now
      return;
    }
  }
}

/**
 * Without the journalEveryPage amplifier, the commit visits only the pages writepage filed on the
 * transaction (PG_jbd_data), and unfiles each: returns true if page `i` of `f` was filed.
 */
function unfileJbdData(cpu: Cpu, f: FileId, i: PgOff): boolean {
  const pfn = findGetPage(cpu, f, i);
  if (pfn === -1) return false;
  const filed = (clearPageFlag(cpu, pfn, L.PG_jbd_data) & L.PG_jbd_data) !== 0;
  putPage(cpu, pfn);
  return filed;
}

/**
 * One journal commit's ordered-data step, over every dirty-tagged page (or, without the
 * journalEveryPage amplifier, those of them writepage filed on the transaction since the last commit):
 * - bug `jbd-data-buffers` (ext3's jbd, 2.6.20): write the page's dirty buffers by hand
 *   (journal_submit_data_buffers), without the page lock, leaving PG_dirty set;
 * - fixed (jbd2's inode-based ordered mode): write the page through writepage as the flusher does —
 *   page lock, clear_page_dirty_for_io (page_mkclean, which waits on the pte lock), then its buffers.
 */
export function journalPass(cpu: Cpu): void {
  const meta = cpu.meta;
  const byBuffer = jbdWritesDataBuffers(cpu.config);
  const everyPage = cpu.config.daemons.journalEveryPage;
  for (let f = 0 as FileId; f < cpu.layout.nfiles; f++) {
    const pages = filePages(cpu, f);
    for (let i = 0 as PgOff; i < pages; i++) {
      if (!everyPage && !unfileJbdData(cpu, f, i)) continue;
      if (!Atomics.load(meta, tagOf(cpu, f, i))) continue;
      if (!byBuffer) {
        writebackPage(cpu, f, i, S.ext3_journal_commit);
        continue;
      }
      const pfn = findGetPage(cpu, f, i);
      if (pfn === -1) continue;
      if (pageFlags(cpu, pfn) & L.PG_dirty) journalWritePage(cpu, pfn, f, i);
      putPage(cpu, pfn);
    }
  }
  cpu.ctr[CTR.journalRuns]!++;
}

/** Installs the kernel threads this CPU hosts as a user-mode preemption hook. */
export function installDaemons(cpu: Cpu): void {
  const d = cpu.config.daemons;
  const n = cpu.layout.cpus;
  const hostsFlusher = d.flusherPeriod > 0 && cpu.id === 0;
  const hostsJournal = d.journalPeriod > 0 && cpu.id === 1 % n;
  const hostsReclaim = d.reclaimPeriod > 0 && cpu.id === 2 % n;
  if (!hostsFlusher && !hostsJournal && !hostsReclaim) return;
  const cursor = { file: 0 as FileId, index: 0 as PgOff };
  const cycles = () => cpu.ctr[CTR.cycles]!;
  let nextFlush = d.flusherPeriod;
  let nextJournal = d.journalPeriod;
  let nextReclaim = d.reclaimPeriod;
  cpu.userHooks.push(() => {
    const now = cycles();
    const kicked = hostsFlusher && Atomics.load(cpu.meta, L.G_FLUSH_KICK) !== 0;
    if (hostsFlusher && (now >= nextFlush || kicked)) {
      Atomics.store(cpu.meta, L.G_FLUSH_KICK, 0);
      nextFlush = now + d.flusherPeriod;
      // woken by a writer: background_writeout, any age; on its period: wb_kupdate, old files only
      asKernelThread(cpu, () => flusherPass(cpu, d.flusherBatch, cursor, kicked ? 0 : d.dirtyExpire));
    }
    if (hostsJournal && now >= nextJournal) {
      nextJournal = now + d.journalPeriod;
      asKernelThread(cpu, () => journalPass(cpu));
    }
    if (hostsReclaim && (now >= nextReclaim || Atomics.load(cpu.meta, L.G_NR_FREE) < d.lowWatermark)) {
      nextReclaim = now + d.reclaimPeriod;
      asKernelThread(cpu, () => {
        cpu.ctr[CTR.reclaimRuns]!++;
        reclaimPages(cpu, d.reclaimBatch);
      });
    }
  });
}
