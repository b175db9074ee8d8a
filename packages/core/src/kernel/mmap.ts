/**
 * Address-space system calls (mm/mmap.c, mm/mprotect.c, mm/msync.c): mmap, munmap, mprotect and
 * msync, all under mmap_sem. VMAs of a file are linked on its i_mmap list under i_mmap_lock.
 */
import { hasBug, PAGE_SIZE, TASK_SIZE } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import { PTE_D, PTE_PCD, PTE_PWT, pteDirty, pteMkwrite, ptePfn, ptePresent } from '../hw/pte.js';
import * as L from '../machine/layout.js';
import { assertHeld, assertHeldWrite, downRead, downWrite, spinLock, spinUnlock, upRead, upWrite } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';
import { CTR } from '../machine/machine.js';
import type { FileId, MmId, PgOff, VmaIdx, Vpn } from '../handles.js';
import { filePages } from './filemap.js';
import { zapPteRange } from './memory.js';
import {
  currentMm,
  forEachPteTable,
  linearPageIndex,
  mmapSem,
  protectionMap,
  pteModify,
  VM_EXEC,
  VM_INSERTPAGE,
  VM_INUSE,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  vmaEnd,
  vmaFile,
  vmaFlags,
  vmaPgoff,
  vmaProt,
  vmaMm,
  vmaSlot,
  vmaStart,
  vmaWantsWritenotify,
} from './mm.js';
import { setPageDirty, syncFileRange } from './page-writeback.js';
import { iMmapLock } from './rmap.js';
import { FlushCause, flushTlbPage, flushTlbRange } from './smp.js';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
/** Place the mapping exactly at the given address, unmapping whatever was there. */
export const MAP_FIXED = 0x10;
export const MS_ASYNC = 1;
export const MS_SYNC = 4;

/** What a file's driver mmap hook may do to a new VMA (remap_pfn_range, vm_insert_page). */
export type SpecialMapping = 'none' | 'pfnmap' | 'insertpage';

export class SyscallError extends Error {
  override readonly name = 'SyscallError';
  constructor(
    readonly errno: string,
    message: string,
  ) {
    super(`${errno}: ${message}`);
  }
}

/**
 * Where get_unmapped_area starts: 0x4000_0000, i386's TASK_UNMAPPED_BASE (TASK_SIZE / 3 there;
 * x86_64's is 0x2aaa_aaaa_b000). The first gigabyte of mappings then has addresses below 2^31,
 * small integers to the JIT, so a user access's address arithmetic is integer arithmetic: the
 * TLB-hit path ran ~10 % faster than from 0x400_0000_0000, the base before. No kernel path here
 * depends on the base.
 */
const MMAP_BASE_VPN = 2 ** 18;
const TASK_SIZE_VPN = TASK_SIZE / PAGE_SIZE;

/** The VPN of a user address (a syscall's argument becomes a Vpn here). */
const addrVpn = (addr: number): Vpn => Math.floor(addr / PAGE_SIZE) as Vpn;

