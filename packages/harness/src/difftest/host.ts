/**
 * The host side of a differential test: packages/harness/difftest/host-runner.c, compiled with the
 * host's C compiler (`$CC`, else `cc`) the first time it is needed (into a directory under the OS's
 * temporary directory, named by the source's hash, so it is built once per version), runs a trace on a
 * real file in a directory the user names and prints a header line and one JSON line per op.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../parse.js';
import type { OpResult } from './sim.js';

const RUNNERS = fileURLToPath(new URL('../../difftest/', import.meta.url));
const TMPFS_MAGIC = 0x01021994;

/** What the host runner says about the machine it ran on. */
export interface HostInfo {
  runner: 'host';
  kernel: string;
  fs: string;
  cachestat: boolean;
}

/** A compiled host runner, or why there is none. */
export type HostRunner = { available: true; path: string; compiler: string } | { available: false; reason: string };

/** Compiles the host runner of traces unless a build of this source exists already. */
export const hostRunner = (): HostRunner => compiledRunner('host-runner', []);

/**
 * Compiles packages/harness/difftest/NAME.c (with `flags`) unless a build of this source exists
 * already (under the OS's temporary directory, named by the source's hash).
 */
export function compiledRunner(name: string, flags: readonly string[]): HostRunner {
  const source = join(RUNNERS, `${name}.c`);
  const src = readFileSync(source);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `smpsim-difftest-${hash}`);
  const path = join(dir, name);
  const compiler = process.env['CC'] || 'cc';
  if (existsSync(path)) return { available: true, path, compiler };
  mkdirSync(dir, { recursive: true });
  const part = `${path}.${process.pid}`;
  const r = spawnSync(compiler, ['-O2', '-Wall', ...flags, '-o', part, source], { encoding: 'utf8' });
  if (r.error) return { available: false, reason: `no C compiler ('${compiler}': ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); set CC or install cc to compare with the host kernel` };
  if (r.status !== 0) return { available: false, reason: `'${compiler}' could not compile ${source}: ${r.stderr.trim().split('\n').slice(0, 3).join(' / ')}` };
  renameSync(part, path);
  return { available: true, path, compiler };
}

/** Refuses a directory the host run cannot use (missing, or tmpfs, which accounts no dirty pages). */
export function checkHostDir(dir: string): void {
  let type: number;
  try {
    type = Number(statfsSync(dir).type);
  } catch (e) {
    throw new UsageError(`--dir ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'cannot be read'}`);
  }
  if (type === TMPFS_MAGIC) throw new UsageError(`--dir ${dir} is tmpfs, which does not account dirty pages: name a directory on a disk file system`);
}

/** A directory for the host file when the user names none: the OS's temporary directory, or the current one. */
export function defaultHostDir(): string {
  for (const d of [tmpdir(), process.cwd()]) {
    try {
      if (Number(statfsSync(d).type) !== TMPFS_MAGIC) return d;
    } catch {
      // try the next
    }
  }
  throw new UsageError(`both ${tmpdir()} and the current directory are tmpfs: name a directory on a disk file system with --dir`);
}

interface HostLine {
  line: number;
  op: string;
  result: number | string;
  minflt: number;
  majflt: number;
  cached?: number;
  dirty?: number;
  writeback?: number;
  dirtied?: number;
}

/**
 * Runs the trace file at `tracePath` on the host; the header and one OpResult per op (the runner's
 * line for `version` dropped). `io` counts from the start of the trace, so the `file` op's own writes
 * of `filePages` zero pages are taken off it.
 */
export function runTraceHost(runner: string, tracePath: string, dir: string, filePages: number): { info: HostInfo; ops: OpResult[] } {
  const r = spawnSync(runner, [tracePath, dir], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`host runner: ${r.error.message}`);
  if (r.status === 2) throw new UsageError(r.stderr.trim() || 'host runner refused the trace');
  if (r.status !== 0) throw new Error(`host runner exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim());
  const info = JSON.parse(lines[0]!) as HostInfo;
  const ops = lines
    .slice(1)
    .map((l) => JSON.parse(l) as HostLine)
    .filter((h) => h.op !== 'version')
    .map((h) => {
    const o: OpResult = { line: h.line, op: h.op, result: h.result, faults: h.minflt + h.majflt, reads: h.majflt };
    for (const k of ['cached', 'dirty', 'writeback', 'dirtied'] as const) if (h[k] !== undefined) o[k] = h[k];
    if (o.dirtied !== undefined && o.dirtied >= 0) o.dirtied = Math.max(0, o.dirtied - filePages);
    return o;
  });
  return { info, ops };
}
