#!/usr/bin/env node
/**
 * The performance targets of the bench suites, measured in one run (so that the ratios come from the
 * same conditions) and printed against their thresholds. Nothing is asserted: the exit status is 0
 * unless a run found a violation.
 *
 *   node scripts/bench-targets.mjs [--time 1s] [--rounds 3] [--json]   (or: npx pnpm@12.4.2 run bench:targets)
 *
 * - access: TLB-hit accesses per CPU within 5x of the native loop (smpsim/native >= 0.2; the suite
 *   runs `--rounds` times, and its rows are the medians of the rounds' ratios);
 * - faults: write-notify faults per CPU at least the host kernel's rate (smpsim/native >= 1);
 * - shootdown: single-page flush p50 under 2 µs with the other CPUs busy (1 and 2 busy CPUs);
 * - oversubscription: total throughput with 4x more simulated CPUs than host cores at least 80% of
 *   the throughput with as many (access and faults, processes mode);
 * - run tokens (more simulated CPUs than host cores, free mode): shootdown p50 with 2x the cores
 *   within 5x of the p50 with as many, with 4x within 10x, and at most 0.5 µs with as many; write-
 *   notify faults in threads mode (one mm) at 4x the cores at least 50% of the total at as many
 *   (the median ratio of `--rounds` rounds);
 *   dirty-share (`--ops 20000 --seed 3`) simulated ops per second at 2x and 4x the cores at least 70%
 *   of that at as many (the median ratio of `--rounds` rounds of the three sizes in turn).
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { runBench, runMachine } from '@smpsim/harness';

const usage = (why) => {
  process.stderr.write(`bench-targets: ${why}\nusage: node scripts/bench-targets.mjs [--time 1s] [--rounds 3] [--json]\n`);
  process.exit(2);
};
let a;
try {
  ({ values: a } = parseArgs({ options: { time: { type: 'string', default: '1s' }, json: { type: 'boolean', default: false }, rounds: { type: 'string', default: '3' } } }));
} catch (e) {
  usage(e.message);
}
const rounds = Number(a.rounds);
if (!/^\d+$/.test(a.rounds) || rounds < 1) usage(`--rounds must be a whole number from 1 up, not '${a.rounds}'`);
const t = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(a.time);
if (!t || Number(t[1]) <= 0) usage(`--time must be a positive time such as 1s or 500ms, not '${a.time}'`);
const ms = t[2] === 'ms' ? Number(t[1]) : Number(t[1]) * 1000;
const cores = availableParallelism();
const over = 4 * cores;
const log = (l) => process.stderr.write(l + '\n');

// access: one run's rate depends on the host's state as well as on the worker's compiled code (one
// worker ran its loop at 2.6 ns per access, the next process's at 4.0, with the native loop at 0.50
// in both): the suite runs `--rounds` times, each with fresh workers and its own native baseline,
// and each access row is the median of the per-round ratios, all of them printed
const accessRounds = [];
for (let r = 0; r < rounds; r++) accessRounds.push(await runBench('access', [1, cores, over], ms, { modes: ['processes'], onProgress: log }));
const faults = await runBench('faults', [1, cores, over], ms, { modes: ['processes'], onProgress: log });
const shoot = await runBench('shootdown', [...new Set([2, 3, cores, 2 * cores, 4 * cores])].sort((x, y) => x - y), ms, { onProgress: log });
// faults in threads mode: one round's 8/2 ranged 0.35-0.82 in one day (the 2-CPU side alone 2.6e4
// to 4.8e4 faults/s): rounds and medians as for access
const faultsThreadsRounds = [];
for (let r = 0; r < rounds; r++) faultsThreadsRounds.push(await runBench('faults', [cores, over], ms, { modes: ['threads'], onProgress: log }));
// dirty-share: simulated ops per second of workload time, the same ops per CPU at each size. One run
// is short (0.6 s at 2 CPUs, much of it the workers' JIT warm-up), so one pair's ratio ranged 0.60-0.94
// from run to run: the sizes run in turn, `--rounds` times, and each ratio is the median of its rounds'
// ratios (each from runs next to each other), all of them printed
const dirtyShare = [];
for (let r = 0; r < rounds; r++) {
  for (const cpus of [cores, 2 * cores, over]) {
    const s = await runMachine({ workload: 'dirty-share', cpus, ops: 20_000, seed: 3 });
    const opsPerSec = s.stats.ops / (Math.max(1, s.stats.workloadMs) / 1000);
    dirtyShare.push({ round: r, cpus, ok: s.ok, opsPerSec, tokens: s.config.runTokens });
    log(`dirty-share ${cpus} CPUs (round ${r + 1} of ${rounds}): ${opsPerSec.toExponential(3)} ops/s${s.ok ? '' : ' (a violation!)'}`);
  }
}
const median = (xs) => {
  const v = [...xs].sort((x, y) => x - y);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

const at = (b, cpus) => b.points.find((p) => p.cpus === cpus);
const rows = [];
const add = (target, measured, threshold, pass, note) => rows.push({ target, measured, threshold, pass, note });
/** The median of the rounds' values, and the values for the note ('median of N rounds (a, b, c); '; none for one). */
const ofRounds = (xs) => ({ value: median(xs), note: xs.length > 1 ? `median of ${xs.length} rounds (${xs.map((q) => q.toFixed(3)).join(', ')}); ` : '' });
/**
 * A row of the median ratio, over a suite's runs (its rounds, or one run), of its total at `over`
 * CPUs to its total at `cores`; `min` is the threshold.
 */