function protToFlags(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/** get_unmapped_area: first gap of `n` pages from the mmap base. mmap_sem held. */
function getUnmappedArea(cpu: Cpu, mm: MmId, n: number): Vpn {
  assertHeld(cpu, mmapSem(cpu, mm), 'mmap_sem');
  const used: Array<[number, number]> = [];
  for (let s = 0; s < cpu.layout.vmasPerMm; s++) {
    const v = vmaSlot(cpu, mm, s);
    if (vmaFlags(cpu, v)) used.push([vmaStart(cpu, v), vmaEnd(cpu, v)]);
  }
  used.sort((a, b) => a[0] - b[0]);
  let cand = MMAP_BASE_VPN;
  for (const [s, e] of used) {
    if (e <= cand) continue;
    if (cand + n <= s) break;
    cand = e;
  }
  if (cand + n > TASK_SIZE_VPN) throw new SyscallError('ENOMEM', 'no room in the address space');
  return cand as Vpn;
}

function freeSlot(cpu: Cpu, mm: MmId): VmaIdx {
  for (let s = 0; s < cpu.layout.vmasPerMm; s++) {
    const v = vmaSlot(cpu, mm, s);
    if (vmaFlags(cpu, v) === 0) return v;
  }
  throw new SyscallError('ENOMEM', `more than ${cpu.layout.vmasPerMm} mappings in one process`);
}

/** Writes a VMA slot and links it on the file's i_mmap list (vma_link, under i_mmap_lock). */
function vmaLink(cpu: Cpu, v: VmaIdx, flags: number, start: Vpn, end: Vpn, pgoff: PgOff, file: FileId, prot: number): void {
  const meta = cpu.meta;
  const il = iMmapLock(cpu, file);
  spinLock(cpu, il, LockClass.IMmapLock, S.do_mmap_pgoff);
  Atomics.store(meta, v + L.VMA_START, start);
  Atomics.store(meta, v + L.VMA_END, end);
  Atomics.store(meta, v + L.VMA_PGOFF, pgoff);
  Atomics.store(meta, v + L.VMA_FILE, file);
  Atomics.store(meta, v + L.VMA_PROT, prot);
  Atomics.store(meta, v + L.VMA_FLAGS, flags | VM_INUSE);
  Atomics.store(meta, v + L.VMA_LINKED, 1);
  // the mm's slots in use stay below its high-water mark (rmap's scans stop there)
  const mm = vmaMm(cpu, v);
  const s = (v - vmaSlot(cpu, mm, 0)) / L.VMA_STRIDE + 1;
  if (s > Atomics.load(meta, cpu.layout.mm(mm) + L.MM_VMA_HIGH)) Atomics.store(meta, cpu.layout.mm(mm) + L.MM_VMA_HIGH, s);
  spinUnlock(cpu, il);
}

/**
 * do_mmap_pgoff for a file: creates the VMA. A shared writable mapping that wants write notification
 * (vma_wants_writenotify) gets vm_page_prot without the write bit, so the first write to every clean
 * page faults. Returns the start address.
 */
export function doMmap(cpu: Cpu, fd: number, offset: number, pages: number, prot: number, mapFlags: number, special: SpecialMapping = 'none', addr = 0): number {
  if (fd < 0 || fd >= cpu.layout.nfiles) throw new SyscallError('EBADF', `no file ${fd}`);
  const file = fd as FileId;
  const pgoff = offset as PgOff;
  if (!Number.isInteger(pages) || pages <= 0) throw new SyscallError('EINVAL', `length of ${pages} pages`);
  if (pgoff < 0 || pgoff + pages > filePages(cpu, file)) throw new SyscallError('EINVAL', `pages ${pgoff}..${pgoff + pages} beyond the file's ${filePages(cpu, file)}`);
  if (!(prot & PROT_READ)) throw new SyscallError('EINVAL', 'mappings without PROT_READ are not modelled');
  const shared = (mapFlags & MAP_SHARED) !== 0;
  const fixed = (mapFlags & MAP_FIXED) !== 0;
  if (fixed && (addr % PAGE_SIZE !== 0 || addr <= 0 || addr / PAGE_SIZE + pages > TASK_SIZE_VPN)) throw new SyscallError('EINVAL', `MAP_FIXED at 0x${addr.toString(16)}`);
  const mm = currentMm(cpu);
  const sem = mmapSem(cpu, mm);
  downWrite(cpu, sem, LockClass.MmapSem, S.do_mmap_pgoff);
  try {
    let flags = protToFlags(prot) | VM_MAYREAD | VM_MAYWRITE;
    if (shared) flags |= VM_SHARED | VM_MAYSHARE;
    if (special === 'pfnmap') flags |= VM_PFNMAP;
    if (special === 'insertpage') flags |= VM_INSERTPAGE;
    let vmProt = protectionMap(flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED));
    // The file's mmap hook: some drivers change the protection (pgprot_noncached).
    if (cpu.meta[cpu.layout.file(file) + L.F_HOOK_PROT]) vmProt |= PTE_PCD | PTE_PWT;
    if (vmaWantsWritenotify(cpu, flags, vmProt, file)) vmProt = protectionMap(flags & (VM_READ | VM_WRITE | VM_EXEC));
    let start: Vpn;
    if (fixed) {
      start = (addr / PAGE_SIZE) as Vpn;
      unmapRangeLocked(cpu, mm, start, (start + pages) as Vpn);
    } else start = getUnmappedArea(cpu, mm, pages);
    const v = freeSlot(cpu, mm);
    vmaLink(cpu, v, flags, start, (start + pages) as Vpn, pgoff, file, vmProt);
    vmaMerge(cpu, mm, v);
    cpu.ctr[CTR.mmaps]!++;
    return start * PAGE_SIZE;
  } finally {
    upWrite(cpu, sem);
  }
}

