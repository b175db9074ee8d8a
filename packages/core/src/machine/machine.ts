/**
 * The machine's shared memory: allocation (main thread) and attachment (any thread), with the
 * boot-time initialisation of the free list, the processes' page-table roots and the files.
 */
import { type MachineConfig, validateConfig, WORDS_PER_PAGE } from '../config.js';
import * as L from './layout.js';
import { LOCK_CLASS_COUNT, LOCK_CLASS_NAMES } from '../kernel/locking/lockorder.js';
import { stopMachine, stopReason } from './stop.js';

export interface MachineBuffers {
  readonly physmem: SharedArrayBuffer;
  readonly meta: SharedArrayBuffer;
  readonly disk: SharedArrayBuffer;
  readonly shadow: SharedArrayBuffer;
  readonly stats: SharedArrayBuffer;
  readonly lockstat: SharedArrayBuffer;
}

/** Lock statistics per CPU and class (Float64), after /proc/lock_stat; times in host ns and cycles. */
export const LS = {
  conBounces: 0,
  contentions: 1,
  waitMinNs: 2,
  waitMaxNs: 3,
  waitTotalNs: 4,
  waitMinCy: 5,
  waitMaxCy: 6,
  waitTotalCy: 7,
  acqBounces: 8,
  acquisitions: 9,
  holdMinNs: 10,
  holdMaxNs: 11,
  holdTotalNs: 12,
  holdMinCy: 13,
  holdMaxCy: 14,
  holdTotalCy: 15,
} as const;
export const LS_FIELDS = 16;

/** Per-CPU counters in the stats buffer (Float64, written only by their CPU). */
export const CTR = {
  accesses: 0,
  tlbHits: 3,
  tlbL2Hits: 4,
  tlbMisses: 5,
  faultsNotPresent: 6,
  faultsWriteNotify: 7,
  faultsOther: 8,
  ipisSent: 9,
  ipisReceived: 10,
  flushesPage: 11,
  flushesRange: 12,
  flushesFull: 13,
  flushesElided: 14,
  shootdownsMkclean: 15,
  shootdownsMunmap: 16,
  shootdownsMprotect: 17,
  shootdownsFault: 18,
  shootdownsReclaim: 19,
  cycles: 20,
  pagesCleaned: 21,
  pagesWritten: 22,
  bufferWrites: 23,
  evicted: 24,
  refaults: 25,
  pageReads: 26,
  msyncs: 27,
  mmaps: 28,
  munmaps: 29,
  mprotects: 30,
  leaveMm: 31,
  lockContended: 32,
  ops: 33,
  threadId: 34,
  flusherRuns: 35,
  journalRuns: 36,
  reclaimRuns: 37,
  checkpoints: 38,
  cowFaults: 39,
  /** Flush targets skipped because they had left the mm lazily (leave_mm): one per CPU per flush. */
  lazySkipped: 40,
  /** An idle CPU (its task done) entering lazy TLB mode (enter_lazy_tlb from the idle task's switch). */
  lazyIdle: 41,
  /** balance_dirty_pages calls that found the dirty limit exceeded: the faulting task wrote back itself. */
  throttled: 42,
  /** Pages written back by throttled tasks (balance_dirty_pages -> writeback_inodes). */
  throttleWritten: 43,
  /** Pages reclaim kept because page_referenced found a young PTE (activated instead of evicted). */
  aged: 44,
  /** Pages newly dirtied (account_page_dirtied; the host's /proc/<tid>/io write_bytes / 4096). */
  pagesDirtied: 45,
  /** Dirty pages cancelled (cancel_dirty_page: the host's cancelled_write_bytes / 4096). */
  dirtyCancelled: 46,
  /** pwrite(2) calls (sysPwrite). */
  pwrites: 47,
  /** pread(2) calls (sysPread). */
  preads: 48,
  /** ftruncate(2) calls (sysFtruncate). */
  truncates: 49,
  /** Buffer writes submitted to the asynchronous disk (submit_bh). */
  ioSubmitted: 50,
  /** Of them completed (end_buffer_async_write). */
  ioCompleted: 51,
  /** The most writes this CPU had in flight at once. */
  ioInflightMax: 52,
  /** Flush IPIs of this CPU taken by proxy while it was parked without a run token (sched/tokens.ts). */
  ipisProxied: 53,
  /** Run tokens this CPU gave up at the end of a slice or in a busy-wait. */
  tokenSwitches: 54,
  /** Run tokens this CPU handed straight to the parked holder of the lock it waits for. */
  directedYields: 55,
  /** Faults that found a truncate had run since they looked the page up (truncate_count) and retried. */
  truncateRetries: 56,
} as const;
export type CounterName = keyof typeof CTR;
export const CTR_COUNT = 57;

