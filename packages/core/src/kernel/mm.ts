/**
 * Memory-management primitives: the frame allocator (zone free list), page references, VMA flags and
 * lookup, vma_wants_writenotify, and the kernel's page-table walks (with and without page-table
 * allocation).
 *
 * Helpers that only read shared memory take a MachineView (a Machine or a Cpu), so the oracles and
 * the harness use the kernel's own definitions instead of copies; helpers that change state, take
 * locks or use a CPU's caches take the Cpu.
 */
import type { Cpu } from '../hw/cpu.js';
import { ENTRIES_PER_TABLE, mkPte, PTE_A, PTE_D, PTE_P, PTE_PCD, PTE_PWT, PTE_RW, PTE_US, ptePfn, ptePresent, tableIndex } from '../hw/pte.js';
import * as L from '../machine/layout.js';
import { assertHeld, spinLock, spinUnlock } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { WORDS_PER_PAGE } from '../config.js';
import type { MachineView } from '../machine/machine.js';
import type { FileId, LockIdx, MmId, PgOff, Pfn, PteIdx, VmaIdx, Vpn } from '../handles.js';

// ---- vm_flags (include/linux/mm.h, 2.6.20 values) ----
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYSHARE = 0x80;
export const VM_PFNMAP = 0x400;
export const VM_INSERTPAGE = 0x02000000;
/** Slot-in-use marker (not a kernel flag): a VMA slot with flags 0 is free. */
export const VM_INUSE = 0x40000000;

/** Page protections as PTE flag bits (x86 pgtable.h). */
export const PAGE_NONE = 0;
export const PAGE_SHARED = PTE_P | PTE_RW | PTE_US | PTE_A;
export const PAGE_COPY = PTE_P | PTE_US | PTE_A;
export const PAGE_READONLY = PTE_P | PTE_US | PTE_A;
/** The bits pte_modify replaces; PFN, A and D are kept. */
export const PAGE_PROT_MASK = PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD;
/** pte_modify: the entry with its protection bits replaced by those of `newprot`. */
export const pteModify = (pte: number, newprot: number): number => (pte & ~PAGE_PROT_MASK) | (newprot & PAGE_PROT_MASK);

/**
 * protection_map[vm_flags & (VM_READ|VM_WRITE|VM_EXEC|VM_SHARED)]: private writable mappings are
 * copy-on-write (read-only PTEs); shared writable ones are writable.
 */
export function protectionMap(flags: number): number {
  const rw = flags & (VM_READ | VM_WRITE | VM_EXEC);
  if (rw === 0) return PAGE_NONE;
  if (flags & VM_WRITE) return flags & VM_SHARED ? PAGE_SHARED : PAGE_COPY;
  return PAGE_READONLY;
}

// ---- frames ----

/** zone->lock: the free list's spinlock. */
export const zoneLock = L.G_ZONE_LOCK as LockIdx;

/**
 * __alloc_pages: one zeroed frame of `kind` with a reference count of 1, or -1 when memory is exhausted.
 * (That every frame is zeroed as it is handed out is what lets Machine.create reuse an earlier
 * machine's physical memory without clearing it.)
 */
export function allocFrame(cpu: Cpu, kind: L.FrameKind): Pfn | -1 {
  const meta = cpu.meta;
  const lay = cpu.layout;
  spinLock(cpu, zoneLock, LockClass.ZoneLock, S.__alloc_pages);
  const f = meta[L.G_FREE_HEAD]! as Pfn | -1;
  if (f !== -1) {
    meta[L.G_FREE_HEAD] = meta[lay.page(f) + L.PG_NEXT]!;
    Atomics.sub(meta, L.G_NR_FREE, 1);
  }
  spinUnlock(cpu, zoneLock);
  if (f === -1) return -1;
  const p = lay.page(f);
  cpu.mem.fill(0, f * WORDS_PER_PAGE, (f + 1) * WORDS_PER_PAGE);
  Atomics.store(meta, p + L.PG_FLAGS, 0);
  Atomics.store(meta, p + L.PG_MAPPING, 0);
  Atomics.store(meta, p + L.PG_INDEX, 0);
  Atomics.store(meta, p + L.PG_MAPCOUNT, 0);
  Atomics.store(meta, p + L.PG_KIND, kind);
  Atomics.store(meta, p + L.PG_COUNT, 1);
  return f;
}

