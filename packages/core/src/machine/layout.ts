/**
 * The shared-memory layout: every offset into the machine's SharedArrayBuffers is named here and
 * nowhere else. All offsets are indices into Int32Array views (4-byte units) unless stated.
 *
 * ```
 *  physmem SAB  (Int32Array mem32)      frame f occupies words [f*1024, f*1024+1024)
 *  +-------+-------+-------+-----      data pages, page-cache pages and page-table pages alike;
 *  | f0    | f1    | f2    | ...       a page-table entry is two words: low half (flags, PFN 12..31)
 *  +-------+-------+-------+-----      and high half (NX); flags change only with Atomics on the low half
 *
 *  meta SAB     (Int32Array meta)
 *  +--------+--------------+--------+------------+------+----------+-------+--------+--------+---------+---------+---------+
 *  | global | struct page  | buffer | per-CPU    | mm   | vma      | files | page   | dirty  | lockdep | per-CPU | mm cpu_ |
 *  | fields | frames*PG_*  | heads  | areas+TLBs | slots| slots    | (a_s) | cache  | tags   | edges   | masks   | vm_masks|
 *  +--------+--------------+--------+------------+------+----------+-------+--------+--------+---------+---------+---------+
 *  then: flush slots (2.6.20 tlbstate_locks), lockdep's IRQ usage per class
 *
 *  disk SAB     (Int32Array)  backing store: file f page i at words [(fileBase[f]+i)*1024, +1024)
 *  shadow SAB   (Int32Array)  owned-word oracle: last value each word's owner wrote (same indexing)
 *  stats SAB    (Float64Array) per-CPU counters, cpus * CTR_COUNT, written by their CPU only
 * ```
 *
 * Every CPU mask (MASK_WORDS words, cpumask.ts) is in the last two regions, and regions grow only at
 * the end: the meta indices of locks are folded into deterministic mode's trace hash, so a mask inside
 * the per-CPU area or the mm would move the mm's and the files' locks, and every pinned trace, each
 * time MAX_CPUS grows.
 */
import { MASK_WORDS, type MachineConfig, PAGE_SIZE, WORDS_PER_PAGE } from '../config.js';

// ---- global fields ----
export const G_STOP = 0; // 0 running, else StopReason
export const G_VIOLATION = 1; // first CPU to report a violation claims it (cpu+1)
export const G_ZONE_LOCK = 2; // spinlock (2 words) over the free list
export const G_FREE_HEAD = 4; // first free frame, -1 none
export const G_NR_FREE = 5;
export const G_NR_MAPPED = 6; // page-cache pages mapped by at least one PTE (NR_FILE_MAPPED)
export const G_TOKENS = 7; // free run tokens (sched/tokens.ts; free mode with more CPUs than host threads)
export const G_CLOCK_HAND = 8; // reclaim's clock position
export const G_CHECKPOINT = 9; // stop-the-world request sequence number
export const G_PARKED = 10; // CPUs parked at the current checkpoint
export const G_NR_DIRTY = 11; // pages with PG_dirty (balance_dirty_pages' input)
export const G_RUNNING = 12; // CPUs still running their workload
export const G_FLUSH_KICK = 13; // balance_dirty_pages asks the background flusher to run
export const G_DIRTY_EXCEEDED = 14; // balance_dirty_pages' dirty_exceeded: writers throttle every 8 pages
export const G_MAX_UNACCOUNTED = 15; // most pages seen dirty only in PTEs
/** Three spare spinlocks (2 words each) for tests and experiments: G_TEST_LOCKS + 2 * i. */
export const G_TEST_LOCKS = 16;
export const G_NR_WRITEBACK = 22; // pages with PG_writeback (NR_WRITEBACK: balance_dirty_pages counts them)
/** Words a workload's CPUs coordinate through (CpuApi.shared: a flag, a published address). */
export const G_WORKLOAD_WORDS = 24;
export const WORKLOAD_WORDS = 8;
export const G_FIELDS = 32;

export const enum StopReason {
  Finished = 1,
  Violation = 2,
  Watchdog = 3,
  Abort = 4,
}