/**
 * split_vma: splits VMA `v` at `at` (start < at < end): `v` keeps the front, the returned slot the
 * back. mmap_sem write-held.
 */
function splitVma(cpu: Cpu, mm: MmId, v: VmaIdx, at: Vpn): VmaIdx {
  assertHeldWrite(cpu, mmapSem(cpu, mm), 'mmap_sem');
  const nv = freeSlot(cpu, mm);
  const file = vmaFile(cpu, v);
  vmaLink(cpu, nv, vmaFlags(cpu, v) & ~VM_INUSE, at, vmaEnd(cpu, v), linearPageIndex(cpu, v, at), file, vmaProt(cpu, v));
  const il = iMmapLock(cpu, file);
  spinLock(cpu, il, LockClass.IMmapLock, S.do_munmap);
  Atomics.store(cpu.meta, v + L.VMA_END, at);
  spinUnlock(cpu, il);
  return nv;
}

/** VMAs of `mm` overlapping [s, e), split so that each lies wholly inside it. mmap_sem write-held. */
function isolateRange(cpu: Cpu, mm: MmId, s: Vpn, e: Vpn): VmaIdx[] {
  assertHeldWrite(cpu, mmapSem(cpu, mm), 'mmap_sem');
  const overlapping: VmaIdx[] = [];
  for (let slot = 0; slot < cpu.layout.vmasPerMm; slot++) {
    const v = vmaSlot(cpu, mm, slot);
    if (vmaFlags(cpu, v) && vmaEnd(cpu, v) > s && vmaStart(cpu, v) < e) overlapping.push(v);
  }
  const out: VmaIdx[] = [];
  for (let v of overlapping) {
    if (vmaStart(cpu, v) < s) v = splitVma(cpu, mm, v, s);
    if (vmaEnd(cpu, v) > e) splitVma(cpu, mm, v, e);
    out.push(v);
  }
  return out;
}

/** do_munmap: zaps the range's PTEs, then removes or trims the VMAs. */
export function doMunmap(cpu: Cpu, addr: number, pages: number): void {
  const s = addrVpn(addr);
  const e = (s + pages) as Vpn;
  if (addr % PAGE_SIZE || pages <= 0) throw new SyscallError('EINVAL', 'munmap of an unaligned or empty range');
  const mm = currentMm(cpu);
  const sem = mmapSem(cpu, mm);
  downWrite(cpu, sem, LockClass.MmapSem, S.do_munmap);
  try {
    unmapRangeLocked(cpu, mm, s, e);
    cpu.ctr[CTR.munmaps]!++;
  } finally {
    upWrite(cpu, sem);
  }
}

/** The body of do_munmap over [s, e): zap, then unlink and free the VMAs. mmap_sem write-held. */
function unmapRangeLocked(cpu: Cpu, mm: MmId, s: Vpn, e: Vpn): void {
  assertHeldWrite(cpu, mmapSem(cpu, mm), 'mmap_sem');
  for (const v of isolateRange(cpu, mm, s, e)) {
    zapPteRange(cpu, v, vmaStart(cpu, v), vmaEnd(cpu, v));
    unlinkVma(cpu, v);
  }
}

