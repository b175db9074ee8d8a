/**
 * The kernel's lock order, written once. Each line may be taken while holding any line above it
 * (a lower rank); the parenthesised call sites are the paths that create the edge. LOCK_ORDER below
 * is this block as data, and nothing else defines the ranks.
 *
 * ```
 * rank
 *  0  i_mutex                       (do_truncate, generic_file_aio_write: held across the page
 *                                    cache work and balance_dirty_pages; 2.6.20's write(2) may fault
 *                                    on its user buffer under it, so mmap_sem comes after)
 *  1  mmap_sem
 *  2    page lock (PG_locked)       (filemap_nopage -> add_to_page_cache, under a fault)
 *  3      i_mmap_lock               (page_mkclean, try_to_unmap; do_mmap_pgoff under mmap_sem)
 *  4        pte lock                (page_mkclean_one, try_to_unmap_one; faults, zap_pte_range,
 *                                    change_pte_range under mmap_sem)
 *  5          private_lock          (zap_pte_range / try_to_unmap_one -> __set_page_dirty_buffers)
 *  5          tree_lock             (the same set_page_dirty tagging the index, after it dropped
 *                                    private_lock; write_cache_pages under the page lock)
 *  6  leaves: page_table_lock       (__pte_alloc, under mmap_sem)
 *  6          zone->lock            (__alloc_pages / __free_pages, under anything above)
 *  6          tlbstate_lock         (flush_tlb_others, 2.6.20 flush protocol: under a pte lock,
 *                                    mmap_sem, i_mmap_lock, the page lock — whoever flushes)
 * ```
 * Equal ranks are siblings: each may be taken under the ranks above, but the two are never held
 * together, in either order (private_lock and tree_lock are taken one after the other by
 * __set_page_dirty_buffers, as 2.6.20 fs/buffer.c does; the leaves take nothing).
 *
 * Lockdep (lockdep.ts) reports cycles and IRQ-state inversions, as the kernel's does, not ranks
 * (tree_lock is the one class here taken with hardirqs off, spin_lock_irqsave, as 2.6.20 takes it
 * with write_lock_irq because end_page_writeback takes it in hardirq context; zone->lock, irq-off in
 * 2.6.20 too, is a plain spinlock here). The ranks are checked by tests against every edge the
 * correct kernel records (core/test/lockorder.test.ts, and on real workers in
 * harness/test/lockorder.test.ts). The test classes test_lock_a/b/c are outside the order.
 *
 * The inversion the seed's fs/buffer.c hunk avoids: try_to_free_buffers holding private_lock and
 * calling clear_page_dirty -> page_mkclean -> i_mmap_lock -> pte lock, against zap_pte_range holding
 * a pte lock and calling set_page_dirty -> private_lock (on another page of the same file).
 */

export const enum LockClass {
  MmapSem = 0,
  PageLock = 1,
  IMmapLock = 2,
  PteLock = 3,
  PrivateLock = 4,
  TreeLock = 5,
  PageTableLock = 6,
  ZoneLock = 7,
  Test0 = 8,
  Test1 = 9,
  Test2 = 10,
  TlbState = 11,
  IMutex = 12,
}

/** Class names as lockdep prints them (index = LockClass). */
export const LOCK_CLASS_NAMES: readonly string[] = [
  '&mm->mmap_sem',
  'PG_locked',
  '&mapping->i_mmap_lock',
  'pte lock (ptlock_ptr(page))',
  '&mapping->private_lock',
  '&mapping->tree_lock',
  '&mm->page_table_lock',
  '&zone->lock',
  'test_lock_a',
  'test_lock_b',
  'test_lock_c',
  '&f->tlbstate_lock',
  '&inode->i_mutex',
];
export const LOCK_CLASS_COUNT = LOCK_CLASS_NAMES.length;

/**
 * The order block above as data: [class, rank]. A class may be taken while holding classes of lower
 * rank only; classes of equal rank are never held together.
 */
export const LOCK_ORDER: ReadonlyArray<readonly [LockClass, number]> = [
  [LockClass.IMutex, 0],
  [LockClass.MmapSem, 1],
  [LockClass.PageLock, 2],
  [LockClass.IMmapLock, 3],
  [LockClass.PteLock, 4],
  [LockClass.PrivateLock, 5],
  [LockClass.TreeLock, 5],
  [LockClass.PageTableLock, 6],
  [LockClass.ZoneLock, 6],
  [LockClass.TlbState, 6],
];

/** The rank of class `c` in the lock order, or -1 for a class outside it (the test classes). */
export function lockRank(c: LockClass): number {
  const e = LOCK_ORDER.find(([k]) => k === c);
  return e ? e[1] : -1;
}

/**
 * Call sites: the kernel function that takes a lock, recorded with each dependency edge.
 * Numbered so that they fit a shared Int32 slot; the names are what reports print.
 */
export const SITE_NAMES = [
  '(none)',
  'handle_mm_fault',
  'do_no_page',
  'do_wp_page',
  'handle_pte_fault',
  '__pte_alloc',
  'zap_pte_range',
  'unmap_vmas',
  'do_munmap',
  'do_mmap_pgoff',
  'mprotect_fixup',
  'change_pte_range',
  'page_mkclean',
  'page_mkclean_one',
  'clear_page_dirty_for_io',
  '__set_page_dirty_buffers',
  'try_to_free_buffers',
  'try_to_unmap_one',
  'shrink_page_list',
  'write_cache_pages',
  'sync_page_range',
  'ext3_journal_commit',
  'add_to_page_cache',
  'find_get_page',
  'remove_from_page_cache',
  '__alloc_pages',
  '__free_pages',
  'lock_page',
  'filemap_nopage',
  'cancel_dirty_page',
  'sys_msync',
  'do_fsync',
  'test_site',
  'flush_tlb_others',
  'balance_dirty_pages',
  'page_referenced_one',
  'generic_file_buffered_write',
  'unmap_mapping_range',
  'truncate_inode_pages',
  'end_page_writeback',
  'do_truncate',
  'generic_file_aio_write',
  'create_empty_buffers',
] as const;
export type SiteName = (typeof SITE_NAMES)[number];
export const S = Object.fromEntries(SITE_NAMES.map((n, i) => [n, i])) as { readonly [K in SiteName]: number };
