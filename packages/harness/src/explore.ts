/**
 * Schedule exploration as a research table: how many schedules does each strategy need to find each
 * bug? For every bug switch and strategy (deterministic random walk, deterministic PCT, and optionally
 * free mode with seeded perturbation), `trials` campaigns with base seeds `--seed`, `--seed`+1, ...,
 * each tuned as `smpsim stress` tunes it, run schedules 0, 1, 2, ... (on the piscina campaign
 * machinery) until the first one that finds a violation, at most `--runs` of them. A cell gives the
 * median number of schedules to the first failure and how many trials found one.
 *
 *   npx smpsim explore [--strategies random,pct,free] [--runs N] [--trials T] [--ops N] [--bug ID ...] [--json]
 *
 * (`smpsim stress --catalogue` is the same command under its former name.)
 *
 * In deterministic mode the count is exact and repeatable: schedule i of a campaign is run i, whose
 * seed derives from the base seed, and the same flags give the same table. Free mode's counts vary.
 */
import { BUG_CATALOGUE, type BugId } from '@smpsim/core';
import { runCampaign, tuneForStress } from './campaign.js';
import { median } from './median.js';
import type { RunOptions } from './run-options.js';

export type Strategy = 'random' | 'pct' | 'free';
export const STRATEGIES: readonly Strategy[] = ['random', 'pct', 'free'];
/** What `smpsim explore` compares, how many campaigns per cell, and how many schedules per campaign at most, unless told. */
export const DEFAULT_STRATEGIES: readonly Strategy[] = ['random', 'pct'];
export const DEFAULT_TRIALS = 3;
export const DEFAULT_MAX_SCHEDULES = 100;

export interface ExploreCell {
  bug: string;
  strategy: Strategy;
  /** Per trial: schedules run up to and including the first failing one (null: none within the cap). */
  schedules: Array<number | null>;
  /** Violation kinds of the first failures. */
  kinds: Record<string, number>;
  /** Median of `schedules` over the trials that found the bug (null if none did). */
  median: number | null;
  found: number;
  /** The stress command of the cell's first trial. */
  command: string;
  hostMs: number;
}

export interface ExploreResult {
  maxSchedules: number;
  trials: number;
  strategies: Strategy[];
  cells: ExploreCell[];
  hostMs: number;
}

export interface ExploreOptions {
  /** The base configuration (deterministic mode's scheduler options, ops, cpus...). */
  run: RunOptions;
  /** Which option values the user gave (the others follow each bug's stress tuning). */
  given?: (flag: string) => boolean;
  bugs: BugId[];
  strategies: Strategy[];
  /** Schedules per trial at most. */
  maxSchedules: number;
  trials: number;
  jobs?: number;
  onCell?: (c: ExploreCell) => void;
}

/** One trial: schedules 0, 1, ... of a campaign until the first failure; returns its count (or null) and kind. */
async function firstFailure(run: RunOptions, maxSchedules: number, jobs: number | undefined): Promise<{ n: number | null; kind: string | null; command: string }> {
  const stop = new AbortController();
  const done = new Set<number>();
  let firstFail = Infinity;
  const s = await runCampaign({
    run,
    runs: maxSchedules,
    keepGoing: true,
    signal: stop.signal,
    ...(jobs ? { jobs } : {}),
    onRun: (r) => {
      done.add(r.index);
      if (!r.ok) firstFail = Math.min(firstFail, r.index);
      // stop once every schedule before the first failure has finished: the count is exact
      if (firstFail < Infinity) {
        let all = true;
        for (let i = 0; i < firstFail; i++) if (!done.has(i)) all = false;
        if (all) stop.abort();
      }
    },
  });
  const f = s.firstViolation;
  return f ? { n: f.index + 1, kind: f.kind, command: s.campaign } : { n: null, kind: null, command: s.campaign };
}

/** Runs the exploration table. */
export async function runExploration(o: ExploreOptions): Promise<ExploreResult> {
  const t0 = Date.now();
  const cells: ExploreCell[] = [];
  const given = o.given ?? (() => false);
  for (const bug of o.bugs) {
    for (const strategy of o.strategies) {
      const c0 = Date.now();
      const base: RunOptions = strategy === 'free' ? { ...o.run, mode: 'free' } : { ...o.run, mode: 'deterministic', sched: strategy };
      const tuned = tuneForStress({ ...base, bugs: [bug] }, (k) => (given(k) ? 'cli' : undefined));
      const cell: ExploreCell = { bug, strategy, schedules: [], kinds: {}, median: null, found: 0, command: '', hostMs: 0 };
      for (let t = 0; t < o.trials; t++) {
        const r = await firstFailure({ ...tuned, seed: o.run.seed + t }, o.maxSchedules, o.jobs);
        if (t === 0) cell.command = r.command;
        cell.schedules.push(r.n);
        if (r.kind) cell.kinds[r.kind] = (cell.kinds[r.kind] ?? 0) + 1;
      }
      const found = cell.schedules.filter((x): x is number => x !== null);
      cell.found = found.length;
      cell.median = median(found);
      cell.hostMs = Date.now() - c0;
      cells.push(cell);
      o.onCell?.(cell);
    }
  }
  return { maxSchedules: o.maxSchedules, trials: o.trials, strategies: o.strategies, cells, hostMs: Date.now() - t0 };
}

/** The table in Markdown: a row per bug, a column per strategy. */
export function formatExploration(r: ExploreResult): string {
  const head = ['bug', ...r.strategies.map((s) => (s === 'free' ? 'free (perturbed)' : `deterministic ${s}`)), 'found as'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  const bugs = [...new Set(r.cells.map((c) => c.bug))];
  for (const bug of bugs) {
    const row = [`\`${bug}\`${BUG_CATALOGUE[bug as BugId]?.harmful === false ? ' (control)' : ''}`];
    const kinds = new Set<string>();
    for (const s of r.strategies) {
      const c = r.cells.find((x) => x.bug === bug && x.strategy === s);
      if (!c) {
        row.push('');
        continue;
      }
      for (const k of Object.keys(c.kinds)) kinds.add(k);
      const per = c.schedules.map((x) => (x === null ? `>${r.maxSchedules}` : String(x))).join(', ');
      row.push(c.median === null ? `not found in ${r.maxSchedules} (${per})` : `${c.median} (${c.found}/${c.schedules.length} found: ${per})`);
    }
    row.push([...kinds].join(', ') || '—');
    lines.push(`| ${row.join(' | ')} |`);
  }
  lines.push('');
  lines.push(`Median schedules to the first failure over ${r.trials} trial(s) (base seeds --seed .. --seed+${r.trials - 1}), at most ${r.maxSchedules} schedules per trial; ${(r.hostMs / 1000).toFixed(0)} s of host time.`);
  return lines.join('\n');
}
