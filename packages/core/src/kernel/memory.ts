/**
 * Page faults and unmapping (mm/memory.c, 2.6.20): handle_mm_fault -> handle_pte_fault ->
 * do_no_page / do_wp_page, and zap_pte_range.
 */
import type { Cpu } from '../hw/cpu.js';
import { BusError, SegvError } from '../hw/entry.js';
import { mkPte, PF_WRITE, PTE_FLAGS_MASK, pteDirty, pteMkdirty, pteMkwrite, pteMkyoung, ptePfn, ptePresent, pteWrite } from '../hw/pte.js';
import * as L from '../machine/layout.js';
import { assertHeld, downRead, lockPage, spinLock, spinUnlock, unlockPage, upRead, waitOnPageLocked } from './locking/locks.js';
import { hasBug, isUserAddress, PAGE_SIZE, WORDS_PER_PAGE } from '../config.js';
import { LockClass, S } from './locking/lockorder.js';
import { CTR } from '../machine/machine.js';
import { fileSize, readCachePage, truncateCount } from './filemap.js';
import {
  allocFrame,
  currentMm,
  findVma,
  getPage,
  mmapSem,
  OutOfMemory,
  forEachPteTable,
  pteAllocMap,
  pteLockOf,
  putPage,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  linearPageIndex,
  mkcleanBeforeWriteback,
  vmaFile,
  vmaFlags,
  vmaMm,
  vmaProt,
} from './mm.js';
import { balanceDirtyPagesRatelimited, pageMkwriteDirty, setPageDirty, setPageDirtyBalance } from './page-writeback.js';
import { iMmapLock, pageAddFileRmap, pageRemoveRmap } from './rmap.js';
import { FlushCause, flushTlbPage, flushTlbRange } from './smp.js';
import type { LockIdx, MmId, Pfn, PteIdx, VmaIdx, Vpn } from '../handles.js';

/** maybe_mkwrite: writable only if the VMA is. */
const maybeMkwrite = (pte: number, flags: number): number => (flags & VM_WRITE ? pteMkwrite(pte) : pte);

/**
 * do_page_fault / handle_mm_fault: takes mmap_sem for reading, finds the VMA, checks the access
 * against its flags (SIGSEGV otherwise) and handles the PTE.
 */
export function handleMmFault(cpu: Cpu, addr: number, errcode: number): void {
  // do_page_fault's `address >= TASK_SIZE64` (arch/x86_64/mm/fault.c): from user mode that is
  // bad_area_nosemaphore, SIGSEGV before mmap_sem (a negative address here is one above the user range)
  if (!isUserAddress(addr)) throw new SegvError(addr, errcode);
  const mm = currentMm(cpu);
  const vpn = ((addr / PAGE_SIZE) | 0) as Vpn;
  const write = (errcode & PF_WRITE) !== 0;
  const sem = mmapSem(cpu, mm);
  downRead(cpu, sem, LockClass.MmapSem, S.handle_mm_fault);
  try {
    const v = findVma(cpu, mm, vpn);
    if (v === -1) throw new SegvError(addr, errcode);
    const flags = vmaFlags(cpu, v);
    if (write ? !(flags & VM_WRITE) : !(flags & (VM_READ | VM_WRITE))) throw new SegvError(addr, errcode);
    const pte = pteAllocMap(cpu, mm, vpn);
    handlePteFault(cpu, mm, v, vpn, pte, write);
    // set_page_dirty_balance's balance_dirty_pages_ratelimited, still under mmap_sem
    if (cpu.balancePending !== 0) balanceDirtyPagesRatelimited(cpu);
  } finally {
    upRead(cpu, sem);
  }
}

/**
 * handle_pte_fault: not present -> do_no_page; present but read-only on a write -> do_wp_page;
 * otherwise a spurious or access-flag fault: make the PTE young (and dirty on a write) and flush.
 * Enters with mmap_sem read-held and no pte lock; returns the same.
 */
