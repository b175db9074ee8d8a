/**
 * The smpsim side of a differential test: a trace (difftest/trace.ts) run on one simulated CPU with
 * the kernel threads off, in this thread (core's InlineWaiter: one CPU needs no worker), printing one
 * result per op in the host runner's shape: the op's result, the faults it took (every kind) and the
 * pages it read from the backing store (smpsim has no major/minor split: a fill is its nearest
 * analogue of a major fault), and for `stat` and `io` the page-cache state and the pages dirtied.
 *
 * The file gets room for the largest size the trace gives it (ftruncate, pwrite past the end).
 */
import {
  Cpu,
  InlineWaiter,
  pageCacheState,
  type KernelPreset,
  Machine,
  MAP_PRIVATE,
  MAP_SHARED,
  MS_ASYNC,
  MS_SYNC,
  type MsyncScope,
  PROT_READ,
  PROT_WRITE,
  SegvError,
  SyscallError,
  bootCpu,
  sysFsync,
  sysMmap,
  sysMprotect,
  sysMsync,
  sysMunmap,
  sysPread,
  sysPwrite,
  sysFtruncate,
  BusError,
  fileSize,
  type FlushProtocol,
} from '@smpsim/core';
import { buildConfig } from '../run.js';
import { DEFAULT_RUN } from '../run-options.js';
import type { Trace, TraceLine } from './trace.js';

/** One op's outcome, on either machine. */
export interface OpResult {
  line: number;
  op: string;
  /** A loaded or read value, 'ok', 'segv', 'sigbus', 'errno:NAME', or 'unsupported'. */
  result: number | string;
  /** Faults taken by the op (host: minflt + majflt). */
  faults: number;
  /** Pages read from the backing store (host: majflt). */
  reads: number;
  cached?: number;
  dirty?: number;
  writeback?: number;
  dirtied?: number;
}

export interface SimOptions {
  kernel: KernelPreset;
  /** The kernel preset's unless given. */
  msyncScope?: MsyncScope;
  flushProtocol?: FlushProtocol;
}

/** Runs `trace` on a one-CPU machine; one OpResult per op line after `version`. */
export function runTraceSim(trace: Trace, o: SimOptions): OpResult[] {
  const fileOp = trace.lines[0]!;
  if (fileOp.op !== 'file') throw new Error('a trace starts with file');
  // the file's room: the most pages it ever has (ftruncate and pwrite may grow it)
  let room = fileOp.pages;
  for (const l of trace.lines) {
    if (l.op === 'ftruncate') room = Math.max(room, l.pages);
    if (l.op === 'pwrite') room = Math.max(room, l.page + 1);
  }
  // the machine `smpsim run` would build (the kernel preset's era unless overridden), one CPU, no
  // kernel threads, room for the file and its page tables, no memory pressure (the host run has none)
  const config = buildConfig(
    {
      ...DEFAULT_RUN,
      cpus: 1,
      procs: 1,
      kernel: o.kernel,
      flushProtocol: o.flushProtocol ?? '',
      msyncScope: o.msyncScope ?? '',
      memoryBytes: Math.max(4 * 1024 * 1024, room * 4096 * 4),
      daemonConfig: { flusherPeriod: 0, journalPeriod: 0, reclaimPeriod: 0 },
      perturb: 0,
    },
    [{ pages: Math.max(room, 1), size: fileOp.pages, accountDirty: true, mmapHookChangesProt: false }],
  );
  const m = Machine.create(config);
  const cpu = new Cpu(m, 0);
  cpu.useWaiter(new InlineWaiter(cpu, [cpu]));
  bootCpu(cpu, 0, false);
  // Faults as the host counts them (minflt + majflt): page faults the kernel handled, not those that
  // ended in SIGSEGV. (The fault counters of the summary are not disjoint: a write fault on a
  // not-present private page counts as not-present and as cow.)
  let handled = 0;
  const kernel = cpu.kernel!;
  cpu.kernel = {
    pageFault: (c, addr, errcode) => {
      kernel.pageFault(c, addr, errcode);
      handled++;
    },
    interrupt: (c) => kernel.interrupt(c),
  };
  const faults = () => handled;
  const slots = new Map<number, { addr: number; pages: number }>();
  const out: OpResult[] = [];
  for (const l of trace.lines) {
    const f0 = faults();
    const r0 = m.counter(0, 'pageReads');
    const r: OpResult = { line: l.line, op: l.op, result: 'ok', faults: 0, reads: 0 };
    try {
      r.result = step(cpu, l, slots);
    } catch (e) {
      if (e instanceof SegvError) r.result = 'segv';
      else if (e instanceof BusError) r.result = 'sigbus';
      else if (e instanceof SyscallError) r.result = `errno:${e.errno}`;
      else throw e;
    }
    r.faults = faults() - f0;
    r.reads = m.counter(0, 'pageReads') - r0;
    if (l.op === 'stat') Object.assign(r, pageCacheState(m, 0, l.page ?? 0, (l.page ?? 0) + (l.n ?? fileSize(m, 0 as Parameters<typeof fileSize>[1]))));
    if (l.op === 'io') r.dirtied = m.counter(0, 'pagesDirtied') - m.counter(0, 'dirtyCancelled');
    out.push(r);
  }
  return out;
}

function step(cpu: Cpu, l: TraceLine, slots: Map<number, { addr: number; pages: number }>): number | string {
  const addr = (slot: number, page: number, word = 0) => slots.get(slot)!.addr + page * 4096 + word * 4;
  switch (l.op) {
    case 'file':
      return 'ok';
    case 'map':
      slots.set(l.slot, { addr: sysMmap(cpu, 0, l.pgoff, l.pages, PROT_READ | (l.write ? PROT_WRITE : 0), l.shared ? MAP_SHARED : MAP_PRIVATE), pages: l.pages });
      // MADV_RANDOM: smpsim has no readahead or fault-around, so every mapping reads as random
      return 'ok';
    case 'unmap': {
      const s = slots.get(l.slot)!;
      slots.delete(l.slot);
      sysMunmap(cpu, s.addr, s.pages);
      return 'ok';
    }
    case 'store':
      cpu.store(addr(l.slot, l.page, l.word), l.value);
      return 'ok';
    case 'load':
      return cpu.load(addr(l.slot, l.page, l.word));
    case 'mprotect':
      sysMprotect(cpu, addr(l.slot, l.page), l.n, PROT_READ | (l.write ? PROT_WRITE : 0));
      return 'ok';
    case 'msync':
      sysMsync(cpu, addr(l.slot, l.page), l.n, l.sync ? MS_SYNC : MS_ASYNC);
      return 'ok';
    case 'fsync':
      sysFsync(cpu, 0);
      return 'ok';
    case 'pread': {
      const v = sysPread(cpu, 0, l.page, l.word);
      return v === null ? 'eof' : v;
    }
    case 'pwrite':
      sysPwrite(cpu, 0, l.page, l.word, l.value);
      return 'ok';
    case 'ftruncate':
      sysFtruncate(cpu, 0, l.pages);
      return 'ok';
    case 'stat':
    case 'io':
      return 'ok';
  }
}
