/**
 * Shrinking (`smpsim shrink '<schedule>'`): searches for a smaller schedule that still fails the same way (the
 * same violation kind), replaying every candidate:
 *
 * 1. fewer ops: halve the ops per CPU while the run still fails, then trim by quarters;
 * 2. fewer CPUs: drop the highest CPU (and the decisions that name it) while the run still fails;
 * 3. fewer context switches: delta debugging (Zeller and Hildebrandt's ddmin) over the decision list,
 *    removing chunks of switches; a CPU the shortened list no longer preempts runs until it blocks.
 *
 * Decisions after the last step of a failing replay are dropped (they are never reached). Every
 * accepted candidate is smaller (ops, CPUs or decisions) than the best so far; the answer is the
 * smallest whose schedule string is no longer than the original's. The search is bounded by
 * host time and by the number of replays; it prints the smallest schedule with its replay command.
 */
import { type Decision, encodeSchedule } from '@smpsim/core';
import { replayLine } from './command-lines.js';
import { UsageError } from './parse.js';
import { CpuWorkerPool, runMachine } from './run.js';
import { DEFAULT_RUN, type RunOptions } from './run-options.js';
import { parseScheduleString, scheduleOptions } from './schedule-options.js';
import type { RunSummary } from './summary.js';

export interface ShrinkOptions {
  /** Host time of the search (default 60 s). */
  timeMs?: number;
  /** Replays at most (default 200). */
  attempts?: number;
  /** Called after each replay. */
  onAttempt?: (info: { attempt: number; accepted: boolean; what: string; ops: number; cpus: number; decisions: number; length: number }) => void;
}

export interface ShrinkSize {
  ops: number;
  cpus: number;
  /** Decisions in the list (the first CPU included). */
  decisions: number;
  /** Length of the schedule string. */
  length: number;
}

export interface ShrinkResult {
  /** The violation kind every accepted candidate reproduces. */
  kind: string;
  original: ShrinkSize;
  shrunk: ShrinkSize;
  /** The smallest failing schedule found, and its replay command. */
  schedule: string;
  replay: string;
  /** Its violation (the first). */
  violation: { kind: string; message: string };
  attempts: number;
  hostMs: number;
  /** Why the search ended. */
  stopped: 'done' | 'time' | 'attempts';
}

interface Candidate {
  run: RunOptions;
  decisions: Decision[];
  string: string;
  summary: RunSummary;
}

const sizeOf = (c: Candidate): ShrinkSize => ({ ops: c.run.ops, cpus: c.run.cpus, decisions: c.decisions.length, length: c.string.length });