const totalsRow = (target, suiteRounds, min, unit) => {
  const xs = suiteRounds.map((b) => at(b, over)?.total ?? 0);
  const ys = suiteRounds.map((b) => at(b, cores)?.total ?? 0);
  const r = ofRounds(xs.map((x, i) => (ys[i] > 0 ? x / ys[i] : NaN)));
  add(target, r.value, `>= ${min}`, r.value >= min, `${r.note}${median(xs).toExponential(3)} vs ${median(ys).toExponential(3)} ${unit}${suiteRounds.length > 1 ? ' (medians)' : ''}`);
};
for (const cpus of [1, cores]) {
  const ps = accessRounds.map((b) => at(b, cpus));
  if (ps.every((p) => p?.ratio !== undefined)) {
    const r = ofRounds(ps.map((p) => p.ratio));
    const ns = median(ps.map((p) => p.nsPerOp));
    const native = median(ps.map((p) => 1e9 / p.baseline.perTask));
    add(`access ${cpus} CPU(s): smpsim/native`, r.value, '>= 0.2', r.value >= 0.2, `${r.note}${ns.toFixed(2)} ns/access vs native ${native.toFixed(2)} ns${rounds > 1 ? ' (medians)' : ''}`);
  } else add(`access ${cpus} CPU(s): smpsim/native`, NaN, '>= 0.2', false, accessRounds.find((b) => !b.baseline?.available)?.baseline?.reason ?? 'no baseline');
}
for (const cpus of [1, cores]) {
  const p = at(faults, cpus);
  if (p?.ratio !== undefined) add(`faults ${cpus} CPU(s): smpsim/native`, p.ratio, '>= 1', p.ratio >= 1, `${p.perCpu.toExponential(3)} vs native ${p.baseline.perTask.toExponential(3)} faults/s per CPU (file on ${faults.baseline.fs})`);
  else add(`faults ${cpus} CPU(s): smpsim/native`, NaN, '>= 1', false, faults.baseline?.reason ?? 'no baseline');
}
for (const cpus of [2, 3]) {
  const l = at(shoot, cpus)?.threads?.latency;
  const p50 = l ? l.p50Ns / 1000 : NaN;
  add(`shootdown p50, ${cpus - 1} busy CPU(s) (µs)`, p50, '< 2', p50 < 2, l ? `p99 ${(l.p99Ns / 1000).toFixed(2)} µs, ${l.samples} flushes, timer ${l.timerNs} ns included${cpus > cores ? `; ${cpus} simulated CPUs on ${cores} cores` : ''}` : 'no samples');
}
totalsRow(`access: total at ${over} / at ${cores} CPUs`, accessRounds, 0.8, accessRounds[0].unit);
totalsRow(`faults: total at ${over} / at ${cores} CPUs`, [faults], 0.8, faults.unit);

