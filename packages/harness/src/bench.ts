/**
 * `smpsim bench access|faults`: throughput per simulated CPU as the number of CPUs grows. Each point
 * is one machine run of the suite's workload; the workers are reused across points.
 */
import type { Command } from 'commander';
import { parseDuration, parseList, UsageError } from './parse.js';
import { CpuWorkerPool, DEFAULT_RUN, type RunSummary, runMachine } from './run.js';

export interface BenchPoint {
  cpus: number;
  /** Operations per second per simulated CPU (accesses for `access`, write-notify faults for `faults`). */
  perCpu: number;
  total: number;
  nsPerOp: number;
  hostCores: number;
  summary: Pick<RunSummary, 'ok' | 'violations'>;
}

export interface BenchResult {
  suite: string;
  unit: string;
  hostCores: number;
  points: BenchPoint[];
}

const SUITES: Record<string, { workload: string; unit: string; params: Record<string, number>; count: (s: RunSummary) => number }> = {
  access: { workload: 'tlb-hit', unit: 'accesses/s', params: { pages: 8 }, count: (s) => s.stats.accesses },
  faults: { workload: 'page-fault3', unit: 'faults/s', params: { pages: 256 }, count: (s) => s.stats.faults.notPresent + s.stats.faults.writeNotify },
};

export async function runBench(suite: string, cpusList: number[], timeMs: number): Promise<BenchResult> {
  const s = SUITES[suite];
  if (!s) throw new UsageError(`unknown bench suite '${suite}' (one of: ${Object.keys(SUITES).join(', ')})`);
  const pool = new CpuWorkerPool();
  const points: BenchPoint[] = [];
  try {
    for (const cpus of cpusList) {
      const r = await runMachine({ ...DEFAULT_RUN, workload: s.workload, cpus, durationMs: timeMs, params: s.params, daemons: suite !== 'access', memoryBytes: 256 * 1024 * 1024 }, pool);
      const secs = Math.max(1, r.stats.workloadMs) / 1000;
      const total = s.count(r);
      points.push({ cpus, perCpu: total / secs / cpus, total, nsPerOp: (secs * 1e9 * cpus) / Math.max(1, total), hostCores: r.config.hostCores, summary: { ok: r.ok, violations: r.violations } });
    }
  } finally {
    await pool.close();
  }
  return { suite, unit: s.unit, hostCores: points[0]?.hostCores ?? 1, points };
}

export function formatBench(b: BenchResult): string {
  const lines = [`smpsim bench ${b.suite} (${b.unit} per simulated CPU; host has ${b.hostCores} core(s))`, 'cpus  per-cpu        ns/op   note'];
  for (const p of b.points) {
    const note = p.cpus > b.hostCores ? `simulated CPUs outnumber host cores ${p.cpus}:${b.hostCores}` : '';
    lines.push(`${String(p.cpus).padStart(4)}  ${p.perCpu.toExponential(3).padStart(12)}  ${p.nsPerOp.toFixed(1).padStart(9)}   ${note}`);
  }
  return lines.join('\n');
}

export function benchCommand(p: Command): void {
  p.command('bench <suite>')
    .description('benchmarks: access (TLB-hit accesses/s per CPU), faults (write-notify faults/s per CPU)')
    .option('--cpus <list>', 'CPU counts, e.g. 1,2,4', '1,2')
    .option('--time <T>', 'host time per point', '2s')
    .option('--json', 'print JSON')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .action(async (suite: string, flags) => {
      const b = await runBench(suite, parseList(flags.cpus, '--cpus', 1, 32), parseDuration(flags.time, '--time'));
      process.stdout.write((flags.json ? JSON.stringify(b) : formatBench(b)) + '\n');
    });
}
