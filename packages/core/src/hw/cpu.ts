/**
 * One simulated x86-64 CPU, the hardware only: its TLB (two levels, set-associative, LRU), the page
 * walk with the A/D rules, page-fault entry, the interrupt flag and interrupt delivery, preemption
 * points, and sleeping/waking. What the CPU calls into is the kernel's KernelEntry (the page-fault and
 * interrupt vectors); the arch kernel's TLB code (flush IPIs, switch_mm, lazy TLB) is kernel/smp.ts,
 * and how the CPU waits is its waiter (sched/wait.ts), chosen once for the execution mode.
 *
 * A Cpu object lives in the thread that runs that CPU (a worker, or the test thread in single-thread
 * tests) and owns its per-CPU area in shared memory: only it writes its TLB, its counters and its
 * held-lock stack; other threads read them (checkers, the watchdog, the harness).
 *
 * Hot path (`load`/`store` on an L1 TLB hit): one preemption-point decrement, one set scan over a
 * shared Int32Array with plain reads, one plain data access. No allocation, no BigInt, no Atomics.
 */
import { isUserAddress, type MachineConfig, WORDS_PER_PAGE } from '../config.js';
import { type CpuMask, newMask } from '../cpumask.js';
import * as L from '../machine/layout.js';
import { CTR, CTR_COUNT, LS_FIELDS, type Machine } from '../machine/machine.js';
import { stopMachine, stopRequested } from '../machine/stop.js';
import { LOCK_CLASS_COUNT } from '../kernel/locking/lockorder.js';
import { Rng } from '../random.js';
import { type CpuWaiter, FreeWaiter } from '../sched/wait.js';
import type { Tracer } from '../trace.js';
import { type CacheLines, memLine, metaLine } from './coherence.js';
import { BusError, type KernelEntry, MachineStop, SegvError, type Violation } from './entry.js';
import { PF_PROT, PF_USER, PF_WRITE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US, tableIndex } from './pte.js';

export { BusError, MachineStop, SegvError, type KernelEntry, type Violation } from './entry.js';

/**
 * Faults one access may take before the model calls it a fault handler that makes no progress. Linux
 * has no bound: a writer's retry can keep losing to another CPU that write-protects the page again
 * (msync's page_mkclean) while the host preempts the writer, so the bound is far above any retry count
 * a run has shown (about 100 under oversubscription, where the former bound of 64 was exceeded on the
 * correct kernel); a handler that really loops is a hang for the run monitor well before it.
 */
export const MAX_FAULT_RETRIES = 1_000_000;

/** Accesses between two slow paths of the preemption point. */
export const PREEMPT_INTERVAL = 256;
/**
 * The host clock (a --duration run's deadline) is read at one user-mode slow path in this many:
 * Date.now() is a runtime call (47 ns on the 2-core machine), 5 % of a TLB-hit loop's 256 accesses.
 */
const CLOCK_EVERY = 16;
/**
 * In free mode at PREEMPT_INTERVAL, accesses between two looks at this CPU's pending-interrupt word:
 * a pending flush IPI is taken then instead of at the end of the 256 (the disk's completion still
 * waits for the full slow path: see pollFlushIpis). A busy target otherwise took a flush IPI about
 * 128 accesses after it came (the 2-CPU shootdown p50 was 4-6 µs, of which 3.5 µs waiting for the
 * target's next slow path); the look is one plain read of a word only senders write.
 */
const IRQ_POLL_INTERVAL = 32;
const LRU_RENORM = 1 << 30;

/**
 * The page number of a user address, as load(), store() and translate() look it up: a shift when the
 * address is a small integer (below 2^31, where every mapping of the first gigabyte above the mmap
 * base lies), a division otherwise. The JIT drops the test while addresses have been small integers,
 * and `>>> 12` is one instruction where `(addr / 4096) | 0` is four (it rounds toward zero for
 * negatives): the TLB-hit loop ran 5-7 % faster. Exact for every address in [0, TASK_SIZE). No
 * mapping has a negative address: a negative small integer comes out as a page in [2^19, 2^20),
 * where load() and store() could only find a TLB entry for the address 2^32 above it; any other
 * negative number as -2, which no TLB entry holds (-1 marks an empty one); translate() faults first.
 */
const userVpn = (addr: number): number => ((addr | 0) === addr ? addr >>> 12 : addr >= 0 ? Math.floor(addr / 4096) : -2);

export class Cpu {
  readonly meta: Int32Array;
  readonly mem: Int32Array;
  /** The shared-memory layout. A Cpu is a MachineView: read-only helpers take it or a Machine. */
  readonly layout: L.Layout;
  readonly config: MachineConfig;
  /** Index of this CPU's area in meta. */
  readonly base: number;
  /** This CPU's bit in word `maskWord` of a CpuMask. */
  readonly bit: number;
  /** This CPU's counters (a slice of the stats buffer). */
  readonly ctr: Float64Array;
  readonly rng: Rng;
  kernel: KernelEntry | null = null;