// ---- locks (words inside the objects that hold them) ----
/** Spinlock: owner CPU + 1 while held, -(CPU + 1) after that CPU released it, 0 never taken. */
export const SPIN_OWNER = 0;
/** Spinlock: CPUs sleeping on the owner word (so the unlock knows to wake them). */
export const SPIN_SLEEPERS = 1;
export const SPIN_WORDS = 2;
/** rw-semaphore (mmap_sem): readers holding it (-1: a writer), sleepers, writers waiting. */
export const RWSEM_COUNT = 0;
export const RWSEM_SLEEPERS = 1;
export const RWSEM_WRITERS = 2;
export const RWSEM_WORDS = 3;

// ---- struct page (PAGE_STRIDE words per frame) ----
export const PG_FLAGS = 0;
export const PG_MAPPING = 1; // file id + 1; 0 = anonymous / page table / free
export const PG_INDEX = 2; // page index in the file
export const PG_MAPCOUNT = 3; // number of PTEs that map the page
export const PG_COUNT = 4; // reference count
export const PG_PTL = 5; // split pte lock word (page-table pages), 2 words
export const PG_WAITERS = 7; // sleepers on PG_locked
export const PG_NEXT = 8; // free-list link
export const PG_KIND = 9; // FrameKind
export const PAGE_STRIDE = 10;

export const enum FrameKind {
  Free = 0,
  PageTable = 1,
  PageCache = 2,
  Anon = 3,
  Reserved = 4,
}

/** Page flag bits (in PG_FLAGS), after include/linux/page-flags.h. */
export const PG_locked = 1 << 0;
export const PG_error = 1 << 1;
export const PG_referenced = 1 << 2;
export const PG_uptodate = 1 << 3;
export const PG_dirty = 1 << 4;
export const PG_lru = 1 << 5;
export const PG_private = 1 << 11; // has buffer heads
export const PG_writeback = 1 << 12;
export const PG_reclaim = 1 << 17;
/**
 * Model marker, not a Linux flag: PG_dirty was dropped by cancel_dirty_page (2.6.20
 * try_to_free_buffers) while the page was mapped, so a dirty writable PTE may legitimately remain
 * over the clean page until unmap. Cleared only when the page is cleaned for writeback
 * (clear_page_dirty_for_io, after page_mkclean has cleaned every PTE): a page dirtied again meanwhile
 * (zap moving the D bit in) keeps it, so a sync that overlapped the cancel still sees it.
 * The oracles use it to tell that state from a lost dirty bit.
 */
export const PG_dirty_cancelled = 1 << 24;
/**
 * Model marker for ext3's ordered-data list: writepage (ext3_ordered_writepage -> journal_dirty_data)
 * filed the page's buffers on the running transaction, so the next commit writes those of them that
 * are dirty again (journal_submit_data_buffers) and unfiles them. Used when the journal is not the
 * `journalEveryPage` amplifier.
 */
export const PG_jbd_data = 1 << 25;
/**
 * Model marker: __block_write_full_page is still submitting this page's buffers to the asynchronous
 * disk, so a completion that finds no buffer in flight must not end the page's writeback yet (Linux
 * counts the buffers under way; this is that count's bias).
 */
export const PG_io_submitting = 1 << 26;
/** C_IPI_PENDING bit of the disk interrupt: this CPU has I/O queued (kernel/disk.ts). */
export const DISK_PENDING = 1 << 30;
/** The per-CPU disk queue (kernel/disk.ts): DQ_* words, then DISK_QUEUE entries of DQE_FIELDS, then their data. */
export const DQ_HEAD = 0;
export const DQ_TAIL = 1;
export const DQ_TICK = 2; // disk interrupts taken while I/O was queued (the latency clock)
export const DQ_FIELDS = 4;
export const DQE_BH = 0; // meta index of the buffer head
export const DQE_PFN = 1;
export const DQE_FILE = 2;
export const DQE_INDEX = 3;
export const DQE_BLOCK = 4;
export const DQE_DUE = 5; // DQ_TICK at which it completes
export const DQE_FIELDS = 6;
export const DISK_QUEUE = 16;

/** Buffer-head state bits (one Int32 per buffer). */
export const BH_Uptodate = 1 << 0;
export const BH_Dirty = 1 << 1;
export const BH_Lock = 1 << 2; // I/O in flight on the buffer (lock_buffer)
export const BH_Async_Write = 1 << 3; // submitted to the asynchronous disk, not completed (mark_buffer_async_write)
export const BH_Mapped = 1 << 5;