/** Takes VMA `v` off its file's i_mmap list and frees its slot, under i_mmap_lock. */
function unlinkVma(cpu: Cpu, v: VmaIdx): void {
  const il = iMmapLock(cpu, vmaFile(cpu, v));
  spinLock(cpu, il, LockClass.IMmapLock, S.do_munmap);
  vmaUnlinkFreeLocked(cpu, v);
  spinUnlock(cpu, il);
}

/** __vma_unlink and free: off the i_mmap list, then the slot is free. i_mmap_lock held. */
function vmaUnlinkFreeLocked(cpu: Cpu, v: VmaIdx): void {
  assertHeld(cpu, iMmapLock(cpu, vmaFile(cpu, v)), 'i_mmap_lock');
  Atomics.store(cpu.meta, v + L.VMA_LINKED, 0);
  Atomics.store(cpu.meta, v + L.VMA_FLAGS, 0);
}

/**
 * vma_merge: joins `v` with an adjacent VMA of the same file, flags and protection whose file offset
 * continues it, so that mprotect and munmap/remap cycles do not fragment the address space.
 * mmap_sem write-held. Returns the surviving VMA.
 */
function vmaMerge(cpu: Cpu, mm: MmId, v: VmaIdx): VmaIdx {
  assertHeldWrite(cpu, mmapSem(cpu, mm), 'mmap_sem');
  for (let again = true; again; ) {
    again = false;
    for (let slot = 0; slot < cpu.layout.vmasPerMm; slot++) {
      const o = vmaSlot(cpu, mm, slot);
      if (o === v || !vmaFlags(cpu, o)) continue;
      if (vmaFlags(cpu, o) !== vmaFlags(cpu, v) || vmaProt(cpu, o) !== vmaProt(cpu, v) || vmaFile(cpu, o) !== vmaFile(cpu, v)) continue;
      let lo: VmaIdx;
      let hi: VmaIdx;
      if (vmaEnd(cpu, o) === vmaStart(cpu, v)) [lo, hi] = [o, v];
      else if (vmaEnd(cpu, v) === vmaStart(cpu, o)) [lo, hi] = [v, o];
      else continue;
      if (linearPageIndex(cpu, lo, vmaEnd(cpu, lo)) !== vmaPgoff(cpu, hi)) continue;
      const il = iMmapLock(cpu, vmaFile(cpu, v));
      spinLock(cpu, il, LockClass.IMmapLock, S.do_mmap_pgoff);
      Atomics.store(cpu.meta, lo + L.VMA_END, vmaEnd(cpu, hi));
      vmaUnlinkFreeLocked(cpu, hi);
      spinUnlock(cpu, il);
      v = lo;
      again = true;
      break;
    }
  }
  return v;
}

/**
 * change_pte_range: each present PTE of [start, end) is updated by clear-then-set
 * (ptep_get_and_clear, pte_modify, set_pte_at), never by a plain read-modify-write, because the
 * hardware may set D in between. With `dirtyAccountable` (a write-notify VMA made writable), only
 * PTEs already dirty become writable; clean ones stay read-only so their first write still faults.
 * Bug `racy-pte-update`: a plain read, then a write of the modified value.
 */
function changePteRange(cpu: Cpu, mm: MmId, start: Vpn, end: Vpn, newprot: number, dirtyAccountable: boolean): void {
  const mem = cpu.mem;
  const racy = hasBug(cpu.config, 'racy-pte-update');
  forEachPteTable(cpu, mm, start, end, S.change_pte_range, (first, vpn, tableEnd) => {
    for (let x = vpn; x < tableEnd; x++) {
      const pte = first + (x - vpn) * 2;
      if (!ptePresent(Atomics.load(mem, pte))) continue;
      let old: number;
      if (racy) {
        old = mem[pte]!;
        cpu.racePoint(); // the window in which the hardware may set D
      } else {
        old = Atomics.exchange(mem, pte, 0);
        cpu.racePoint(); // RACE: the PTE reads as not present until set_pte_at below
      }
      let nw = pteModify(old, newprot);
      if (dirtyAccountable && pteDirty(nw)) nw = pteMkwrite(nw);
      Atomics.store(mem, pte, nw);
    }
  });
}