/** Returns a frame to the free list. The reference count must already be zero. */
function freeFrame(cpu: Cpu, f: Pfn): void {
  const meta = cpu.meta;
  const p = cpu.layout.page(f);
  Atomics.store(meta, p + L.PG_KIND, L.FrameKind.Free);
  Atomics.store(meta, p + L.PG_MAPPING, 0);
  Atomics.store(meta, p + L.PG_FLAGS, 0);
  spinLock(cpu, zoneLock, LockClass.ZoneLock, S.__free_pages);
  meta[p + L.PG_NEXT] = meta[L.G_FREE_HEAD]!;
  meta[L.G_FREE_HEAD] = f;
  Atomics.add(meta, L.G_NR_FREE, 1);
  spinUnlock(cpu, zoneLock);
}

export function getPage(cpu: Cpu, pfn: Pfn): void {
  Atomics.add(cpu.meta, cpu.layout.page(pfn) + L.PG_COUNT, 1);
}

/** get_page_unless_zero: a reference to a page that may be being freed concurrently. */
export function getPageUnlessZero(cpu: Cpu, pfn: Pfn): boolean {
  const i = cpu.layout.page(pfn) + L.PG_COUNT;
  for (;;) {
    const c = Atomics.load(cpu.meta, i);
    if (c <= 0) return false;
    if (Atomics.compareExchange(cpu.meta, i, c, c + 1) === c) return true;
  }
}

/** put_page: drops a reference; the last one frees the frame. */
export function putPage(cpu: Cpu, pfn: Pfn): void {
  const left = Atomics.sub(cpu.meta, cpu.layout.page(pfn) + L.PG_COUNT, 1) - 1;
  if (left === 0) freeFrame(cpu, pfn);
  else if (left < 0) throw new Error(`put_page on free frame ${pfn}`);
}

// ---- struct page: readers take a MachineView ----

export const pageFlags = (view: MachineView, pfn: Pfn): number => Atomics.load(view.meta, view.layout.page(pfn) + L.PG_FLAGS);
/** Sets flag bits `f` atomically; returns the flags before. */
export const setPageFlag = (cpu: Cpu, pfn: Pfn, f: number): number => Atomics.or(cpu.meta, cpu.layout.page(pfn) + L.PG_FLAGS, f);
/** Clears flag bits `f` atomically; returns the flags before. */
export const clearPageFlag = (cpu: Cpu, pfn: Pfn, f: number): number => Atomics.and(cpu.meta, cpu.layout.page(pfn) + L.PG_FLAGS, ~f);
/** test_set_page_writeback: PG_writeback set; NR_WRITEBACK counts the page if it was not under writeback. */
export function testSetPageWriteback(cpu: Cpu, pfn: Pfn): void {
  if (!(setPageFlag(cpu, pfn, L.PG_writeback) & L.PG_writeback)) Atomics.add(cpu.meta, L.G_NR_WRITEBACK, 1);
}
/** test_clear_page_writeback: PG_writeback cleared; NR_WRITEBACK no longer counts the page. */
export function testClearPageWriteback(cpu: Cpu, pfn: Pfn): void {
  if (clearPageFlag(cpu, pfn, L.PG_writeback) & L.PG_writeback) Atomics.sub(cpu.meta, L.G_NR_WRITEBACK, 1);
}
/** page->mapping: the file of a page-cache page, or -1. */
export const pageMapping = (view: MachineView, pfn: Pfn): FileId | -1 => (Atomics.load(view.meta, view.layout.page(pfn) + L.PG_MAPPING) - 1) as FileId | -1;
/** page->index: the page's index in its file. */
export const pageIndex = (view: MachineView, pfn: Pfn): PgOff => Atomics.load(view.meta, view.layout.page(pfn) + L.PG_INDEX) as PgOff;
export const pageMapped = (view: MachineView, pfn: Pfn): boolean => Atomics.load(view.meta, view.layout.page(pfn) + L.PG_MAPCOUNT) > 0;

// ---- lock words (meta indices of the locks, for spinLock / assertHeld) ----

export { pageLock } from './locking/locks.js';
/** mm->mmap_sem. */
export const mmapSem = (view: MachineView, mm: MmId): LockIdx => (view.layout.mm(mm) + L.MM_SEM) as LockIdx;
/** mm->page_table_lock. */
export const pageTableLock = (view: MachineView, mm: MmId): LockIdx => (view.layout.mm(mm) + L.MM_PT_LOCK) as LockIdx;
/** The split pte lock of the page-table page holding PTE word `pteIdx` (pte_lockptr). */
export const pteLockOf = (view: MachineView, pteIdx: PteIdx): LockIdx => (view.layout.page((pteIdx / WORDS_PER_PAGE) | 0) + L.PG_PTL) as LockIdx;

/** current->mm: the mm of the task running on `cpu`. */
export const currentMm = (cpu: Cpu): MmId => cpu.mmId as MmId;