function handlePteFault(cpu: Cpu, mm: MmId, v: VmaIdx, vpn: Vpn, pte: PteIdx, write: boolean): void {
  assertHeld(cpu, mmapSem(cpu, mm), 'mmap_sem');
  const entry = Atomics.load(cpu.mem, pte);
  if (!ptePresent(entry)) {
    doNoPage(cpu, mm, v, vpn, pte, write);
    return;
  }
  const ptl = pteLockOf(cpu, pte);
  spinLock(cpu, ptl, LockClass.PteLock, S.handle_pte_fault);
  if (Atomics.load(cpu.mem, pte) !== entry) {
    spinUnlock(cpu, ptl);
    return;
  }
  if (write && !pteWrite(entry)) {
    doWpPage(cpu, mm, v, vpn, pte, ptl, entry);
    return;
  }
  cpu.ctr[CTR.faultsOther]!++;
  const nw = write ? pteMkdirty(pteMkyoung(entry)) : pteMkyoung(entry);
  if (nw !== entry) {
    // ptep_set_access_flags (i386 2.6.20): a store of the low half, then flush_tlb_page.
    Atomics.store(cpu.mem, pte, nw);
    flushTlbPage(cpu, mm, vpn, FlushCause.Fault);
  } else if (write) flushTlbPage(cpu, mm, vpn, FlushCause.Fault);
  spinUnlock(cpu, ptl);
}

/**
 * do_no_page: find or read the file page into the page cache (filemap_nopage), copy it for a write
 * to a private mapping, and install it under the pte lock with the VMA's vm_page_prot — read-only for
 * a write-notify VMA, so the first write faults. A write fault maps it writable and dirty and, after
 * the pte lock is released, dirties the page (set_page_dirty_balance).
 */
function doNoPage(cpu: Cpu, mm: MmId, v: VmaIdx, vpn: Vpn, pte: PteIdx, write: boolean): void {
  const meta = cpu.meta;
  const flags = vmaFlags(cpu, v);
  const file = vmaFile(cpu, v);
  const pgoff = linearPageIndex(cpu, v, vpn);
  // do_no_page samples truncate_count before ->nopage and retries if a truncate ran meanwhile;
  // filemap_nopage gives SIGBUS for a page at or past i_size
  const sequence = truncateCount(cpu, file);
  if (pgoff >= fileSize(cpu, file)) throw new BusError(vpn * PAGE_SIZE);
  cpu.ctr[CTR.faultsNotPresent]!++;
  let page = readCachePage(cpu, file, pgoff);
  let anon = false;
  if (write && !(flags & VM_SHARED)) {
    // Copy-on-write of a private file mapping: a new anonymous page.
    const copy = allocFrame(cpu, L.FrameKind.Anon);
    if (copy === -1) {
      putPage(cpu, page);
      throw new OutOfMemory();
    }
    cpu.mem.copyWithin(copy * WORDS_PER_PAGE, page * WORDS_PER_PAGE, (page + 1) * WORDS_PER_PAGE);
    putPage(cpu, page);
    page = copy;
    anon = true;
    cpu.ctr[CTR.cowFaults]!++;
  }
  const ptl = pteLockOf(cpu, pte);
  let dirtyPage: Pfn | -1 = -1;
  // do_shared_fault with page_mkwrite: the page locked and dirty before its PTE is installed
  const mkwrite = write && !anon && dirtiesBeforeWritable(cpu);
  if (mkwrite) {
    lockPage(cpu, page, S.do_no_page);
    pageMkwriteDirty(cpu, page);
  }
  spinLock(cpu, ptl, LockClass.PteLock, S.do_no_page);
  if (truncateCount(cpu, file) !== sequence) {
    // a truncate ran since the page was looked up: it may have been removed from the file; retry
    cpu.ctr[CTR.truncateRetries]!++;
    spinUnlock(cpu, ptl);
    if (mkwrite) unlockPage(cpu, page);
    putPage(cpu, page);
    return;
  }
  if (Atomics.load(cpu.mem, pte) === 0) {
    let entry = mkPte(page, vmaProt(cpu, v));
    if (write) entry = maybeMkwrite(pteMkdirty(entry), flags);
    Atomics.store(cpu.mem, pte, entry);
    pageAddFileRmap(cpu, page);
    Atomics.add(meta, cpu.layout.mm(mm) + L.MM_RSS, 1);
    if (write && !anon && !mkwrite) {
      dirtyPage = page;
      getPage(cpu, dirtyPage);
    }
    spinUnlock(cpu, ptl);
  } else {
    spinUnlock(cpu, ptl);
    if (mkwrite) unlockPage(cpu, page);
    putPage(cpu, page); // another CPU mapped it first
    return;
  }
  if (mkwrite) unlockPage(cpu, page);
  if (dirtyPage !== -1) dirtyFaultedPage(cpu, dirtyPage, S.do_no_page);
}

