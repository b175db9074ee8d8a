/**
 * Parsers for command-line values (each throws UsageError with one clear line), and the formatters
 * that write a value back the way its parser reads it.
 */
import { type CostModel, type DaemonConfig, DEFAULT_COSTS, DEFAULT_DAEMONS } from '@smpsim/core';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseIntStrict(v: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`${what} must be an integer, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`${what} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** "20s", "500ms", "2m", "1.5" (seconds) -> milliseconds. */
export function parseDuration(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new UsageError(`${what} must be a duration like 500ms, 20s or 2m, got '${v}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'us' || unit === 'µs' ? n / 1000 : unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  // microsecond resolution: timed mode's durations are simulated, and often below a millisecond
  const r = Math.round(ms * 1000) / 1000;
  if (!(r > 0)) throw new UsageError(`${what} must be positive, got '${v}'`);
  return r;
}

/** "64M", "1G", "512K", "4096" (bytes) -> bytes. */
export function parseSize(v: string, what: string): number {
  const m = /^(\d+)\s*([KMGT]i?B?|B)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`${what} must be a size like 64M or 1G, got '${v}'`);
  const n = Number(m[1]);
  const u = (m[2] ?? 'B').toUpperCase()[0];
  const mult = u === 'K' ? 1024 : u === 'M' ? 1024 ** 2 : u === 'G' ? 1024 ** 3 : u === 'T' ? 1024 ** 4 : 1;
  return n * mult;
}

/** "16x4" or "16x4,128x12" -> TLB levels. */
export function parseTlb(v: string): { l1: { sets: number; ways: number }; l2: { sets: number; ways: number } | null } {
  const parts = v.split(',').map((p) => {
    const m = /^(\d+)x(\d+)$/.exec(p.trim());
    if (!m) throw new UsageError(`--tlb must be SETSxWAYS or L1SETSxWAYS,L2SETSxWAYS (e.g. 16x4,128x12), got '${v}'`);
    return { sets: Number(m[1]), ways: Number(m[2]) };
  });
  if (parts.length > 2) throw new UsageError(`--tlb takes at most two levels, got '${v}'`);
  return { l1: parts[0]!, l2: parts[1] ?? null };
}

/** A probability from 0 to 1 (`open`: above 0). */
export function parseProbability(v: string, what: string, open: boolean): number {
  const p = Number(v);
  if (open ? !(p > 0 && p <= 1) : !(p >= 0 && p <= 1)) throw new UsageError(`${what} must be a probability ${open ? 'in (0, 1]' : 'from 0 to 1'}, got '${v}'`);
  return p;
}

/** TLB levels -> "16x4" or "16x4,128x12" (what parseTlb reads). */
export function formatTlb(t: { l1: { sets: number; ways: number }; l2: { sets: number; ways: number } | null }): string {
  const level = (g: { sets: number; ways: number }) => `${g.sets}x${g.ways}`;
  return `${level(t.l1)}${t.l2 ? ',' + level(t.l2) : ''}`;
}

/** Bytes -> "64M" (the largest unit that divides them; what parseSize reads). */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= mult && bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}

/** Milliseconds -> "5s" or "500ms" (what parseDuration reads). */
export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** "1,2,4,8" -> [1,2,4,8]. */
export function parseList(v: string, what: string, min: number, max: number): number[] {
  const out = v.split(',').map((x) => parseIntStrict(x, what, min, max));
  if (out.length === 0) throw new UsageError(`${what} needs at least one value`);
  return out;
}

/** "key=value" -> [key, typed value]. */
export function parseParam(v: string): [string, string | number | boolean] {
  const i = v.indexOf('=');
  if (i <= 0) throw new UsageError(`--param must be key=value, got '${v}'`);
  const k = v.slice(0, i);
  const raw = v.slice(i + 1);
  const val = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  return [k, val];
}

/** `--daemon key=value` settings, checked against DaemonConfig's fields. */
export function parseDaemons(list: readonly string[]): Partial<DaemonConfig> {
  const out: Record<string, number | boolean> = {};
  for (const item of list) {
    const [k, v] = parseParam(item);
    if (!(k in DEFAULT_DAEMONS)) throw new UsageError(`--daemon: unknown setting '${k}' (one of: ${Object.keys(DEFAULT_DAEMONS).join(', ')})`);
    const want = typeof DEFAULT_DAEMONS[k as keyof DaemonConfig];
    if (typeof v !== want || (typeof v === 'number' && !(v >= 0))) throw new UsageError(`--daemon ${k} must be a ${want === 'number' ? 'non-negative number' : want}, got '${v}'`);
    out[k] = v as number | boolean;
  }
  return out as Partial<DaemonConfig>;
}

/** `--cost key=value` settings, checked against the cost model's fields. */
export function parseCosts(list: readonly string[]): Partial<CostModel> {
  const out: Record<string, number> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    const k = item.slice(0, i);
    const v = Number(item.slice(i + 1));
    if (i <= 0 || !(k in DEFAULT_COSTS)) throw new UsageError(`--cost must be key=value with key one of ${Object.keys(DEFAULT_COSTS).join(', ')}, got '${item}'`);
    if (!(Number.isFinite(v) && v >= 0)) throw new UsageError(`--cost ${k} must be a non-negative number of cycles, got '${item.slice(i + 1)}'`);
    out[k] = v;
  }
  return out as Partial<CostModel>;
}
