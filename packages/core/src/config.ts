/**
 * Machine configuration: everything that sizes the shared memory or changes the model's behaviour.
 * The harness builds it from flags; the lower packages only read it. `validateConfig` refuses a
 * configuration that does not fit before anything is allocated.
 */

export interface TlbGeometry {
  readonly sets: number;
  readonly ways: number;
}

/** One simulated file: its size and the properties `vma_wants_writenotify` looks at. */
export interface FileSpec {
  /** Room in 4 KiB pages: the most the file can hold (page-cache slots and disk blocks). */
  readonly pages: number;
  /** The initial size (i_size) in pages, at most `pages` (default: `pages`). ftruncate and write change it. */
  readonly size?: number;
  /** The backing device accounts dirty pages (`mapping_cap_account_dirty`). */
  readonly accountDirty: boolean;
  /** The file's mmap hook changes `vm_page_prot` (so `vma_wants_writenotify` says no). */
  readonly mmapHookChangesProt: boolean;
}

/** Historical bug switches (DESIGN.md §5). Each restores one mistake of the kernel. */
export const BUG_IDS = [
  'mkclean-under-private-lock',
  'strip-buffers-unlocked',
  'clean-before-mkclean',
  'no-remote-flush',
  'no-flush-wait',
  'racy-pte-update',
  'mprotect-ignores-writenotify',
  'flush-after-set',
  'fault-dirty-race',
  'zap-deferred-flush',
  'remove-rmap-before-flush',
  'mkclean-unlocked-check',
  'set-page-dirty-unlocked',
  'dirty-after-writable',
  'jbd-data-buffers',
  'zap-dirty-before-flush',
  'dirty-flag-after-private-lock',
] as const;
export type BugId = (typeof BUG_IDS)[number];

export interface KernelConfig {
  /** Shared-dirty-page tracking (the seed patch). False restores the linux-2.6.18 behaviour. */
  readonly writeNotify: boolean;
  readonly bugs: readonly BugId[];
  /** Ranges of more pages than this become a full flush (Linux: tlb_single_page_flush_ceiling = 33). */
  readonly flushCeiling: number;
  /**
   * The shootdown protocol (kernel/smp.ts): 'modern' (ranges page by page under the ceiling, any
   * number of concurrent senders) or 'linux-2.6.20' (2.6.20 x86_64: a range is a flush of the whole
   * mm, and senders share NUM_INVALIDATE_TLB_VECTORS = 8 slots, cpu % 8, each under its spinlock).
   */
  readonly flushProtocol: FlushProtocol;
  /**
   * Whose 2.6.20 flush protocol: x86_64 (NUM_INVALIDATE_TLB_VECTORS = 8 sender slots, cpu % 8) or
   * i386 (one tlbstate_lock: one sender at a time system-wide). Only the sender slots differ; the
   * page tables are x86-64's either way, and the modern protocol has no slots.
   */
  readonly arch: Arch;
  /**
   * msync(MS_SYNC)'s scope: 'file' (2.6.20 sys_msync: do_fsync of the whole file for every shared
   * VMA in the range, mmap_sem dropped around each) or 'range' (7fc34a62ca44, 3.16: vfs_fsync_range
   * of the range only).
   */
  readonly msyncScope: MsyncScope;
  /** Lock validator on or off. */
  readonly lockdep: boolean;
  /** Per-class lock statistics (/proc/lock_stat). */
  readonly lockStat: boolean;
}

/** The shootdown protocols (KernelConfig.flushProtocol). */
export const FLUSH_PROTOCOLS = ['modern', 'linux-2.6.20'] as const;
export type FlushProtocol = (typeof FLUSH_PROTOCOLS)[number];
/** The architectures of 2.6.20's flush protocol (KernelConfig.arch). */
export const ARCHES = ['x86_64', 'i386'] as const;
export type Arch = (typeof ARCHES)[number];
/** msync(MS_SYNC)'s scopes (KernelConfig.msyncScope). */
export const MSYNC_SCOPES = ['range', 'file'] as const;
export type MsyncScope = (typeof MSYNC_SCOPES)[number];

export type { CostModel } from './costs.js';
import type { CostModel } from './costs.js';

