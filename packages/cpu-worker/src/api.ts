/**
 * The CPU API a workload runs against, inside its CPU's worker: user-mode loads and stores on
 * virtual addresses, system calls, seeded randomness, and the owned-word oracle.
 */
import {
  type Cpu,
  cachedPageFlags,
  CTR,
  dirtyCancelled,
  type FileId,
  fileSize,
  lostWriteDetails,
  lostWriteMessage,
  type Machine,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MS_ASYNC,
  MS_SYNC,
  msyncRangesUnlocked,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  type Rng,
  type SpecialMapping,
  sysFsync,
  sysMmap,
  sysMprotect,
  sysMsync,
  sysMunmap,
  sysDropCaches,
  sysFtruncate,
  sysPread,
  sysPwrite,
  syncMustBeDurable,
  WORDS_PER_PAGE,
} from '@smpsim/core';

export interface MmapOptions {
  readonly write?: boolean;
  readonly shared?: boolean;
  /** What the file's driver mmap hook does (sets VM_PFNMAP or VM_INSERTPAGE). */
  readonly special?: SpecialMapping;
  /** MAP_FIXED at this address. */
  readonly fixed?: number;
}

/**
 * A few words of shared memory for a workload's own coordination between its CPUs (a "done" flag, an
 * address one CPU publishes for the others), outside the simulated machine's memory: reading and
 * writing them costs no simulated access. A CPU that must wait for another's word uses `waitWhile`,
 * which takes interrupts and, in deterministic mode, yields until the word changes.
 */
export class SharedWords {
  /** How many words there are (indices 0 .. count - 1). */
  readonly count: number;

  constructor(
    private readonly cpu: Cpu,
    private readonly machine: Machine,
  ) {
    this.count = machine.sharedWords;
  }

  load(i: number): number {
    return Atomics.load(this.machine.meta, this.machine.sharedWord(i));
  }

  store(i: number, value: number): void {
    Atomics.store(this.machine.meta, this.machine.sharedWord(i), value);
  }

  /** Atomically adds `delta`; returns the old value. */
  add(i: number, delta: number): number {
    return Atomics.add(this.machine.meta, this.machine.sharedWord(i), delta);
  }

  /** Busy-waits (cpu_relax) while word `i` holds `value`; returns the new value. */
  waitWhile(i: number, value: number): number {
    const idx = this.machine.sharedWord(i);
    let v: number;
    while ((v = Atomics.load(this.machine.meta, idx)) === value) this.cpu.relax(idx, value);
    return v;
  }
}

export class CpuApi {
  readonly cpu: number;
  readonly cpus: number;
  readonly proc: number;
  readonly procs: number;
  readonly ops: number;
  readonly rng: Rng;
  readonly pageSize = 4096;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** Ops done so far. */
  done = 0;
  /** Words for this workload's CPUs to coordinate through (flags, published addresses). */
  readonly shared: SharedWords;
  private readonly shadow: Int32Array;
  /** The workload keeps the owned-word oracle: msync(MS_SYNC) and fsync check their durability contract. */
  private readonly contract: boolean;

  /** True in timed mode: `now()` is this CPU's simulated clock, not the host's. */
  readonly simulatedTime: boolean;
  private readonly cyclesPerMs: number;

  constructor(
    /** The simulated CPU itself, for workloads that need the model directly (tests, experiments). */
    readonly c: Cpu,
    readonly machine: Machine,
    opts: { ops: number; proc: number; params: Readonly<Record<string, string | number | boolean>>; simulatedTime?: boolean; ownedWords?: boolean },
  ) {
    this.contract = opts.ownedWords ?? false;
    this.simulatedTime = opts.simulatedTime ?? false;
    this.cyclesPerMs = machine.config.costs.ghz * 1e6;
    this.cpu = c.id;
    this.cpus = machine.config.cpus;
    this.proc = opts.proc;
    this.procs = machine.config.procs;
    this.ops = opts.ops;
    this.rng = c.rng;
    this.params = opts.params;
    this.shadow = machine.shadow;
    this.shared = new SharedWords(c, machine);
  }

  /**
   * Milliseconds for a workload to time itself with: host time (performance.now()) in free and
   * deterministic mode; in timed mode this CPU's simulated clock (cycles / ghz), so timed results are
   * the same on any host.
   */
  now(): number {
    if (!this.simulatedTime) return performance.now();
    this.c.publishCounters();
    return this.c.ctr[CTR.cycles]! / this.cyclesPerMs;
  }

