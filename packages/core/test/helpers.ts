/**
 * Shared helpers of the core unit tests: small machines and read-only views of shared memory
 * (page-table entries, struct page, buffers, TLB levels, the page cache), as a checker would read them.
 */
import { type Cpu, finalSync, type FileId, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, type Machine, type MachineConfig, MS_ASYNC, MS_SYNC, type PgOff, type SchedOptions, PROT_READ, PROT_WRITE, sysDropCaches, sysFsync, sysMmap, sysMprotect, sysMsync, sysMunmap, sysPread, sysPwrite, sysFtruncate, WORDS_PER_PAGE } from '@smpsim/core';
import { kdaemons, kdisk, kvmscan, testMachine, type TestMachine, layout as L, pte as P } from '@smpsim/core/testing';

/**
 * Completes every write in flight on the asynchronous disk (on by default): each CPU takes its disk
 * interrupt until its queue is empty, as its next interrupt polls would.
 */
export function completeIo(cpus: readonly Cpu[]): void {
  for (const c of cpus) kdisk.drainDisk(c);
}

/** A small test machine (4 MiB of memory unless told otherwise), all CPUs in this thread. */
export function small(overrides: Partial<MachineConfig> = {}): TestMachine {
  return testMachine({ memoryBytes: 4 * 1024 * 1024, ...overrides });
}

export const vpnOf = (addr: number): number => Math.floor(addr / 4096);

/** Word indices in physical memory of the four entries (PML4, PDPT, PD, PT) translating `vpn`; -1 past a hole. */
export function walkPath(m: Machine, mm: number, vpn: number): number[] {
  const out: number[] = [];
  let table = Atomics.load(m.meta, m.layout.mm(mm) + L.MM_CR3);
  for (let level = 4; level >= 1; level--) {
    const idx = table * WORDS_PER_PAGE + P.tableIndex(vpn, level) * 2;
    out.push(idx);
    const e = Atomics.load(m.mem, idx);
    if (!(e & P.PTE_P)) {
      while (out.length < 4) out.push(-1);
      return out;
    }
    table = e >>> 12;
  }
  return out;
}

/** Word index of the leaf PTE (low half) of `addr` in `mm`. Throws if a level is missing. */
export function pteIndex(m: Machine, mm: number, addr: number): number {
  const p = walkPath(m, mm, vpnOf(addr));
  if (p[3]! < 0) throw new Error(`no page table for 0x${addr.toString(16)} in mm ${mm}`);
  return p[3]!;
}

/** The leaf PTE (low half) of `addr` in `mm`, 0 if none. */
export function pteOf(m: Machine, mm: number, addr: number): number {
  const p = walkPath(m, mm, vpnOf(addr));
  return p[3]! < 0 ? 0 : Atomics.load(m.mem, p[3]!);
}

export const pageField = (m: Machine, pfn: number, field: number): number => Atomics.load(m.meta, m.layout.page(pfn) + field);
export const pageFlags = (m: Machine, pfn: number): number => pageField(m, pfn, L.PG_FLAGS);
export const isDirty = (m: Machine, pfn: number): boolean => (pageFlags(m, pfn) & L.PG_dirty) !== 0;

/** Buffer-head states of a frame. */
export function buffers(m: Machine, pfn: number): number[] {
  return Array.from({ length: m.layout.buffersPerPage }, (_, i) => Atomics.load(m.meta, m.layout.bh(pfn, i)));
}
export const dirtyBuffers = (m: Machine, pfn: number): number => buffers(m, pfn).filter((b) => b & L.BH_Dirty).length;

/** The page-cache slot of (file, index): frame + 1, 0 never cached, -1 evicted. */
export function cacheSlot(m: Machine, file: number, index: number): number {
  return Atomics.load(m.meta, m.layout.pcacheBase + m.meta[m.layout.file(file) + L.F_BASE]! + index);
}
/** The cached frame of (file, index), or -1. */
export const cachedPfn = (m: Machine, file: number, index: number): number => {
  const s = cacheSlot(m, file, index);
  return s > 0 ? s - 1 : -1;
};
export function dirtyTag(m: Machine, file: number, index: number): number {
  return Atomics.load(m.meta, m.layout.tagBase + m.meta[m.layout.file(file) + L.F_BASE]! + index);
}

/** First word of file page `index` in the disk / shadow arrays. */
export const diskWord = (m: Machine, file: number, index: number): number => (m.meta[m.layout.file(file) + L.F_BASE]! + index) * WORDS_PER_PAGE;

/** Word `w` of physical frame `pfn`. */
export const memWord = (m: Machine, pfn: number, w: number): number => m.mem[pfn * WORDS_PER_PAGE + w]!;

/** One TLB level of one CPU, read from shared memory: the entry for `vpn` or null. */
export function tlbLevel(m: Machine, cpu: number, level: 1 | 2, vpn: number): { pfn: number; perm: number } | null {
  const lay = m.layout;
  const [off, sets, ways] = level === 1 ? [lay.tlbL1Off, lay.l1Sets, lay.l1Ways] : [lay.tlbL2Off, lay.l2Sets, lay.l2Ways];
  if (sets === 0) return null;
  const s = lay.cpu(cpu) + off + (vpn & (sets - 1)) * ways * L.TLB_FIELDS;
  for (let e = s; e < s + ways * L.TLB_FIELDS; e += L.TLB_FIELDS) {
    if (m.meta[e + L.TLB_TAG] === vpn) return { pfn: m.meta[e + L.TLB_PFN]!, perm: m.meta[e + L.TLB_PERM]! };
  }
  return null;
}