// ---- VMAs ----
// A VMA is the meta index of its slot. Its fields are read through these accessors (plain reads, as
// the kernel reads vm_area_struct fields: they change only under mmap_sem held for writing, and the
// ones rmap reads also under i_mmap_lock); mmap.ts is their only writer.

export const vmaFlags = (view: MachineView, v: VmaIdx): number => view.meta[v + L.VMA_FLAGS]!;
/** vm_start, as a VPN. */
export const vmaStart = (view: MachineView, v: VmaIdx): Vpn => view.meta[v + L.VMA_START]! as Vpn;
/** vm_end (the VPN past the end). */
export const vmaEnd = (view: MachineView, v: VmaIdx): Vpn => view.meta[v + L.VMA_END]! as Vpn;
/** vm_pgoff: the file page mapped at vm_start. */
export const vmaPgoff = (view: MachineView, v: VmaIdx): PgOff => view.meta[v + L.VMA_PGOFF]! as PgOff;
/** vm_file (every VMA here maps a file: anonymous mmap is not modelled). */
export const vmaFile = (view: MachineView, v: VmaIdx): FileId => view.meta[v + L.VMA_FILE]! as FileId;
/** vm_page_prot: PTE flag bits. */
export const vmaProt = (view: MachineView, v: VmaIdx): number => view.meta[v + L.VMA_PROT]!;
/** On its file's i_mmap list. */
export const vmaLinked = (view: MachineView, v: VmaIdx): boolean => view.meta[v + L.VMA_LINKED] === 1;
/** linear_page_index: the file page that `vpn` maps in VMA `v`. */
export const linearPageIndex = (view: MachineView, v: VmaIdx, vpn: Vpn): PgOff => (vmaPgoff(view, v) + (vpn - vmaStart(view, v))) as PgOff;
/** VMA slot `s` of `mm` (free or in use). */
export const vmaSlot = (view: MachineView, mm: MmId, s: number): VmaIdx => view.layout.vma(mm, s) as VmaIdx;

/**
 * find_vma without the cache: the VMA of `mm` containing `vpn` (meta index of its slot), or -1. Reads
 * only, so any thread may ask (the oracles do); the kernel asks through findVma under mmap_sem.
 */
export function findVmaUncached(view: MachineView, mm: MmId, vpn: Vpn): VmaIdx | -1 {
  const n = view.layout.vmasPerMm;
  for (let s = 0; s < n; s++) {
    const v = vmaSlot(view, mm, s);
    if (vmaFlags(view, v) !== 0 && vpn >= vmaStart(view, v) && vpn < vmaEnd(view, v)) return v;
  }
  return -1;
}

/** find_vma: the VMA of `mm` containing `vpn` (meta index of its slot), or -1. Caller holds mmap_sem. */
export function findVma(cpu: Cpu, mm: MmId, vpn: Vpn): VmaIdx | -1 {
  assertHeld(cpu, mmapSem(cpu, mm), 'mmap_sem');
  // mm->mmap_cache: the VMA this CPU found last (checked again, since it may have changed).
  const c = cpu.vmaCache as VmaIdx | -1;
  if (c !== -1 && vmaFlags(cpu, c) !== 0 && vpn >= vmaStart(cpu, c) && vpn < vmaEnd(cpu, c) && vmaMm(cpu, c) === mm) return c;
  const v = findVmaUncached(cpu, mm, vpn);
  if (v !== -1) cpu.vmaCache = v;
  return v;
}

/** The mm owning the VMA at meta index `v`. */
export function vmaMm(view: MachineView, v: VmaIdx): MmId {
  const lay = view.layout;
  return Math.floor((v - lay.vmaBase) / (lay.vmasPerMm * L.VMA_STRIDE)) as MmId;
}

/**
 * vma_wants_writenotify (2.6.20 include/linux/mm.h), every condition of the seed's heuristic:
 * shared and writable; the file's mmap hook did not change the page protection; not a special
 * (VM_PFNMAP / VM_INSERTPAGE) mapping; and the file's backing accounts dirty pages. The oracles ask
 * it too, of VMAs as they stand.
 */
export function vmaWantsWritenotify(view: MachineView, flags: number, prot: number, file: FileId | -1): boolean {
  if (!view.config.kernel.writeNotify) return false; // linux-2.6.18: no write notification at all
  if ((flags & (VM_WRITE | VM_SHARED)) !== (VM_WRITE | VM_SHARED)) return false;
  // (no file here has a page_mkwrite operation, which would say yes at this point)
  if (prot !== protectionMap(flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED))) return false;
  if (flags & (VM_PFNMAP | VM_INSERTPAGE)) return false;
  return file !== -1 && mappingCapAccountDirty(view, file);
}

export const mappingCapAccountDirty = (view: MachineView, file: FileId): boolean => view.meta[view.layout.file(file) + L.F_ACCOUNT_DIRTY] === 1;