// ---- per-CPU area ----
/**
 * Summary of CM_IPI_FROM: bit w set = word w of our initiator set may be non-empty. An interrupt is
 * pending while it is non-zero; idle CPUs wait here.
 */
export const C_IPI_PENDING = 0;
export const C_FLUSH_MM = 1; // this CPU's outgoing request: mm id
export const C_FLUSH_START = 2; // first VPN
export const C_FLUSH_END = 3; // VPN past the end
export const C_FLUSH_ALL = 4; // 1: flush every non-global entry
export const C_FLUSH_ACK = 5; // targets of this CPU's request that have not acknowledged yet (a count; who: CM_FLUSH_LEFT)
export const C_IRQ = 6; // interrupt flag (1 = enabled)
export const C_STATE = 7; // CpuState
export const C_SLEEP_ADDR = 8; // meta index this CPU sleeps on (-1 none), so IPIs can wake it
export const C_ACTIVE_MM = 9; // mm whose page tables CR3 points at (-1: init_mm)
export const C_TLB_STATE = 10; // TLBSTATE_OK / TLBSTATE_LAZY
export const C_WAIT_KIND = 11; // WaitKind
export const C_WAIT_OBJ = 12; // lock index, or the number of flush targets
export const C_WAIT_SINCE = 13; // host ms (low 31 bits) when the wait began
export const C_CR2_LO = 14;
export const C_CR2_HI = 15;
export const C_ERRCODE = 16;
export const C_HELD_DEPTH = 17;
export const C_IN_KERNEL = 18; // nesting depth of kernel paths (0: user mode)
export const C_PARKED_AT = 19; // checkpoint sequence this CPU parked for
export const C_HEARTBEAT = 20; // counts this CPU's preemption points and wait iterations (hang detection)
/** Hardirq nesting (the kernel's hardirq_count): > 0 while an interrupt handler runs (Cpu.hardirq). */
export const C_HARDIRQ = 21;
/** The mm this CPU left by leave_mm and has not switched back to, plus one (0: none); see MM_LAZY_LEFT. */
export const C_LAZY_LEFT = 22;
/** Run tokens: this CPU's TokenState in bits 0-1, the proxy generation above (sched/tokens.ts). */
export const C_TOKEN = 23;
export const C_HELD = 24; // HELD_MAX records of HELD_FIELDS
export const HELD_MAX = 24;
export const HELD_LOCK = 0;
export const HELD_CLASS = 1;
export const HELD_SITE = 2;
/**
 * Flag bits of the acquisition: HELD_F_TRYLOCK (lockdep adds no dependency through it), HELD_F_READ (a
 * shared acquisition: down_read), HELD_F_HARDIRQ (taken in hardirq context: lockdep's irq_context, a
 * chain boundary). The word keeps its first name: bit 0 is what it always held.
 */
export const HELD_TRYLOCK = 3;
export const HELD_F_TRYLOCK = 1;
export const HELD_F_READ = 2;
export const HELD_F_HARDIRQ = 4;
export const HELD_FIELDS = 4;
export const C_FIXED = C_HELD + HELD_MAX * HELD_FIELDS;

export const enum CpuState {
  Starting = 0,
  Running = 1,
  Idle = 2,
  Parked = 3,
  Done = 4,
}
/** What a CPU waits for (C_WAIT_KIND), for the watchdog's report and the wait policy (sched/wait.ts). */
export const enum WaitKind {
  None = 0,
  Spin = 1,
  FlushAck = 2,
  RwsemRead = 3,
  RwsemWrite = 4,
  PageLock = 5,
  /** Its workload is done; it waits for the others (and keeps taking interrupts). */
  Idle = 6,
  /** Parked at a stop-the-world checkpoint until CPU 0 releases it. */
  Park = 7,
  /** CPU 0 opened a checkpoint and waits for every other CPU to park. */
  Checkpoint = 8,
  /** lock_buffer: I/O on a buffer head is serialised by BH_Lock. */
  BufferLock = 9,
}

// ---- per-CPU masks (a region of their own, CM_STRIDE words per CPU, after the lockdep edges) ----
/** CpuMask (MASK_WORDS words): CPUs with a flush request for this CPU; C_IPI_PENDING summarises it. */
export const CM_IPI_FROM = 0;
/** CpuMask (MASK_WORDS words): targets of this CPU's flush request that have not acknowledged yet. */
export const CM_FLUSH_LEFT = MASK_WORDS;
export const CM_STRIDE = 2 * MASK_WORDS;