  /** find_vma's cache: the VMA slot found last (meta index, -1 none). */
  vmaCache = -1;
  /** The mm of the task this CPU runs (-1: none yet). */
  mmId = -1;
  /**
   * Countdown to the next slow path of the preemption point, decremented by every user access and
   * every kernel preemption point. What it counted down since it was last set (budgetSet) is where
   * the access counters come from: the hot path increments nothing else (publishCounters).
   */
  budget = PREEMPT_INTERVAL;
  /** Set when the run's host-time deadline has passed. */
  timeUp = false;
  deadline = 0;
  /** User-mode slow paths since the deadline was last compared with the host clock (CLOCK_EVERY). */
  private clockTick = 0;
  /** A slow path fell in kernel mode: its user-mode part runs when the kernel returns to user mode (returnToUser). */
  private userDue = false;
  /** Violations this CPU found. */
  readonly violations: Violation[] = [];
  /**
   * Called at user-mode preemption slow paths, or at the return to user mode after a slow path that
   * fell in a kernel path (returnToUser): kernel threads, checkpoints, schedulers.
   */
  readonly userHooks: Array<(cpu: Cpu) => void> = [];
  /**
   * The end-of-run fsync-durability check (kernel.ts finalSync), run after a plain fsync of every
   * file and before the PTE dirty bits are harvested; null: no such step.
   */
  afterPlainFsync: ((cpu: Cpu) => void) | null = null;
  /**
   * The durability contract of msync(MS_SYNC) and fsync: called by doMsync/doFsync with each file
   * range it is about to write and wait on (the caller's oracle compares after the call returns).
   */
  onSyncRange: ((file: number, first: number, end: number) => void) | null = null;
  /** Runs in every user-mode cpu_relax (lifecycle.ts: parking at an open checkpoint). */
  onRelax: ((cpu: Cpu) => void) | null = null;
  /**
   * The pending vectors the waiter found due at the last interruptDue() (all of them, -1, but in
   * timed mode: there the disk's interrupt may be due while a flush IPI has not yet arrived).
   */
  dueVectors = -1;
  /** Pages this CPU's current fault newly dirtied: balance_dirty_pages_ratelimited runs at its end. */
  balancePending = 0;
  /** The per-CPU bdp_ratelimits count of balance_dirty_pages_ratelimited. */
  bdpRatelimits = 0;
  /** writeback_inodes' position (file, page) for this CPU's throttled writeback. */
  readonly bdpCursor = { file: 0, index: 0 };
  /** Lockdep: chains (held-class mask × new class) already validated on this CPU. */
  readonly lockdepCache = new Set<number>();
  /** Lock statistics: when each held lock was taken (parallel to the held-lock stack). */
  readonly holdStartNs = new Float64Array(L.HELD_MAX);
  readonly holdStartCy = new Float64Array(L.HELD_MAX);
  /** This CPU's lock-statistics slice (classes x LS_FIELDS), or null when lock-stat is off. */
  readonly lockstat: Float64Array | null;
  /** How this CPU waits and what its preemption points schedule: free, deterministic, or inline (tests). */
  waiter: CpuWaiter = new FreeWaiter(this);

  private readonly l1Base: number;
  private readonly l1Mask: number;
  private readonly l1SetStride: number;
  private readonly l2Base: number;
  private readonly l2Mask: number;
  private readonly l2SetStride: number;
  private lru = 1;
  /**
   * A one-entry cache of the last translation used (the page's first word in mem, and whether it
   * may be stored to), in front of the L1 set scan. It shortcuts an L1 entry that exists, so it is
   * dropped whenever any TLB entry is filled or invalidated.
   */
  private lastVpn = -1;
  private lastBase = 0;
  /** lastVpn when that translation may be stored to (writable and dirty), else -1: store()'s one compare. */
  private lastVpnW = -1;
  /** The value `budget` was last set to (setBudget). */
  private budgetSet = PREEMPT_INTERVAL;
  /** Budget counted down in earlier intervals, not yet published. */
  private budgetUsed = 0;
  /** Kernel preemption points passed (they count down the budget but are not accesses), not yet published. */
  private points = 0;
  /** Accesses that took the slow path (translate), not yet published; the others hit the L1 TLB. */
  private slowAccesses = 0;
  /** A sink for delay()'s loop, so that it is not optimized away. */
  private delaySink = 0;
  private inHook = false;
  private perturb: number;
  /** Accesses between calls of preemptSlow: shorter when perturbation is on, so delays land inside kernel windows. */
  private interval: number;
  /** Looks at the pending-interrupt word left before the next full slow path (see IRQ_POLL_INTERVAL). */
  private irqPolls = 0;
  /** Looks per full slow path: PREEMPT_INTERVAL / IRQ_POLL_INTERVAL - 1 at the default interval, else 0. */
  private pollsPerSlow = 0;
  // (declared after the hot-path fields, so that those keep their places in the object)
  /** Event tracing (trace hash, trace file); null when neither is on. */
  tracer: Tracer | null = null;
  /** Timed mode's cache-line model (hw/coherence.ts); null in the other modes. */
  lines: CacheLines | null = null;
  /** This CPU in a CpuMask: bit `bit` of word `maskWord`. */
  readonly maskWord: number;
  /** Index of this CPU's masks in meta (L.CM_*). */
  readonly maskBase: number;
  /** Scratch mask of a flush's targets (kernel/smp.ts fills it per flush: no allocation). */
  readonly flushTargets: CpuMask = newMask();

