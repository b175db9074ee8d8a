/**
 * The CPU API a workload runs against, inside its CPU's worker: user-mode loads and stores on
 * virtual addresses, system calls, seeded randomness, and the owned-word oracle.
 */
import {
  type Cpu,
  type Machine,
  layout as L,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MS_ASYNC,
  MS_SYNC,
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
} from '@smpsim/core';

export interface MmapOptions {
  readonly write?: boolean;
  readonly shared?: boolean;
  /** What the file's driver mmap hook does (sets VM_PFNMAP or VM_INSERTPAGE). */
  readonly special?: SpecialMapping;
  /** MAP_FIXED at this address. */
  readonly fixed?: number;
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
  private readonly shadow: Int32Array;

  constructor(
    /** The simulated CPU itself, for workloads that need the model directly (tests, experiments). */
    readonly c: Cpu,
    readonly machine: Machine,
    opts: { ops: number; proc: number; params: Readonly<Record<string, string | number | boolean>> },
  ) {
    this.cpu = c.id;
    this.cpus = machine.config.cpus;
    this.proc = opts.proc;
    this.procs = machine.config.procs;
    this.ops = opts.ops;
    this.rng = c.rng;
    this.params = opts.params;
    this.shadow = machine.shadow;
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
    return (this.machine.meta[this.machine.layout.file(file) + L.F_BASE]! + page) * 1024 + word;
  }

  /** An owned store: writes `value` and records it as the word's last value (owned-word oracle). */
  ownStore(addr: number, wordIdx: number, value: number): void {
    this.c.store(addr, value);
    this.shadow[wordIdx] = value;
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
      this.c.violation('lost-write', `lost write at file ${file} page ${page} word ${word}: cpu${this.cpu} (process ${this.proc}) reads ${v}, it last wrote ${want}`, {
        cpu: this.cpu,
        proc: this.proc,
        file,
        page,
        word,
        expected: want,
        seen: v,
        when: 'online',
      });
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
    sysMsync(this.c, addr, pages, sync ? MS_SYNC : MS_ASYNC);
  }

  fsync(file: number): void {
    sysFsync(this.c, file);
  }

  dropCaches(): number {
    return sysDropCaches(this.c);
  }
}