export const TLBSTATE_OK = 1;
export const TLBSTATE_LAZY = 2;

// ---- TLB entries (inside the per-CPU area) ----
export const TLB_TAG = 0; // VPN, -1 invalid
export const TLB_PFN = 1;
export const TLB_PERM = 2; // TLBP_* bits
export const TLB_LRU = 3; // last-use stamp
export const TLB_FIELDS = 4;
export const TLBP_W = 1; // effective R/W
export const TLBP_U = 2; // effective U/S
export const TLBP_D = 4; // D bit of the final entry at fill time

// ---- mm_struct ----
export const MM_CR3 = 0; // PFN of the PML4
export const MM_SEM = 1; // rw-semaphore: 3 words (count, waiters, writers waiting)
export const MM_PT_LOCK = 4; // page_table_lock: 2 words
/**
 * VMA slots at this index and above have never been used (a high-water mark, raised by vma_link under
 * mmap_sem for writing, never lowered): rmap's scans stop there. (cpu_vm_mask, a CpuMask, is in a
 * region of its own: Layout.mmCpuMask.)
 */
export const MM_VMA_HIGH = 6;
export const MM_USERS = 7;
export const MM_RSS = 8;
/**
 * CPUs that left this mm lazily (leave_mm) and have not switched back to it: each later flush of the
 * mm skips them (no IPI), and counts them (CTR.lazySkipped).
 */
export const MM_LAZY_LEFT = 9;
export const MM_STRIDE = 10;

// ---- vm_area_struct ----
export const VMA_FLAGS = 0; // VM_* bits; 0 = free slot
export const VMA_START = 1; // first VPN
export const VMA_END = 2; // VPN past the end
export const VMA_PGOFF = 3; // file page of VMA_START
export const VMA_FILE = 4; // file id, -1 anonymous
export const VMA_PROT = 5; // vm_page_prot: PTE flag bits (low half)
export const VMA_LINKED = 6; // on the file's i_mmap list (changed under i_mmap_lock)
export const VMA_STRIDE = 8;

// ---- address_space (per file) ----
export const F_IMMAP_LOCK = 0; // 2 words
export const F_PRIVATE_LOCK = 2; // 2 words
export const F_TREE_LOCK = 4; // 2 words
export const F_NRPAGES = 6;
export const F_NRDIRTY = 7;
export const F_ACCOUNT_DIRTY = 8;
export const F_HOOK_PROT = 9;
export const F_PAGES = 10; // size in pages
export const F_BASE = 11; // first slot of this file in page-cache / tag / disk arrays
export const F_STRIDE = 12;
/** More of each file, in a region of its own after everything else (so no older offset moved). */
export const FX_SIZE = 0; // i_size in pages (what faults, read and write check; F_PAGES is the room)
export const FX_TRUNCATE_COUNT = 1; // mapping->truncate_count: unmap_mapping_range bumps it
export const FX_I_MUTEX = 2; // inode->i_mutex (a sleeping mutex: an rw-semaphore's RWSEM_WORDS, taken for writing only)
// inode->dirtied_when: simulated centiseconds + 1 when the file's first page since it was last clean
// was dirtied (__mark_inode_dirty), 0 while it has none (wb_kupdate's age test)
export const FX_DIRTIED_WHEN = FX_I_MUTEX + RWSEM_WORDS;
export const FX_STRIDE = FX_DIRTIED_WHEN + 1;

export const LOCKDEP_MAX_CLASSES = 16;
/**
 * Lockdep's IRQ usage of a class (kernel/lockdep.c: usage_mask, usage_traces): USAGE_STRIDE words per
 * class in the region at Layout.lockdepUsageBase — the usage bits (word USAGE_MASK, bit = LockUsage),
 * then for each bit where it was first seen (word USAGE_TRACE + bit: lockdep.ts packs CPU and site).
 */
export const USAGE_MASK = 0;
export const USAGE_TRACE = 1;
export const USAGE_BITS = 4;
export const USAGE_STRIDE = 8;
/** 2.6.20 x86_64 NUM_INVALIDATE_TLB_VECTORS: flush senders share this many slots (cpu % 8). */
export const FLUSH_SLOTS = 8;