  constructor(
    readonly m: Machine,
    readonly id: number,
  ) {
    this.meta = m.meta;
    this.mem = m.mem;
    this.layout = m.layout;
    this.config = m.config;
    this.base = m.layout.cpu(id);
    this.maskWord = id >>> 5;
    this.bit = 1 << (id & 31);
    this.maskBase = m.layout.cpuMasks(id);
    this.ctr = m.stats.subarray(id * CTR_COUNT, (id + 1) * CTR_COUNT);
    this.rng = new Rng(m.config.seed, 1000 + id);
    const lay = m.layout;
    this.l1Base = this.base + lay.tlbL1Off;
    this.l1Mask = lay.l1Sets - 1;
    this.l1SetStride = lay.l1Ways * L.TLB_FIELDS;
    this.l2Base = this.base + lay.tlbL2Off;
    this.l2Mask = lay.l2Sets - 1;
    this.l2SetStride = lay.l2Ways * L.TLB_FIELDS;
    this.perturb = m.config.perturb;
    this.interval = this.perturb > 0 ? 16 : PREEMPT_INTERVAL;
    if (this.interval === PREEMPT_INTERVAL) {
      // the first full slow path still comes after PREEMPT_INTERVAL accesses
      this.interval = IRQ_POLL_INTERVAL;
      this.setBudget(IRQ_POLL_INTERVAL);
      this.pollsPerSlow = this.irqPolls = PREEMPT_INTERVAL / IRQ_POLL_INTERVAL - 1;
    }
    this.lockstat = m.config.kernel.lockStat ? m.lockstat.subarray(id * LOCK_CLASS_COUNT * LS_FIELDS, (id + 1) * LOCK_CLASS_COUNT * LS_FIELDS) : null;
  }

  /**
   * Chooses how this CPU waits and schedules (once, at set-up): deterministic mode's waiter makes every
   * access a preemption point and turns host-time perturbation off (the schedule is then the only
   * source of interleaving).
   */
  useWaiter(w: CpuWaiter): void {
    this.waiter = w;
    if (w.interval > 0) {
      this.interval = w.interval;
      this.setBudget(w.interval);
      this.pollsPerSlow = this.irqPolls = 0;
    }
    if (!w.hostDelays) this.perturb = 0;
  }

  // ------------------------------------------------------------------ user-mode accesses

  /**
   * Loads the 32-bit word at virtual address `addr` (the low two bits are ignored). (The budget is
   * counted down as `(budget - 1) | 0`: an int32 subtraction the JIT need not check for overflow.)
   */
  load(addr: number): number {
    if ((this.budget = (this.budget - 1) | 0) <= 0) this.accessSlow();
    const vpn = userVpn(addr);
    if (vpn === this.lastVpn) {
      return this.mem[this.lastBase | ((addr & 4095) >>> 2)]!;
    }
    const t = this.meta;
    let e = this.l1Base + (vpn & this.l1Mask) * this.l1SetStride;
    const end = e + this.l1SetStride;
    for (; e < end; e += L.TLB_FIELDS) {
      if (t[e] === vpn) {
        t[e + L.TLB_LRU] = ++this.lru;
        this.remember(vpn, t[e + L.TLB_PFN]!, t[e + L.TLB_PERM]!);
        return this.mem[(t[e + L.TLB_PFN]! << 10) | ((addr & 4095) >>> 2)]!;
      }
    }
    return this.loadSlow(addr);
  }

  private remember(vpn: number, pfn: number, perm: number): void {
    this.lastVpn = vpn;
    this.lastBase = pfn << 10;
    this.lastVpnW = (perm & (L.TLBP_W | L.TLBP_D)) === (L.TLBP_W | L.TLBP_D) ? vpn : -1;
  }

  private forget(): void {
    this.lastVpn = -1;
    this.lastVpnW = -1;
  }

  /**
   * A view of CPU `c` in this thread, to take its interrupts by proxy while it is not running (timed
   * mode's blocked CPUs, run tokens' parked ones): its TLB, counters and acknowledgement words are in
   * shared memory; the view has this CPU's kernel entry and cache-line model.
   */
  viewOf(c: number): Cpu {
    const p = new Cpu(this.m, c);
    p.kernel = this.kernel;
    p.lines = this.lines;
    return p;
  }

  /**
   * Another thread changed this CPU's TLB on its behalf while it was not running (timed mode takes a
   * blocked CPU's flush IPIs by proxy): the one-entry translation cache, this thread's own, goes.
   */
  tlbChangedElsewhere(): void {
    this.forget();
  }

  /** Stores `value` to the 32-bit word at `addr`. */
  store(addr: number, value: number): void {
    if ((this.budget = (this.budget - 1) | 0) <= 0) this.accessSlow();
    const vpn = userVpn(addr);
    if (vpn === this.lastVpnW) {
      this.mem[this.lastBase | ((addr & 4095) >>> 2)] = value;
      return;
    }
    const t = this.meta;
    let e = this.l1Base + (vpn & this.l1Mask) * this.l1SetStride;
    const end = e + this.l1SetStride;
    for (; e < end; e += L.TLB_FIELDS) {
      if (t[e] === vpn) {
        if ((t[e + L.TLB_PERM]! & (L.TLBP_W | L.TLBP_D)) === (L.TLBP_W | L.TLBP_D)) {
          // Writable and dirty in the TLB: straight to memory, no PTE access. This is why a stale
          // entry keeps writing until its CPU has flushed it.
          t[e + L.TLB_LRU] = ++this.lru;
          this.remember(vpn, t[e + L.TLB_PFN]!, t[e + L.TLB_PERM]!);
          this.mem[(t[e + L.TLB_PFN]! << 10) | ((addr & 4095) >>> 2)] = value;
          return;
        }
        break;
      }
    }
    this.storeSlow(addr, value);
  }