export class Machine {
  readonly layout: L.Layout;
  readonly mem: Int32Array;
  readonly meta: Int32Array;
  readonly disk: Int32Array;
  readonly shadow: Int32Array;
  readonly stats: Float64Array;
  readonly lockstat: Float64Array;
  /** Byte views of mem, meta and disk for comparing ranges natively (firstDifference), made once per machine. */
  readonly memBytes: Buffer;
  readonly metaBytes: Buffer;
  readonly diskBytes: Buffer;

  private constructor(
    readonly config: MachineConfig,
    readonly buffers: MachineBuffers,
  ) {
    // Views of exactly the machine's sizes: a reused buffer may be larger (Machine.create).
    const lay = (this.layout = new L.Layout(config));
    const diskWords = lay.filePagesTotal * WORDS_PER_PAGE;
    this.mem = new Int32Array(buffers.physmem, 0, lay.frames * WORDS_PER_PAGE);
    this.meta = new Int32Array(buffers.meta, 0, lay.metaWords);
    this.disk = new Int32Array(buffers.disk, 0, diskWords);
    this.shadow = new Int32Array(buffers.shadow, 0, diskWords);
    this.stats = new Float64Array(buffers.stats, 0, config.cpus * CTR_COUNT);
    this.lockstat = new Float64Array(buffers.lockstat, 0, config.cpus * LOCK_CLASS_COUNT * LS_FIELDS);
    this.memBytes = Buffer.from(buffers.physmem, 0, this.mem.byteLength);
    this.metaBytes = Buffer.from(buffers.meta, 0, this.meta.byteLength);
    this.diskBytes = Buffer.from(buffers.disk, 0, this.disk.byteLength);
  }

  /**
   * Validates the configuration, allocates every shared buffer and boots the machine.
   *
   * `spare`: the buffers of an earlier machine that no thread runs on any more (its CPUs returned or
   * were terminated). Each of them at least as large as this machine needs is used again instead of a
   * new one (the machine's views cover the part it needs), and the machine boots as on new buffers; so
   * a campaign whose runs differ in size (a portfolio) keeps its largest buffers and stops allocating. Why: V8 does not count a SharedArrayBuffer's memory
   * towards its GC heuristics, and a CPU worker's run allocates next to nothing on the JS heap, so the
   * buffers of finished runs, referenced only by garbage in the CPU workers and the harness thread,
   * stayed allocated for as long as those threads lived (MBs per run in a long campaign).
   *
   * Every buffer but physical memory is cleared. Physical memory is not (clearing it would make all of
   * it resident, and cost a memset of --memory per run): its contents are only ever read in frames
   * handed out during this run, and a frame is zeroed when it is handed out (allocFrame, and
   * bootAllocFrame here), so what an earlier run left in the others is never seen.
   */
  static create(config: MachineConfig, spare?: MachineBuffers | null): Machine {
    validateConfig(config);
    const lay = new L.Layout(config);
    const diskWords = lay.filePagesTotal * WORDS_PER_PAGE;
    const buffer = (old: SharedArrayBuffer | undefined, bytes: number, clear = true): SharedArrayBuffer => {
      if (!old || old.byteLength < bytes) return new SharedArrayBuffer(bytes);
      if (clear) new Uint8Array(old, 0, bytes).fill(0);
      return old;
    };
    const m = new Machine(config, {
      physmem: buffer(spare?.physmem, lay.frames * 4096, false),
      meta: buffer(spare?.meta, lay.metaWords * 4),
      disk: buffer(spare?.disk, diskWords * 4),
      shadow: buffer(spare?.shadow, diskWords * 4),
      stats: buffer(spare?.stats, config.cpus * CTR_COUNT * 8),
      lockstat: buffer(spare?.lockstat, config.cpus * LOCK_CLASS_COUNT * LS_FIELDS * 8),
    });
    m.boot();
    return m;
  }