/**
 * Looks for lock `idx` on the CPUs' held-lock stacks (read without the holders' cooperation: a
 * running CPU's stack may change meanwhile). Calls `found(c, h)` for each record of it, in CPU order,
 * with h the record's meta index; returns the first CPU for which it returns true, else -1.
 */
export function findHolder(meta: Int32Array, lay: Layout, idx: number, found: (c: number, h: number) => boolean): number {
  for (let c = 0; c < lay.cpus; c++) {
    const b = lay.cpu(c);
    const d = Math.min(Atomics.load(meta, b + C_HELD_DEPTH), HELD_MAX);
    for (let i = 0; i < d; i++) {
      const h = b + C_HELD + i * HELD_FIELDS;
      if (meta[h + HELD_LOCK] === idx && found(c, h)) return c;
    }
  }
  return -1;
}

/**
 * Looks for a write in flight on the CPUs' disk queues (kernel/disk.ts) that `word` waits for: a
 * buffer head's state word (its BH_Lock is held until the write completes) or a page's flags word
 * (PG_writeback, until its last buffer's write completes). Only the submitting CPU's interrupt polls
 * complete its queue. Returns the first CPU, in CPU order, with such a write that passes `found`,
 * else -1. Read without the owners' cooperation: a running CPU's queue may change meanwhile.
 */
export function findWriter(meta: Int32Array, lay: Layout, word: number, found: (c: number) => boolean): number {
  for (let c = 0; c < lay.cpus; c++) {
    const q = lay.diskQueue(c);
    const tail = Atomics.load(meta, q + DQ_TAIL);
    for (let i = Atomics.load(meta, q + DQ_HEAD); i < tail; i++) {
      const e = lay.diskEntry(c, i % DISK_QUEUE);
      if ((Atomics.load(meta, e + DQE_BH) === word || lay.page(Atomics.load(meta, e + DQE_PFN)) + PG_FLAGS === word) && found(c)) return c;
    }
  }
  return -1;
}

export class Layout {
  readonly frames: number;
  readonly cpus: number;
  /** Words of a CpuMask the machine's CPUs occupy (ceil(cpus / 32)); the others stay 0. */
  readonly maskWords: number;
  readonly procs: number;
  readonly buffersPerPage: number;
  readonly l1Sets: number;
  readonly l1Ways: number;
  readonly l2Sets: number;
  readonly l2Ways: number;
  readonly vmasPerMm: number;
  readonly nfiles: number;
  readonly filePagesTotal: number;

  readonly pageBase: number;
  readonly bhBase: number;
  readonly cpuBase: number;
  readonly cpuStride: number;
  /** Offset of the L1 TLB inside a per-CPU area; the L2 follows it. */
  readonly tlbL1Off: number;
  readonly tlbL2Off: number;
  readonly mmBase: number;
  readonly vmaBase: number;
  readonly fileBase: number;
  readonly pcacheBase: number;
  readonly tagBase: number;
  readonly lockdepBase: number;
  readonly cpuMaskBase: number;
  readonly mmMaskBase: number;
  /** 2.6.20's flush slots: FLUSH_SLOTS spinlocks (flush_state[i].tlbstate_lock), after everything else. */
  readonly flushLockBase: number;
  /** Lockdep's IRQ usage per class (LOCKDEP_MAX_CLASSES records of USAGE_STRIDE words), after everything else. */
  readonly lockdepUsageBase: number;
  /** Each file's FX_* words, after everything else. */
  readonly fileExtBase: number;
  /** The per-CPU disk queues (DaemonConfig.diskLatency > 0 only), after everything else; -1 without. */
  readonly diskBase: number;
  readonly diskStride: number;
  readonly metaWords: number;