  /** Locked add (x86 `lock xadd`): needs a writable translation, returns the old value. */
  xadd(addr: number, delta: number): number {
    const pfn = this.translate(addr, true);
    return Atomics.add(this.mem, pfn * WORDS_PER_PAGE + ((addr & 4095) >>> 2), delta);
  }

  private loadSlow(addr: number): number {
    // (the access is counted once it is done, as the counters published meanwhile always were)
    this.points++;
    const pfn = this.translate(addr, false);
    this.points--;
    this.slowAccesses++;
    return this.mem[pfn * WORDS_PER_PAGE + ((addr & 4095) >>> 2)]!;
  }

  private storeSlow(addr: number, value: number): void {
    this.points++;
    const pfn = this.translate(addr, true);
    this.points--;
    this.slowAccesses++;
    this.mem[pfn * WORDS_PER_PAGE + ((addr & 4095) >>> 2)] = value;
  }

  /**
   * The full translation path for an access that missed the L1 fast path: L1/L2 lookup, the
   * hardware dirty-bit update, the page walk, and page faults, retried until the access may proceed.
   * Returns the PFN; the TLB then holds the translation.
   */
  translate(addr: number, write: boolean): number {
    // Outside [0, TASK_SIZE) nothing is mapped, and a page number would not be the address's (it
    // wrapped to -1, the empty TLB entry's tag, for [-8191, -4096]): straight to the fault handler,
    // whose SIGSEGV ends it.
    if (!isUserAddress(addr)) this.pageFault(addr, PF_USER | (write ? PF_WRITE : 0));
    const vpn = userVpn(addr);
    for (let attempt = 0; ; attempt++) {
      if (attempt > MAX_FAULT_RETRIES) throw new Error(`access at 0x${addr.toString(16)} keeps faulting: the fault handler makes no progress`);
      let e = this.tlbFind(vpn);
      if (e >= 0) {
        const perm = this.meta[e + L.TLB_PERM]!;
        if (!write) {
          this.ctr[CTR.tlbHits]!++;
          this.meta[e + L.TLB_LRU] = ++this.lru;
          return this.meta[e + L.TLB_PFN]!;
        }
        if (perm & L.TLBP_W) {
          if (perm & L.TLBP_D) {
            this.meta[e + L.TLB_LRU] = ++this.lru;
            return this.meta[e + L.TLB_PFN]!;
          }
          // Writable but clean in the TLB: the CPU does a locked read-modify-write of the PTE to set
          // D, re-walking the tables; if the PTE is no longer present or writable, that is a fault.
          this.invlpg(vpn);
        } else {
          // A write through a read-only translation faults; the fault drops the stale entry.
          this.pageFault(addr, PF_PROT | PF_WRITE | PF_USER);
          continue;
        }
      }
      e = this.walk(vpn, write);
      if (e >= 0) return e;
      this.pageFault(addr, this.walkErr);
    }
  }

  // ------------------------------------------------------------------ TLB

  /** Index of the L1 entry translating `vpn` (promoting from L2 on an L2 hit), or -1. */
  private tlbFind(vpn: number): number {
    const t = this.meta;
    let e = this.l1Base + (vpn & this.l1Mask) * this.l1SetStride;
    for (const end = e + this.l1SetStride; e < end; e += L.TLB_FIELDS) if (t[e] === vpn) return e;
    if (this.l2SetStride === 0) {
      this.ctr[CTR.tlbMisses]!++;
      return -1;
    }
    e = this.l2Base + (vpn & this.l2Mask) * this.l2SetStride;
    for (const end = e + this.l2SetStride; e < end; e += L.TLB_FIELDS) {
      if (t[e] === vpn) {
        this.ctr[CTR.tlbL2Hits]!++;
        this.ctr[CTR.cycles]! += this.config.costs.l2Hit;
        t[e + L.TLB_LRU] = ++this.lru;
        return this.fillL1(vpn, t[e + L.TLB_PFN]!, t[e + L.TLB_PERM]!);
      }
    }
    this.ctr[CTR.tlbMisses]!++;
    return -1;
  }

  private victim(setBase: number, stride: number): number {
    const t = this.meta;
    let best = setBase;
    let bestLru = Infinity;
    for (let e = setBase, end = setBase + stride; e < end; e += L.TLB_FIELDS) {
      if (t[e] === -1) return e;
      if (t[e + L.TLB_LRU]! < bestLru) {
        bestLru = t[e + L.TLB_LRU]!;
        best = e;
      }
    }
    return best;
  }

  private fillL1(vpn: number, pfn: number, perm: number): number {
    this.forget();
    const t = this.meta;
    const e = this.victim(this.l1Base + (vpn & this.l1Mask) * this.l1SetStride, this.l1SetStride);
    t[e] = vpn;
    t[e + L.TLB_PFN] = pfn;
    t[e + L.TLB_PERM] = perm;
    t[e + L.TLB_LRU] = ++this.lru;
    return e;
  }

