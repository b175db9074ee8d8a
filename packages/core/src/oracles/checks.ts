/**
 * Oracles over a quiescent machine (every CPU parked at a user-mode preemption point, or stopped):
 * the structural invariants of DESIGN.md §3 and the end-of-run owned-word comparison of the backing
 * store. They read shared memory only, so they run in any thread.
 */
import { WORDS_PER_PAGE } from '../config.js';
import { ENTRIES_PER_TABLE, PTE_RW, pteDirty, ptePfn, ptePresent, pteWrite } from '../hw/pte.js';
import * as L from '../machine/layout.js';
import { type Machine, type MachineView } from '../machine/machine.js';
import { slotOf, slotPage } from '../kernel/filemap.js';
import { findVmaUncached, mappingCapAccountDirty, pageFlags, pageIndex, pteOffset, VM_INUSE, VM_SHARED, VM_WRITE, vmaFile, vmaFlags, vmaProt, vmaWantsWritenotify } from '../kernel/mm.js';
import { lostWriteDetails, lostWriteMessage } from './lost-write.js';
import type { FileId, MmId, PgOff, PteIdx, Vpn } from '../handles.js';

export interface CheckFinding {
  readonly kind: 'invariant' | 'lost-write';
  readonly message: string;
  readonly details: Record<string, unknown>;
}

/** Calls fn(vpn, pteIndex, pteLow) for every present leaf PTE of `mm`. */
export function forEachPte(m: MachineView, mm: number, fn: (vpn: Vpn, pte: PteIdx, lo: number) => void): void {
  const mem = m.mem;
  const walk = (table: number, level: number, base: number) => {
    for (let i = 0; i < ENTRIES_PER_TABLE; i++) {
      const idx = table * WORDS_PER_PAGE + i * 2;
      const e = Atomics.load(mem, idx);
      if (!ptePresent(e)) continue;
      const vpn = base + i * 2 ** (9 * (level - 1));
      if (level === 1) fn(vpn as Vpn, idx as PteIdx, e);
      else walk(ptePfn(e), level - 1, vpn);
    }
  };
  walk(Atomics.load(m.meta, m.layout.mm(mm) + L.MM_CR3), 4, 0);
}

/** The PTE (low half) translating `vpn` in `mm`, or 0: the kernel's walk (pteOffset), then the entry. */
export function lookupPte(m: MachineView, mm: number, vpn: number): number {
  const pte = pteOffset(m, mm as MmId, vpn as Vpn);
  if (pte === -1) return 0;
  const e = Atomics.load(m.mem, pte);
  return ptePresent(e) ? e : 0;
}

/**
 * The structural invariants, at a stop-the-world checkpoint or at the end:
 * 1. in a write-notify VMA, a writable PTE implies PG_dirty on its page (or, see below, D in the PTE);
 * 2. a writable TLB entry implies a writable PTE for the same frame;
 * 3. a dirty buffer implies a dirty or under-writeback page;
 * 4. every frame's mapcount equals the PTEs that map it, and its reference count is the mapcount
 *    plus one for the page cache; NR_FILE_MAPPED counts the mapped frames;
 * 5. with `quiescent` (the end of a run, every CPU's disk queue drained, and the unit tests): NR_WRITEBACK
 *    counts the pages under writeback. Not at a checkpoint: a parked CPU still takes its disk
 *    interrupt there (a CPU still in the kernel may be waiting for that write), so a completion may
 *    be half done while the checker reads.
 */
export function checkInvariants(m: Machine, limit = 10): CheckFinding[] {
  return checkMachine(m, limit, true).findings;
}

/**
 * The invariants, and the number of write-notify pages whose dirty state is only in PTE D bits
 * (dirty but not accounted: what the seed's patch exists to bring to zero).
 */