const p50 = (cpus) => (at(shoot, cpus)?.threads?.latency?.p50Ns ?? NaN) / 1000;
{
  // the host's floor: a native round between as many processes (flush_ping.c), where a C compiler
  // exists; a simulated flush needs at least one such round (its request seen, its acknowledgement seen)
  const b = at(shoot, cores)?.baseline;
  const med = b?.roundP50Ns !== undefined ? `p50 ${(b.roundP50Ns / 1000).toFixed(2)} µs, ` : '';
  const floor = b && b.total > 0 ? `; the host's own round between ${cores} processes ${med}mean ${(1e6 / b.total).toFixed(2)} µs (flush_ping.c)` : '';
  add(`shootdown p50 at ${cores} CPUs (µs)`, p50(cores), '<= 0.5', p50(cores) <= 0.5, `${cores} simulated CPUs on ${cores} cores${floor}`);
}
for (const [k, lim] of [[2, 5], [4, 10]]) {
  const r = p50(k * cores) / p50(cores);
  add(`shootdown p50 at ${k * cores} / at ${cores} CPUs`, r, `<= ${lim}`, r <= lim, `${p50(k * cores).toFixed(2)} vs ${p50(cores).toFixed(2)} µs`);
}
totalsRow(`faults threads: total at ${over} / at ${cores} CPUs`, faultsThreadsRounds, 0.5, 'faults/s');
for (const cpus of [2 * cores, over]) {
  const ratios = [];
  for (let r = 0; r < rounds; r++) {
    const x = dirtyShare.find((d) => d.round === r && d.cpus === cpus);
    const y = dirtyShare.find((d) => d.round === r && d.cpus === cores);
    ratios.push(x.opsPerSec / y.opsPerSec);
  }
  const r = ofRounds(ratios);
  const ops = (c) => median(dirtyShare.filter((d) => d.cpus === c).map((d) => d.opsPerSec)).toExponential(3);
  const tokens = dirtyShare.find((d) => d.cpus === cpus).tokens;
  add(`dirty-share ops/s at ${cpus} / at ${cores} CPUs`, r.value, '>= 0.7', r.value >= 0.7, `${r.note}${ops(cpus)} vs ${ops(cores)} simulated ops/s${rounds > 1 ? ' (medians)' : ''} (run tokens: ${tokens || 'none'})`);
}

// (every bench result names the host; the first one's stands for the run)
const host = accessRounds[0].host;
if (a.json) process.stdout.write(JSON.stringify({ hostCores: cores, host, timeMs: ms, rows, results: { access: accessRounds, faults, shootdown: shoot, faultsThreads: faultsThreadsRounds, dirtyShare } }) + '\n');
else {
  console.log(`bench targets: host ${cores} cores of ${host.cpu}, Node ${host.node} (V8 ${host.v8}); ${ms} ms per run (ratios measured together; access, faults threads and dirty-share: ${rounds} round${rounds > 1 ? "s" : ""})`);
  for (const r of rows) console.log(`${r.pass ? 'met ' : 'MISS'}  ${r.target.padEnd(42)} ${Number.isFinite(r.measured) ? r.measured.toFixed(3).padStart(9) : '      n/a'}  (${r.threshold})  ${r.note}`);
}
process.exitCode = accessRounds.every((b) => b.ok) && faults.ok && shoot.ok && faultsThreadsRounds.every((b) => b.ok) && dirtyShare.every((d) => d.ok) ? 0 : 1;
