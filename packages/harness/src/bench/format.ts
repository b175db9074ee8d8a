/** Bench results as text: the human table and will-it-scale's CSV. */
import type { BenchPoint, BenchResult, ModeResult } from './result.js';

const sci = (n: number) => (n === 0 ? '0' : n.toExponential(3));
const us = (ns: number | undefined) => (ns === undefined ? '-' : (ns / 1000).toFixed(2));

/** The human table: one row per point, `*` on points where simulated CPUs outnumber host cores. */
export function formatBench(b: BenchResult): string {
  const sim = b.timeBase === 'simulated';
  const setup = `workload ${b.workload} ${Object.entries(b.params).map(([k, v]) => `${k}=${v}`).join(' ')}; lockdep ${b.config.lockdep ? 'on' : 'off'}, kernel threads ${b.config.daemons ? 'on' : 'off'}`;
  const lines = [
    `smpsim bench ${b.suite}: ${b.title}`,
    sim
      ? `simulated time: timed mode, ${b.ops ? `${b.ops} ops per CPU` : `${b.timeMs} ms of simulated time`} per run; costs ${costsLine(b)}, quantum ${b.config.quantum} cycles; ${setup}`
      : `host: ${b.hostCores} core(s) of ${b.host.cpu}, Node ${b.host.node} (V8 ${b.host.v8}); * marks points where simulated CPUs outnumber them. ${b.ops ? `${b.ops} ops per CPU` : `${b.timeMs} ms`} per run after a ${b.warmupMs} ms warm-up; ${setup}`,
  ];
  if (b.baseline?.available) {
    lines.push(`baseline: ${b.baseline.program} (${b.baseline.description}), ${b.baseline.compiler}${b.suite === 'faults' ? `, file on ${b.baseline.fs}` : ''}`);
    if (b.suite === 'faults' && b.points.some((p) => p.baseline && p.baseline.minorFaults < p.baseline.ops / 2)) {
      lines.push(`  note: the host took fewer faults than stores: its file system (${b.baseline.fs}) may not account dirty pages, so there is no write notification (set SMPSIM_BASELINE_DIR to a directory on a disk file system)`);
    }
  }
  else if (b.baseline) lines.push(`baseline: skipped: ${b.baseline.reason}`);
  lines.push('');
  const cpuCol = (p: BenchPoint) => `${p.cpus}${p.oversubscribed && !sim ? '*' : ' '}`.padStart(5);
  const idle = (r: ModeResult | undefined) => (r?.idlePct === undefined ? '-' : r.idlePct.toFixed(1));
  if (b.suite === 'shootdown') {
    const native = b.points.some((p) => p.baseline);
    lines.push(` cpus   flushes/s    p50 µs   p90 µs   p99 µs   max µs   busy accesses/s/cpu   idle%${native ? '  native p50 µs  mean µs' : ''}`);
    for (const p of b.points) {
      const t = p.threads!;
      const l = t.latency;
      const note = p.cpus === 1 ? '   (no other CPU: local flush only)' : '';
      const round = !native ? '' : `${us(p.baseline?.roundP50Ns).padStart(15)}${(p.baseline && p.baseline.total > 0 ? us(1e9 / p.baseline.total) : '-').padStart(9)}`;
      lines.push(`${cpuCol(p)}  ${sci(t.total).padStart(10)}  ${us(l?.p50Ns).padStart(8)} ${us(l?.p90Ns).padStart(8)} ${us(l?.p99Ns).padStart(8)} ${us(l?.maxNs).padStart(8)}   ${sci(t.extra.busyAccessesPerCpu ?? 0).padStart(19)}   ${idle(t).padStart(5)}${round}${note}`);
    }
    const timer = b.points[0]?.threads?.latency?.timerNs;
    if (timer !== undefined && !sim) lines.push(`(each sample includes ~${timer} ns of timer calls${native ? "; native: the host's round, request to last acknowledgement, between as many processes that the host OS schedules (flush_ping.c), its median (one clock read included, 8 ns buckets) and its mean" : ''})`);
    if (sim) lines.push('(flushes/s and latencies in simulated time)');
  } else {
    const hasBase = b.points.some((p) => p.baseline);
    const head = [' cpus', ...b.modes.map((m) => `${m}/cpu`.padStart(14)), 'ns/op'.padStart(9), 'idle%'.padStart(6)];
    if (hasBase) head.push('native/task'.padStart(12), 'smpsim/native'.padStart(14));
    lines.push(head.join(' '));
    for (const p of b.points) {
      const row = [cpuCol(p), ...b.modes.map((m) => sci(p[m]?.perCpu ?? 0).padStart(14)), p.nsPerOp.toFixed(1).padStart(9), idle(p[b.primary]).padStart(6)];
      if (hasBase) row.push(p.baseline ? sci(p.baseline.perTask).padStart(12) : '-'.padStart(12), p.ratio !== undefined ? p.ratio.toFixed(3).padStart(14) : '-'.padStart(14));
      lines.push(row.join(' '));
    }
    lines.push(`(${b.unit}${sim ? ' in simulated time' : ''} per simulated CPU; ns/op and the ratio are for ${b.primary} mode${hasBase ? '; the native baseline runs as many processes as there are simulated CPUs' : ''})`);
  }
  const bad = b.points.filter((p) => !p.summary.ok);
  for (const p of bad) for (const v of p.summary.violations) lines.push(`VIOLATION at ${p.cpus} CPUs: ${v.kind}: ${v.message.split('\n')[0]}`);
  return lines.join('\n');
}

/** The cost model of a simulated-time bench, in one line. */
function costsLine(b: BenchResult): string {
  const c = b.config.costs;
  if (!c) return '-';
  const o = Object.entries(c.overrides).map(([k, v]) => `${k}=${v}`);
  return `${c.preset} (${c.ghz} GHz${o.length ? `; ${o.join(', ')}` : ''})`;
}

export const WILL_IT_SCALE_HEADER = 'tasks,processes,processes_idle,threads,threads_idle,linear';

/**
 * will-it-scale's CSV (runtest.py): total operations per second over all tasks for each mode, the
 * host idle percentage during it, and `linear` = the one-task result times the tasks; -1 for a mode
 * that was not run (runtest.py's value when a run gave no average). The row `0,0,100,0,100,0` opens
 * the data as in runtest.py. The shootdown suite appends p50_ns,p90_ns,p99_ns.
 */
export function formatBenchCsv(b: BenchResult): string {
  const lat = b.suite === 'shootdown';
  const lines = [WILL_IT_SCALE_HEADER + (lat ? ',p50_ns,p90_ns,p99_ns' : ''), '0,0,100,0,100,0' + (lat ? ',0,0,0' : '')];
  const first = b.points[0];
  const one = first ? Math.max(first.processes?.total ?? 0, first.threads?.total ?? 0) / first.cpus : 0;
  for (const p of b.points) {
    // the idle columns are host figures: -1 in simulated time
    const m = (r: ModeResult | undefined) => (r ? `${Math.round(r.total)},${r.idlePct === undefined ? -1 : r.idlePct.toFixed(2)}` : '-1,-1');
    let row = `${p.cpus},${m(p.processes)},${m(p.threads)},${Math.round(lat ? one : one * p.cpus)}`;
    if (lat) {
      const l = p.threads?.latency;
      row += l ? `,${l.p50Ns},${l.p90Ns},${l.p99Ns}` : ',-1,-1,-1';
    }
    lines.push(row);
  }
  return lines.join('\n');
}
