/**
 * The command lines the harness prints for a user to run again: the run (`reproduceLine`, in every
 * summary and record), the campaign (`campaignLine`, a campaign's identity in its JSONL records) and
 * the replay of a schedule string (`replayLine`). Users and tests compare them character for
 * character: the reproduce line is derived from the run-option table, each flag at its `at` rank and,
 * unless its row says otherwise, only when the value is not the default.
 */
import { flagText, longFlag } from './run-option-row.js';
import { RUN_OPTION_ROWS, type RunKey, type RunOptions } from './run-options.js';

const IN_LINE = RUN_OPTION_ROWS.filter(([, r]) => r.reproduce).sort(([, a], [, b]) => a.reproduce!.at - b.reproduce!.at);

const same = (a: unknown, b: unknown) => a === b || (typeof a === 'object' && a !== null && JSON.stringify(a) === JSON.stringify(b));

/** The command line that repeats a run (`leaveOut`: options the line does not name, e.g. those a portfolio draws). */
export function reproduceLine(o: RunOptions, leaveOut?: ReadonlySet<RunKey>): string {
  const a = ['npx smpsim run'];
  for (const [key, row] of IN_LINE) {
    const r = row.reproduce!;
    if (leaveOut?.has(key)) continue;
    if (!(r.when ? r.when(o) : !same(o[key], row.default))) continue;
    const flag = longFlag(row);
    for (const arg of r.args ? r.args(o) : [flagText(row, o[key])]) a.push(arg === '' ? flag : `${flag} ${arg}`);
  }
  return a.join(' ');
}

/**
 * The stress command of a campaign's configuration (its identity in the JSONL records). A portfolio
 * campaign: `--portfolio [WEIGHTS]` and only the options it does not draw. The line runs the same
 * campaign again: stress itself sets what a command line leaves out (its perturbation and checkpoint
 * defaults; a bug's tuning), so the line states a perturbation or checkpoint interval of 0, and a
 * campaign with bugs and one configuration says `--no-tune` (every tuned value is in the line already).
 */
export function campaignLine(o: RunOptions, portfolio?: { drawn: ReadonlySet<RunKey>; weights: string }): string {
  const head = portfolio ? `npx smpsim stress --portfolio${portfolio.weights ? ` ${portfolio.weights}` : ''}` : 'npx smpsim stress';
  const stated: string[] = [];
  if (!portfolio?.drawn.has('perturb') && !o.perturb && o.mode !== 'deterministic') stated.push('--perturb 0');
  if (!portfolio?.drawn.has('checkEvery') && !o.checkEvery) stated.push('--check-every 0');
  if (!portfolio && o.bugs.length > 0) stated.push('--no-tune');
  return [reproduceLine(o, portfolio?.drawn).replace(/^npx smpsim run/, head), ...stated].join(' ');
}

/** The command that replays a schedule string. */
export const replayLine = (schedule: string): string => `npx smpsim replay '${schedule}'`;