/** Kernel threads: periods in simulated cycles of the CPU that hosts each (0 = off). */
export interface DaemonConfig {
  /** Background writeback (pdflush / wb_kupdate). */
  readonly flusherPeriod: number;
  /** Start background writeback when this many pages are dirty (balance_dirty_pages). */
  readonly dirtyThreshold: number;
  /** Pages one flusher pass writes at most. */
  readonly flusherBatch: number;
  /**
   * vm.dirty_expire_centisecs (2.6.20 default 3000, 30 s; `--faithful`): the flusher's periodic pass
   * (wb_kupdate) writes only files first dirtied at least this long ago (inode->dirtied_when), in
   * simulated time; a pass woken by balance_dirty_pages or dirtyThreshold (background_writeout) writes
   * any. 0 (the default, a stress amplifier): every dirty file is old, so each periodic pass writes.
   */
  readonly dirtyExpire: number;
  /**
   * vm.dirty_ratio (2.6.20 default 40): a task that dirties pages past this percentage of memory
   * (lowered to half the unmapped share, as get_dirty_limits does) writes pages back itself
   * (balance_dirty_pages, from the write fault, under mmap_sem held for reading). 0: no throttling.
   */
  readonly dirtyRatio: number;
  /** vm.dirty_background_ratio (2.6.20 default 10): balance_dirty_pages wakes the flusher past it. */
  readonly dirtyBackgroundRatio: number;
  /**
   * Pages a CPU dirties between two balance_dirty_pages calls (ratelimit_pages); 0: 2.6.20's
   * writeback_set_ratelimit, frames / (CPUs x 32), at least 16 and at most 4 MiB of pages (8 while
   * the limit is exceeded).
   */
  readonly ratelimitPages: number;
  /** ext3 data=ordered journal commit: writes dirty buffers, leaves PG_dirty. */
  readonly journalPeriod: number;
  /** Memory-pressure reclaim (kswapd): evicts clean pages. */
  readonly reclaimPeriod: number;
  /** Pages one reclaim pass tries to evict. */
  readonly reclaimBatch: number;
  /** Free frames below which allocation wakes direct reclaim. */
  readonly lowWatermark: number;
  /**
   * Buffer-head pressure (buffer_heads_over_limit): reclaim also strips the buffers of mapped pages
   * as it moves them to the inactive list (2.6.20 refill_inactive_zone -> pagevec_strip).
   */
  readonly stripBuffers: boolean;
  /**
   * Reclaim ages pages as 2.6.20 does: page_referenced clears the accessed bits of a mapped page's
   * PTEs (with a flush each) and a page found young is kept; try_to_unmap refuses a young PTE. false
   * (the default, a stress amplifier; `--faithful` turns aging on): the clock evicts every clean page
   * it reaches, hot ones too, so the eviction oracle and the refault paths run all the time.
   */
  readonly aging: boolean;
  /**
   * Stress amplifier: readpage attaches clean buffers to every page it reads (block_read_full_page).
   * ext3's readpage is mpage_readpage, which attaches none to a page whose blocks are contiguous
   * (every page here): buffers come with the first writepage. false: as ext3 does.
   */
  readonly readpageBuffers: boolean;
  /**
   * Stress amplifier: every journal commit writes every dirty-tagged page of every file (ext3
   * data=ordered writing all of them by buffer, or through writepage with the jbd-data-buffers fix).
   * false: as ext3 does — a commit writes only the pages whose buffers writepage filed on the
   * transaction since the last commit (ext3_ordered_writepage -> journal_dirty_data), and of those only
   * the buffers dirty again.
   */
  readonly journalEveryPage: boolean;
  /**
   * The asynchronous disk (kernel/disk.ts): writepage submits a page's dirty buffers, unlocks the page
   * and leaves PG_writeback set; each write completes in the submitting CPU's disk interrupt after
   * this many of its interrupt polls (its preemption points and wait steps), in hardirq context
   * (end_buffer_async_write, end_page_writeback under tree_lock); 8 by default, in every mode. 0:
   * synchronous writes under the page lock, as before the disk existed.
   */
  readonly diskLatency: number;
}

/**
 * `--faithful`: the stress amplifiers off (DaemonConfig: stripBuffers, readpageBuffers,
 * journalEveryPage; the flusher's periodic pass writing every dirty file, dirtyExpire) and reclaim with aging, for measurements of what 2.6.20 does rather than race
 * hunting. Explicit `--daemon` settings still override it.
 */
export const FAITHFUL_DAEMONS: Partial<DaemonConfig> = { stripBuffers: false, readpageBuffers: false, journalEveryPage: false, aging: true, dirtyExpire: 3000 };

