/**
 * shootdown: latency of a synced TLB flush. All CPUs run one process and map one shared file, and
 * fault every page in writable and dirty. CPU 0 then repeats: `gap` TLB-hit accesses, then a flush of
 * page 0 (`range` pages from page 0 with flushTlbRange when `range` > 1) through the core's flush API,
 * entered in kernel mode, with time taken around the call (api.now(): host time, or simulated time in
 * timed mode): from initiation to the last
 * acknowledgement, since the call returns only when every other CPU of the mm has acknowledged. The
 * other CPUs stay busy in user mode with TLB-hit accesses over the whole file (page 0 included, so
 * they keep re-caching what is flushed), and take the flush IPIs at their preemption points; CPU 0
 * stops measuring when the first of them is done (shared word 0), since an idle CPU leaves the mm
 * lazily and later flushes would skip it.
 *
 * CPU 0's result: `flushes`, `ms` (host time of its loop), `latencyNs` (pairs [ns, count]: one
 * nanosecond resolution below 10 µs, three significant digits above), `timerNs` (the cost of one pair
 * of performance.now() calls, included in every sample). The others return `accesses`.
 * Params: `pages` (file and working set, default 8), `range` (1), `gap` (256).
 */
import { FlushCause, flushTlbPage, flushTlbRange } from '@smpsim/core';
import type { Workload } from '../workload.js';
import { tlbHitLoop } from './tlb-hit.js';

interface Params {
  pages: number;
  range: number;
  gap: number;
}

function paramsOf(p: Readonly<Record<string, unknown>>): Params {
  const pages = Number(p.pages ?? 8);
  const range = Number(p.range ?? 1);
  return { pages: Math.max(pages, range), range, gap: Number(p.gap ?? 256) };
}

/** Rounds a latency to three significant digits above 10 µs, so the table of counts stays small. */
function bucket(ns: number): number {
  if (ns < 10_000) return ns;
  const scale = 10 ** (Math.floor(Math.log10(ns)) - 2);
  return Math.round(ns / scale) * scale;
}

/** The cost of one pair of performance.now() calls (median of many, after a warm-up pass), in ns. */
function timerCost(): number {
  const s = new Float64Array(4001);
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < s.length; i++) {
      const a = performance.now();
      s[i] = performance.now() - a;
    }
  }
  s.sort();
  return Math.round(s[2000]! * 1e6);
}


const shootdown: Workload = {
  name: 'shootdown',
  description: 'CPU 0 times synced single-page TLB flushes while the other CPUs do TLB-hit accesses on the same pages',
  oracle: 'none',
  params: {
    pages: { default: 8, description: 'file and working set (pages)' },
    range: { default: 1, description: 'pages per flush (flushTlbRange above 1)' },
    gap: { default: 256, description: 'TLB-hit accesses between flushes' },
  },
  files: (o) => [{ pages: paramsOf(o.params).pages, accountDirty: true, mmapHookChangesProt: false }],
  run(api) {
    const { pages, range, gap } = paramsOf(api.params);
    const base = api.mmap(0, 0, pages, { write: true, shared: true });
    for (let p = 0; p < pages; p++) api.store(base + p * 4096 + 8, 1); // fault in, writable and dirty
    const span = pages * 4096;
    if (api.cpu !== 0) {
      const accesses = tlbHitLoop(api, base, span).accesses;
      // Done: this CPU goes idle, in lazy TLB mode, and the first flush IPI makes it leave the mm, so
      // later flushes would not wait for it. CPU 0 stops measuring once any of them is done.
      api.shared.add(0, 1);
      return { accesses };
    }

    const c = api.c;
    const mm = c.mmId;
    const vpn = base / 4096;
    const flush = range === 1 ? () => flushTlbPage(c, mm, vpn, FlushCause.Fault) : () => flushTlbRange(c, mm, vpn, vpn + range, FlushCause.Fault);
    const counts = new Map<number, number>();
    // timed mode reads the simulated clock, which costs nothing
    const timerNs = api.simulatedTime ? 0 : timerCost();
    let flushes = 0;
    let off = 0;
    let sum = 0;
    const t0 = api.now();
    while (api.running() && api.shared.load(0) === 0) {
      for (let i = 0; i < gap; i++) {
        sum = (sum + c.load(base + off)) | 0;
        off += 64;
        if (off >= span) off = 0;
      }
      const a = api.now();
      api.inKernel(flush);
      const ns = Math.round((api.now() - a) * 1e6);
      const b = bucket(ns);
      counts.set(b, (counts.get(b) ?? 0) + 1);
      flushes++;
      api.op();
    }
    const ms = api.now() - t0;
    return { flushes, ms, timerNs, latencyNs: [...counts.entries()].sort((x, y) => x[0] - y[0]), checksum: sum };
  },
};
export default shootdown;