/** Every valid TLB entry of a CPU (both levels). */
export function tlbEntries(m: Machine, cpu: number): number {
  const lay = m.layout;
  const n = lay.l1Sets * lay.l1Ways + lay.l2Sets * lay.l2Ways;
  let k = 0;
  for (let e = 0; e < n; e++) if (m.meta[lay.cpu(cpu) + lay.tlbL1Off + e * L.TLB_FIELDS + L.TLB_TAG] !== -1) k++;
  return k;
}

/**
 * Records the error code of every page fault `cpu` takes, passing each on to the real kernel
 * unchanged (a recorder, not a stand-in).
 */
export function recordFaults(cpu: Cpu): number[] {
  const log: number[] = [];
  const real = cpu.kernel!;
  cpu.kernel = {
    pageFault(c, addr, err) {
      log.push(err);
      real.pageFault(c, addr, err);
    },
    interrupt: (c) => real.interrupt(c),
  };
  return log;
}

/** Writes `value` at `addr` through `cpu` and records it as the owner's last value in the shadow array. */
export function ownedStore(m: Machine, cpu: Cpu, file: number, fileIndex: number, word: number, addr: number, value: number): void {
  cpu.store(addr, value);
  m.shadow[diskWord(m, file, fileIndex) + word] = value;
}

/**
 * Drives every kernel path on `m`'s CPUs (two, with files of at least 16 and 8 pages): two processes
 * sharing two files, shared and private (lockorder.test.ts, lockdep-irq.test.ts).
 */
export function driveEveryPath(m: Machine, cpus: Cpu[]): void {
  const [a, b] = cpus as [Cpu, Cpu];
  const rw = PROT_READ | PROT_WRITE;
  const va = sysMmap(a, 0, 0, 8, rw, MAP_SHARED);
  const vb = sysMmap(b, 0, 0, 8, rw, MAP_SHARED);
  const pa = sysMmap(a, 1, 0, 4, rw, MAP_PRIVATE);
  for (let p = 0; p < 8; p++) {
    a.store(va + p * 4096, p + 1); // do_no_page, then write-notify faults
    b.load(vb + p * 4096);
    b.store(vb + p * 4096 + 4, p + 100); // do_wp_page (shared)
  }
  for (let p = 0; p < 4; p++) {
    a.load(pa + p * 4096);
    a.store(pa + p * 4096, p); // do_wp_page (private copy)
  }
  sysMsync(a, va, 8, MS_SYNC); // clear_page_dirty_for_io -> page_mkclean in both processes
  a.store(va, 42);
  sysMprotect(b, vb, 4, PROT_READ);
  sysMprotect(b, vb, 4, rw); // dirty-accountable change_pte_range
  b.store(vb + 4096, 43);
  kdaemons.asKernelThread(a, () => kdaemons.journalPass(a));
  kdaemons.asKernelThread(a, () => kdaemons.flusherPass(a, 64, { file: 0 as FileId, index: 0 as PgOff }));
  a.store(va + 2 * 4096, 44);
  b.store(vb + 3 * 4096, 45);
  kdaemons.asKernelThread(b, () => kvmscan.reclaimPages(b, 64)); // try_to_unmap of mapped pages
  sysFsync(b, 0);
  a.store(va + 5 * 4096, 46);
  sysMunmap(a, va + 4 * 4096, 4); // zap_pte_range of a dirty PTE: set_page_dirty under the pte lock
  sysMmap(b, 1, 0, 2, rw, MAP_SHARED | MAP_FIXED, 'none', vb); // MAP_FIXED over a mapping
  b.store(vb, 47);
  sysMsync(b, vb, 2, MS_ASYNC);
  sysDropCaches(a);
  a.load(va); // refault
  sysPwrite(b, 0, 1, 7, 48); // generic_file_buffered_write: page lock, then tree_lock to tag it
  sysPread(a, 0, 1, 7);
  a.store(va + 4096 + 8, 49);
  kdaemons.asKernelThread(b, () => kvmscan.reclaimPages(b, 64, true)); // aging: page_referenced
  b.store(vb + 3 * 4096 + 8, 50);
  sysFtruncate(a, 0, 2); // unmap_mapping_range in both processes, truncate_inode_pages
  sysFtruncate(a, 0, 8);
  finalSync(a);
}

/** Scheduler options for the policy tests: a random walk over `cpus` CPUs, with overrides. */
export const schedOptions = (cpus: number, seed: number, switchProb: number, o: Partial<SchedOptions> = {}): SchedOptions => ({
  cpus,
  policy: 'random',
  seed,
  switchProb,
  pctDepth: 3,
  pctSteps: 1000,
  logCapacity: 64,
  deadlockSteps: 1000,
  waitLimitSteps: 1e9,
  ...o,
});