  /** Caches a translation in both levels (the L2 is inclusive). */
  private tlbFill(vpn: number, pfn: number, perm: number): void {
    this.forget();
    if (this.l2SetStride !== 0) {
      const t = this.meta;
      const s = this.l2Base + (vpn & this.l2Mask) * this.l2SetStride;
      let e = -1;
      for (let i = s, end = s + this.l2SetStride; i < end; i += L.TLB_FIELDS) if (t[i] === vpn) e = i;
      if (e < 0) e = this.victim(s, this.l2SetStride);
      t[e] = vpn;
      t[e + L.TLB_PFN] = pfn;
      t[e + L.TLB_PERM] = perm;
      t[e + L.TLB_LRU] = ++this.lru;
    }
    const t = this.meta;
    let s = this.l1Base + (vpn & this.l1Mask) * this.l1SetStride;
    for (const end = s + this.l1SetStride; s < end; s += L.TLB_FIELDS) {
      if (t[s] === vpn) {
        t[s + L.TLB_PFN] = pfn;
        t[s + L.TLB_PERM] = perm;
        return;
      }
    }
    this.fillL1(vpn, pfn, perm);
  }

  /** INVLPG: drops the translation of one page from every level. Owner CPU only. */
  invlpg(vpn: number): void {
    this.forget();
    this.ctr[CTR.cycles]! += this.config.costs.invlpg;
    const t = this.meta;
    let e = this.l1Base + (vpn & this.l1Mask) * this.l1SetStride;
    for (const end = e + this.l1SetStride; e < end; e += L.TLB_FIELDS) if (t[e] === vpn) t[e] = -1;
    if (this.l2SetStride === 0) return;
    e = this.l2Base + (vpn & this.l2Mask) * this.l2SetStride;
    for (const end = e + this.l2SetStride; e < end; e += L.TLB_FIELDS) if (t[e] === vpn) t[e] = -1;
  }

  /** CR3 write: drops every (non-global) translation. Owner CPU only. */
  flushAllLocal(): void {
    this.forget();
    this.ctr[CTR.cycles]! += this.config.costs.cr3Reload;
    const t = this.meta;
    const end = this.base + this.layout.cpuStride;
    for (let e = this.l1Base; e < end; e += L.TLB_FIELDS) t[e] = -1;
  }

  // ------------------------------------------------------------------ page walk

  /** Error code of the last failed walk. */
  walkErr = 0;

  /**
   * The hardware page walk (SDM vol. 3 §4.10.2): four levels from CR3, setting A in each entry with a
   * locked compare-and-swap before caching, and D in the final entry on a write. Permissions are the
   * AND of R/W and U/S over all levels. Returns the PFN and fills the TLB, or -1 with `walkErr` set.
   */
  walk(vpn: number, write: boolean): number {
    this.ctr[CTR.cycles]! += 4 * this.config.costs.walkLevel;
    const am = this.meta[this.base + L.C_ACTIVE_MM]!;
    if (am < 0) {
      this.walkErr = (write ? PF_WRITE : 0) | PF_USER;
      return -1;
    }
    let table = Atomics.load(this.meta, this.layout.mm(am) + L.MM_CR3);
    let rw = PTE_RW;
    let us = PTE_US;
    for (let level = 4; level >= 1; level--) {
      const idx = table * WORDS_PER_PAGE + tableIndex(vpn, level) * 2;
      for (;;) {
        const old = Atomics.load(this.mem, idx);
        if (!(old & PTE_P)) {
          this.walkErr = (write ? PF_WRITE : 0) | PF_USER;
          return -1;
        }
        const allowW = rw & old & PTE_RW;
        const allowU = us & old & PTE_US;
        if (!allowU || (write && !allowW)) {
          this.walkErr = PF_PROT | (write ? PF_WRITE : 0) | PF_USER;
          return -1;
        }
        let nw = old | PTE_A;
        if (level === 1 && write) nw |= PTE_D;
        if (nw !== old && Atomics.compareExchange(this.mem, idx, old, nw) !== old) continue;
        if (level === 1 && this.lines !== null) {
          if (nw !== old) this.lines.write(this, memLine(idx));
          else this.lines.read(this, memLine(idx));
        }
        rw = allowW;
        us = allowU;
        if (level === 1) {
          const pfn = nw >>> 12;
          const perm = (rw ? L.TLBP_W : 0) | L.TLBP_U | (nw & PTE_D ? L.TLBP_D : 0);
          this.tlbFill(vpn, pfn, perm);
          return pfn;
        }
        table = nw >>> 12;
        break;
      }
    }
    return -1;
  }

