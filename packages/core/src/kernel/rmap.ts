/**
 * Reverse mapping for file pages (mm/rmap.c): from a page to every PTE that maps it, through the
 * file's i_mmap list of VMAs (every process that maps the file), under i_mmap_lock.
 *
 * Nesting (rmap.c header): page lock -> i_mmap_lock -> pte lock; the TLB shootdown of page_mkclean
 * and try_to_unmap runs with both spinlocks held.
 */
import { hasBug } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import { PTE_A, pteDirty, pteMkclean, ptePfn, ptePresent, pteWrite, pteWrprotect } from '../hw/pte.js';
import * as L from '../machine/layout.js';
import { assertHeld, spinLock, spinUnlock } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { CTR, type MachineView } from '../machine/machine.js';
import type { FileId, LockIdx, MmId, PgOff, Pfn, PteIdx, VmaIdx, Vpn } from '../handles.js';
import { pageIndex, pageLock, pageMapped, pageMapping, pteLockOf, pteOffset, putPage, VM_INSERTPAGE, VM_PFNMAP, VM_SHARED, vmaEnd, vmaFile, vmaFlags, vmaLinked, vmaMm, vmaPgoff, vmaSlot, vmaStart } from './mm.js';
import { setPageDirty } from './page-writeback.js';
import { FlushCause, flushTlbPage, flushTlbPageLocalOnly } from './smp.js';

/** mapping->i_mmap_lock. */
export const iMmapLock = (view: MachineView, file: FileId): LockIdx => (view.layout.file(file) + L.F_IMMAP_LOCK) as LockIdx;

/**
 * Calls `fn(vmaIdx, vpn)` for each VMA on `file`'s i_mmap list that covers file page `index`.
 * Caller holds i_mmap_lock (the list and the VMAs' ranges change only under it).
 */
/**
 * The rmap walk of a page-cache page (rmap_walk_file; 2.6.20 open-codes it in page_mkclean_file,
 * page_referenced_file and try_to_unmap_file): `fn(v, vpn)` for each VMA mapping it, under the file's
 * i_mmap_lock taken at `site`. Nothing for a page of no file.
 */
function rmapWalkFile(cpu: Cpu, pfn: Pfn, site: number, fn: (v: VmaIdx, vpn: Vpn) => void): void {
  const file = pageMapping(cpu, pfn);
  if (file === -1) return;
  const il = iMmapLock(cpu, file);
  spinLock(cpu, il, LockClass.IMmapLock, site);
  forEachVmaOfPage(cpu, file, pageIndex(cpu, pfn), fn);
  spinUnlock(cpu, il);
}

function forEachVmaOfPage(cpu: Cpu, file: FileId, index: PgOff, fn: (v: VmaIdx, vpn: Vpn) => void): void {
  forEachVmaInRange(cpu, file, index, (index + 1) as PgOff, fn);
}

/**
 * vma_prio_tree_foreach over file pages [first, last): calls `fn(v, a, b)` for each VMA of `file`, in
 * any mm, that maps some of them, with the VPNs [a, b) that map them. i_mmap_lock held.
 */
export function forEachVmaInRange(cpu: Cpu, file: FileId, first: PgOff, last: PgOff, fn: (v: VmaIdx, a: Vpn, b: Vpn) => void): void {
  assertHeld(cpu, iMmapLock(cpu, file), 'i_mmap_lock');
  // Each mm's slots in order, up to the mm's high-water mark (slots above it were never used), mms in
  // order: the order of one flat scan over every slot (this is page_mkclean's hot loop).
  for (let mm = 0 as MmId; mm < cpu.layout.procs; mm = (mm + 1) as MmId) {
    const firstSlot = vmaSlot(cpu, mm, 0);
    const end = firstSlot + Atomics.load(cpu.meta, cpu.layout.mm(mm) + L.MM_VMA_HIGH) * L.VMA_STRIDE;
    for (let v = firstSlot; v < end; v = (v + L.VMA_STRIDE) as VmaIdx) {
      if (!vmaLinked(cpu, v) || vmaFile(cpu, v) !== file) continue;
      const start = vmaStart(cpu, v);
      const pgoff = vmaPgoff(cpu, v);
      const a = Math.max(start, start + (first - pgoff)) as Vpn; // vma_address
      const b = Math.min(vmaEnd(cpu, v), start + (last - pgoff)) as Vpn;
      if (a < b) fn(v, a, b);
    }
  }
}

