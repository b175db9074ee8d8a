/**
 * Timed mode's cache-line model: which CPU last wrote each shared 64-byte line that matters for
 * scaling, and which CPUs have read it since, so that touching a line another CPU modified costs a
 * transfer (`lineLocal` within a socket, `lineRemote` across sockets; cost.ts cites both). A
 * MESI-like protocol reduced to what decides a cost:
 * - read: free if this CPU wrote the line last or has read it since; otherwise a transfer from the
 *   last writer (if there is one), and the line is shared from then on;
 * - write (or atomic RMW): free if this CPU wrote it last and nobody read it since; otherwise a
 *   transfer (the farthest copy decides local or remote), and this CPU owns the line.
 *
 * The lines tracked are those whose contention makes the kernel scale or not:
 * - lock words: spinlocks, rw-semaphores (mmap_sem), the page lock (PG_locked in the page's flags),
 *   buffer locks — a write at every acquisition and release (kernel/locking/locks.ts), a line each;
 * - the per-CPU IPI mailbox and flush request/acknowledgement line (kernel/smp.ts): the initiator
 *   writes its request and each target's pending word, each target reads the request and writes the
 *   acknowledgement, the initiator reads it back;
 * - page-table entries as the page walk reads them and sets A/D (hw/cpu.ts).
 * Not tracked (cost nothing beyond their per-operation cost): data pages (a workload's own words),
 * counters the kernel keeps per CPU (vm_stat differentials), and the rest of struct page.
 *
 * The table is direct-mapped (a line whose slot another line took starts again as uncached: its next
 * access costs nothing), in the scheduler's shared state; one CPU runs at a time in timed mode, so
 * plain typed-array access is enough and the result is deterministic.
 */
import { MASK_WORDS } from '../config.js';
import { CTR } from '../machine/machine.js';

/** Words per table entry: the line's key, its last writer + 1 (0: none), the sharers (a CpuMask). */
export const LINE_FIELDS = 2 + MASK_WORDS;
/** Entries of the table (a power of two). */
export const LINE_ENTRIES = 1 << 16;

/**
 * The key of the line of the lock whose word is meta[idx]: a line per lock. The model packs its
 * structures densely (an address_space's three locks in 6 words, neighbouring files' next to each
 * other), where the kernel's objects sit in their own lines (an address_space is part of a slab-
 * allocated inode; a 2.6.20 x86_64 struct page is 56 bytes), so meta's own 64-byte lines would invent
 * false sharing between processes that share nothing.
 */
export const lockLine = (idx: number): number => idx;
/** The key of the per-CPU area line holding meta[idx] (the IPI mailbox and flush request words). */
export const metaLine = (idx: number): number => 0x40000000 + (idx >>> 4);
/** The key of the physical-memory line holding word `idx` of mem (page tables live there). */
export const memLine = (idx: number): number => -1 - (idx >>> 4);

interface LineCpu {
  readonly id: number;
  readonly ctr: Float64Array;
}

export class CacheLines {
  private readonly mask: number;

  constructor(
    private readonly t: Int32Array,
    /** Cycles of a transfer within a socket and across sockets, and CPUs per socket. */
    private readonly local: number,
    private readonly remote: number,
    private readonly perSocket: number,
  ) {
    this.mask = t.length / LINE_FIELDS - 1;
  }

  /** Cycles to move a line from CPU a's cache to CPU b's. */
  transfer(a: number, b: number): number {
    return Math.floor(a / this.perSocket) === Math.floor(b / this.perSocket) ? this.local : this.remote;
  }

  private slot(key: number): number {
    // Fibonacci hashing of the key spreads neighbouring lines and both namespaces over the table.
    return ((Math.imul(key, 0x9e3779b1) >>> 16) & this.mask) * LINE_FIELDS;
  }

  /** CPU `cpu` reads line `key`. */
  read(cpu: LineCpu, key: number): void {
    const t = this.t;
    const e = this.slot(key);
    const me = cpu.id;
    const w = me >>> 5;
    const bit = 1 << (me & 31);
    if (t[e] !== key || t[e + 1] === 0) {
      if (t[e] !== key) {
        t[e] = key;
        t[e + 1] = 0;
        for (let k = 0; k < MASK_WORDS; k++) t[e + 2 + k] = 0;
      }
      t[e + 2 + w] = t[e + 2 + w]! | bit;
      return;
    }
    const writer = t[e + 1]! - 1;
    if (writer === me || t[e + 2 + w]! & bit) return;
    cpu.ctr[CTR.cycles]! += this.transfer(writer, me);
    t[e + 2 + w] = t[e + 2 + w]! | bit;
  }

  /** CPU `cpu` writes line `key` (a store or an atomic read-modify-write). */
  write(cpu: LineCpu, key: number): void {
    const t = this.t;
    const e = this.slot(key);
    const me = cpu.id;
    const w = me >>> 5;
    const bit = 1 << (me & 31);
    if (t[e] === key) {
      let cost = 0;
      const writer = t[e + 1]! - 1;
      if (writer >= 0 && writer !== me) cost = this.transfer(writer, me);
      // copies elsewhere are invalidated: the farthest decides
      for (let k = 0; k < MASK_WORDS && cost < this.remote; k++) {
        let m = t[e + 2 + k]!;
        if (k === w) m &= ~bit;
        while (m !== 0 && cost < this.remote) {
          const b = 31 - Math.clz32(m);
          m &= ~(1 << b);
          const c = this.transfer(k * 32 + b, me);
          if (c > cost) cost = c;
        }
      }
      cpu.ctr[CTR.cycles]! += cost;
    } else t[e] = key;
    t[e + 1] = me + 1;
    for (let k = 0; k < MASK_WORDS; k++) t[e + 2 + k] = 0;
    t[e + 2 + w] = bit;
  }
}