export function checkMachine(m: Machine, limit = 10, quiescent = false): { findings: CheckFinding[]; dirtyOnlyInPte: number } {
  const dirtyOnlyInPte = new Set<number>();
  const out: CheckFinding[] = [];
  const lay = m.layout;
  const meta = m.meta;
  const add = (message: string, details: Record<string, unknown>) => {
    if (out.length < limit) out.push({ kind: 'invariant', message, details });
  };
  const mapped = new Int32Array(lay.frames);
  for (let mm = 0 as MmId; mm < lay.procs; mm++) {
    forEachPte(m, mm, (vpn, _pte, lo) => {
      const pfn = ptePfn(lo);
      mapped[pfn]!++;
      const v = findVmaUncached(m, mm, vpn);
      if (v === -1) {
        add(`PTE outside any VMA: mm ${mm} vpn 0x${vpn.toString(16)}`, { mm, vpn, pfn });
        return;
      }
      const vf = vmaFlags(m, v) & ~VM_INUSE;
      const file = vmaFile(m, v);
      const prot = vmaProt(m, v);
      // Write-notify by construction (shared writable, vm_page_prot without the write bit), or by
      // the heuristic applied to the VMA as it stands (so a bug that drops the read-only protection
      // is still judged by what the VMA should be).
      const wn = ((vf & (VM_WRITE | VM_SHARED)) === (VM_WRITE | VM_SHARED) && !(prot & PTE_RW)) || vmaWantsWritenotify(m, vf, prot, file);
      const pageDirty = (pageFlags(m, pfn) & L.PG_dirty) !== 0;
      if (wn && pteDirty(lo) && !pageDirty) dirtyOnlyInPte.add(pfn);
      // A writable PTE of a clean page is allowed only while the PTE itself still holds the dirty
      // state (D=1) after 2.6.20's try_to_free_buffers cancelled PG_dirty of the mapped page whose
      // buffers the journal wrote (cancel_dirty_page, marked PG_dirty_cancelled); the D bit is
      // harvested at unmap. Any other writable PTE over a clean page means a write could go
      // unnoticed, or (D=1) that fsync would miss data only the PTE holds.
      if (wn && pteWrite(lo) && !pageDirty && !(pteDirty(lo) && pageFlags(m, pfn) & L.PG_dirty_cancelled)) {
        add(`writable PTE of a clean page in a write-notify VMA: mm ${mm} vpn 0x${vpn.toString(16)} frame ${pfn} (file ${file} page ${pageIndex(m, pfn)})`, { invariant: 'writable-pte-implies-dirty', mm, vpn, pfn, file });
      }
    });
  }
  for (let c = 0; c < lay.cpus; c++) {
    const b = lay.cpu(c);
    const am = meta[b + L.C_ACTIVE_MM]!;
    const seen = new Set<number>(); // a translation cached in both levels is one finding
    for (const { vpn, pfn, writable } of m.tlbEntries(c)) {
      if (!writable || seen.has(vpn)) continue;
      seen.add(vpn);
      const lo = am >= 0 ? lookupPte(m, am, vpn) : 0;
      if (am < 0 || !pteWrite(lo) || ptePfn(lo) !== pfn) {
        add(`writable TLB entry without a writable PTE: cpu${c} vpn 0x${vpn.toString(16)} frame ${pfn} (PTE ${lo ? '0x' + (lo >>> 0).toString(16) : 'none'})`, { invariant: 'writable-tlb-implies-writable-pte', cpu: c, vpn });
      }
    }
  }
  let nrMapped = 0;
  let nrWriteback = 0;
  for (let f = 1; f < lay.frames; f++) {
    const p = lay.page(f);
    const kind = meta[p + L.PG_KIND]!;
    if (kind !== L.FrameKind.PageCache && kind !== L.FrameKind.Anon) continue;
    const flags = meta[p + L.PG_FLAGS]!;
    if (flags & L.PG_writeback) nrWriteback++;
    if (kind === L.FrameKind.PageCache && flags & L.PG_private && !(flags & (L.PG_dirty | L.PG_writeback))) {
      for (let i = 0; i < lay.buffersPerPage; i++) {
        if (meta[lay.bh(f, i)]! & L.BH_Dirty) {
          add(`dirty buffer ${i} on a clean page: frame ${f} (file ${meta[p + L.PG_MAPPING]! - 1} page ${meta[p + L.PG_INDEX]})`, { invariant: 'dirty-buffer-implies-dirty-page', pfn: f });
          break;
        }
      }
    }
    const mc = meta[p + L.PG_MAPCOUNT]!;
    if (mc > 0) nrMapped++;
    if (mc !== mapped[f]) add(`mapcount ${mc} but ${mapped[f]} PTEs map frame ${f}`, { invariant: 'mapcount', pfn: f });
    const cached = kind === L.FrameKind.PageCache && meta[p + L.PG_MAPPING]! > 0 ? 1 : 0;
    if (meta[p + L.PG_COUNT] !== mapped[f]! + cached) {
      add(`reference count ${meta[p + L.PG_COUNT]} of frame ${f}, expected ${mapped[f]! + cached} (${mapped[f]} PTEs${cached ? ' + page cache' : ''})`, { invariant: 'refcount', pfn: f });
    }
  }
  if (nrMapped !== meta[L.G_NR_MAPPED]) add(`NR_FILE_MAPPED + NR_ANON_PAGES is ${meta[L.G_NR_MAPPED]}, but ${nrMapped} frames are mapped`, { invariant: 'nr-mapped' });
  if (quiescent && nrWriteback !== meta[L.G_NR_WRITEBACK]) add(`NR_WRITEBACK is ${meta[L.G_NR_WRITEBACK]}, but ${nrWriteback} pages are under writeback`, { invariant: 'nr-writeback' });
  return { findings: out, dirtyOnlyInPte: dirtyOnlyInPte.size };
}

/** Where word `w` of the disk/shadow arrays lives: file, page and word within the page. */
export function locateWord(m: Machine, w: number): { file: number; page: number; word: number } {
  const pageSlot = Math.floor(w / WORDS_PER_PAGE);
  let file = 0;
  for (; file < m.layout.nfiles - 1; file++) {
    const b = m.layout.file(file);
    if (pageSlot < m.meta[b + L.F_BASE]! + m.meta[b + L.F_PAGES]!) break;
  }
  return { file, page: pageSlot - m.meta[m.layout.file(file) + L.F_BASE]!, word: w % WORDS_PER_PAGE };
}