/**
 * page_check_address: the PTE of `vpn` in `mm` if it maps `pfn`, returned with its pte lock
 * (pteLockOf(pte)) held, or -1 with no lock held.
 *
 * 2.6.20 first tests pte_present without the lock and gives up on a PTE that is not present. With
 * `sync` (479db0bf408e, 2.6.27; page_mkclean passes it) it always takes the lock: a PTE that
 * change_pte_range has cleared and is about to set again reads as not present only without the lock,
 * and page_mkclean must not skip it. Bug `mkclean-unlocked-check` restores the shortcut for
 * page_mkclean as well.
 */
export function pageCheckAddress(cpu: Cpu, pfn: Pfn, mm: MmId, vpn: Vpn, site: number, sync = false): PteIdx | -1 {
  const pte = pteOffset(cpu, mm, vpn);
  if (pte === -1) return -1;
  if (!sync && !ptePresent(Atomics.load(cpu.mem, pte))) return -1;
  const ptl = pteLockOf(cpu, pte);
  spinLock(cpu, ptl, LockClass.PteLock, site);
  const e = Atomics.load(cpu.mem, pte);
  if (ptePresent(e) && ptePfn(e) === pfn) return pte;
  spinUnlock(cpu, ptl);
  return -1;
}

/**
 * page_mkclean_one: if the PTE is dirty or writable, clear it atomically and flush it from every TLB
 * (ptep_clear_flush), then install it write-protected and clean, all under the pte lock. Returns 1 if
 * it cleaned the PTE.
 *
 * The order (c2fda5fed81e, 2.6.20-rc2): the flush completes — every CPU has acknowledged — before the
 * clean PTE is installed, so no stale writable entry survives into the clean state. 2.6.19 installed
 * first and flushed after (ptep_establish), which broke virtual-cache machines and s390; on x86 the
 * flush still completes before writeback reads the page, so `flush-after-set` is harmless here.
 */
function pageMkcleanOne(cpu: Cpu, pfn: Pfn, v: VmaIdx, vpn: Vpn): number {
  const mm = vmaMm(cpu, v);
  const pte = pageCheckAddress(cpu, pfn, mm, vpn, S.page_mkclean_one, !hasBug(cpu.config, 'mkclean-unlocked-check'));
  if (pte === -1) return 0;
  const ptl = pteLockOf(cpu, pte);
  const mem = cpu.mem;
  let ret = 0;
  const cur = Atomics.load(mem, pte);
  if (pteDirty(cur) || pteWrite(cur)) {
    if (hasBug(cpu.config, 'flush-after-set')) {
      const entry = Atomics.exchange(mem, pte, 0);
      Atomics.store(mem, pte, pteWrprotect(pteMkclean(entry)));
      flushTlbPage(cpu, mm, vpn, FlushCause.Mkclean);
    } else {
      const entry = Atomics.exchange(mem, pte, 0); // ptep_clear_flush: clear ...
      cpu.racePoint();
      if (hasBug(cpu.config, 'no-remote-flush')) flushTlbPageLocalOnly(cpu, mm, vpn);
      else flushTlbPage(cpu, mm, vpn, FlushCause.Mkclean); // ... and flush on every CPU
      Atomics.store(mem, pte, pteWrprotect(pteMkclean(entry))); // set_pte_at
    }
    ret = 1;
  }
  spinUnlock(cpu, ptl);
  return ret;
}

/**
 * page_mkclean: write-protects and cleans every shared PTE that maps the page, in every process.
 * Enters with the page locked. Returns true if any PTE was dirty or writable.
 */
export function pageMkclean(cpu: Cpu, pfn: Pfn): boolean {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  if (!pageMapped(cpu, pfn)) return false;
  let ret = 0;
  rmapWalkFile(cpu, pfn, S.page_mkclean, (v, vpn) => {
    // VM_PFNMAP / VM_INSERTPAGE mappings hold driver frames in Linux, never this file's page-cache
    // pages, so page_mkclean_file cannot reach them; here they map cache pages, so skip them.
    const vf = vmaFlags(cpu, v);
    if (vf & VM_SHARED && !(vf & (VM_PFNMAP | VM_INSERTPAGE))) ret += pageMkcleanOne(cpu, pfn, v, vpn);
  });
  if (ret) cpu.ctr[CTR.pagesCleaned]!++;
  return ret > 0;
}