/**
 * Writeback of `file`'s pages runs page_mkclean first (clear_page_dirty_for_io): the kernel has write
 * notification and the mapping accounts dirty pages. Otherwise (2.6.18, or a mapping without dirty
 * accounting) its PTEs keep their dirty bits through writeback and nothing waits for a pte lock.
 */
export const mkcleanBeforeWriteback = (view: MachineView, file: FileId | -1): boolean =>
  file !== -1 && view.config.kernel.writeNotify && mappingCapAccountDirty(view, file);

// ---- page tables ----

const PAGE_TABLE = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D; // _PAGE_TABLE for intermediate levels

/**
 * pte_offset: walks `mm`'s tables to the PTE of `vpn` and returns its word index in physical memory
 * (the low half), or -1 if a level is missing. Reads only, so any thread may walk (the oracles do);
 * kernel callers keep the tables alive (mmap_sem or i_mmap_lock).
 */
export function pteOffset(view: MachineView, mm: MmId, vpn: Vpn): PteIdx | -1 {
  const mem = view.mem;
  let table = Atomics.load(view.meta, view.layout.mm(mm) + L.MM_CR3);
  for (let level = 4; level > 1; level--) {
    const e = Atomics.load(mem, table * WORDS_PER_PAGE + tableIndex(vpn, level) * 2);
    if (!ptePresent(e)) return -1;
    table = ptePfn(e);
  }
  return (table * WORDS_PER_PAGE + tableIndex(vpn, 1) * 2) as PteIdx;
}

/**
 * pte_alloc_map: like pteOffset, but missing levels are allocated, each under
 * mm->page_table_lock (__pte_alloc). Caller holds mmap_sem.
 */
export function pteAllocMap(cpu: Cpu, mm: MmId, vpn: Vpn): PteIdx {
  assertHeld(cpu, mmapSem(cpu, mm), 'mmap_sem');
  const mem = cpu.mem;
  let table = Atomics.load(cpu.meta, cpu.layout.mm(mm) + L.MM_CR3);
  for (let level = 4; level > 1; level--) {
    const idx = table * WORDS_PER_PAGE + tableIndex(vpn, level) * 2;
    let e = Atomics.load(mem, idx);
    if (!ptePresent(e)) {
      const ptl = pageTableLock(cpu, mm);
      const fresh = allocFrame(cpu, L.FrameKind.PageTable);
      if (fresh === -1) throw new OutOfMemory();
      spinLock(cpu, ptl, LockClass.PageTableLock, S.__pte_alloc);
      e = Atomics.load(mem, idx);
      if (!ptePresent(e)) {
        e = mkPte(fresh, PAGE_TABLE);
        Atomics.store(mem, idx, e);
        spinUnlock(cpu, ptl);
      } else {
        spinUnlock(cpu, ptl);
        putPage(cpu, fresh);
      }
    }
    table = ptePfn(e);
  }
  return (table * WORDS_PER_PAGE + tableIndex(vpn, 1) * 2) as PteIdx;
}

/**
 * Walks [start, end) of `mm` one page table at a time, as the kernel's *_pte_range functions do: for
 * each table that exists, takes its pte lock, calls `fn(first, vpn, tableEnd)` (`first` is the PTE
 * word of `vpn`; the PTE of x is at first + (x - vpn) * 2), releases the lock, then calls `after()`.
 * Missing tables are skipped. The caller keeps the page tables alive: it holds mmap_sem, or runs the
 * end-of-run sync on a machine whose other CPUs are idle.
 */
export function forEachPteTable(cpu: Cpu, mm: MmId, start: Vpn, end: Vpn, site: number, fn: (first: PteIdx, vpn: Vpn, tableEnd: Vpn) => void, after?: () => void): void {
  let vpn = start;
  while (vpn < end) {
    const tableEnd = Math.min(end, (Math.floor(vpn / PTRS_PER_PTE) + 1) * PTRS_PER_PTE) as Vpn; // pmd_addr_end
    const first = pteOffset(cpu, mm, vpn);
    if (first !== -1) {
      const ptl = pteLockOf(cpu, first);
      spinLock(cpu, ptl, LockClass.PteLock, site);
      try {
        fn(first, vpn, tableEnd);
      } finally {
        spinUnlock(cpu, ptl);
      }
      after?.();
    }
    vpn = tableEnd;
  }
}

/** VPNs covered by one page table. */
export const PTRS_PER_PTE = ENTRIES_PER_TABLE;

export class OutOfMemory extends Error {
  override readonly name = 'OutOfMemory';
  constructor() {
    super('out of memory: no free frame and nothing reclaimable');
  }
}