/**
 * The cached page of `file` at `index` carries PG_dirty_cancelled: 2.6.20's try_to_free_buffers
 * cancelled its dirty state while it was mapped, so data may live only under a dirty PTE until unmap
 * (a hole of 2.6.20 itself, reachable where buffers of mapped pages are stripped: pagevec_strip under
 * buffer_heads_over_limit). The durability checks exempt such pages.
 */
export function dirtyCancelled(m: MachineView, file: number, index: number): boolean {
  return (cachedPageFlags(m, file, index) & L.PG_dirty_cancelled) !== 0;
}

/** cachestat(2) of file pages [first, end): cached pages, and of them dirty and under writeback. */
export function pageCacheState(m: MachineView, file: number, first: number, end: number): { cached: number; dirty: number; writeback: number } {
  let cached = 0;
  let dirty = 0;
  let writeback = 0;
  for (let i = first; i < end; i++) {
    const pfn = slotPage(Atomics.load(m.meta, slotOf(m, file as FileId, i as PgOff)));
    if (pfn === -1) continue;
    cached++;
    const f = Atomics.load(m.meta, m.layout.page(pfn) + L.PG_FLAGS);
    if (f & L.PG_dirty) dirty++;
    if (f & L.PG_writeback) writeback++;
  }
  return { cached, dirty, writeback };
}

/** The flags word of the cached page of `file` at `index`, 0 if it is not cached. */
export function cachedPageFlags(m: MachineView, file: number, index: number): number {
  const pfn = slotPage(Atomics.load(m.meta, slotOf(m, file as FileId, index as PgOff)));
  return pfn === -1 ? 0 : Atomics.load(m.meta, m.layout.page(pfn) + L.PG_FLAGS);
}

/**
 * The durability checks apply to `file`: the kernel write-notifies and the file's mappings do
 * (mapping_cap_account_dirty, no mmap hook changing the protection). Elsewhere the dirty state may
 * legitimately live only in PTE D bits, which neither fsync nor (since 2.6.19) msync looks at.
 */
export function syncMustBeDurable(m: MachineView, file: number): boolean {
  return m.config.kernel.writeNotify && mappingCapAccountDirty(m, file as FileId) && m.meta[m.layout.file(file) + L.F_HOOK_PROT] !== 1;
}

/**
 * The end-of-run check as fsync sees it: after an fsync of every file that does not harvest PTE dirty
 * bits (2.6.19+ do_fsync), every owned word of a file whose mappings write-notify must be on the
 * backing store; a word that only the later harvest would save is a finding. Words of a page whose
 * dirty state 2.6.20's try_to_free_buffers cancelled while mapped (PG_dirty_cancelled) are exempt:
 * there the data lives under a dirty PTE by design until unmap. No check on a kernel without write
 * notification (2.6.18), whose fsync never sees PTE dirty bits.
 */
export function checkDurableAtFsync(m: Machine, limit = 10): CheckFinding[] {
  const out: CheckFinding[] = [];
  const { disk, shadow, meta } = m;
  for (let f = 0; f < m.layout.nfiles; f++) {
    if (!syncMustBeDurable(m, f)) continue;
    const b = m.layout.file(f);
    const first = meta[b + L.F_BASE]!;
    for (let page = 0; page < meta[b + L.F_PAGES]!; page++) {
      const w0 = (first + page) * WORDS_PER_PAGE;
      let bad = -1;
      for (let w = w0; w < w0 + WORDS_PER_PAGE; w++) {
        if (disk[w] !== shadow[w]) {
          bad = w;
          break;
        }
      }
      if (bad < 0) continue;
      if (dirtyCancelled(m, f, page)) continue;
      if (out.length >= limit) break;
      const at = locateWord(m, bad);
      out.push({
        kind: 'lost-write',
        message: lostWriteMessage(at, `after fsync the backing store holds ${disk[bad]}, the owner last wrote ${shadow[bad]}: only the PTE dirty bit holds the write (fsync does not harvest PTE dirty bits; a page left clean under a dirty PTE)`),
        details: lostWriteDetails(at, shadow[bad]!, disk[bad]!, 'fsync-end'),
      });
    }
  }
  return out;
}

/**
 * The end-of-run owned-word check: after the final sync, the backing store must hold the last value
 * each word's owner wrote (kept in the shadow buffer). One finding per differing word, up to `limit`.
 */
export function checkBackingStore(m: Machine, limit = 10): CheckFinding[] {
  const out: CheckFinding[] = [];
  const { disk, shadow } = m;
  for (let w = 0; w < shadow.length; w++) {
    if (disk[w] !== shadow[w]) {
      if (out.length >= limit) break;
      const at = locateWord(m, w);
      out.push({
        kind: 'lost-write',
        message: lostWriteMessage(at, `the backing store holds ${disk[w]} after the final sync, the owner last wrote ${shadow[w]}`),
        details: lostWriteDetails(at, shadow[w]!, disk[w]!, 'final'),
      });
    }
  }
  return out;
}