/**
 * The fault dirties a shared page before making its PTE writable (->page_mkwrite returning with the
 * page locked and dirty; every file mapping has one since the generic filemap_page_mkwrite, Jan Kara,
 * "mm: make default vm_ops provide ->page_mkwrite handler", 3.7 — hash not verified here): no other
 * thread of the mm can store through the new writable PTE into a page that is still clean, which a
 * concurrent fsync/msync would skip. 2.6.20 makes the PTE writable first and dirties the page after
 * dropping the pte lock (bug `dirty-after-writable`; `set-page-dirty-unlocked` and
 * `fault-dirty-race`, which change that later step, imply it). 2.6.18 has no fault-time dirtying.
 */
function dirtiesBeforeWritable(cpu: Cpu): boolean {
  const c = cpu.config;
  return c.kernel.writeNotify && !hasBug(c, 'dirty-after-writable') && !hasBug(c, 'set-page-dirty-unlocked') && !hasBug(c, 'fault-dirty-race');
}

/**
 * The end of a write fault that made a shared page writable: dirty the page (set_page_dirty_balance)
 * and drop the fault's reference. Enters with no spinlock held and a reference on `pfn`.
 *
 * Fixed (2d6d7f982846, 3.19): the page lock is held across set_page_dirty, so two faulting writers
 * are serialised — the second cannot find PG_dirty set by the first before the first has tagged the
 * page dirty in the radix tree, and so cannot return and store into a page msync's tag-based
 * writeback would skip — and no writeback (which holds the page lock) runs in between.
 * Bug `set-page-dirty-unlocked` restores the released code: wait_on_page_locked (2.6.22), then
 * set_page_dirty without the lock; bug `fault-dirty-race` drops the wait too, so it implies the
 * unlocked set_page_dirty (2.6.20 as released:
 * a writeback holding the page lock can run page_mkclean before the fault installed its writable PTE
 * and TestClearPageDirty after the fault's set_page_dirty found the page still dirty, leaving the page
 * clean under a writable, dirty PTE; Nick Piggin, linux-mm 200705180737.l4I7bAGo010774@shell0.pdx.osdl.net).
 */
function dirtyFaultedPage(cpu: Cpu, pfn: Pfn, site: number): void {
  cpu.racePoint(); // RACE: the pte lock is dropped; writeback may lock the page and clean it
  if (!cpu.config.kernel.writeNotify) {
    // 2.6.18: the fault leaves the dirty state in the PTE (the seed added dirty_page to the faults)
  } else if (hasBug(cpu.config, 'fault-dirty-race')) {
    setPageDirtyBalance(cpu, pfn);
  } else if (hasBug(cpu.config, 'set-page-dirty-unlocked')) {
    waitOnPageLocked(cpu, pfn);
    setPageDirtyBalance(cpu, pfn);
  } else {
    lockPage(cpu, pfn, site);
    setPageDirtyBalance(cpu, pfn);
    unlockPage(cpu, pfn);
  }
  putPage(cpu, pfn);
}

/**
 * do_wp_page, shared writable branch (write notification): reuse the page — the PTE made young,
 * dirty and writable under the pte lock (ptep_set_access_flags, which on i386 also flushes the page
 * from every TLB) — then, after the pte lock is released, set_page_dirty_balance. A private mapping
 * gets a copy. Enters with mmap_sem read-held and the pte lock `ptl` held; returns with the pte lock
 * released.
 */
