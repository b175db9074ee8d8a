/**
 * Helpers for workloads whose CPUs are threads of processes sharing one mapping (db-checkpoint,
 * rtorrent, mixed-io, remap-commit): where a CPU sits among its process's threads, one mapping set up
 * by one thread and published to the others, parameter parsing with one-line errors, the hand-off
 * word, the owned-word rule (dirty-share's too), and SIGSEGV recognition.
 *
 * With `--procs P`, CPU c runs a thread of process c mod P; its thread number in the process is
 * floor(c / P), so thread 0 of process p is CPU p.
 */
import { SegvError, WORDS_PER_PAGE } from '@smpsim/core';
import type { CpuApi } from '../api.js';

/** How many CPUs (threads) process `proc` has. */
export function threadsOf(cpus: number, procs: number, proc: number): number {
  return proc < cpus ? Math.floor((cpus - 1 - proc) / procs) + 1 : 0;
}

/** CPU c's thread number within its process. */
export const threadOf = (cpu: number, procs: number): number => Math.floor(cpu / procs);

/**
 * An integer parameter in [min, max], its default when absent. Throws an Error with a one-line message
 * (files() turns it into a WorkloadError: exit status 2).
 */
export function intParam(p: Readonly<Record<string, unknown>>, key: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = p[key];
  if (raw === undefined) return def;
  const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`param ${key} must be an integer in ${min}..${max === Number.MAX_SAFE_INTEGER ? '' : max}, got '${String(raw)}'`);
  }
  return v;
}

/** A boolean parameter (true/false, 1/0), its default when absent. */
export function boolParam(p: Readonly<Record<string, unknown>>, key: string, def: boolean): boolean {
  const raw = p[key];
  if (raw === undefined) return def;
  if (raw === true || raw === 'true' || raw === 1 || raw === '1') return true;
  if (raw === false || raw === 'false' || raw === 0 || raw === '0') return false;
  throw new Error(`param ${key} must be true or false, got '${String(raw)}'`);
}

/**
 * The process's one shared mapping: thread 0 creates it with `map()` and publishes its first VPN in
 * shared word `slot`; the other threads wait for it. Returns the mapping's address.
 */
export function sharedMapping(api: CpuApi, slot: number, map: () => number): number {
  if (threadOf(api.cpu, api.procs) === 0) {
    const addr = map();
    api.shared.store(slot, addr / api.pageSize);
    return addr;
  }
  const vpn = api.shared.load(slot);
  return (vpn !== 0 ? vpn : api.shared.waitWhile(slot, 0)) * api.pageSize;
}

/**
 * A hand-off word: a shared word CPUs step through by atomic increments only (mixed-io's pairs,
 * remap-commit's rounds). A CPU that stops (out of ops or time, or the machine stops) adds STOPPED on
 * every way out, so its partner's wait ends and no later increment hides the stop.
 */
export const STOPPED = 1 << 28;

/** Waits while hand-off word `slot` holds `now`; the step it reached, and whether a partner stopped. */
export function waitPast(api: CpuApi, slot: number, now: number): { step: number; stopped: boolean } {
  const v = api.shared.waitWhile(slot, now);
  return { step: v % STOPPED, stopped: v >= STOPPED };
}

/**
 * The owned-word rule of the sharing workloads: of `n` writers, writer `w` owns words w, w + n,
 * w + 2n, ... of every page (no word has two owners, so the owned-word oracle is exact). How many
 * that is per page; 0 for a CPU that is no writer (w < 0).
 */
export const ownedPerPage = (w: number, n: number): number => (w < 0 ? 0 : Math.floor((WORDS_PER_PAGE - w - 1) / n) + 1);

/** The access was refused (SIGSEGV: the range is unmapped or read-only just now); anything else rethrown. */
export function segv(e: unknown): true {
  if (e instanceof SegvError) return true;
  throw e;
}

/** The `writenotify` parameter of a workload with one shared file (default on). */
export const WRITENOTIFY_PARAM = { default: true, description: 'the file accounts dirty pages (write notification); false: dirty state lives in PTE D bits' } as const;

/** The one file of `pages` pages such a workload maps: write-notify unless `writenotify` is false. */
export const oneFile = (c: { pages: number; writenotify: boolean }) => [{ pages: c.pages, accountDirty: c.writenotify, mmapHookChangesProt: false }];
