/**
 * Handles: the integers that name shared state, branded so that one kind cannot stand for another —
 * a frame number passed where a page index belongs, a PTE's word where its lock's word belongs, is a
 * compile error. Free at run time: a handle is a plain number, the brand exists for the type checker
 * only. A value becomes a handle where it is made (allocFrame, ptePfn, a page-cache slot, a page-table
 * walk, a syscall's checked argument), with a cast there and nowhere else; arithmetic on handles
 * (vpn + 1) gives a plain number, so a loop that steps one carries the brand in its first value.
 *
 * Functions that may find nothing return `X | -1` and their callers test `=== -1`, which narrows.
 */
type Handle<K extends string> = number & { readonly __handle: K };

/** A physical frame number (a page of physical memory; struct page at Layout.page(pfn)). */
export type Pfn = Handle<'Pfn'>;
/** A virtual page number (an address / PAGE_SIZE) in some mm. */
export type Vpn = Handle<'Vpn'>;
/** A file, by its index in the machine's files (its address_space at Layout.file(id)). */
export type FileId = Handle<'FileId'>;
/** An mm_struct (a process's address space), 0 .. procs - 1. */
export type MmId = Handle<'MmId'>;
/** A page index in a file: page->index, vm_pgoff, a page-cache slot's key. */
export type PgOff = Handle<'PgOff'>;
/** A page-table entry: the word index of its low half in physical memory. */
export type PteIdx = Handle<'PteIdx'>;
/** A lock: the meta index of its word (spinlock, rw-semaphore or the page's flags for PG_locked). */
export type LockIdx = Handle<'LockIdx'>;
/** A VMA: the meta index of its vm_area_struct slot. */
export type VmaIdx = Handle<'VmaIdx'>;