  /** The run's deadline (`--duration`: host time, or simulated time in timed mode) has passed. */
  get timeUp(): boolean {
    return this.c.timeUp;
  }

  /** True while this CPU should keep going: ops left (if counted) and the deadline not reached. */
  running(): boolean {
    return (this.ops === 0 || this.done < this.ops) && !this.c.timeUp;
  }

  /** Counts one op. */
  op(): void {
    this.done++;
  }

  load(addr: number): number {
    return this.c.load(addr);
  }

  store(addr: number, value: number): void {
    this.c.store(addr, value);
  }

  xadd(addr: number, delta: number): number {
    return this.c.xadd(addr, delta);
  }

  /** Index of (file, page, word) in the backing store and the owned-word shadow. */
  wordIndex(file: number, page: number, word: number): number {
    return this.machine.wordIndex(file, page, word);
  }

  /** The backing store's copy ("the disk") of the word at index `wordIdx`. */
  backingStore(wordIdx: number): number {
    return Atomics.load(this.machine.disk, wordIdx);
  }

  /** The last value the owner of the word at `wordIdx` wrote, read atomically (another CPU's word). */
  ownerLastWritten(wordIdx: number): number {
    return Atomics.load(this.shadow, wordIdx);
  }

  /** Runs `fn` in kernel mode, as a system call does (for workloads that drive kernel paths directly). */
  inKernel<T>(fn: () => T): T {
    return this.c.kernelMode(fn);
  }

  /** Reports a violation found by the workload's own check and stops the machine. Never returns. */
  violation(kind: string, message: string, details?: Record<string, unknown>): never {
    return this.c.violation(kind, message, details);
  }

  /** An owned store: writes `value` and records it as the word's last value (owned-word oracle). */
  ownStore(addr: number, wordIdx: number, value: number): void {
    this.c.store(addr, value);
    this.shadow[wordIdx] = value;
  }

  /** An owned write through write(2): pwrite of the word at (file, page, word), recorded like ownStore. */
  ownPwrite(file: number, page: number, word: number, wordIdx: number, value: number): void {
    sysPwrite(this.c, file, page, word, value);
    this.shadow[wordIdx] = value;
  }

  /** Reads an owned word through read(2) and checks it as ownLoad does. */
  ownPread(file: number, page: number, word: number, wordIdx: number): number {
    const v = sysPread(this.c, file, page, word);
    const want = this.shadow[wordIdx]!;
    if (v !== want) {
      const at = { file, page, word };
      this.c.violation('lost-write', lostWriteMessage(at, `cpu${this.cpu} (process ${this.proc}) reads ${v} with pread, it last wrote ${want}`), lostWriteDetails(at, want, v ?? 0, 'online', { cpu: this.cpu, proc: this.proc }));
    }
    return v!;
  }

  /**
   * ftruncate(2) of `file` to `pages` pages, for an owned-word workload: a shrink frees the pages past
   * the new end, so every owner's words there read 0 again — the shadow forgets them (their owners'
   * next stores start again from 1). The caller keeps every other CPU off those pages (no access, no
   * msync) until its truncate returns, as a program that truncates a file others use must: a store
   * racing the truncate may be lost by design, and the oracle could not tell that from a kernel bug.
   */
  ownFtruncate(file: number, pages: number): void {
    const old = fileSize(this.machine, file as FileId);
    sysFtruncate(this.c, file, pages);
    if (pages < old) this.shadow.fill(0, this.wordIndex(file, pages, 0), this.wordIndex(file, old, 0));
  }

  /** The last value this CPU wrote to an owned word. */
  lastWritten(wordIdx: number): number {
    return this.shadow[wordIdx]!;
  }

  /** Reads an owned word and checks it: anything but the last value written is a lost write. */
  ownLoad(addr: number, wordIdx: number, file: number, page: number, word: number): number {
    const v = this.c.load(addr);
    const want = this.shadow[wordIdx]!;
    if (v !== want) {
      const at = { file, page, word };
      this.c.violation('lost-write', lostWriteMessage(at, `cpu${this.cpu} (process ${this.proc}) reads ${v}, it last wrote ${want}`), lostWriteDetails(at, want, v, 'online', { cpu: this.cpu, proc: this.proc }));
    }
    return v;
  }

  mmap(file: number, pgoff: number, pages: number, o: MmapOptions = {}): number {
    const flags = (o.shared === false ? MAP_PRIVATE : MAP_SHARED) | (o.fixed ? MAP_FIXED : 0);
    return sysMmap(this.c, file, pgoff, pages, PROT_READ | (o.write ? PROT_WRITE : 0), flags, o.special, o.fixed ?? 0);
  }

