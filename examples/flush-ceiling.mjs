#!/usr/bin/env node
/**
 * A research experiment with smpsim's programmatic API: where should the TLB flush ceiling be?
 *
 * Linux flushes a range of pages one INVLPG at a time up to a ceiling (tlb_single_page_flush_ceiling,
 * 33 pages) and above it flushes the whole TLB. Per-page flushing costs the initiator and every
 * target one invalidation per page; a full flush is one operation, but afterwards every CPU refills
 * its whole working set with page walks. This script measures both sides on the simulated machine:
 * CPU 0 flushes a fixed range of `--range` pages again and again while the other CPUs loop over a
 * working set of `--pages` pages (TLB hits), for each flush ceiling of `--ceilings`:
 *
 *   - the flush latency on CPU 0 (host time from initiation to the last acknowledgement, p50/p99),
 *   - the simulated TLB misses per flush (the refills the flush caused, on all CPUs),
 *   - the busy CPUs' access throughput.
 *
 * Run:   node examples/flush-ceiling.mjs [--time 1s] [--range 16] [--pages 64] [--ceilings 1,8,16,33,64] [--cpus 2] [--json]
 * (after `npx pnpm@12.4.2 build`). Host times vary with the host; the miss counts do not.
 */
import { parseArgs } from 'node:util';
import { runBench } from '@smpsim/harness';

const { values: a } = parseArgs({
  options: {
    time: { type: 'string', default: '1s' },
    range: { type: 'string', default: '16' },
    pages: { type: 'string', default: '64' },
    ceilings: { type: 'string', default: '1,8,16,33,64' },
    cpus: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const ms = /ms$/.test(a.time) ? parseFloat(a.time) : parseFloat(a.time) * 1000;
const range = Number(a.range);
const pages = Math.max(Number(a.pages), range);
const cpus = Number(a.cpus);
const ceilings = a.ceilings.split(',').map(Number);

const rows = [];
for (const ceiling of ceilings) {
  const b = await runBench('shootdown', [cpus], ms, { params: { range, pages }, run: { flushCeiling: ceiling }, baseline: false });
  const r = b.points[0].threads;
  const flushes = r.latency?.samples ?? 0;
  rows.push({
    ceiling,
    flush: range > ceiling ? 'full' : 'per-page',
    flushes,
    p50Us: (r.latency?.p50Ns ?? 0) / 1000,
    p99Us: (r.latency?.p99Ns ?? 0) / 1000,
    missesPerFlush: flushes ? r.counters.tlbMisses / flushes : 0,
    busyAccessesPerCpu: r.extra.busyAccessesPerCpu ?? 0,
    fullFlushes: r.counters.flushesFull,
    rangeFlushes: r.counters.flushesRange,
    ok: b.ok,
  });
}

if (a.json) {
  process.stdout.write(JSON.stringify({ experiment: 'flush-ceiling', range, pages, cpus, timeMs: ms, rows }) + '\n');
} else {
  console.log(`flushing ${range} pages on CPU 0 while ${cpus - 1} CPU(s) loop over ${pages} pages; ${ms} ms per ceiling`);
  console.log('ceiling  flush      flushes   p50 µs   p99 µs   TLB misses/flush   busy accesses/s/cpu');
  for (const r of rows) {
    console.log(
      `${String(r.ceiling).padStart(7)}  ${r.flush.padEnd(9)} ${String(r.flushes).padStart(8)} ${r.p50Us.toFixed(2).padStart(8)} ${r.p99Us.toFixed(2).padStart(8)}   ${r.missesPerFlush.toFixed(1).padStart(16)}   ${r.busyAccessesPerCpu.toExponential(3).padStart(19)}`,
    );
  }
}
process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