function doWpPage(cpu: Cpu, mm: MmId, v: VmaIdx, vpn: Vpn, pte: PteIdx, ptl: LockIdx, orig: number): void {
  assertHeld(cpu, ptl, 'the pte lock');
  const flags = vmaFlags(cpu, v);
  const old = ptePfn(orig);
  if ((flags & (VM_WRITE | VM_SHARED)) === (VM_WRITE | VM_SHARED)) {
    cpu.ctr[CTR.faultsWriteNotify]!++;
    const dirtyPage = old;
    getPage(cpu, dirtyPage);
    if (dirtiesBeforeWritable(cpu)) {
      // page_mkwrite: the page locked and dirty before the PTE becomes writable
      spinUnlock(cpu, ptl);
      lockPage(cpu, dirtyPage, S.do_wp_page);
      pageMkwriteDirty(cpu, dirtyPage);
      spinLock(cpu, ptl, LockClass.PteLock, S.do_wp_page);
      if (Atomics.load(cpu.mem, pte) === orig) {
        Atomics.store(cpu.mem, pte, maybeMkwrite(pteMkdirty(pteMkyoung(orig)), flags));
        flushTlbPage(cpu, mm, vpn, FlushCause.Fault);
      } // else the PTE changed meanwhile: the access retries
      spinUnlock(cpu, ptl);
      unlockPage(cpu, dirtyPage);
      putPage(cpu, dirtyPage);
      return;
    }
    const entry = maybeMkwrite(pteMkdirty(pteMkyoung(orig)), flags);
    Atomics.store(cpu.mem, pte, entry);
    flushTlbPage(cpu, mm, vpn, FlushCause.Fault);
    spinUnlock(cpu, ptl);
    dirtyFaultedPage(cpu, dirtyPage, S.do_wp_page);
    return;
  }
  // wp_page_copy: private mapping. Copy outside the lock, then re-check the PTE.
  cpu.ctr[CTR.cowFaults]!++;
  getPage(cpu, old);
  spinUnlock(cpu, ptl);
  const copy = allocFrame(cpu, L.FrameKind.Anon);
  if (copy === -1) {
    putPage(cpu, old);
    throw new OutOfMemory();
  }
  cpu.mem.copyWithin(copy * WORDS_PER_PAGE, old * WORDS_PER_PAGE, (old + 1) * WORDS_PER_PAGE);
  spinLock(cpu, ptl, LockClass.PteLock, S.do_wp_page);
  if (Atomics.load(cpu.mem, pte) === orig) {
    Atomics.exchange(cpu.mem, pte, 0);
    flushTlbPage(cpu, mm, vpn, FlushCause.Fault);
    // The old entry's protection on the new frame, young, dirty and writable.
    Atomics.store(cpu.mem, pte, pteMkwrite(pteMkdirty(pteMkyoung(mkPte(copy, orig & PTE_FLAGS_MASK)))));
    pageAddFileRmap(cpu, copy);
    pageRemoveRmap(cpu, old);
    putPage(cpu, old); // the old PTE's reference
  } else {
    putPage(cpu, copy);
  }
  spinUnlock(cpu, ptl);
  putPage(cpu, old); // ours
}

/**
 * zap_pte_range over [start, end) of one VMA (munmap, exit): under each pte lock clear each PTE
 * atomically; a dirty PTE dirties its page (set_page_dirty, taking private_lock under the pte lock).
 * TLB flushing is batched per page table (mmu_gather) and done at tlb_finish_mmu, after the pte lock
 * is dropped — except, with the later fixes, for dirty shared PTEs:
 * - 1cf35d47712d (3.15): a dirty shared PTE forces the flush before the pte lock is dropped;
 *   otherwise writeback could clean the page while another thread's stale writable TLB entry still
 *   stores into it. Bug `zap-deferred-flush` restores 2.6.20 (the flush only at tlb_finish_mmu).
 * - 5df397dec7c4 (6.2): the rmap of such a page is dropped only after that flush (still under the
 *   pte lock): page_mkclean returns at once for an unmapped page, without waiting for the pte lock,
 *   so an early page_remove_rmap reopens the window. Bug `remove-rmap-before-flush` restores it.
 * - Both rely on writeback running page_mkclean, which waits for this pte lock. A file without dirty
 *   accounting (or any file on 2.6.18) gets no page_mkclean, so the model marks its pages dirty only
 *   after the flush; Linux never needed to (since 2.6.19 such mappings have no writeback). Bug
 *   `zap-dirty-before-flush` restores Linux's order for them.
 * Returns the pages zapped. Caller holds mmap_sem, or (`viaRmap`: truncate's unmap_mapping_range,
 * for every mm mapping the file) the file's i_mmap_lock.
 */