  /** Views over buffers created elsewhere (a CPU worker, a checker). */
  static attach(config: MachineConfig, buffers: MachineBuffers): Machine {
    return new Machine(config, buffers);
  }

  private boot(): void {
    const { meta, layout: lay, config } = this;
    // Frame 0 stays reserved (a zero PFN is never handed out, as on x86 where it is firmware's).
    meta[lay.page(0) + L.PG_KIND] = L.FrameKind.Reserved;
    let head = -1;
    for (let f = lay.frames - 1; f >= 1; f--) {
      meta[lay.page(f) + L.PG_NEXT] = head;
      head = f;
    }
    meta[L.G_FREE_HEAD] = head;
    meta[L.G_NR_FREE] = lay.frames - 1;
    for (let c = 0; c < lay.cpus; c++) {
      const b = lay.cpu(c);
      meta[b + L.C_IRQ] = 1;
      meta[b + L.C_SLEEP_ADDR] = -1;
      meta[b + L.C_ACTIVE_MM] = -1;
      meta[b + L.C_TLB_STATE] = L.TLBSTATE_OK;
      const entries = lay.l1Sets * lay.l1Ways + lay.l2Sets * lay.l2Ways;
      for (let e = 0; e < entries; e++) meta[b + lay.tlbL1Off + e * L.TLB_FIELDS + L.TLB_TAG] = -1;
    }
    for (let p = 0; p < lay.procs; p++) {
      const pml4 = this.bootAllocFrame(L.FrameKind.PageTable);
      meta[lay.mm(p) + L.MM_CR3] = pml4;
      meta[lay.mm(p) + L.MM_USERS] = 1;
    }
    let base = 0;
    config.files.forEach((f, i) => {
      const b = lay.file(i);
      meta[b + L.F_ACCOUNT_DIRTY] = f.accountDirty ? 1 : 0;
      meta[b + L.F_HOOK_PROT] = f.mmapHookChangesProt ? 1 : 0;
      meta[b + L.F_PAGES] = f.pages;
      meta[lay.fileExt(i) + L.FX_SIZE] = f.size ?? f.pages;
      meta[b + L.F_BASE] = base;
      base += f.pages;
    });
    meta[L.G_RUNNING] = config.cpus;
  }

  private bootAllocFrame(kind: L.FrameKind): number {
    const { meta, layout: lay } = this;
    const f = meta[L.G_FREE_HEAD]!;
    meta[L.G_FREE_HEAD] = meta[lay.page(f) + L.PG_NEXT]!;
    meta[L.G_NR_FREE]!--;
    meta[lay.page(f) + L.PG_KIND] = kind;
    meta[lay.page(f) + L.PG_COUNT] = 1;
    // as allocFrame does: the buffers may be an earlier machine's (create)
    this.mem.fill(0, f * WORDS_PER_PAGE, (f + 1) * WORDS_PER_PAGE);
    return f;
  }

  // ---- what outsiders (the harness, checkers, tests) ask of a running or stopped machine ----

  /** Why the machine stopped: 0 while it runs, else a StopReason. */
  stopReason(): number {
    return stopReason(this.meta);
  }

  /** Stops the machine from outside the CPUs (the harness: a timeout, a dead worker, an interrupt). */
  abort(): void {
    stopMachine(this, L.StopReason.Abort);
  }

  /** Most write-notify pages seen (at checkpoints and the end) whose dirty state was only in PTE D bits. */
  get maxDirtyOnlyInPte(): number {
    return Atomics.load(this.meta, L.G_MAX_UNACCOUNTED);
  }

