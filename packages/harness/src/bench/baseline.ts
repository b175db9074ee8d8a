/**
 * Native baselines for `smpsim bench`: small C programs (packages/harness/baselines) that do on the
 * host what a suite's workload does on the simulated machine, compiled at bench time with the host's
 * C compiler (`$CC`, else `cc`) into a temporary directory and run with as many processes as the
 * point has simulated CPUs. Where no compiler is found the baseline is skipped with the reason.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What one baseline program measures, and how to call it for one point. */
export interface BaselineSpec {
  /** Source file in packages/harness/baselines. */
  readonly source: string;
  readonly description: string;
  /** Arguments after TASKS and MILLISECONDS. */
  args(params: Readonly<Record<string, unknown>>, dir: string): string[];
}

export interface BaselinePoint {
  readonly tasks: number;
  /** Operations per second over all tasks, and per task. */
  readonly total: number;
  readonly perTask: number;
  /** Minor faults the tasks took in their measured loops (for the fault baselines: one per op). */
  readonly minorFaults: number;
  readonly ops: number;
  /**
   * A latency baseline's round times (flush_ping.c times each of its task 0's rounds): median and
   * 90th percentile in ns, to compare with smpsim's p50 and p90 (a mean is pulled up by the rounds the
   * host OS interrupts). Absent for the other baselines.
   */
  readonly roundP50Ns?: number;
  readonly roundP90Ns?: number;
}

/** A compiled baseline, or the reason there is none. */
export type Baseline = { readonly available: true; readonly program: string; readonly compiler: string; readonly fs: string; readonly dir: string; readonly spec: BaselineSpec; readonly cleanup: () => void } | { readonly available: false; readonly reason: string };

const BASELINE_DIR = fileURLToPath(new URL('../../baselines/', import.meta.url));

/** File-system names of statfs magic numbers that matter here. */
const FS_NAMES: Record<number, string> = {
  0xef53: 'ext2/3/4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0x65735546: 'fuse',
};

function fsName(dir: string): string {
  try {
    const t = Number(statfsSync(dir).type);
    return FS_NAMES[t] ?? `0x${t.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/**
 * Compiles `spec` with the host C compiler. Never throws: a missing compiler or a failed build gives
 * `{ available: false, reason }`.
 */
export function compileBaseline(spec: BaselineSpec): Baseline {
  const cc = process.env.CC || 'cc';
  const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (probe.error) return { available: false, reason: `no C compiler: '${cc}' ${(probe.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not on PATH' : `failed to start (${probe.error.message})`}; set CC to use another` };
  const tmp = mkdtempSync(join(tmpdir(), 'smpsim-baseline-'));
  const program = join(tmp, spec.source.replace(/\.c$/, ''));
  const r = spawnSync(cc, ['-O2', '-o', program, join(BASELINE_DIR, spec.source)], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    return { available: false, reason: `${cc} could not build ${spec.source}: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}` };
  }
  const dir = process.env.SMPSIM_BASELINE_DIR || tmp;
  return {
    available: true,
    program,
    compiler: (probe.stdout.split('\n')[0] ?? cc).trim(),
    fs: fsName(dir),
    dir,
    spec,
    cleanup: () => rmSync(tmp, { recursive: true, force: true }),
  };
}

/** Runs a compiled baseline with `tasks` processes for `ms` of host time. */
export async function runBaseline(b: Baseline & { available: true }, tasks: number, ms: number, params: Readonly<Record<string, unknown>>): Promise<BaselinePoint> {
  const { stdout } = await run(b.program, [String(tasks), String(Math.max(1, Math.round(ms))), ...b.spec.args(params, b.dir)], { timeout: ms + 60_000 });
  let ops = 0;
  let minorFaults = 0;
  let total = NaN;
  let round: { roundP50Ns: number; roundP90Ns: number } | null = null;
  for (const line of stdout.split('\n')) {
    const r = /^task 0 round_ns p50 (\d+) p90 (\d+)/.exec(line);
    if (r) round = { roundP50Ns: Number(r[1]), roundP90Ns: Number(r[2]) };
    const t = /^task \d+ ops (\d+) ns \d+ minflt (\d+)/.exec(line);
    if (t) {
      ops += Number(t[1]);
      minorFaults += Number(t[2]);
    }
    const m = /^total ops_per_sec (\d+)/.exec(line);
    if (m) total = Number(m[1]);
  }
  if (!Number.isFinite(total)) throw new Error(`baseline ${b.spec.source} printed no total: ${stdout.slice(0, 200)}`);
  return { tasks, total, perTask: total / tasks, minorFaults, ops, ...round };
}