export function zapPteRange(cpu: Cpu, v: VmaIdx, start: Vpn, end: Vpn, viaRmap = false): number {
  const mm = vmaMm(cpu, v);
  if (viaRmap) assertHeld(cpu, iMmapLock(cpu, vmaFile(cpu, v)), 'i_mmap_lock');
  else assertHeld(cpu, mmapSem(cpu, mm), 'mmap_sem');
  const flags = vmaFlags(cpu, v);
  const mem = cpu.mem;
  const forceFlushes = (flags & VM_SHARED) !== 0 && !hasBug(cpu.config, 'zap-deferred-flush');
  const delayRmap = forceFlushes && !hasBug(cpu.config, 'remove-rmap-before-flush');
  // A mapping without dirty accounting gets no page_mkclean before writeback, so nothing waits for
  // this pte lock: its pages are marked dirty only after the flush (see bug zap-dirty-before-flush).
  const file = vmaFile(cpu, v);
  const dirtyAfterFlush = forceFlushes && file !== -1 && !mkcleanBeforeWriteback(cpu, file) && !hasBug(cpu.config, 'zap-dirty-before-flush');
  let dirtyLater: Pfn[] = [];
  let zapped = 0;
  let gathered: Pfn[] = [];
  let delayed: Pfn[] = [];
  let gStart = -1;
  let gEnd = -1;
  forEachPteTable(
    cpu,
    mm,
    start,
    end,
    S.zap_pte_range,
    (first, vpn, tableEnd) => {
      gathered = [];
      gStart = -1;
      let forceFlush = false;
      for (let x = vpn; x < tableEnd; x++) {
        const pte = first + (x - vpn) * 2;
        const entry = Atomics.exchange(mem, pte, 0); // ptep_get_and_clear_full
        if (!ptePresent(entry)) continue;
        const page = ptePfn(entry);
        if (gStart < 0) gStart = x;
        gEnd = x + 1;
        let dirty = false;
        if (pteDirty(entry)) {
          if (dirtyAfterFlush) dirtyLater.push(page);
          else setPageDirty(cpu, page);
          dirty = true;
          if (forceFlushes) forceFlush = true;
        }
        if (dirty && delayRmap) delayed.push(page);
        else pageRemoveRmap(cpu, page);
        Atomics.sub(cpu.meta, cpu.layout.mm(mm) + L.MM_RSS, 1);
        gathered.push(page);
        zapped++;
      }
      if (forceFlush) {
        cpu.racePoint(); // RACE: PTEs cleared and (bug remove-rmap-before-flush) the pages unmapped; TLBs still hold them
        flushTlbRange(cpu, mm, gStart, gEnd, FlushCause.Munmap);
        gStart = -1;
      }
      if (dirtyLater.length > 0) {
        for (const p of dirtyLater) setPageDirty(cpu, p); // no stale TLB entry can store into them now
        dirtyLater = [];
      }
      if (delayed.length > 0) {
        for (const p of delayed) pageRemoveRmap(cpu, p); // tlb_flush_rmaps, after the flush
        delayed = [];
      }
    },
    () => {
      // tlb_finish_mmu: flush what was not flushed yet, then free the pages.
      if (gStart >= 0) {
        cpu.racePoint(); // RACE: the pte lock is dropped, other CPUs' TLBs still map the range
        flushTlbRange(cpu, mm, gStart, gEnd, FlushCause.Munmap);
      }
      for (const p of gathered) putPage(cpu, p);
    },
  );
  return zapped;
}