  /** CPU `cpu`'s state (CpuState). */
  cpuState(cpu: number): L.CpuState {
    return Atomics.load(this.meta, this.layout.cpu(cpu) + L.C_STATE);
  }

  /** A count that grows at each of CPU `cpu`'s preemption points and wait iterations (hang detection). */
  heartbeat(cpu: number): number {
    return Atomics.load(this.meta, this.layout.cpu(cpu) + L.C_HEARTBEAT);
  }

  /** Index of word `word` of page `page` of file `file` in the backing store and the owned-word shadow. */
  wordIndex(file: number, page: number, word: number): number {
    return (this.meta[this.layout.file(file) + L.F_BASE]! + page) * WORDS_PER_PAGE + word;
  }

  /** How many shared words a workload has (CpuApi.shared). */
  get sharedWords(): number {
    return L.WORKLOAD_WORDS;
  }

  /** Meta index of the workload's shared word `i` (0 <= i < WORKLOAD_WORDS). */
  sharedWord(i: number): number {
    if (!(Number.isInteger(i) && i >= 0 && i < L.WORKLOAD_WORDS)) throw new RangeError(`a workload has shared words 0..${L.WORKLOAD_WORDS - 1}, not ${i}`);
    return L.G_WORKLOAD_WORDS + i;
  }

  /** Every valid entry of CPU `cpu`'s TLB, both levels, as any thread reads it from shared memory. */
  tlbEntries(cpu: number): TlbEntryView[] {
    const lay = this.layout;
    const n1 = lay.l1Sets * lay.l1Ways;
    const n = n1 + lay.l2Sets * lay.l2Ways;
    const out: TlbEntryView[] = [];
    for (let e = 0; e < n; e++) {
      const t = lay.cpu(cpu) + lay.tlbL1Off + e * L.TLB_FIELDS;
      const vpn = Atomics.load(this.meta, t + L.TLB_TAG);
      if (vpn === -1) continue;
      const perm = this.meta[t + L.TLB_PERM]!;
      out.push({ level: e < n1 ? 1 : 2, vpn, pfn: this.meta[t + L.TLB_PFN]!, writable: (perm & L.TLBP_W) !== 0, user: (perm & L.TLBP_U) !== 0, dirty: (perm & L.TLBP_D) !== 0 });
    }
    return out;
  }

  /** The entry translating `vpn` in CPU `cpu`'s TLB (the L1's if both levels hold it), or null. */
  tlbEntry(cpu: number, vpn: number): TlbEntryView | null {
    const lay = this.layout;
    const levels: Array<[1 | 2, number, number, number]> = [[1, lay.tlbL1Off, lay.l1Sets, lay.l1Ways]];
    if (lay.l2Sets) levels.push([2, lay.tlbL2Off, lay.l2Sets, lay.l2Ways]);
    for (const [level, off, sets, ways] of levels) {
      const s = lay.cpu(cpu) + off + (vpn & (sets - 1)) * ways * L.TLB_FIELDS;
      for (let e = s; e < s + ways * L.TLB_FIELDS; e += L.TLB_FIELDS) {
        if (Atomics.load(this.meta, e + L.TLB_TAG) !== vpn) continue;
        const perm = this.meta[e + L.TLB_PERM]!;
        return { level, vpn, pfn: this.meta[e + L.TLB_PFN]!, writable: (perm & L.TLBP_W) !== 0, user: (perm & L.TLBP_U) !== 0, dirty: (perm & L.TLBP_D) !== 0 };
      }
    }
    return null;
  }

  counter(cpu: number, name: CounterName): number {
    return this.stats[cpu * CTR_COUNT + CTR[name]]!;
  }

  /** Sum of one counter over all CPUs. */
  total(name: CounterName): number {
    let s = 0;
    for (let c = 0; c < this.config.cpus; c++) s += this.counter(c, name);
    return s;
  }

