/**
 * Campaign results: the JSONL run records a stress campaign writes (one line per finished run), reading
 * them back (for --resume and merge), and the campaign summary computed from them — the object
 * `smpsim stress --json`, `smpsim merge --json` and `runCampaign()` return.
 */
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from './parse.js';
import { runSignatures, violationSignature } from './signature.js';
import { countersOf, counterOf, type CounterValues, type RunSummary } from './summary.js';

/** The counters a record keeps of its run's summary, by their CTR names, in the record's shape. */
const RECORD_COUNTERS = {
  ops: 'ops',
  accesses: 'accesses',
  faults: { notPresent: 'faultsNotPresent', writeNotify: 'faultsWriteNotify' },
  ipisSent: 'ipisSent',
  pagesWritten: 'pagesWritten',
  evicted: 'evicted',
} as const;

/** One line of a campaign's JSONL file. */
export interface RunRecord {
  /** Run index within the campaign (0-based); run i belongs to shard (i mod N) + 1 of N. */
  index: number;
  /** The run's seed: deriveSeed(base, index). */
  seed: number;
  /** The campaign's base seed. */
  base: number;
  ok: boolean;
  /** Each with its signature (signature.ts); records of older versions have none, and get one from the message. */
  violations: Array<{ kind: string; message: string; signature?: string }>;
  /** A portfolio campaign: what was drawn for this run (portfolio.ts), e.g. { workload: 'msync-race', cpus: 3 }. */
  drawn?: Record<string, unknown>;
  /** The command that repeats this run. */
  reproduce: string;
  /** Deterministic mode, a failing run: the command that replays its schedule string. */
  replay?: string;
  /** Host wall time of the run, ms. */
  hostMs: number;
  /** When the run finished (ms since the epoch). */
  finishedAt: number;
  /** The campaign's identity: the stress command of its configuration and base seed. */
  campaign: string;
  stats: (CounterValues<typeof RECORD_COUNTERS> & { simCycles: number; workloadMs: number }) | null;
}

export const RUN_RECORD = z.looseObject({
  index: z.int().min(0),
  seed: z.int(),
  base: z.int(),
  ok: z.boolean(),
  violations: z.array(z.looseObject({ kind: z.string(), message: z.string() })),
  reproduce: z.string(),
  hostMs: z.number().min(0),
  finishedAt: z.number(),
  campaign: z.string(),
});

export function recordFromSummary(index: number, base: number, campaign: string, s: RunSummary, hostMs: number, drawn?: Record<string, unknown>): RunRecord {
  const st = s.stats;
  return {
    index,
    seed: s.seed,
    base,
    ok: s.ok,
    violations: s.violations.map((v) => ({ kind: v.kind, message: v.message, signature: violationSignature(v) })),
    ...(drawn ? { drawn } : {}),
    reproduce: s.reproduce,
    ...(!s.ok && s.schedule?.replay ? { replay: s.schedule.replay } : {}),
    hostMs,
    finishedAt: Date.now(),
    campaign,
    stats: { ...countersOf(RECORD_COUNTERS, (n) => counterOf(st, n)), simCycles: st.simCycles, workloadMs: st.workloadMs },
  };
}

export interface CampaignSummary {
  /** The stress command of the campaign's configuration and base seed (without runs, time, jobs, shard). */
  campaign: string;
  baseSeed: number;
  /** 'K/N' when this was one shard; null for a whole campaign or a merge. */
  shard: string | null;
  /** Runs in the summary (including those read back by --resume). */
  runs: number;
  ok: number;
  /** Runs that found at least one violation. */
  failed: number;
  /** Runs taken from the --out file by --resume instead of being run again. */
  resumed: number;
  /** Runs with at least one violation of each kind. */
  violations: Record<string, number>;
  /** The failing run with the lowest index. */
  firstViolation: { index: number; seed: number; kind: string; message: string; reproduce: string; replay?: string } | null;
  /**
   * The distinct findings: runs grouped by violation signature (signature.ts), most frequent first;
   * for each, the runs that had it, the first of them and its reproducer.
   */
  findings: Finding[];
  /** Seeds of the runs, in run-index order. */
  seeds: number[];
  /** Host wall time of the campaign, ms (for a merge: from the first run's start to the last run's end). */
  hostMs: number;
  /** Runs executed per second of host time (not counting resumed runs). */
  runsPerSec: number;
  /** Why it ended: every run done, a violation (without --keep-going), --time used up, interrupted, or a merge. */
  stopped: 'complete' | 'violation' | 'time' | 'interrupted' | 'merged';
  /** A portfolio campaign: the workloads drawn from with their weights, the options drawn, the workloads left out and why. */
  portfolio?: { weights: Record<string, number>; drawn: string[]; excluded: Array<{ workload: string; why: string }> };
}