  /** Raises a page fault: CR2 and the error code go to the per-CPU area, then the kernel runs. */
  pageFault(addr: number, errcode: number): void {
    // A page fault invalidates the TLB entries for the faulting address (SDM §4.10.4.1). One outside
    // the user range has none (translate fills none), and its page number would be another's (from
    // 2^44 up, `| 0` wrapped it onto a live user page): -1, the empty entries' tag, drops nothing.
    this.invlpg(isUserAddress(addr) ? userVpn(addr) : -1);
    const b = this.base;
    this.meta[b + L.C_CR2_LO] = addr % 2 ** 32 | 0;
    this.meta[b + L.C_CR2_HI] = Math.floor(addr / 2 ** 32);
    this.meta[b + L.C_ERRCODE] = errcode;
    this.ctr[CTR.cycles]! += this.config.costs.faultEntry;
    if (!this.kernel) throw new Error(`cpu${this.id}: page fault with no kernel attached`);
    this.meta[b + L.C_IN_KERNEL]!++;
    if (this.tracer !== null) this.tracer.fault(addr, errcode);
    let signal: SegvError | BusError | null = null;
    try {
      this.kernel.pageFault(this, addr, errcode);
    } catch (e) {
      if (!(e instanceof SegvError || e instanceof BusError)) throw e; // a stop unwinds: nothing more runs
      signal = e;
    } finally {
      this.meta[b + L.C_IN_KERNEL]!--;
      if (this.tracer !== null) this.tracer.faultEnd();
    }
    // the return to user mode, where a signal is delivered too: a workload retrying a store that gets
    // SIGSEGV (remap-commit's writers while the page is unmapped) must still park at a checkpoint
    if (this.userDue) this.returnToUser();
    if (signal !== null) throw signal;
  }

  /**
   * Runs `fn` in kernel mode (C_IN_KERNEL counts the nesting): preemption points in kernel mode run no
   * user-mode hooks, so checkpoints and kernel threads never start inside a half-done kernel path.
   */
  kernelMode<T>(fn: () => T): T {
    this.meta[this.base + L.C_IN_KERNEL]!++;
    let r: T;
    try {
      r = fn();
    } finally {
      this.meta[this.base + L.C_IN_KERNEL]!--;
    }
    if (this.userDue) this.returnToUser();
    return r;
  }

  /**
   * The return to user mode of a kernel path (Linux's exit_to_user_mode: TIF_NEED_RESCHED and
   * TIF_NOTIFY_RESUME are acted on here): if a preemption point's slow path fell inside the kernel
   * path, what it does only in user mode runs now, at the kernel's exit — else a workload whose
   * kernel paths take a fixed number of points could have every slow path fall in kernel mode
   * (page-fault3 with 256 or 100 pages did, on any number of CPUs): its hooks (kernel threads,
   * checkpoints), its host-time deadline and its run token's slice would never come.
   */
  private returnToUser(): void {
    // (not from a nested kernel path, a hook's kernel thread, or the end-of-run sync of a CPU whose task is over)
    const b = this.base;
    if (this.meta[b + L.C_IN_KERNEL] !== 0 || this.inHook || this.meta[b + L.C_STATE] !== L.CpuState.Running) return;
    this.waiter.userReturn();
    this.userWork();
  }

  // ------------------------------------------------------------------ preemption points

  /** A preemption point: a counter decrement; the slow path runs every PREEMPT_INTERVAL (see preemptSlow). */
  preempt(): void {
    this.points++;
    if ((this.budget = (this.budget - 1) | 0) <= 0) this.preemptSlow();
  }

  /**
   * The preemption point's slow path reached from an access, before the access is made: it is not
   * counted in what the slow path publishes (an access counts once it is done; an access that never
   * completes, a fault's SIGSEGV or a stop, never counts).
   */
  private accessSlow(): void {
    this.points++;
    this.preemptSlow();
    this.points--;
  }

  /** Sets the countdown to the next slow path, keeping what the last one counted. */
  private setBudget(n: number): void {
    this.budgetUsed += this.budgetSet - this.budget;
    this.budget = this.budgetSet = n;
  }

  /**
   * Publishes the hot-path counters to the stats buffer. They are derived, not counted: every load
   * and store counts the budget down once, as does every kernel preemption point (counted apart), so
   * accesses = budget spent - points; those that took the slow path are counted there, the rest hit
   * the L1 TLB (the slow path counts its own TLB hits).
   */
  publishCounters(): void {
    const spent = this.budgetUsed + this.budgetSet - this.budget;
    this.budgetUsed = 0;
    this.budgetSet = this.budget;
    const accesses = spent - this.points;
    this.ctr[CTR.accesses]! += accesses;
    this.ctr[CTR.tlbHits]! += accesses - this.slowAccesses;
    this.ctr[CTR.cycles]! += accesses * this.config.costs.tlbHit;
    this.points = 0;
    this.slowAccesses = 0;
  }