  constructor(c: MachineConfig) {
    this.frames = c.memoryBytes / PAGE_SIZE;
    this.cpus = c.cpus;
    this.maskWords = Math.ceil(c.cpus / 32);
    this.procs = c.procs;
    this.buffersPerPage = PAGE_SIZE / c.blockSize;
    this.l1Sets = c.tlb.l1.sets;
    this.l1Ways = c.tlb.l1.ways;
    this.l2Sets = c.tlb.l2?.sets ?? 0;
    this.l2Ways = c.tlb.l2?.ways ?? 0;
    this.vmasPerMm = c.vmasPerMm;
    this.nfiles = c.files.length;
    this.filePagesTotal = c.files.reduce((s, f) => s + f.pages, 0);

    let o = G_FIELDS;
    this.pageBase = o;
    o += this.frames * PAGE_STRIDE;
    this.bhBase = o;
    o += this.frames * this.buffersPerPage;
    this.tlbL1Off = C_FIXED;
    this.tlbL2Off = this.tlbL1Off + this.l1Sets * this.l1Ways * TLB_FIELDS;
    this.cpuStride = this.tlbL2Off + this.l2Sets * this.l2Ways * TLB_FIELDS;
    this.cpuBase = o;
    o += this.cpus * this.cpuStride;
    this.mmBase = o;
    o += this.procs * MM_STRIDE;
    this.vmaBase = o;
    o += this.procs * this.vmasPerMm * VMA_STRIDE;
    this.fileBase = o;
    o += this.nfiles * F_STRIDE;
    this.pcacheBase = o;
    o += this.filePagesTotal;
    this.tagBase = o;
    o += this.filePagesTotal;
    this.lockdepBase = o;
    o += LOCKDEP_MAX_CLASSES * LOCKDEP_MAX_CLASSES;
    this.cpuMaskBase = o;
    o += this.cpus * CM_STRIDE;
    this.mmMaskBase = o;
    o += this.procs * MASK_WORDS;
    this.flushLockBase = o;
    o += FLUSH_SLOTS * SPIN_WORDS;
    this.lockdepUsageBase = o;
    o += LOCKDEP_MAX_CLASSES * USAGE_STRIDE;
    this.fileExtBase = o;
    o += this.nfiles * FX_STRIDE;
    this.diskStride = DQ_FIELDS + DISK_QUEUE * DQE_FIELDS + DISK_QUEUE * (WORDS_PER_PAGE / this.buffersPerPage);
    this.diskBase = c.daemons.diskLatency > 0 ? o : -1;
    if (this.diskBase >= 0) o += this.cpus * this.diskStride;
    this.metaWords = o;
  }

  page(pfn: number): number {
    return this.pageBase + pfn * PAGE_STRIDE;
  }
  bh(pfn: number, i: number): number {
    return this.bhBase + pfn * this.buffersPerPage + i;
  }
  cpu(id: number): number {
    return this.cpuBase + id * this.cpuStride;
  }
  /** CPU `id`'s masks (CM_*). */
  cpuMasks(id: number): number {
    return this.cpuMaskBase + id * CM_STRIDE;
  }
  mm(id: number): number {
    return this.mmBase + id * MM_STRIDE;
  }
  /** The cpu_vm_mask of mm `id` (MASK_WORDS words): the CPUs that may hold its translations. */
  mmCpuMask(id: number): number {
    return this.mmMaskBase + id * MASK_WORDS;
  }
  vma(mm: number, slot: number): number {
    return this.vmaBase + (mm * this.vmasPerMm + slot) * VMA_STRIDE;
  }
  file(id: number): number {
    return this.fileBase + id * F_STRIDE;
  }
  /** CPU `id`'s disk queue (DQ_* words). */
  diskQueue(id: number): number {
    return this.diskBase + id * this.diskStride;
  }
  /** Entry `slot` of CPU `id`'s disk queue (DQE_* words). */
  diskEntry(id: number, slot: number): number {
    return this.diskQueue(id) + DQ_FIELDS + slot * DQE_FIELDS;
  }
  /** The data of entry `slot` of CPU `id`'s disk queue (one block). */
  diskData(id: number, slot: number): number {
    return this.diskQueue(id) + DQ_FIELDS + DISK_QUEUE * DQE_FIELDS + slot * (WORDS_PER_PAGE / this.buffersPerPage);
  }
  /** File `id`'s FX_* words. */
  fileExt(id: number): number {
    return this.fileExtBase + id * FX_STRIDE;
  }
  /** The tlbstate_lock of flush slot `slot` (2.6.20 protocol). */
  flushLock(slot: number): number {
    return this.flushLockBase + slot * SPIN_WORDS;
  }
  /** Bytes of physical memory, meta, disk and shadow, plus `statsBytes` (the counter buffers). */
  totalBytes(statsBytes = 0): number {
    return this.frames * PAGE_SIZE + this.metaWords * 4 + 2 * this.filePagesTotal * WORDS_PER_PAGE * 4 + statsBytes;
  }
}