export interface MachineConfig {
  readonly cpus: number;
  readonly procs: number;
  readonly memoryBytes: number;
  readonly files: readonly FileSpec[];
  /** Bytes per buffer head; PAGE_SIZE / blockSize buffers per page. */
  readonly blockSize: number;
  /** L1 dTLB and second-level TLB (null: one level only). */
  readonly tlb: { readonly l1: TlbGeometry; readonly l2: TlbGeometry | null };
  readonly vmasPerMm: number;
  readonly seed: number;
  readonly kernel: KernelConfig;
  readonly costs: CostModel;
  /** Host milliseconds a CPU may spin on a lock or wait for acknowledgements before the watchdog fires. */
  readonly watchdogMs: number;
  /** Seeded perturbation at preemption points: probability (0..1) of a short random delay. */
  readonly perturb: number;
  readonly daemons: DaemonConfig;
}

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
export const WORDS_PER_PAGE = PAGE_SIZE / 4;
/** Simulated user address space ends here (2^43): every VPN fits a signed 32-bit integer. */
export const TASK_SIZE = 2 ** 43;
/**
 * An address in the user range [0, TASK_SIZE): the only ones a mapping, a TLB entry or a page-table
 * walk can have (x86_64's do_page_fault sends `address >= TASK_SIZE64` from user mode to SIGSEGV).
 */
export const isUserAddress = (addr: number): boolean => addr >= 0 && addr < TASK_SIZE;
/** CPUs a machine may have: per-CPU bitmasks (cpumask.ts) are MASK_WORDS 32-bit words. A multiple of 32. */
export const MAX_CPUS = 64;
/** 32-bit words of every per-CPU bitmask (cpu_vm_mask, IPI initiators, flush targets, the scheduler's sets). */
export const MASK_WORDS = MAX_CPUS / 32;
export const MAX_MEMORY_BYTES = 4 * 1024 ** 3;
export const MAX_FILES = 64;

/**
 * The cost model of free and deterministic mode: per-operation costs only (the keys a preset adds for
 * timed mode are 0 here, so they change nothing: see costs.ts for the cited presets). Simulated
 * cycles schedule the kernel threads and checkpoints, so these values are part of every pinned trace.
 */
export const DEFAULT_COSTS: CostModel = {
  ghz: 3,
  tlbHit: 1,
  l2Hit: 7,
  walkLevel: 25,
  faultEntry: 600,
  syscall: 0,
  ipiSend: 300,
  ipiLatency: 0,
  ipiReceive: 500,
  invlpg: 0,
  cr3Reload: 0,
  lockAcquire: 20,
  lineLocal: 0,
  lineRemote: 0,
  coresPerSocket: 64,
  pageCopy: 1000,
};

export const DEFAULT_DAEMONS: DaemonConfig = {
  flusherPeriod: 400_000,
  dirtyThreshold: 64,
  flusherBatch: 16,
  dirtyExpire: 0,
  dirtyRatio: 40,
  dirtyBackgroundRatio: 10,
  ratelimitPages: 0,
  journalPeriod: 300_000,
  reclaimPeriod: 500_000,
  reclaimBatch: 16,
  lowWatermark: 32,
  stripBuffers: true,
  aging: false,
  readpageBuffers: true,
  journalEveryPage: true,
  diskLatency: 8,
};

export const DEFAULT_KERNEL: KernelConfig = {
  writeNotify: true,
  bugs: [],
  flushCeiling: 33,
  flushProtocol: 'modern',
  arch: 'x86_64',
  msyncScope: 'range',
  lockdep: true,
  lockStat: false,
};

export function defaultConfig(overrides: Partial<MachineConfig> = {}): MachineConfig {
  return {
    cpus: 4,
    procs: 1,
    memoryBytes: 64 * 1024 * 1024,
    files: [{ pages: 64, accountDirty: true, mmapHookChangesProt: false }],
    blockSize: 1024,
    tlb: { l1: { sets: 16, ways: 4 }, l2: { sets: 128, ways: 12 } },
    vmasPerMm: 1024,
    seed: 1,
    kernel: DEFAULT_KERNEL,
    costs: DEFAULT_COSTS,
    watchdogMs: 5000,
    perturb: 0,
    daemons: DEFAULT_DAEMONS,
    ...overrides,
  };
}