/** Shrinks a failing schedule string. Throws UsageError if it is bad or does not fail. */
export async function shrinkSchedule(text: string, o: ShrinkOptions = {}): Promise<ShrinkResult> {
  const t0 = Date.now();
  const timeMs = o.timeMs ?? 60_000;
  const maxAttempts = o.attempts ?? 200;
  const parsed = parseScheduleString(text);
  const base: RunOptions = { ...DEFAULT_RUN, ...parsed.run, params: { ...(parsed.run.params ?? {}) } };
  const pool = new CpuWorkerPool();
  let attempts = 0;
  let stopped: ShrinkResult['stopped'] = 'done';
  try {
    const first = await runMachine({ ...base, replay: parsed.schedule.decisions }, pool);
    attempts++;
    if (first.ok) throw new UsageError('the schedule does not fail: nothing to shrink');
    const kind = first.violations[0]!.kind;
    const trim = (d: readonly Decision[], steps: number) => d.filter((x) => x.step <= steps);
    const make = (run: RunOptions, decisions: Decision[], summary: RunSummary): Candidate => {
      const ds = trim(decisions, summary.schedule?.steps ?? Infinity);
      return { run, decisions: ds, summary, string: encodeSchedule({ options: scheduleOptions(run, summary.traceHash ?? null), decisions: ds }) };
    };
    let best = make(base, [...parsed.schedule.decisions], first);
    const original = { ...sizeOf(best), length: text.trim().length };
    if (best.string.length > original.length) best = { ...best, string: text.trim() };
    let fit = best;

    const budgetLeft = () => {
      if (attempts >= maxAttempts) {
        stopped = 'attempts';
        return false;
      }
      if (Date.now() - t0 >= timeMs) {
        stopped = 'time';
        return false;
      }
      return true;
    };
    /** Replays a candidate; accepts it if it fails the same way and is no longer. */
    const tryCandidate = async (run: RunOptions, decisions: Decision[], what: string): Promise<boolean> => {
      attempts++;
      let s: RunSummary;
      try {
        s = await runMachine({ ...run, replay: decisions }, pool);
      } catch (e) {
        if (e instanceof UsageError) return false;
        throw e;
      }
      let accepted = false;
      if (!s.ok && s.violations[0]?.kind === kind) {
        const c = make(run, decisions, s);
        const b = sizeOf(best);
        const n = sizeOf(c);
        const smaller = n.ops < b.ops || n.cpus < b.cpus || n.decisions < b.decisions;
        if (smaller) {
          best = c;
          accepted = true;
          // the answer is the smallest candidate whose string is no longer than the original (deflate
          // can make a candidate with fewer ops a few characters longer; later ones are shorter)
          if (n.length <= original.length) fit = c;
        }
      }
      o.onAttempt?.({ attempt: attempts, accepted, what, ...sizeOf(best) });
      return accepted;
    };

    // 1. fewer ops
    while (best.run.ops > 1 && budgetLeft()) {
      if (!(await tryCandidate({ ...best.run, ops: Math.max(1, Math.floor(best.run.ops / 2)) }, best.decisions, 'halve ops'))) break;
    }
    for (let k = 0; k < 3 && best.run.ops > 4 && budgetLeft(); k++) {
      if (!(await tryCandidate({ ...best.run, ops: Math.max(1, Math.floor((best.run.ops * 3) / 4)) }, best.decisions, 'ops -25%'))) break;
    }
    // 2. fewer CPUs
    while (best.run.cpus > Math.max(1, best.run.procs) && budgetLeft()) {
      const cpus = best.run.cpus - 1;
      const ds = best.decisions.filter((d) => d.cpu < cpus);
      if (!(await tryCandidate({ ...best.run, cpus }, ds, 'drop a CPU'))) break;
    }
    // 3. fewer context switches: ddmin over the decisions after the first (which names the first CPU)
    // Chunks of decreasing size: at each size, walk the list and drop every chunk whose removal
    // still fails; then halve the size, down to single decisions.
    let chunk = Math.max(1, Math.ceil((best.decisions.length - 1) / 2));
    let pos = 0;
    while (budgetLeft() && best.decisions.length > 1) {
      const rest = best.decisions.slice(1);
      if (pos >= rest.length) {
        if (chunk === 1) break;
        chunk = Math.ceil(chunk / 2);
        pos = 0;
        continue;
      }
      const without = [...rest.slice(0, pos), ...rest.slice(pos + chunk)];
      const ok = await tryCandidate(best.run, [best.decisions[0]!, ...without], `drop decisions ${pos + 1}..${Math.min(rest.length, pos + chunk)}`);
      if (!ok) pos += chunk;
    }
    const v = fit.summary.violations[0]!;
    return {
      kind,
      original,
      shrunk: sizeOf(fit),
      schedule: fit.string,
      replay: replayLine(fit.string),
      violation: { kind: v.kind, message: v.message },
      attempts,
      hostMs: Date.now() - t0,
      stopped,
    };
  } finally {
    await pool.close();
  }
}

const fmtSize = (s: ShrinkSize) => `${s.ops} ops x ${s.cpus} CPUs, ${s.decisions} decisions, ${s.length} characters`;

export function formatShrink(r: ShrinkResult): string {
  return [
    `smpsim shrink: ${r.kind}, ${r.attempts} replays in ${(r.hostMs / 1000).toFixed(1)} s${r.stopped === 'done' ? '' : ` (stopped: ${r.stopped === 'time' ? '--time used up' : '--attempts used up'})`}`,
    `  original: ${fmtSize(r.original)}`,
    `  shrunk:   ${fmtSize(r.shrunk)}`,
    `  violation: ${r.violation.kind}: ${r.violation.message.split('\n')[0]}`,
    `schedule: ${r.schedule}`,
    `replay: ${r.replay}`,
  ].join('\n');
}
