/** Parsers for command-line values; each throws UsageError with one clear line. */
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
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new UsageError(`${what} must be a duration like 500ms, 20s or 2m, got '${v}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  if (!(ms > 0)) throw new UsageError(`${what} must be positive, got '${v}'`);
  return Math.round(ms);
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