  /**
   * The slow path of the preemption point: stop requests, interrupts (when enabled), perturbation,
   * and in user mode the hooks (kernel threads, checkpoints, the host-time deadline). In free mode at
   * the default interval, seven calls in eight only take a pending flush IPI (IRQ_POLL_INTERVAL).
   */
  preemptSlow(): void {
    if (this.irqPolls > 0) {
      // Only the interrupt is taken early: the full slow path keeps its cadence of one in
      // PREEMPT_INTERVAL. (Running it early instead phase-locked it to the disk's completion
      // interrupt in msync-region on one CPU: it then always fell in kernel mode, the user-mode
      // hooks never ran, and a --duration run never ended.)
      this.irqPolls--;
      this.setBudget(IRQ_POLL_INTERVAL);
      if ((this.meta[this.base + L.C_IPI_PENDING]! & ~L.DISK_PENDING) !== 0) this.pollFlushIpis();
      return;
    }
    this.irqPolls = this.pollsPerSlow;
    this.setBudget(this.interval);
    this.publishCounters();
    if (this.lru > LRU_RENORM) this.renormLru();
    this.meta[this.base + L.C_HEARTBEAT]!++;
    this.waiter.point();
    this.checkStop();
    this.pollInterrupts();
    if (this.perturb > 0 && this.rng.chance(this.perturb)) this.delay();
    if (this.meta[this.base + L.C_IN_KERNEL] === 0 && !this.inHook) this.userWork();
    // (with a slow path at every point, deterministic mode's, the first user access after the kernel
    // path is one: nothing to defer — and running the hooks at the exit instead, before that access's
    // scheduling decision, cost PCT mkclean-unlocked-check and zap-deferred-flush: found from none of
    // base seeds 1..8 in 30 schedules, against schedule 1 or 2 from seed 1)
    else if (this.interval > 1) this.userDue = true;
  }

  /** The user-mode part of a preemption point's slow path: the host-time deadline, then the hooks. */
  private userWork(): void {
    this.userDue = false;
    if (this.deadline && ++this.clockTick >= CLOCK_EVERY) {
      this.clockTick = 0;
      if (Date.now() >= this.deadline) this.timeUp = true;
    }
    if (this.userHooks.length) {
      this.inHook = true;
      try {
        for (const h of this.userHooks) h(this);
      } finally {
        this.inHook = false;
      }
    }
  }

  /**
   * A preemption point inside a kernel race window (between a read and a write of shared state that
   * another CPU may change): with perturbation on, a random delay here, then the usual point.
   *
   * Every window of the kernel model between two updates of state that another CPU reads without
   * the lock the updater holds (each marked `RACE:` or `racePoint()` at its place):
   * - kernel/memory.ts dirtyFaultedPage: a write fault has dropped the pte lock with the PTE writable
   *   and dirty, before set_page_dirty (fault-dirty-race, set-page-dirty-unlocked).
   * - kernel/memory.ts zapPteRange: PTEs cleared (and with remove-rmap-before-flush the pages
   *   unmapped) before the forced flush under the pte lock; and the pte lock dropped before the
   *   deferred tlb_finish_mmu flush (zap-deferred-flush).
   * - kernel/mmap.ts changePteRange: between ptep_get_and_clear and set_pte_at (mkclean-unlocked-check),
   *   or between the plain read and write of racy-pte-update.
   * - kernel/rmap.ts pageMkcleanOne: the PTE cleared, the flush not yet done.
   * - kernel/page-writeback.ts clearPageDirtyForIo: between page_mkclean and TestClearPageDirty (and
   *   between them the other way round with clean-before-mkclean).
   * - kernel/page-writeback.ts tagNewlyDirty: PG_dirty set, the radix-tree tag not yet
   *   (set-page-dirty-unlocked's second writer returns here and stores).
   * - kernel/buffer.ts setPageDirtyBuffers: with dirty-flag-after-private-lock, the buffers marked
   *   and private_lock dropped, PG_dirty not yet set (create_empty_buffers may attach clean buffers).
   * - kernel/buffer.ts tryToFreeBuffers: buffers dropped, private_lock released, the dirty bit not
   *   yet cleared (strip-buffers-unlocked).
   */
  racePoint(): void {
    if (this.perturb > 0 && this.rng.chance(this.perturb) && !this.waiter.preemptHere()) this.delay();
    this.preempt();
  }

  /** KCSAN-style random delay (about 0.1 to 20 µs of host time) to widen race windows. */
  private delay(): void {
    const n = 50 + (this.rng.chance(0.2) ? this.rng.below(40000) : this.rng.below(2000));
    let x = 0;
    for (let i = 0; i < n; i++) x = (x + i) | 0;
    this.delaySink = x;
  }

  private renormLru(): void {
    const t = this.meta;
    const end = this.base + this.layout.cpuStride;
    for (let e = this.l1Base; e < end; e += L.TLB_FIELDS) t[e + L.TLB_LRU] = t[e] === -1 ? 0 : 1;
    this.lru = 2;
  }

  // ------------------------------------------------------------------ interrupts

  /** Takes pending interrupts if the interrupt flag is set: the kernel's interrupt vector runs. */
  pollInterrupts(): void {
    // (a plain read, as the early look's: the handler takes its mailbox with atomics itself, and
    // Atomics.load is a builtin call here, not inlined)
    if (this.meta[this.base + L.C_IRQ] !== 0 && this.meta[this.base + L.C_IPI_PENDING] !== 0 && this.waiter.interruptDue()) this.kernel!.interrupt(this);
  }

  /**
   * The early look of IRQ_POLL_INTERVAL takes flush IPIs only: the disk counts its latency in the
   * polls of full slow paths and waits (kernel/disk.ts), so polling it 8 times as often would make it
   * 8 times as fast (and run its handler at every look while writes are in flight).
   */
  private pollFlushIpis(): void {
    this.dueVectors = ~L.DISK_PENDING;
    try {
      this.pollInterrupts();
    } finally {
      this.dueVectors = -1;
    }
  }