/**
 * ptep_clear_flush_young (2.6.20 x86): clears the accessed bit of a PTE and, if it was set, flushes
 * the page from every TLB — so the next access walks the page table and sets it again. Pte lock held.
 * Returns true if the PTE was young.
 */
function ptepClearFlushYoung(cpu: Cpu, mm: MmId, vpn: Vpn, pte: PteIdx): boolean {
  const young = (Atomics.and(cpu.mem, pte, ~PTE_A) & PTE_A) !== 0;
  if (young) flushTlbPage(cpu, mm, vpn, FlushCause.Reclaim);
  return young;
}

/**
 * page_referenced (2.6.20 mm/rmap.c, file pages, page locked): how many of the PTEs mapping the page
 * were young, each made old with a flush (page_referenced_one -> ptep_clear_flush_young) — the main
 * source of reclaim's TLB shootdowns in Linux.
 */
export function pageReferenced(cpu: Cpu, pfn: Pfn): number {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  if (!pageMapped(cpu, pfn)) return 0;
  let referenced = 0;
  rmapWalkFile(cpu, pfn, S.page_referenced_one, (v, vpn) => {
    const mm = vmaMm(cpu, v);
    const pte = pageCheckAddress(cpu, pfn, mm, vpn, S.page_referenced_one);
    if (pte === -1) return;
    if (ptepClearFlushYoung(cpu, mm, vpn, pte)) referenced++;
    spinUnlock(cpu, pteLockOf(cpu, pte));
  });
  return referenced;
}

/**
 * try_to_unmap_one: clears the PTE and flushes it everywhere (ptep_clear_flush), moves a dirty PTE
 * bit into the page (set_page_dirty, under the pte lock: pte lock -> private_lock), and drops the
 * mapping's reference. With reclaim's aging (`aging`) a young PTE is not unmapped: 2.6.20
 * makes it old with a flush and fails (SWAP_FAIL: the page goes back to the active list). Returns
 * false on that failure.
 */
function tryToUnmapOne(cpu: Cpu, pfn: Pfn, v: VmaIdx, vpn: Vpn, aging: boolean): boolean {
  const mm = vmaMm(cpu, v);
  const pte = pageCheckAddress(cpu, pfn, mm, vpn, S.try_to_unmap_one);
  if (pte === -1) return true;
  const ptl = pteLockOf(cpu, pte);
  if (aging && ptepClearFlushYoung(cpu, mm, vpn, pte)) {
    spinUnlock(cpu, ptl);
    return false;
  }
  const entry = Atomics.exchange(cpu.mem, pte, 0);
  flushTlbPage(cpu, mm, vpn, FlushCause.Reclaim);
  if (pteDirty(entry)) setPageDirty(cpu, pfn);
  pageRemoveRmap(cpu, pfn);
  Atomics.sub(cpu.meta, cpu.layout.mm(mm) + L.MM_RSS, 1);
  putPage(cpu, pfn);
  spinUnlock(cpu, ptl);
  return true;
}

/**
 * try_to_unmap (file pages): unmaps the page from every VMA; with `aging`, fails at a young PTE.
 * Enters with the page locked. Returns true if now unmapped.
 */
export function tryToUnmap(cpu: Cpu, pfn: Pfn, aging = false): boolean {
  assertHeld(cpu, pageLock(cpu, pfn), 'the page lock');
  let failed = false;
  // try_to_unmap_file stops at the first SWAP_FAIL
  rmapWalkFile(cpu, pfn, S.shrink_page_list, (v, vpn) => {
    if (!failed && !tryToUnmapOne(cpu, pfn, v, vpn, aging)) failed = true;
  });
  return !failed && !pageMapped(cpu, pfn);
}

/** page_add_file_rmap: one more PTE maps the page (the PTE's reference is taken by the caller). */
export function pageAddFileRmap(cpu: Cpu, pfn: Pfn): void {
  if (Atomics.add(cpu.meta, cpu.layout.page(pfn) + L.PG_MAPCOUNT, 1) === 0) Atomics.add(cpu.meta, L.G_NR_MAPPED, 1);
}

/** page_remove_rmap. */
export function pageRemoveRmap(cpu: Cpu, pfn: Pfn): void {
  const was = Atomics.sub(cpu.meta, cpu.layout.page(pfn) + L.PG_MAPCOUNT, 1);
  if (was <= 0) throw new Error(`mapcount underflow on frame ${pfn}`);
  if (was === 1) Atomics.sub(cpu.meta, L.G_NR_MAPPED, 1);
}