/** One distinct finding of a campaign. */
export interface Finding {
  signature: string;
  kind: string;
  /** Runs with at least one violation of this signature. */
  runs: number;
  /** The first such run (lowest index): its index, seed, message's first line and reproducer. */
  first: { index: number; seed: number; message: string; reproduce: string; replay?: string; drawn?: Record<string, unknown> };
}

/** Groups failing runs by the signatures of their violations (a run with two signatures counts in both). */
export function findingsOf(records: readonly RunRecord[]): Finding[] {
  const by = new Map<string, Finding>();
  for (const r of [...records].sort((a, b) => a.index - b.index)) {
    if (r.ok) continue;
    for (const sig of runSignatures(r.violations)) {
      const f = by.get(sig);
      if (f) {
        f.runs++;
        continue;
      }
      const v = r.violations.find((x) => (x.signature ?? violationSignature(x)) === sig)!;
      by.set(sig, {
        signature: sig,
        kind: v.kind,
        runs: 1,
        first: { index: r.index, seed: r.seed, message: v.message.split('\n')[0]!, reproduce: r.reproduce, ...(r.replay ? { replay: r.replay } : {}), ...(r.drawn ? { drawn: r.drawn } : {}) },
      });
    }
  }
  return [...by.values()].sort((a, b) => b.runs - a.runs || a.first.index - b.first.index);
}

export function summarizeRecords(
  records: RunRecord[],
  info: { campaign: string; baseSeed: number; shard: string | null; resumed: number; executed: number; hostMs: number; stopped: CampaignSummary['stopped'] },
): CampaignSummary {
  const sorted = [...records].sort((a, b) => a.index - b.index);
  const violations: Record<string, number> = {};
  let first: CampaignSummary['firstViolation'] = null;
  let ok = 0;
  for (const r of sorted) {
    if (r.ok) {
      ok++;
      continue;
    }
    for (const k of new Set(r.violations.map((v) => v.kind))) violations[k] = (violations[k] ?? 0) + 1;
    if (!first) {
      const v = r.violations[0] ?? { kind: 'unknown', message: '' };
      first = { index: r.index, seed: r.seed, kind: v.kind, message: v.message, reproduce: r.reproduce, ...(r.replay ? { replay: r.replay } : {}) };
    }
  }
  return {
    campaign: info.campaign,
    baseSeed: info.baseSeed,
    shard: info.shard,
    runs: sorted.length,
    ok,
    failed: sorted.length - ok,
    resumed: info.resumed,
    violations,
    firstViolation: first,
    findings: findingsOf(sorted),
    seeds: sorted.map((r) => r.seed),
    hostMs: info.hostMs,
    runsPerSec: info.hostMs > 0 ? Math.round((info.executed / (info.hostMs / 1000)) * 100) / 100 : 0,
    stopped: info.stopped,
  };
}

