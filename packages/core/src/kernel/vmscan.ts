/**
 * Page reclaim (mm/vmscan.c shrink_page_list, simplified to a clock over the frames): evicts clean,
 * unlocked page-cache pages — unmapping them first (try_to_unmap, which moves dirty PTE bits into the
 * page), then dropping their buffers (try_to_free_buffers) and removing them from the page cache.
 * A later access faults the page back in from the backing store (a refault).
 */
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { trylockPage, unlockPage } from './locking/locks.js';
import { S } from './locking/lockorder.js';
import { CTR } from '../machine/machine.js';
import type { FileId, PgOff, Pfn } from '../handles.js';
import { tryToFreeBuffers } from './buffer.js';
import { diskWord } from './blkdev.js';
import { removeFromPageCache, slotPage } from './filemap.js';
import { WORDS_PER_PAGE } from '../config.js';
import { getPageUnlessZero, pageFlags, pageMapped, pageMapping, putPage } from './mm.js';
import { pageReferenced, tryToUnmap } from './rmap.js';
import { firstDifference, lostWriteDetails, lostWriteMessage } from '../oracles/lost-write.js';

/**
 * shrink_page_list for one page, locked and referenced by the caller. Returns true if evicted.
 * With aging (DaemonConfig.aging, 2.6.20's order): a mapped page whose PTEs were accessed since the
 * last look (page_referenced, which makes them old with a flush) is kept — activated, in 2.6.20 —
 * and try_to_unmap fails on a PTE that became young meanwhile; so only pages not touched between two
 * passes of the clock are evicted. Without it (the older model, a stress amplifier) every clean
 * unlocked page the clock reaches is unmapped and evicted.
 */
function shrinkPage(cpu: Cpu, pfn: Pfn, file: FileId, aging: boolean): boolean {
  if (pageFlags(cpu, pfn) & L.PG_writeback) return false;
  if (aging && pageMapped(cpu, pfn) && pageReferenced(cpu, pfn) > 0) {
    cpu.ctr[CTR.aged]!++;
    return false; // activate_locked
  }
  if (pageMapped(cpu, pfn) && !tryToUnmap(cpu, pfn, aging)) return false;
  // A dirty page whose buffers the journal already wrote reaches try_to_free_buffers with clean
  // buffers; that is the case its "clean buffers against a dirty page" comment is about.
  if (pageFlags(cpu, pfn) & L.PG_private && !tryToFreeBuffers(cpu, pfn, file)) return false;
  if (pageFlags(cpu, pfn) & L.PG_dirty) return false;
  return removeFromPageCache(cpu, pfn, checkEvictedPage);
}

/**
 * Oracle at eviction, run under tree_lock once the page is known to be freeable (so no fault can map
 * it and nothing can write it): a page leaves the cache only when it is clean and unmapped, and then
 * its contents must be what the backing store holds — a word that differs was written and never marked
 * dirty, so the next read of it refaults stale data. Reported at once as `lost-write`.
 */
export function checkEvictedPage(cpu: Cpu, pfn: Pfn, file: FileId, index: PgOff): void {
  const mem = cpu.mem;
  const disk = cpu.m.disk;
  const d = diskWord(cpu, file, index);
  const f = pfn * WORDS_PER_PAGE;
  const w = firstDifference(cpu.m.memBytes, f, cpu.m.diskBytes, d, WORDS_PER_PAGE);
  if (w < 0) return;
  const at = { file, page: index, word: w };
  cpu.violation(
    'lost-write',
    lostWriteMessage(at, `reclaim evicted the page as clean, but memory holds ${mem[f + w]} and the backing store ${disk[d + w]} (the write was never marked dirty)`),
    lostWriteDetails(at, mem[f + w]!, disk[d + w]!, 'eviction', { cpu: cpu.id }),
  );
}

/**
 * One reclaim pass: a clock over the page cache (the inactive list, in file order) tries to evict up
 * to `batch` pages. Returns the number evicted. With aging (`aging`, by default DaemonConfig.aging),
 * a pass below the low watermark that fell short goes round once more: the first made the pages it
 * kept old, so those not touched since are evicted (2.6.20 scans again at a higher priority).
 * drop_caches passes aging = false: the model's drop_caches evicts every clean page, mapped or not
 * (Linux's invalidates only unmapped ones; tests and mprotect-race use it to force refaults).
 */
export function reclaimPages(cpu: Cpu, batch: number, aging = cpu.config.daemons.aging): number {
  let evicted = reclaimPass(cpu, batch, aging);
  if (aging && evicted < batch && Atomics.load(cpu.meta, L.G_NR_FREE) < cpu.config.daemons.lowWatermark) evicted += reclaimPass(cpu, batch - evicted, aging);
  cpu.ctr[CTR.evicted]! += evicted;
  return evicted;
}

function reclaimPass(cpu: Cpu, batch: number, aging: boolean): number {
  const meta = cpu.meta;
  const lay = cpu.layout;
  const total = lay.filePagesTotal;
  let evicted = 0;
  for (let tries = 0; tries < Math.min(total, batch * 4) && evicted < batch; tries++) {
    const slot = (Atomics.add(meta, L.G_CLOCK_HAND, 1) >>> 0) % total;
    const pfn = slotPage(Atomics.load(meta, lay.pcacheBase + slot));
    if (pfn === -1) continue;
    if (!getPageUnlessZero(cpu, pfn)) continue;
    const file = pageMapping(cpu, pfn);
    if (Atomics.load(meta, lay.page(pfn) + L.PG_KIND) !== L.FrameKind.PageCache || file === -1) {
      putPage(cpu, pfn);
      continue;
    }
    if (!trylockPage(cpu, pfn, S.shrink_page_list)) {
      putPage(cpu, pfn);
      continue;
    }
    let ok = false;
    if (pageMapping(cpu, pfn) === file) {
      if (cpu.config.daemons.stripBuffers && pageMapped(cpu, pfn) && cpu.rng.below(2) === 0) {
        // refill_inactive_zone moving a mapped page to the inactive list under buffer-head pressure
        // (buffer_heads_over_limit): pagevec_strip -> try_to_release_page, page still mapped.
        if (pageFlags(cpu, pfn) & L.PG_private) tryToFreeBuffers(cpu, pfn, file);
      } else ok = shrinkPage(cpu, pfn, file, aging);
    }
    unlockPage(cpu, pfn);
    putPage(cpu, pfn);
    if (ok) evicted++;
  }
  return evicted;
}