  /** Lock statistics per class, summed over CPUs (classes never acquired are left out). */
  lockStats(): LockStatRow[] {
    const rows: LockStatRow[] = [];
    for (let k = 0; k < LOCK_CLASS_COUNT; k++) {
      const sum = new Float64Array(LS_FIELDS);
      sum[LS.waitMinNs] = sum[LS.waitMinCy] = sum[LS.holdMinNs] = sum[LS.holdMinCy] = Infinity;
      for (let c = 0; c < this.config.cpus; c++) {
        const b = (c * LOCK_CLASS_COUNT + k) * LS_FIELDS;
        const ls = this.lockstat;
        for (const f of [LS.conBounces, LS.contentions, LS.waitTotalNs, LS.waitTotalCy, LS.acqBounces, LS.acquisitions, LS.holdTotalNs, LS.holdTotalCy]) sum[f]! += ls[b + f]!;
        for (const f of [LS.waitMaxNs, LS.waitMaxCy, LS.holdMaxNs, LS.holdMaxCy]) sum[f] = Math.max(sum[f]!, ls[b + f]!);
        if (ls[b + LS.contentions]! > 0) for (const f of [LS.waitMinNs, LS.waitMinCy]) sum[f] = Math.min(sum[f]!, ls[b + f]!);
        if (ls[b + LS.acquisitions]! > 0) for (const f of [LS.holdMinNs, LS.holdMinCy]) sum[f] = Math.min(sum[f]!, ls[b + f]!);
      }
      const acq = sum[LS.acquisitions]!;
      if (acq === 0) continue;
      const con = sum[LS.contentions]!;
      const fin = (x: number) => (Number.isFinite(x) ? x : 0);
      rows.push({
        class: LOCK_CLASS_NAMES[k]!,
        conBounces: sum[LS.conBounces]!,
        contentions: con,
        waitNs: { min: con ? fin(sum[LS.waitMinNs]!) : 0, max: sum[LS.waitMaxNs]!, total: sum[LS.waitTotalNs]!, avg: con ? sum[LS.waitTotalNs]! / con : 0 },
        waitCycles: { min: con ? fin(sum[LS.waitMinCy]!) : 0, max: sum[LS.waitMaxCy]!, total: sum[LS.waitTotalCy]!, avg: con ? sum[LS.waitTotalCy]! / con : 0 },
        acqBounces: sum[LS.acqBounces]!,
        acquisitions: acq,
        holdNs: { min: fin(sum[LS.holdMinNs]!), max: sum[LS.holdMaxNs]!, total: sum[LS.holdTotalNs]!, avg: sum[LS.holdTotalNs]! / acq },
        holdCycles: { min: fin(sum[LS.holdMinCy]!), max: sum[LS.holdMaxCy]!, total: sum[LS.holdTotalCy]!, avg: sum[LS.holdTotalCy]! / acq },
      });
    }
    return rows;
  }
}

/**
 * What read-only helpers (the kernel's accessors, the oracles) need of a machine: the shared memory
 * and its layout. Both a Machine and a Cpu are one, so kernel code and checkers share the helpers.
 */
export type MachineView = Pick<Machine, 'meta' | 'mem' | 'layout' | 'config'>;

/** One TLB entry as read from shared memory. */
export interface TlbEntryView {
  readonly level: 1 | 2;
  readonly vpn: number;
  readonly pfn: number;
  /** Effective R/W of the walk that filled it. */
  readonly writable: boolean;
  /** Effective U/S. */
  readonly user: boolean;
  /** D of the final entry when it was filled (a store through it goes straight to memory). */
  readonly dirty: boolean;
}

export interface LockTimes {
  readonly min: number;
  readonly max: number;
  readonly total: number;
  readonly avg: number;
}

/** One row of /proc/lock_stat. */
export interface LockStatRow {
  readonly class: string;
  readonly conBounces: number;
  readonly contentions: number;
  readonly waitNs: LockTimes;
  readonly waitCycles: LockTimes;
  readonly acqBounces: number;
  readonly acquisitions: number;
  readonly holdNs: LockTimes;
  readonly holdCycles: LockTimes;
}