/** A configuration the machine cannot be built from. The CLI maps it to exit status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Throws ConfigError naming the first field that does not fit. Allocates nothing. */
export function validateConfig(c: MachineConfig): void {
  const int = (v: number, name: string, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
    }
  };
  int(c.cpus, 'cpus', 1, MAX_CPUS);
  int(c.procs, 'procs', 1, c.cpus);
  if (!Number.isInteger(c.memoryBytes) || c.memoryBytes % PAGE_SIZE !== 0) {
    throw new ConfigError(`memory must be a whole number of 4 KiB pages, got ${c.memoryBytes} bytes`);
  }
  if (c.memoryBytes > MAX_MEMORY_BYTES) {
    throw new ConfigError(`memory ${c.memoryBytes} bytes does not fit: at most ${MAX_MEMORY_BYTES} (4 GiB, 20-bit PFNs)`);
  }
  if (!isPow2(c.blockSize) || c.blockSize < 512 || c.blockSize > PAGE_SIZE) {
    throw new ConfigError(`block size must be a power of two from 512 to 4096, got ${c.blockSize}`);
  }
  for (const [lvl, g] of [['l1', c.tlb.l1], ['l2', c.tlb.l2]] as const) {
    if (!g) continue;
    if (!isPow2(g.sets) || g.sets > 4096) throw new ConfigError(`tlb ${lvl} sets must be a power of two up to 4096, got ${g.sets}`);
    int(g.ways, `tlb ${lvl} ways`, 1, 32);
  }
  int(c.vmasPerMm, 'vmasPerMm', 4, 1024);
  if (c.files.length === 0 || c.files.length > MAX_FILES) {
    throw new ConfigError(`a machine needs 1 to ${MAX_FILES} files, got ${c.files.length}`);
  }
  c.files.forEach((f, i) => {
    int(f.pages, `files[${i}].pages`, 1, 1 << 20);
    if (f.size !== undefined) int(f.size, `files[${i}].size`, 0, f.pages);
  });
  int(c.kernel.flushCeiling, 'flushCeiling', 1, 1 << 20);
  if (!(c.perturb >= 0 && c.perturb <= 1)) throw new ConfigError(`perturb must be within 0..1, got ${c.perturb}`);
  if (!(c.watchdogMs > 0)) throw new ConfigError(`watchdog must be positive, got ${c.watchdogMs}`);
  const frames = c.memoryBytes / PAGE_SIZE;
  // Each process needs a PML4, PDPT, PD and a few PTs; plus enough frames to run at all.
  const minFrames = c.procs * 8 + 64;
  if (frames < minFrames) {
    throw new ConfigError(`memory ${c.memoryBytes} bytes does not fit: ${c.procs} process(es) need at least ${minFrames} frames (${minFrames * 4} KiB)`);
  }
}

export const hasBug = (c: MachineConfig, id: BugId): boolean => c.kernel.bugs.includes(id);

/**
 * The journal commit writes data pages by buffer (jbd, bug `jbd-data-buffers`) rather than through
 * writepages (jbd2's inode-based ordered mode). The 2.6.19-era buffer bugs imply it: their windows
 * need the clean buffers on a dirty page that only the buffer journal leaves (try_to_free_buffers
 * dropping the buffers of a page still dirty), as they did in the kernels they shipped in.
 */
export const jbdWritesDataBuffers = (c: MachineConfig): boolean =>
  hasBug(c, 'jbd-data-buffers') || hasBug(c, 'strip-buffers-unlocked') || hasBug(c, 'clean-before-mkclean') || hasBug(c, 'mkclean-under-private-lock');

/**
 * Every PTE of a clean page of a file with dirty accounting is read-only (and clean), so any store into
 * such a page is recorded in no dirty bit — the clean-page oracle's premise (kernel/disk.ts,
 * kernel/page-writeback.ts). It holds with write notification unless the journal writes buffers by
 * hand (it cleans buffers without page_mkclean, and try_to_free_buffers then cancels PG_dirty under a
 * writable dirty PTE: 2.6.20's state, not a loss — the PTE's D bit still holds it), a fault makes the
 * PTE writable before dirtying the page (dirty-after-writable and the two bugs that imply it), or
 * mprotect ignores write notification. The harmful bugs left (stale TLB entries, lost D bits, buffers
 * left clean) break it only by losing writes.
 */
export const cleanPagesReadOnly = (c: MachineConfig): boolean =>
  c.kernel.writeNotify &&
  !jbdWritesDataBuffers(c) &&
  !hasBug(c, 'dirty-after-writable') &&
  !hasBug(c, 'set-page-dirty-unlocked') &&
  !hasBug(c, 'fault-dirty-race') &&
  !hasBug(c, 'mprotect-ignores-writenotify');

