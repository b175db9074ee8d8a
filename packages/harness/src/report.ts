/** Human-readable run summaries. */
import type { LockStatRow } from '@smpsim/core';
import type { RunSummary } from './summary.js';

const fmt = (n: number) => (n >= 1e9 ? (n / 1e9).toFixed(2) + 'G' : n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : String(Math.round(n)));

export function formatSummary(s: RunSummary): string {
  const st = s.stats;
  const c = s.config;
  const secs = Math.max(st.workloadMs, 1) / 1000;
  const lines = [
    `smpsim: ${c.workload} on ${c.cpus} CPU(s) in ${c.procs} process(es), kernel ${c.kernel}${c.bugs.length ? ' with ' + c.bugs.join(', ') : ''}, seed ${s.seed}`,
    `  host: ${c.hostCores} core(s)${c.cpus > c.hostCores ? ` (simulated CPUs outnumber them ${(c.cpus / c.hostCores).toFixed(1)}:1)` : ''}, ${(st.hostWallMs / 1000).toFixed(2)} s wall${st.phasesMs ? ` (start ${st.phasesMs.start} ms, set-up ${st.phasesMs.setup} ms, run ${st.phasesMs.run} ms, check ${st.phasesMs.check} ms)` : ''}`,
    ...(c.runTokens ? [`  run tokens: ${c.runTokens} CPUs at a time; ${fmt(st.tokens.switches)} slice hand-overs, ${fmt(st.tokens.directedYields)} directed yields, ${fmt(st.tokens.ipisProxied)} flush IPIs taken by proxy`] : []),
    `  ops ${fmt(st.ops)}, accesses ${fmt(st.accesses)} (${fmt(st.accesses / secs / c.cpus)}/s per CPU), ${fmt(st.simCycles)} simulated cycles`,
    `  TLB: ${fmt(st.tlb.hits)} hits, ${fmt(st.tlb.l2Hits)} L2 hits, ${fmt(st.tlb.misses)} misses (TLB ${c.tlb})`,
    `  faults: ${fmt(st.faults.notPresent)} not-present, ${fmt(st.faults.writeNotify)} write-notify, ${fmt(st.faults.cow)} cow, ${fmt(st.faults.other)} other`,
    `  shootdowns: ${fmt(st.shootdowns.ipisSent)} IPIs; flushes ${fmt(st.shootdowns.flushesPage)} page, ${fmt(st.shootdowns.flushesRange)} range, ${fmt(st.shootdowns.flushesFull)} full, ${fmt(st.shootdowns.flushesElided)} local-only; by cause: mkclean ${fmt(st.shootdowns.byCause.mkclean)}, munmap ${fmt(st.shootdowns.byCause.munmap)}, mprotect ${fmt(st.shootdowns.byCause.mprotect)}, fault ${fmt(st.shootdowns.byCause.fault)}, reclaim ${fmt(st.shootdowns.byCause.reclaim)}`,
    ...(st.io.submitted ? [`  disk: ${fmt(st.io.submitted)} writes submitted, ${fmt(st.io.completed)} completed, at most ${fmt(st.ioInflightMax)} in flight on one CPU`] : []),
    ...(st.syscalls.ftruncate ? [`  truncate: ${fmt(st.syscalls.ftruncate)} ftruncate calls, ${fmt(st.truncateRetries)} faults retried after one (truncate_count)`] : []),
    `  lazy TLB: ${fmt(st.shootdowns.lazyIdle)} idle CPUs entered it, ${fmt(st.shootdowns.leaveMm)} leave_mm, ${fmt(st.shootdowns.lazySkipped)} flush targets skipped`,
    `  writeback: ${fmt(st.writeback.pagesCleaned)} pages cleaned, ${fmt(st.writeback.pagesWritten)} written, ${fmt(st.writeback.bufferWrites)} buffer writes, ${fmt(st.writeback.throttled)} throttled writers wrote ${fmt(st.writeback.throttleWritten)}; reclaim: ${fmt(st.reclaim.evicted)} evicted, ${fmt(st.reclaim.refaults)} refaults, ${fmt(st.reclaim.aged)} kept young`,
  ];
  if (s.ok) lines.push('  result: ok, no violation');
  else {
    lines.push(`  result: ${s.violations.length} violation(s)`);
    for (const v of s.violations) {
      lines.push('');
      lines.push(`VIOLATION ${v.kind}${v.cpu !== undefined ? ` (cpu${v.cpu})` : ''}:`);
      lines.push(v.message.replace(/^/gm, '  '));
    }
    if (s.afterStop?.length) {
      lines.push('');
      lines.push(`reported while the machine stopped (the same race seen again, or a consequence of the stop; not findings):`);
      for (const v of s.afterStop) lines.push(`  ${v.kind}${v.cpu !== undefined ? ` (cpu${v.cpu})` : ''}: ${v.message.split('\n')[0]}`);
    }
    lines.push('');
    lines.push(`reproduce: ${s.reproduce}`);
  }
  return lines.join('\n');
}

/**
 * The lock statistics in the columns of /proc/lock_stat (version 0.4), times in host nanoseconds
 * (the kernel prints microseconds with two decimals; here ns, since simulated locks are short), then
 * the same in simulated cycles. Bounces are counted for spinlocks only.
 */
export function formatLockStat(rows: LockStatRow[]): string {
  const head = ['class name', 'con-bounces', 'contentions', 'waittime-min', 'waittime-max', 'waittime-total', 'waittime-avg', 'acq-bounces', 'acquisitions', 'holdtime-min', 'holdtime-max', 'holdtime-total', 'holdtime-avg'];
  const n = (x: number, avg = false) => (avg ? x.toFixed(2) : String(Math.round(x)));
  const table = (unit: string, pick: (r: LockStatRow) => [LockStatRow['waitNs'], LockStatRow['holdNs']]) => {
    const lines = [`lock_stat version 0.4 (times in ${unit})`, '-'.repeat(214), head.map((h, i) => (i === 0 ? h.padStart(40) : h.padStart(14))).join(' '), '-'.repeat(214)];
    for (const r of rows) {
      const [w, h] = pick(r);
      const cols = [r.conBounces, r.contentions, w.min, w.max, w.total, w.avg, r.acqBounces, r.acquisitions, h.min, h.max, h.total, h.avg];
      lines.push([`${r.class}:`.padStart(40), ...cols.map((c, i) => n(c, i === 5 || i === 11).padStart(14))].join(' '));
    }
    return lines.join('\n');
  };
  return table('ns', (r) => [r.waitNs, r.holdNs]) + '\n\n' + table('simulated cycles', (r) => [r.waitCycles, r.holdCycles]);
}
