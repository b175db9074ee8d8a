/**
 * The kernel's lock order, written once. Each line is taken while holding the line above it; the
 * parenthesised call sites are the paths that create the edge. The lock validator reads its ranks
 * from LOCK_ORDER below, and nowhere else defines them.
 *
 * ```
 * mmap_sem
 *   page lock (PG_locked)
 *     i_mmap_lock
 *       pte lock (per page-table page)
 *         private_lock          (zap_pte_range / try_to_unmap_one -> set_page_dirty)
 *           tree_lock           (set_page_dirty tagging the page-cache index)
 * ```
 * Leaf locks outside that chain: page_table_lock (mm, __pte_alloc: taken with mmap_sem held),
 * zone->lock (frame allocator) and lru_lock (reclaim scan) nest inside anything and take nothing.
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
  LruLock = 8,
  Test0 = 9,
  Test1 = 10,
  Test2 = 11,
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
  '&zone->lru_lock',
  'test_lock_a',
  'test_lock_b',
  'test_lock_c',
];
export const LOCK_CLASS_COUNT = LOCK_CLASS_NAMES.length;

/** The order block above as data: [class, rank]; a class may be taken while holding lower ranks. */
export const LOCK_ORDER: ReadonlyArray<readonly [LockClass, number]> = [
  [LockClass.MmapSem, 0],
  [LockClass.PageLock, 1],
  [LockClass.IMmapLock, 2],
  [LockClass.PteLock, 3],
  [LockClass.PrivateLock, 4],
  [LockClass.TreeLock, 5],
  [LockClass.PageTableLock, 6],
  [LockClass.ZoneLock, 7],
  [LockClass.LruLock, 7],
];

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
] as const;
export type SiteName = (typeof SITE_NAMES)[number];
export const siteId = (name: SiteName): number => SITE_NAMES.indexOf(name);
export const S = Object.fromEntries(SITE_NAMES.map((n, i) => [n, i])) as { readonly [K in SiteName]: number };