  munmap(addr: number, pages: number): void {
    sysMunmap(this.c, addr, pages);
  }

  mprotect(addr: number, pages: number, write: boolean, exec = false): void {
    sysMprotect(this.c, addr, pages, PROT_READ | (write ? PROT_WRITE : 0) | (exec ? PROT_EXEC : 0));
  }

  msync(addr: number, pages: number, sync = true): void {
    if (!sync || !this.contract) {
      sysMsync(this.c, addr, pages, sync ? MS_SYNC : MS_ASYNC);
      return;
    }
    const r = msyncRangesUnlocked(this.c, addr, pages);
    this.durably(r, () => sysMsync(this.c, addr, pages, MS_SYNC), `msync(MS_SYNC) of ${pages} page(s) at 0x${addr.toString(16)}`);
  }

  fsync(file: number): void {
    if (!this.contract) {
      sysFsync(this.c, file);
      return;
    }
    this.durably([file, 0, this.machine.config.files[file]?.pages ?? 0], () => sysFsync(this.c, file), `fsync of file ${file}`);
  }

  /**
   * The durability contract of msync(MS_SYNC) and fsync, checked on every owned-word workload: when
   * the call returns, the backing store holds, for every owned word of the file ranges it synced, at
   * least the value its owner had published before the call began (owners write increasing values,
   * as ownStore's callers do). `ranges` (file, first, end triples) are snapshotted before the call;
   * only their overlap with the ranges the kernel then reports syncing (cpu.onSyncRange) is checked,
   * so a mapping changed by another thread meanwhile gives no false finding. Files without write
   * notification are not checked: there fsync and (since 2.6.19) msync do not see PTE dirty bits.
   * Nor are pages whose dirty state 2.6.20's try_to_free_buffers cancelled while mapped
   * (dirtyCancelled): 2.6.20 itself keeps that data only under the PTE until unmap.
   */
  private durably(ranges: number[], call: () => void, what: string): void {
    const snap: Array<{ file: number; first: number; end: number; words: Int32Array; cancelled: Uint8Array }> = [];
    for (let i = 0; i < ranges.length; i += 3) {
      const file = ranges[i]!;
      const spec = this.machine.config.files[file];
      if (!spec || !syncMustBeDurable(this.machine, file)) continue;
      const first = ranges[i + 1]!;
      const end = Math.min(ranges[i + 2]!, spec.pages);
      if (first >= end) continue;
      const w0 = this.wordIndex(file, first, 0);
      const words = new Int32Array(this.shadow.subarray(w0, w0 + (end - first) * WORDS_PER_PAGE)); // a copy
      const cancelled = new Uint8Array(end - first);
      for (let p = first; p < end; p++) cancelled[p - first] = dirtyCancelled(this.machine, file, p) ? 1 : 0;
      snap.push({ file, first, end, words, cancelled });
    }
    if (snap.length === 0) {
      call();
      return;
    }
    const synced: number[] = [];
    this.c.onSyncRange = (file, first, end) => void synced.push(file, first, end);
    try {
      call();
    } finally {
      this.c.onSyncRange = null;
    }
    const disk = this.machine.disk;
    for (let i = 0; i < synced.length; i += 3) {
      for (const s of snap) {
        if (s.file !== synced[i]) continue;
        const a = Math.max(s.first, synced[i + 1]!);
        const b = Math.min(s.end, synced[i + 2]!);
        for (let page = a; page < b; page++) {
          // 2.6.20's own hole (checks.ts dirtyCancelled): exempt if marked before or after the call
          if (s.cancelled[page - s.first] || dirtyCancelled(this.machine, s.file, page)) continue;
          const w0 = this.wordIndex(s.file, page, 0);
          const o = (page - s.first) * WORDS_PER_PAGE;
          for (let w = 0; w < WORDS_PER_PAGE; w++) {
            const before = s.words[o + w]!;
            const onDisk = disk[w0 + w]!;
            if (onDisk < before) {
              const at = { file: s.file, page, word: w };
              this.c.violation('lost-write', lostWriteMessage(at, `after ${what} returned the backing store holds ${onDisk}, but the word's owner had written ${before} before the call began`), lostWriteDetails(at, before, onDisk, what.startsWith('fsync') ? 'fsync' : 'msync', { cpu: this.cpu, pageFlags: cachedPageFlags(this.machine, s.file, page) }));
            }
          }
        }
      }
    }
  }

  dropCaches(): number {
    return sysDropCaches(this.c);
  }
}
