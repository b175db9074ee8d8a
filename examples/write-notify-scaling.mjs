#!/usr/bin/env node
/**
 * A research experiment in simulated time: how do write-notify faults scale with the CPU count, for
 * threads of one process against separate processes, under 2.6.20's TLB shootdown protocol and the
 * modern one?
 *
 * Each point is `bench faults --time-base simulated`: every simulated CPU maps a file of its own
 * shared and repeats msync(MS_SYNC) of it (page_mkclean write-protects every page, with a TLB flush
 * each), then one store per page (a write-notify fault each). In `processes` mode every CPU has its
 * own mm, so page_mkclean's flushes stay local; in `threads` mode all CPUs run one mm, so every
 * flush is an IPI to all the others (cpu_vm_mask) and they share mmap_sem and the pte locks of the
 * page-table pages their files land in. The two protocols (kernel/smp.ts): 'linux-2.6.20' (x86_64
 * 2.6.20: flush senders share 8 slots, cpu % 8, each under a lock from request to last
 * acknowledgement; a range flush is a flush of the whole mm) and 'modern' (any number of concurrent
 * senders; ranges page by page under the 33-page ceiling).
 *
 * Timed mode runs the CPUs by their simulated clocks under a cited cost model (`--costs`, default
 * modern-x86; see packages/core/src/costs.ts), so the numbers are the same on any host.
 *
 * Each CPU runs `--rounds` rounds (default 2) and its rate is its faults over the simulated time they
 * took, so slow points (threads on 64 CPUs) still measure whole rounds.
 *
 * Run:   node examples/write-notify-scaling.mjs [--cpus 1,2,4,8,16,32,64] [--rounds 2] [--pages 256]
 *          [--costs modern-x86|core2-2007] [--svg examples/write-notify-scaling.svg] [--json]
 * (after `npx pnpm@12.4.2 build`; about five minutes of host time for the default points).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { linePlotSvg, runBench } from '@smpsim/harness';

const { values: a } = parseArgs({
  options: {
    cpus: { type: 'string', default: '1,2,4,8,16,32,64' },
    rounds: { type: 'string', default: '2' },
    pages: { type: 'string', default: '256' },
    costs: { type: 'string', default: 'modern-x86' },
    svg: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const cpus = a.cpus.split(',').map(Number);
const pages = Number(a.pages);
const ops = Number(a.rounds) * pages;

const rows = [];
let costs = null;
for (const flushProtocol of ['linux-2.6.20', 'modern']) {
  const b = await runBench('faults', cpus, 0, { timeBase: 'simulated', ops, modes: ['processes', 'threads'], params: { pages }, run: { flushProtocol, costPreset: a.costs } });
  costs = b.config.costs;
  for (const p of b.points) {
    for (const mode of ['processes', 'threads']) {
      const r = p[mode];
      rows.push({ flushProtocol, mode, cpus: p.cpus, perCpu: r.perCpu, total: r.total, ipis: r.counters.ipisSent, ok: r.ok });
    }
  }
}

if (a.svg) {
  const svg = await linePlotSvg({
    title: 'write-notify faults per CPU, simulated time',
    subtitle: [`msync(MS_SYNC) a file of ${pages} pages, then one store per page, ${a.rounds} rounds per CPU; costs ${costs.preset} (${costs.ghz} GHz)`, 'threads: one mm (every flush an IPI to all); processes: one mm each'],
    xTitle: 'simulated CPUs',
    yTitle: 'faults/s per CPU (simulated time)',
    log: true,
    points: rows.map((r) => ({ x: r.cpus, series: `${r.mode}, ${r.flushProtocol} shootdowns`, value: Math.max(r.perCpu, 1), dashed: r.flushProtocol === 'modern' })),
  });
  writeFileSync(a.svg, svg);
}

if (a.json) {
  process.stdout.write(JSON.stringify({ experiment: 'write-notify-scaling', pages, rounds: Number(a.rounds), costs, rows }) + '\n');
} else {
  console.log(`write-notify faults per CPU per simulated second; ${pages} pages per CPU, ${a.rounds} rounds per CPU, costs ${costs.preset} (${costs.ghz} GHz)`);
  console.log(' cpus   processes/2.6.20   processes/modern   threads/2.6.20   threads/modern');
  for (const c of cpus) {
    const v = (mode, proto) => rows.find((r) => r.cpus === c && r.mode === mode && r.flushProtocol === proto);
    const f = (r) => (r ? (r.ok ? r.perCpu.toExponential(3) : 'violation') : '-').padStart(17);
    console.log(`${String(c).padStart(5)} ${f(v('processes', 'linux-2.6.20'))}  ${f(v('processes', 'modern'))} ${f(v('threads', 'linux-2.6.20'))} ${f(v('threads', 'modern'))}`);
  }
  if (a.svg) console.log(`plot written to ${a.svg}`);
}
process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