/** The human-readable closing summary. */
export function formatCampaign(s: CampaignSummary): string {
  const what = s.stopped === 'merged' ? 'merge' : `stress${s.shard ? ` shard ${s.shard}` : ''}`;
  const lines = [
    `smpsim ${what}: ${s.runs} run(s), ${s.ok} ok, ${s.failed} with violations${s.resumed ? ` (${s.resumed} resumed from the file)` : ''}`,
    `  campaign: ${s.campaign}`,
    ...(s.portfolio ? [`  portfolio: ${Object.entries(s.portfolio.weights).map(([w, n]) => `${w} ${n}`).join(', ')}; drawn: ${s.portfolio.drawn.join(', ')}${s.portfolio.excluded.length ? `; left out: ${s.portfolio.excluded.map((x) => `${x.workload} (${x.why})`).join(', ')}` : ''}`] : []),
    `  host: ${(s.hostMs / 1000).toFixed(2)} s, ${s.runsPerSec.toFixed(2)} runs/s${s.stopped === 'complete' || s.stopped === 'merged' ? '' : `; stopped: ${s.stopped === 'violation' ? 'at the first violation (--keep-going runs on)' : s.stopped === 'time' ? '--time used up' : 'interrupted'}`}`,
  ];
  const kinds = Object.entries(s.violations).sort((a, b) => b[1] - a[1]);
  if (kinds.length) {
    lines.push('  violations by kind (runs):');
    for (const [k, n] of kinds) lines.push(`    ${k.padEnd(12)} ${n}`);
  } else lines.push('  no violation');
  if (s.firstViolation) {
    const f = s.firstViolation;
    lines.push(`  first violation: run ${f.index} (seed ${f.seed}): ${f.kind}: ${f.message.split('\n')[0]}`);
    lines.push(`  reproduce: ${f.reproduce}`);
    if (f.replay) lines.push(`  replay: ${f.replay}`);
  }
  if (s.findings.length) {
    lines.push(`  ${s.findings.length} distinct finding${s.findings.length === 1 ? '' : 's'} (runs, first run, reproducer):`);
    for (const f of s.findings) {
      lines.push(`    ${f.runs} run(s), first run ${f.first.index} (seed ${f.first.seed}): ${f.signature}`);
      lines.push(`      reproduce: ${f.first.reproduce}`);
      if (f.first.replay) lines.push(`      replay: ${f.first.replay}`);
    }
  }
  return lines.join('\n');
}

/**
 * Reads a campaign's JSONL file. A last line cut short (the campaign was killed while writing it) is
 * ignored, and with `repair` cut off the file so that appending goes on cleanly. Any other bad line is
 * an error naming the file and line.
 */
export function readRecords(path: string, opts: { repair?: boolean } = {}): RunRecord[] {
  if (!existsSync(path)) return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lines = text.split('\n');
  const out: RunRecord[] = [];
  let offset = 0;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const last = n === lines.length - 1;
    const start = offset;
    offset += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (last) {
        // The final line has no newline and does not parse: a write cut short.
        if (opts.repair) {
          const fd = openSync(path, 'r+');
          try {
            ftruncateSync(fd, start);
          } finally {
            closeSync(fd);
          }
        }
        break;
      }
      throw new UsageError(`${path} line ${n + 1}: not JSON`);
    }
    const r = RUN_RECORD.safeParse(parsed);
    if (!r.success) {
      const i = r.error.issues[0]!;
      throw new UsageError(`${path} line ${n + 1}: not a run record (${i.path.join('.') || 'record'}: ${i.message})`);
    }
    out.push(r.data as unknown as RunRecord);
  }
  return out;
}

/** Appends records to a JSONL file, each written and flushed to disk as it comes. */
export class RecordWriter {
  private fd: number;

  constructor(readonly path: string, opts: { truncate: boolean }) {
    try {
      this.fd = openSync(path, opts.truncate ? 'w' : 'a+');
    } catch (e) {
      throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    // A complete last record without its newline: end the line before appending.
    const size = fstatSync(this.fd).size;
    if (size > 0) {
      const b = Buffer.alloc(1);
      readSync(this.fd, b, 0, 1, size - 1);
      if (b[0] !== 0x0a) writeSync(this.fd, '\n');
    }
  }

  write(r: RunRecord): void {
    writeSync(this.fd, JSON.stringify(r) + '\n');
    fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