/**
 * mprotect_fixup: new flags and vm_page_prot for the range; a VMA that wants write notification keeps
 * clean pages read-only (dirty_accountable). "mprotect() is taught about the new behaviour as well.
 * However it overrides the last condition" (the seed): vm_page_prot is recomputed first, so a file
 * whose mmap hook changed the protection becomes write-notify here.
 * Bug `mprotect-ignores-writenotify`: vm_page_prot is the shared-writable protection for all pages.
 */
export function doMprotect(cpu: Cpu, addr: number, pages: number, prot: number): void {
  const s = addrVpn(addr);
  const e = (s + pages) as Vpn;
  if (addr % PAGE_SIZE || pages <= 0) throw new SyscallError('EINVAL', 'mprotect of an unaligned or empty range');
  if (!(prot & PROT_READ)) throw new SyscallError('EINVAL', 'PROT_NONE is not modelled');
  const mm = currentMm(cpu);
  const sem = mmapSem(cpu, mm);
  downWrite(cpu, sem, LockClass.MmapSem, S.mprotect_fixup);
  try {
    const vmas = isolateRange(cpu, mm, s, e);
    for (const v of vmas) {
      const meta = cpu.meta;
      const newflags = (vmaFlags(cpu, v) & ~(VM_READ | VM_WRITE | VM_EXEC)) | protToFlags(prot);
      let vmProt = protectionMap(newflags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED));
      let dirtyAccountable = false;
      const file = vmaFile(cpu, v);
      if (!hasBug(cpu.config, 'mprotect-ignores-writenotify') && vmaWantsWritenotify(cpu, newflags & ~VM_INUSE, vmProt, file)) {
        vmProt = protectionMap(newflags & (VM_READ | VM_WRITE | VM_EXEC));
        dirtyAccountable = true;
      }
      Atomics.store(meta, v + L.VMA_FLAGS, newflags);
      Atomics.store(meta, v + L.VMA_PROT, vmProt);
      const vs = vmaStart(cpu, v);
      const ve = vmaEnd(cpu, v);
      changePteRange(cpu, mm, vs, ve, vmProt, dirtyAccountable);
      flushTlbRange(cpu, mm, vs, ve, FlushCause.Mprotect);
    }
    // Merge only once every VMA of the range is fixed up: a merge frees slots still on the list.
    for (const v of vmas) if (vmaFlags(cpu, v)) vmaMerge(cpu, mm, v);
    cpu.ctr[CTR.mprotects]!++;
  } finally {
    upWrite(cpu, sem);
  }
}

/**
 * msync: for mappings without write notification the dirty state lives in the PTEs and is harvested
 * here (2.6.18 msync_pte_range: ptep_clear_flush_dirty, then set_page_dirty); with MS_SYNC the
 * file range is then written back (mmap_sem dropped around it, as 2.6.20 sys_msync does).
 */