/**
 * The later fixes of 2.6.20's races (BUG_CATALOGUE entries with `fixedIn`): each released kernel
 * below contains every one that applies to it; `linux-2.6.20+fixes` contains none.
 */
const LATER_FIXES_2620: BugId[] = ['fault-dirty-race', 'zap-deferred-flush', 'remove-rmap-before-flush', 'mkclean-unlocked-check', 'set-page-dirty-unlocked', 'dirty-after-writable', 'jbd-data-buffers', 'dirty-flag-after-private-lock'];

/**
 * What every 2.6.18–2.6.20 kernel does where later kernels changed behaviour without fixing a bug:
 * x86_64's flush_tlb_range is flush_tlb_mm, with 8 sender slots (arch/x86_64/kernel/smp.c), and
 * sys_msync(MS_SYNC) runs do_fsync on the whole file of every shared VMA in the range (mm/msync.c).
 */
const ERA_2620 = { flushProtocol: 'linux-2.6.20', msyncScope: 'file' } as const;
/** Today's kernels: ranged flushes under tlb_single_page_flush_ceiling, msync of the range (3.16). */
const ERA_MODERN = { flushProtocol: 'modern', msyncScope: 'range' } as const;

/**
 * Historical kernels (DESIGN.md §5), as released: each contains the mistakes that shipped in it
 * (FIDELITY-REVIEW.md A14), and its era's flush protocol and msync scope. `linux-2.6.20+fixes` (the
 * default) is 2.6.20 with every later fix of the catalogue applied, and with today's flush protocol
 * and msync scope (the reference the host kernel is compared with); `--bug ID` turns one fix back off,
 * `--flush-protocol` / `--tlb-flush` and `--msync-scope` choose the era's behaviour explicitly.
 */
export const KERNEL_PRESETS = {
  /**
   * No write notification: dirty state only in PTE D bits, harvested at unmap, reclaim and msync.
   * Zap's deferred flush, its early page_remove_rmap and ext3's buffer-writing journal are 2.6.18's
   * too; the other later fixes concern write-notify paths 2.6.18 does not have.
   */
  'linux-2.6.18': { writeNotify: false, bugs: ['zap-deferred-flush', 'remove-rmap-before-flush', 'jbd-data-buffers', 'zap-dirty-before-flush', 'dirty-flag-after-private-lock'] as BugId[], ...ERA_2620 },
  /** The seed as released (2.6.19), with the races 2.6.20 kept. */
  'linux-2.6.19': { writeNotify: true, bugs: ['strip-buffers-unlocked', 'clean-before-mkclean', 'flush-after-set', ...LATER_FIXES_2620, 'zap-dirty-before-flush'] as BugId[], ...ERA_2620 },
  /** 2.6.20 as released. */
  'linux-2.6.20': { writeNotify: true, bugs: [...LATER_FIXES_2620, 'zap-dirty-before-flush'] as BugId[], ...ERA_2620 },
  /** 2.6.20 with every later fix of the catalogue (the default), today's flush protocol and msync scope. */
  'linux-2.6.20+fixes': { writeNotify: true, bugs: [] as BugId[], ...ERA_MODERN },
} as const satisfies Record<string, { writeNotify: boolean; bugs: BugId[]; flushProtocol: FlushProtocol; msyncScope: MsyncScope }>;
export type KernelPreset = keyof typeof KERNEL_PRESETS;

/**
 * How `smpsim stress` tunes a campaign for a bug, for every option the user left at its default:
 * the workload and its parameters, seeded perturbation, checkpoint frequency.
 */
export interface BugTuning {
  readonly workload?: string;
  readonly params?: Readonly<Record<string, string | number | boolean>>;
  readonly perturb?: number;
  readonly checkEvery?: number;
  readonly cpus?: number;
  /** Processes (at most the CPUs). */
  readonly procs?: number;
  /** Operations per run (when the campaign sets neither ops nor a duration). */
  readonly ops?: number;
  /** Kernel-thread rates. */
  readonly daemons?: Partial<DaemonConfig>;
  /**
   * Host threads (`--host-threads`): a value at least the CPUs' count turns run tokens off, so the host
   * OS schedules the simulated CPUs and preempts them anywhere, which meets zap's windows several times
   * as often as token hand-overs at race points do (README, run tokens).
   */
  readonly hostThreads?: number;
}

