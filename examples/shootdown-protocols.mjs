#!/usr/bin/env node
/**
 * A research experiment in simulated time: what does a synced TLB shootdown cost under 2.6.20's
 * protocol and under the modern one, as the CPU count grows?
 *
 * Each point is `bench shootdown --time-base simulated --time 2ms --tlb-flush P --param range=R`: CPU 0 changes
 * the protection of R pages of a shared mapping and flushes them from every TLB, over and over, while
 * the other CPUs of the mm are busy with TLB-hit accesses; the latency is from the flush request to
 * the last acknowledgement. The protocols (kernel/smp.ts, `--tlb-flush`): 'modern' flushes a range
 * page by page (invlpg) under the 33-page ceiling, with any number of senders at once;
 * 'linux-2.6.20' (arch/x86_64/kernel/smp.c) turns every range into flush_tlb_mm, a CR3 reload on
 * every target — which then refills its TLB — and sends under one of 8 sender slots (with `--arch
 * i386`, one tlbstate_lock for the whole system; with one sender, as here, the slot is never
 * contended, so i386 and x86_64 give the same curve).
 *
 * Timed mode runs the CPUs by their simulated clocks under a cited cost model (`--costs`, default
 * modern-x86; packages/core/src/costs.ts), so the numbers are the same on any host.
 *
 * Run:   node examples/shootdown-protocols.mjs [--cpus 2,4,8,16] [--ranges 1,8] [--costs modern-x86|core2-2007]
 *          [--svg examples/shootdown-protocols.svg] [--json]
 * (after `npx pnpm@12.4.2 build`).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { linePlotSvg, runBench } from '@smpsim/harness';

const { values: a } = parseArgs({
  options: {
    cpus: { type: 'string', default: '2,4,8,16' },
    ranges: { type: 'string', default: '1,8' },
    costs: { type: 'string', default: 'modern-x86' },
    svg: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const cpus = a.cpus.split(',').map(Number);
const ranges = a.ranges.split(',').map(Number);

const rows = [];
let costs = null;
for (const range of ranges) {
  for (const flushProtocol of ['linux-2.6.20', 'modern']) {
    const b = await runBench('shootdown', cpus, 2, { timeBase: 'simulated', params: { range }, run: { flushProtocol, costPreset: a.costs } });
    costs = b.config.costs;
    for (const p of b.points) {
      const l = p.threads.latency;
      rows.push({ flushProtocol, range, cpus: p.cpus, p50Ns: l.p50Ns, p99Ns: l.p99Ns, samples: l.samples, ok: p.threads.ok });
    }
  }
}

if (a.svg) {
  const svg = await linePlotSvg({
    title: 'synced TLB shootdown latency, simulated time: 2.6.20 against modern',
    subtitle: [`one sender flushing R pages of a shared mapping, the other CPUs busy; p50, costs ${costs.preset} (${costs.ghz} GHz)`, '2.6.20: every range is flush_tlb_mm (CR3 reload on each target); modern: invlpg per page under the 33-page ceiling'],
    xTitle: 'simulated CPUs',
    yTitle: 'flush latency p50 (µs, simulated time)',
    points: rows.map((r) => ({ x: r.cpus, series: `${r.flushProtocol}, ${r.range} page${r.range === 1 ? '' : 's'}`, value: r.p50Ns / 1000, dashed: r.flushProtocol === 'modern' })),
  });
  writeFileSync(a.svg, svg);
}

if (a.json) {
  process.stdout.write(JSON.stringify({ experiment: 'shootdown-protocols', costs, rows }) + '\n');
} else {
  console.log(`synced shootdown latency p50 / p99 in simulated ns; costs ${costs.preset} (${costs.ghz} GHz)`);
  console.log(` cpus ${ranges.map((r) => `  2.6.20 ${r}p   modern ${r}p`).join('')}`);
  for (const c of cpus) {
    const cell = (proto, r) => {
      const x = rows.find((y) => y.cpus === c && y.flushProtocol === proto && y.range === r);
      return (x ? (x.ok ? `${x.p50Ns}/${x.p99Ns}` : 'violation') : '-').padStart(12);
    };
    console.log(`${String(c).padStart(5)} ${ranges.map((r) => `${cell('linux-2.6.20', r)} ${cell('modern', r)}`).join('')}`);
  }
  if (a.svg) console.log(`plot written to ${a.svg}`);
}
process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