export function doMsync(cpu: Cpu, addr: number, pages: number, flags: number): void {
  const s = addrVpn(addr);
  const e = (s + pages) as Vpn;
  const mm = currentMm(cpu);
  const sem = mmapSem(cpu, mm);
  const ranges: Array<[FileId, PgOff, PgOff]> = [];
  downRead(cpu, sem, LockClass.MmapSem, S.sys_msync);
  try {
    forEachSharedVmaIn(cpu, mm, s, e, (v, a, b) => {
      // 2.6.18 msync_pte_range moved PTE dirty bits into the pages; since 2.6.19 ("mm: msync()
      // cleanup") msync walks no page tables: write notification keeps the pages dirty instead, and
      // a mapping without it keeps its dirty state in the PTEs until unmap or reclaim.
      if (!cpu.config.kernel.writeNotify) harvestDirty(cpu, mm, a, b, S.sys_msync);
      const pg = linearPageIndex(cpu, v, a);
      ranges.push([vmaFile(cpu, v), pg, (pg + (b - a)) as PgOff]);
    });
  } finally {
    upRead(cpu, sem);
  }
  cpu.ctr[CTR.msyncs]!++;
  if (flags & MS_SYNC) {
    // 2.6.20 (KernelConfig.msyncScope 'file'): do_fsync(file) — the whole file — once for each shared
    // VMA of the range, in turn, with mmap_sem dropped; 3.16 on: vfs_fsync_range of the range only.
    // (2.6.20 retakes mmap_sem and looks the next VMA up again after each fsync; the VMAs here are
    // those of one look-up, the file of a VMA unmapped meanwhile is synced all the same.)
    const whole = cpu.config.kernel.msyncScope === 'file';
    for (const [file, first, end] of ranges) {
      const [a, b] = whole ? [0 as PgOff, filePages(cpu, file) as PgOff] : [first, end];
      cpu.onSyncRange?.(file, a, b);
      syncFileRange(cpu, file, a, b, S.sys_msync);
    }
  }
}

/** Calls `fn(v, a, b)` for each shared VMA of `mm` overlapping [s, e), with the overlap [a, b). */
function forEachSharedVmaIn(cpu: Cpu, mm: MmId, s: Vpn, e: Vpn, fn: (v: VmaIdx, a: Vpn, b: Vpn) => void): void {
  for (let slot = 0; slot < cpu.layout.vmasPerMm; slot++) {
    const v = vmaSlot(cpu, mm, slot);
    const vf = vmaFlags(cpu, v);
    if (!vf || !(vf & VM_SHARED)) continue;
    const a = Math.max(s, vmaStart(cpu, v)) as Vpn;
    const b = Math.min(e, vmaEnd(cpu, v)) as Vpn;
    if (a < b) fn(v, a, b);
  }
}

/**
 * The file ranges msync(addr, pages) of the current task would sync, read without mmap_sem (for an
 * oracle's snapshot before the call: another thread may be changing the VMAs, so the caller keeps
 * only what the call then reports through cpu.onSyncRange). Triples [file, first page, end page).
 */
export function msyncRangesUnlocked(cpu: Cpu, addr: number, pages: number): number[] {
  const s = addrVpn(addr);
  const out: number[] = [];
  forEachSharedVmaIn(cpu, currentMm(cpu), s, (s + pages) as Vpn, (v, a, b) => {
    const pg = linearPageIndex(cpu, v, a);
    out.push(vmaFile(cpu, v), pg, pg + (b - a));
  });
  return out;
}

/**
 * msync_pte_range (2.6.18): moves PTE dirty bits into the pages (ptep_clear_flush_dirty +
 * set_page_dirty). Also the end-of-run sync's first step.
 */
export function harvestDirty(cpu: Cpu, mm: MmId, start: Vpn, end: Vpn, site: number): number {
  let n = 0;
  forEachPteTable(cpu, mm, start, end, site, (first, vpn, tableEnd) => {
    for (let x = vpn; x < tableEnd; x++) {
      const pte = first + (x - vpn) * 2;
      const cur = Atomics.load(cpu.mem, pte);
      if (!ptePresent(cur) || !pteDirty(cur)) continue;
      const old = Atomics.and(cpu.mem, pte, ~PTE_D); // pte_mkclean as one locked AND: the MMU may set D meanwhile
      if (pteDirty(old)) {
        flushTlbPage(cpu, mm, x, FlushCause.Msync);
        setPageDirty(cpu, ptePfn(old));
        n++;
      }
    }
  });
  return n;
}

