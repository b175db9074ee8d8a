/**
 * `smpsim difftest`: each trace run on the host kernel (host.ts) and on smpsim (sim.ts), compared op by
 * op (compare.ts); a trace with an unexplained difference is shrunk — ops dropped one at a time, last
 * first, while the shorter trace still differs at an op of the same kind — to the shortest such trace.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KERNEL_PRESETS, type KernelPreset, type MsyncScope } from '@smpsim/core';
import { UsageError } from '../parse.js';
import { compareRuns, type OpComparison, unexplained } from './compare.js';
import { type HostInfo, runTraceHost } from './host.js';
import { randomTrace } from './random.js';
import { runTraceSim } from './sim.js';
import { formatTrace, parseTrace, type Trace, type TraceLine } from './trace.js';

/** The traces shipped with smpsim (packages/harness/difftest/traces). */
export const SHIPPED_TRACES = fileURLToPath(new URL('../../difftest/traces/', import.meta.url));

export interface DifftestOptions {
  runner: string;
  dir: string;
  kernel: KernelPreset;
  msyncScope?: MsyncScope;
}

export interface TraceReport {
  trace: string;
  ops: number;
  same: number;
  explained: number;
  differs: number;
  /** Explained differences by class (their cause), and unexplained ones by observable ('differs:dirty'). */
  classes: Record<string, number>;
  /** Every op that is not 'same'. */
  notes: OpComparison[];
  /** For a trace that differs: the shortest trace found that still differs, and its comparison. */
  shrunk?: { text: string; comparisons: OpComparison[] };
}

/** Host runs of a trace that seems to differ, beyond the first. */
const HOST_RERUNS = 2;

/** Reads --trace arguments: files, or directories (every *.trace in them). */
export function loadTraces(paths: readonly string[]): Trace[] {
  const out: Trace[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`--trace ${p}: no such file or directory`);
    }
    const files = st.isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.trace'))
          .sort()
          .map((f) => join(p, f))
      : [p];
    if (files.length === 0) throw new UsageError(`--trace ${p}: no .trace files in it`);
    for (const f of files) out.push(parseTrace(readFileSync(f, 'utf8'), f));
  }
  return out;
}

/** Random traces 0..n-1 of base seed `seed`. */
export const randomTraces = (n: number, seed: number, ops: number, weights: Readonly<Record<string, number>>): Trace[] => Array.from({ length: n }, (_, i) => randomTrace(seed, i, ops, weights));

/** Runs one trace on both machines and compares them. */
export function compareTrace(t: Trace, o: DifftestOptions, scratch: string): { info: HostInfo; comparisons: OpComparison[] } {
  // Both machines run the trace as written to the scratch file (comments dropped, so its own line
  // numbers); the comparisons then carry the lines of `t`.
  const file = join(scratch, 'trace');
  const text = formatTrace(t.lines);
  writeFileSync(file, text);
  const run = parseTrace(text, t.name);
  const pages = run.lines[0]!.op === 'file' ? run.lines[0]!.pages : 0;
  const host = runTraceHost(o.runner, file, o.dir, pages);
  const sim = runTraceSim(run, { kernel: o.kernel, ...(o.msyncScope ? { msyncScope: o.msyncScope } : {}) });
  const ctx = { msyncScope: o.msyncScope ?? KERNEL_PRESETS[o.kernel].msyncScope, cachestat: host.info.cachestat };
  let comparisons = compareRuns(run, host.ops, sim, ctx);
  // The host's fault and dirtied counts take the odd extra count now and then (the runner's own
  // pages, measured: 1 run in 300): before calling a difference, run the host twice more and take
  // each op's least count, which noise only ever raises.
  for (let again = 0; again < HOST_RERUNS && unexplained(comparisons).length; again++) {
    const more = runTraceHost(o.runner, file, o.dir, pages).ops;
    host.ops.forEach((h, i) => {
      const m = more[i]!;
      h.faults = Math.min(h.faults, m.faults);
      h.reads = Math.min(h.reads, m.reads);
      if (h.dirtied !== undefined && m.dirtied !== undefined) h.dirtied = Math.min(h.dirtied, m.dirtied);
    });
    comparisons = compareRuns(run, host.ops, sim, ctx);
  }
  comparisons.forEach((c, i) => {
    c.line = t.lines[i]!.line;
  });
  return { info: host.info, comparisons };
}

/** Runs every trace; the host's description and one report per trace. */
export function runDifftest(traces: readonly Trace[], o: DifftestOptions, onTrace?: (r: TraceReport) => void): { host: HostInfo | null; reports: TraceReport[] } {
  const scratch = mkdtempSync(join(o.dir, 'smpsim-difftest-'));
  let host: HostInfo | null = null;
  const reports: TraceReport[] = [];
  try {
    for (const t of traces) {
      const { info, comparisons } = compareTrace(t, o, scratch);
      host = info;
      const bad = unexplained(comparisons);
      const r: TraceReport = {
        trace: t.name,
        ops: comparisons.length,
        same: comparisons.filter((c) => c.verdict === 'same').length,
        explained: comparisons.filter((c) => c.verdict === 'explained').length,
        differs: bad.length,
        classes: {},
        notes: comparisons.filter((c) => c.verdict !== 'same'),
      };
      for (const c of r.notes) {
        const k = c.verdict === 'differs' ? `differs:${c.cls}` : c.cls!;
        r.classes[k] = (r.classes[k] ?? 0) + 1;
      }
      if (bad.length) r.shrunk = shrink(t, bad[0]!, o, scratch);
      reports.push(r);
      onTrace?.(r);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { host, reports };
}

/**
 * The shortest trace found that still differs at an op of the kind of `first`: drops ops after the
 * first difference, then each other op (last first) whose removal keeps a valid trace that still
 * differs that way. The `file` line stays.
 */
function shrink(t: Trace, first: OpComparison, o: DifftestOptions, scratch: string): { text: string; comparisons: OpComparison[] } {
  const kind = t.lines.find((l) => l.line === first.line)!.op;
  const stillDiffers = (lines: readonly TraceLine[]): OpComparison[] | null => {
    let cand: Trace;
    try {
      cand = parseTrace(formatTrace(lines), `${t.name} (shrinking)`);
    } catch {
      return null; // dropping the op made the trace invalid (a slot used before it is mapped)
    }
    const { comparisons } = compareTrace(cand, o, scratch);
    const bad = unexplained(comparisons);
    return bad.some((c) => cand.lines.find((l) => l.line === c.line)!.op === kind) ? comparisons : null;
  };
  // renumbered: formatTrace writes 'version 1' on line 1, so op i is on line i + 2
  let lines = t.lines.slice(0, t.lines.findIndex((l) => l.line === first.line) + 1);
  let best = stillDiffers(lines);
  if (!best) return { text: formatTrace(t.lines), comparisons: compareTrace(t, o, scratch).comparisons };
  for (let i = lines.length - 2; i >= 1; i--) {
    const cand = [...lines.slice(0, i), ...lines.slice(i + 1)];
    const c = stillDiffers(cand);
    if (c) {
      lines = cand;
      best = c;
    }
  }
  return { text: formatTrace(lines), comparisons: best };
}