  /**
   * Takes an interrupt and runs `handler` for it: the interrupt gate clears the interrupt flag, the
   * kernel's irq_enter counts hardirq context (C_HARDIRQ, what lockdep's USED_IN_HARDIRQ reads) while
   * the handler runs, and iret restores the flag. Interrupts pending meanwhile wait for the next
   * preemption point with the flag set, as on hardware. Kernel.interrupt runs every vector through it
   * (on this CPU, or in timed mode on a proxy view of it: the words are the CPU's, in shared memory).
   */
  hardirq(handler: (cpu: Cpu) => void): void {
    const b = this.base;
    const meta = this.meta;
    const flags = meta[b + L.C_IRQ]!;
    meta[b + L.C_IRQ] = 0;
    meta[b + L.C_HARDIRQ]!++;
    // in kernel mode: a preemption point inside the handler (a spinlock it takes) runs no user hook
    // (kernel threads, checkpoints) even when the interrupt came in user mode
    meta[b + L.C_IN_KERNEL]!++;
    try {
      handler(this);
    } finally {
      meta[b + L.C_IN_KERNEL]!--;
      meta[b + L.C_HARDIRQ]!--;
      meta[b + L.C_IRQ] = flags;
    }
  }

  /** local_irq_save: clears the interrupt flag and returns the previous state. */
  irqSave(): number {
    const f = this.meta[this.base + L.C_IRQ]!;
    this.meta[this.base + L.C_IRQ] = 0;
    return f;
  }

  /** local_irq_restore: restores the flag; pending interrupts are taken at once if it is set. */
  irqRestore(flags: number): void {
    this.meta[this.base + L.C_IRQ] = flags;
    if (flags) this.pollInterrupts();
  }

  /**
   * Sends an inter-processor interrupt to CPU `c` (the local APIC's ICR write): it is taken there at
   * its next instruction boundary with interrupts on. Our bit goes into c's initiator mask first,
   * then the mask word's bit into c's summary word (which c tests, sleeps on and clears before it
   * reads the mask: see smpInvalidateInterrupt), then c is woken.
   */
  sendIpi(c: number): void {
    this.waiter.ipiSent(c);
    if (this.lines !== null) this.lines.write(this, metaLine(this.layout.cpu(c) + L.C_IPI_PENDING));
    Atomics.or(this.meta, this.layout.cpuMasks(c) + L.CM_IPI_FROM + this.maskWord, this.bit);
    Atomics.or(this.meta, this.layout.cpu(c) + L.C_IPI_PENDING, 1 << this.maskWord);
    if (this.waiter.wakeForIpi(c)) this.wake(c);
  }

  // ------------------------------------------------------------------ sleeping and waking

  /**
   * cpu_relax, the body of a workload's busy-wait on shared memory (while meta[idx] still holds
   * `expected`): takes interrupts; in deterministic mode it is a blocking preemption point that
   * yields until meta[idx] changes, so a spin loop can neither hang the machine nor starve the CPU it
   * waits for. Workloads that wait for each other must spin through this (or through loads and stores).
   */
  relax(idx = -1, expected = 0): void {
    this.pollInterrupts();
    // a user-space spin is preemptible anywhere: it parks at a checkpoint (the CPU it waits for may
    // be parked there already, holding what it waits for)
    if (this.onRelax !== null && this.meta[this.base + L.C_IN_KERNEL] === 0 && !this.inHook) this.onRelax(this);
    this.waiter.pause(idx, expected);
  }

  /** Stops this CPU if the machine is stopping (a violation elsewhere, an abort). */
  checkStop(): void {
    if (stopRequested(this.meta)) throw new MachineStop('machine stopped');
  }

  /** Wakes CPU `c` if it sleeps (idle, or waiting on a word). */
  wake(c: number): void {
    const s = Atomics.load(this.meta, this.layout.cpu(c) + L.C_SLEEP_ADDR);
    if (s >= 0) Atomics.notify(this.meta, s);
  }

  /** Wakes every other CPU (a checkpoint opens or closes). */
  wakeOthers(): void {
    for (let c = 0; c < this.layout.cpus; c++) if (c !== this.id) this.wake(c);
  }

  /**
   * Sleeps on meta[idx] while it holds `expected`, at most `ms` (hlt/mwait); an interrupt sent
   * meanwhile wakes it (the sender notifies the published sleep address).
   */
  sleepOn(idx: number, expected: number, ms: number): void {
    const b = this.base;
    Atomics.store(this.meta, b + L.C_SLEEP_ADDR, idx);
    if (this.meta[b + L.C_IRQ] === 0 || Atomics.load(this.meta, b + L.C_IPI_PENDING) === 0) {
      Atomics.wait(this.meta, idx, expected, ms);
    }
    Atomics.store(this.meta, b + L.C_SLEEP_ADDR, -1);
  }

  // ------------------------------------------------------------------ violations

  /**
   * Reports a violation found by an oracle and stops the machine: every CPU unwinds at its next
   * preemption point. Never returns.
   */
  violation(kind: string, message: string, details?: Record<string, unknown>): never {
    const v: Violation = { kind, message, cpu: this.id, ...(details ? { details } : {}) };
    stopMachine(this.m, kind === 'deadlock' ? L.StopReason.Watchdog : L.StopReason.Violation, this, v);
    throw new MachineStop(`${kind}: ${message}`);
  }
}