export interface BugEntry {
  readonly restores: string;
  readonly fixedBy: string;
  /** The kernel version the fix first shipped in, for a race of a released kernel fixed later. */
  readonly fixedIn?: string;
  readonly expected: string;
  readonly harmful: boolean;
  readonly tuning?: BugTuning;
}

/**
 * zap_pte_range's window met every round (the remap-commit workload): three CPUs (a compactor, a
 * committer, a writer) in one process, a wide perturbation, runs of 1 000 rounds.
 */
const REMAP_COMMIT_TUNING: BugTuning = { workload: 'remap-commit', cpus: 3, ops: 1000, perturb: 0.5 };

/** What each bug switch restores, the commit that fixed it, and what the oracles should find. */
export const BUG_CATALOGUE: Readonly<Record<BugId, BugEntry>> = {
  'mkclean-under-private-lock': {
    restores: 'try_to_free_buffers clears the page dirty via page_mkclean while holding private_lock (what the seed\'s fs/buffer.c hunk fixed)',
    fixedBy: 'the seed, "mm: tracking shared dirty pages" (2.6.19)',
    expected: 'lockdep (circular dependency); under stress a real AB-BA deadlock caught by the watchdog',
    harmful: true,
  },
  'strip-buffers-unlocked': {
    restores: '2.6.19 as released: try_to_free_buffers clears the dirty state after private_lock is dropped',
    fixedBy: 'ecdfc9787fe5 (2.6.20)',
    expected: 'lost-write',
    harmful: true,
    // needs dirty pages whose buffers the journal wrote reaching try_to_free_buffers while mapped,
    // then eviction before a new write heals them: longer runs, busier journal and reclaim
    tuning: { ops: 100_000, daemons: { journalPeriod: 100_000, reclaimPeriod: 100_000, reclaimBatch: 32 } },
  },
  'clean-before-mkclean': {
    restores: '2.6.19 clear_page_dirty_for_io: clear PG_dirty, then page_mkclean, without re-dirtying the buffers (the rtorrent corruption; needs the journal flusher)',
    fixedBy: '7658cc289288 (2.6.20-rc3, 2.6.19.2)',
    expected: 'lost-write',
    harmful: true,
  },
  'no-remote-flush': {
    restores: 'page_mkclean flushes only the local TLB',
    fixedBy: '(never in Linux: a model mutation)',
    expected: 'lost-write',
    harmful: true,
  },
  'no-flush-wait': {
    restores: 'the flush initiator does not wait for acknowledgements',
    fixedBy: '(never in Linux: a model mutation)',
    expected: 'lost-write',
    harmful: true,
  },
  'racy-pte-update': {
    restores: 'PTEs updated by a plain read-modify-write instead of an atomic clear (change_pte_range)',
    fixedBy: '(the 2001 ptep_get_and_clear discussion; never released)',
    expected: 'lost-write (a lost dirty bit, visible on mappings without write notification)',
    harmful: true,
    // the window is between the PTE read and the write in change_pte_range: writers must write
    // through the same PTEs, so a shared mapping (mprotect-race), and the window widened
    tuning: { workload: 'mprotect-race', perturb: 0.5, params: { pages: 8 } },
  },
  'mprotect-ignores-writenotify': {
    restores: 'mprotect makes clean pages of a write-notify VMA writable',
    fixedBy: 'the seed (mprotect_fixup dirty_accountable)',
    expected: 'invariant or lost-write',
    harmful: true,
    tuning: { checkEvery: 500_000 },
  },
  'fault-dirty-race': {
    restores: '2.6.20 as released: a write fault dirties the page without waiting for a writeback holding the page lock (clear_page_dirty_for_io vs fault race)',
    fixedBy: 'wait_on_page_locked before set_page_dirty_balance in do_wp_page and do_no_page (Nick Piggin, "mm: fix clear_page_dirty_for_io vs fault race"; report linux-mm 200705180737.l4I7bAGo010774@shell0.pdx.osdl.net)',
    fixedIn: '2.6.22',
    expected: 'lost-write after msync (msync-race: the backing store misses a write made before msync started)',
    harmful: true,
    // In dirty-share its end state (a dirty PTE over a clean page) is also what 2.6.20's
    // try_to_free_buffers legitimately leaves on a mapped page; msync-race checks msync itself.
    tuning: { workload: 'msync-race', cpus: 2 },
  },
  'zap-deferred-flush': {
    restores: '2.6.20 zap_pte_range: clear the PTE, move its dirty bit to the page and drop the pte lock; the TLB flush waits for tlb_finish_mmu, so another thread of the mm can still store through its stale writable TLB entry after writeback cleaned the page',
    fixedBy: '1cf35d47712d "mm: split \'tlb_flush_mmu()\' into tlb flushing and memory freeing parts": a dirty shared PTE forces the flush before the pte lock is dropped',
    fixedIn: '3.15',
    expected: 'lost-write (a store through a stale TLB entry into a page being unmapped, missing from the backing store)',
    harmful: true,
    // writers of a process store into the page its compactor munmaps while the committer's fsync
    // cleans it (remap-commit: the first run; db-checkpoint's two processes needed the host OS's
    // scheduling and tens of runs)
    tuning: REMAP_COMMIT_TUNING,
  },
  'remove-rmap-before-flush': {
    restores: 'zap_pte_range drops the page\'s rmap (page_remove_rmap) before the forced flush of a dirty shared PTE: page_mkclean then finds the page unmapped, returns at once without waiting for the pte lock, and writeback cleans the page while a stale writable TLB entry still stores into it',
    fixedBy: '5df397dec7c4 "mm: delay page_remove_rmap() until after the TLB has been flushed"',
    fixedIn: '6.2',
    expected: 'lost-write (as zap-deferred-flush, in the shorter window left by the 2014 fix)',
    harmful: true,
    tuning: REMAP_COMMIT_TUNING,
  },
  'mkclean-unlocked-check': {
    restores: 'page_check_address tests pte_present before taking the pte lock, also for page_mkclean: inside change_pte_range\'s clear-then-set window (mprotect) the PTE reads as not present, page_mkclean skips it, and the PTE comes back writable and dirty over a page that writeback then cleans',
    fixedBy: '479db0bf408e "mm: dirty page tracking race fix" (page_check_address gains `sync`: page_mkclean always takes the pte lock)',
    fixedIn: '2.6.27',
    expected: 'lost-write (msync/fsync contract or the end-of-run fsync check: a page clean under a dirty writable PTE)',
    harmful: true,
    // two processes: one's checkpointer mprotects a range (change_pte_range) while the other's msyncs
    // it (page_mkclean over both processes' PTEs)
    tuning: { workload: 'db-checkpoint', procs: 2, perturb: 0.5 },
  },
  'set-page-dirty-unlocked': {
    restores: 'the fault paths call set_page_dirty without the page lock: a second writer\'s fault finds PG_dirty already set by a first writer that has not yet tagged the page dirty in the radix tree (__set_page_dirty_buffers), stores, and msync\'s tag-based writeback skips the page',
    fixedBy: '2d6d7f982846 "mm: protect set_page_dirty() from ongoing truncation": do_wp_page and do_shared_fault hold the page lock across set_page_dirty',
    fixedIn: '3.19',
    expected: 'lost-write after msync (found unaided by msync-race with 3 or 4 CPUs)',
    harmful: true,
    tuning: { workload: 'msync-race', cpus: 4 },
  },
  'dirty-after-writable': {
    restores: '2.6.20 write faults make the PTE writable, drop the pte lock and only then set_page_dirty: another thread of the mm stores through the new writable PTE into a page that is still clean, and an fsync or msync(MS_SYNC) started after that store skips the page',
    fixedBy: '->page_mkwrite for every file mapping, dirtying the page under its lock before the PTE becomes writable (Jan Kara, "mm: make default vm_ops provide ->page_mkwrite handler", filemap_page_mkwrite; commit id not verified here)',
    fixedIn: '3.7',
    expected: 'lost-write (the msync/fsync durability contract: a store that returned before the call is missing after it)',
    harmful: true,
    // writers of one process fault on the same write-protected pages while fsync and the flusher run
    tuning: { workload: 'mprotect-race', perturb: 0.5, params: { pages: 8, writenotify: true }, daemons: { flusherPeriod: 100_000 } },
  },
  'jbd-data-buffers': {
    restores: 'ext3 data=ordered as 2.6.20 commits it (jbd journal_submit_data_buffers): kjournald writes the dirty buffers of data pages itself, without the page lock and without page_mkclean, leaving PG_dirty set. A store recorded in no PTE dirty bit after that — one through a stale TLB entry inside zap_pte_range\'s window between set_page_dirty and the forced flush — is then in no dirty buffer, and writepage (which writes only dirty buffers) drops it',
    fixedBy: '678aaf481496 "ext4: Use new framework for data=ordered mode in JBD2" (Jan Kara): the commit writes ordered data through the inode\'s writepages (page lock, clear_page_dirty_for_io, page_mkclean, which waits for the pte lock) instead of by buffer (ext4; ext3 kept the buffer journal until it was removed in 4.3)',
    fixedIn: '2.6.27',
    expected: 'lost-write (msync/fsync contract: a store made before the call is in the page but in no dirty buffer)',
    harmful: true,
    // a compactor that munmaps the page its process's writers store into (zap's set_page_dirty-to-flush
    // window), a busy journal hosted by the committer, whose loads before each fsync land around the
    // munmap (remap-commit; db-checkpoint's two processes took 8-15 runs, this 1-3)
    tuning: { ...REMAP_COMMIT_TUNING, daemons: { journalPeriod: 30_000 } },
  },
  'zap-dirty-before-flush': {
    restores: 'Linux\'s order in zap_pte_range for a shared mapping without dirty accounting: the page is marked dirty (set_page_dirty, every buffer dirty) before the forced TLB flush. Writeback of such a mapping runs no page_mkclean, so nothing waits for the pte lock: writepage can write the buffers inside the window, a stale TLB entry then stores into a page that stays dirty with clean buffers, and writepage or try_to_free_buffers drops the store',
    fixedBy: '(never in Linux: since the seed, every shared mapping that is written back accounts dirty pages and gets page_mkclean, which 1cf35d47712d makes wait for the flush; mappings without dirty accounting have no writeback. The model keeps them, as its stand-in for 2.6.18\'s dirty tracking, and its fixed kernel marks their pages dirty after the flush)',
    expected: 'lost-write (eviction: a page evicted clean that differs from the backing store)',
    harmful: true,
    // remap-commit on a file without dirty accounting: the committer's fsync writes the page inside
    // the window, the page is left alone for the next rounds, and reclaim evicts it
    tuning: { ...REMAP_COMMIT_TUNING, params: { writenotify: false } },
  },
  'dirty-flag-after-private-lock': {
    restores: '2.6.20 __set_page_dirty_buffers: it marks the buffers dirty under private_lock and sets PG_dirty only after dropping it. A set_page_dirty without the page lock (zap_pte_range\'s, or with set-page-dirty-unlocked a write fault\'s) on a page that has no buffers yet, racing create_empty_buffers (write(2) giving the page buffers under the page lock), lets create_empty_buffers read the page as clean and attach clean buffers, and the page then becomes dirty with the buffers under its mapped stores clean: writepage (which writes dirty buffers only) drops those stores',
    fixedBy: 'a8e7d49a "Fix race in create_empty_buffers() vs __set_page_dirty_buffers()" (Linus Torvalds; the id as later fs/buffer.c patches cite it, the release not verified here): TestSetPageDirty under private_lock, so create_empty_buffers sees the page either clean with no set_page_dirty still to come, or dirty',
    fixedIn: '2.6.28',
    expected: 'lost-write (a store through the mapping in a page whose buffers are all clean)',
    harmful: true,
    // write(2) into pages that munmap's zap newly dirties without the page lock (mixed-io: a file
    // without dirty accounting, so a read fault leaves the page clean under a writable PTE), pages
    // read in without buffers (ext3's readpage), a wide perturbation
    tuning: { workload: 'mixed-io', cpus: 2, ops: 3000, perturb: 0.5, daemons: { readpageBuffers: false } },
  },
  'flush-after-set': {
    restores: '2.6.19 page_mkclean_one: install the clean read-only PTE, then flush (ptep_establish)',
    fixedBy: 'c2fda5fed81e (2.6.20-rc2) — it broke virtual-cache machines and s390; harmless on x86',
    expected: 'nothing (control: no false positive)',
    harmful: false,
  },
};

/** The released kernels (KERNEL_PRESETS, not the +fixes default) that contain bug `id`. */
export function releasedKernelsWith(id: BugId): KernelPreset[] {
  return (Object.keys(KERNEL_PRESETS) as KernelPreset[]).filter((k) => (KERNEL_PRESETS[k].bugs as readonly BugId[]).includes(id));
}

// Defaults and limits the harness builds its flags from, under the names it reads them by.
/** The kernel a machine runs unless told otherwise (a key of KERNEL_PRESETS). */
export const DEFAULT_KERNEL_PRESET: KernelPreset = 'linux-2.6.20+fixes';
/** PCT's deepest bug depth: the scheduler state (sched/state.ts) holds d - 1 change points. */
export const MAX_PCT_DEPTH = 64;
