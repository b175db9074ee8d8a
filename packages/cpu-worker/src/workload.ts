/**
 * Workloads: a workload is a module that runs inside a CPU worker against the CPU API (api.ts). Its
 * default export (or named export `workload`) implements Workload. The harness also loads it in the
 * main thread, to learn the files it needs before the machine is allocated.
 *
 * Writing one:
 * ```ts
 * import type { Workload } from '@smpsim/cpu-worker';
 * const w: Workload = {
 *   name: 'my-test',
 *   description: 'each CPU writes its own page',
 *   oracle: 'owned-words',
 *   files: (o) => [{ pages: o.cpus, accountDirty: true, mmapHookChangesProt: false }],
 *   run(api) {
 *     const base = api.mmap(0, 0, api.cpus, { write: true, shared: true });
 *     let v = 0;
 *     while (api.running()) { api.ownStore(base + api.cpu * 4096, 0, api.cpu, 0, ++v); api.op(); }
 *   },
 * };
 * export default w;
 * ```
 */
import type { FileSpec } from '@smpsim/core';
import type { CpuApi } from './api.js';

export interface WorkloadOptions {
  readonly cpus: number;
  readonly procs: number;
  /** Operations per CPU (the workload defines what one op is); 0 = until the deadline. */
  readonly ops: number;
  readonly seed: number;
  /** Free-form parameters from `--param key=value` and the configuration file. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

/** A parameter a workload takes (`--param key=value`), with its default. */
export interface WorkloadParam {
  readonly default: string | number | boolean;
  readonly description: string;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /**
   * The parameters it takes. When declared, `--param` refuses any other key (exit status 2); a
   * workload without the declaration gets every parameter it is given.
   */
  readonly params?: Readonly<Record<string, WorkloadParam>>;
  /**
   * 'owned-words': every word of every file has one writer, which records its writes with
   * api.ownStore; the end-of-run check compares the backing store with them. 'none': no such check.
   */
  readonly oracle: 'owned-words' | 'none';
  /** The files the machine needs. */
  files(o: WorkloadOptions): FileSpec[];
  /**
   * The physical memory (bytes) a run of it gets when the user gives no `--memory`; without it, the
   * machine's default (64 MiB).
   */
  memoryBytes?(o: WorkloadOptions): number;
  /**
   * Ops per CPU of a stress campaign's runs when the user gives neither `--ops` nor `--duration`, for a
   * workload whose op costs far more than most (msync-region's is an msync of a whole region); without
   * it, stress's 20 000.
   */
  readonly defaultOps?: number;
  /** Runs one CPU's task; loops while api.running(). May return a JSON-able result. */
  run(api: CpuApi): unknown;
}

/** Refuses parameters the workload does not declare (WorkloadError, exit status 2). */
export function checkParams(w: Workload, params: Readonly<Record<string, unknown>>): void {
  if (!w.params) return;
  const known = Object.keys(w.params);
  for (const k of Object.keys(params)) {
    if (!known.includes(k)) {
      throw new WorkloadError(`workload ${w.name} has no parameter '${k}' (${known.length ? `its parameters: ${known.join(', ')}` : 'it takes none'})`);
    }
  }
}

/** The memory `w` asks for with these options (bytes), or null when it leaves it to the machine. */
export function workloadMemory(w: Workload, o: WorkloadOptions): number | null {
  if (!w.memoryBytes) return null;
  try {
    return w.memoryBytes(o);
  } catch (e) {
    throw new WorkloadError(`workload ${w.name}: memoryBytes(): ${(e as Error).message}`);
  }
}

/**
 * The files a run of `w` needs, after checking its parameters. A workload that refuses the
 * configuration (too few CPUs, a bad parameter value) is a WorkloadError naming it.
 */
export function workloadFiles(w: Workload, o: WorkloadOptions): FileSpec[] {
  checkParams(w, o.params);
  try {
    return w.files(o);
  } catch (e) {
    throw new WorkloadError(`workload ${w.name}: files(): ${(e as Error).message}`);
  }
}

/** Runtime guard for modules named with --workload PATH. */
export function isWorkload(x: unknown): x is Workload {
  if (typeof x !== 'object' || x === null) return false;
  const w = x as Record<string, unknown>;
  return (
    typeof w.name === 'string' &&
    typeof w.run === 'function' &&
    typeof w.files === 'function' &&
    (w.oracle === 'owned-words' || w.oracle === 'none') &&
    (w.params === undefined || (typeof w.params === 'object' && w.params !== null))
  );
}

/** Built-in workloads by name: module specifiers resolved relative to this file. */
export const BUILTIN_WORKLOADS: Readonly<Record<string, string>> = {
  'tlb-hit': './workloads/tlb-hit.js',
  'page-fault3': './workloads/page-fault3.js',
  'dirty-share': './workloads/dirty-share.js',
  'msync-race': './workloads/msync-race.js',
  'mprotect-race': './workloads/mprotect-race.js',
  'write-notify': './workloads/write-notify.js',
  'msync-region': './workloads/msync-region.js',
  'shootdown': './workloads/shootdown.js',
  'db-checkpoint': './workloads/db-checkpoint.js',
  'rtorrent': './workloads/rtorrent.js',
  'mixed-io': './workloads/mixed-io.js',
  'remap-commit': './workloads/remap-commit.js',
};

export class WorkloadError extends Error {
  override readonly name = 'WorkloadError';
}

/** The module URL for a workload name or path (a path must exist). */
export async function resolveWorkload(nameOrPath: string, cwd: string): Promise<string> {
  const b = BUILTIN_WORKLOADS[nameOrPath];
  if (b) return new URL(b, import.meta.url).href;
  if (!/[\\/.]/.test(nameOrPath)) {
    throw new WorkloadError(`unknown workload '${nameOrPath}' (built in: ${Object.keys(BUILTIN_WORKLOADS).join(', ')}; or a path to a module)`);
  }
  const { pathToFileURL } = await import('node:url');
  const { resolve } = await import('node:path');
  const { existsSync } = await import('node:fs');
  const p = resolve(cwd, nameOrPath);
  if (!existsSync(p)) throw new WorkloadError(`workload module not found: ${p}`);
  return pathToFileURL(p).href;
}

/** Imports a workload module and checks its shape. */
export async function loadWorkload(url: string): Promise<Workload> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new WorkloadError(`workload module ${url} failed to load: ${(e as Error).message}`);
  }
  const w = mod.default ?? mod.workload;
  if (!isWorkload(w)) throw new WorkloadError(`workload module ${url} does not export a workload (default export with name, oracle, files() and run())`);
  return w;
}
