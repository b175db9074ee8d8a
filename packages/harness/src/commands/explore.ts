/**
 * `smpsim explore`: how many schedules each strategy needs to find each bug (explore.ts), as a table.
 * `smpsim stress --catalogue` is the same command under its former name (commands/stress.ts).
 */
import type { Command } from 'commander';
import { BUG_IDS, type BugId } from '@smpsim/core';
import { DEFAULT_STRESS_OPS, MAX_JOBS } from '../campaign.js';
import { DEFAULT_MAX_SCHEDULES, DEFAULT_STRATEGIES, DEFAULT_TRIALS, formatExploration, runExploration, STRATEGIES, type Strategy } from '../explore.js';
import { parseIntStrict, UsageError } from '../parse.js';
import { runOptionsFrom } from '../run-flags.js';
import { subcommand } from './common.js';
import { addConfigOption } from './config-option.js';
import { addRunOptions } from './flags.js';

export function registerExplore(p: Command): Command {
  const cmd = addRunOptions(subcommand(p, 'explore').description('deterministic mode: how many schedules each strategy needs to find each bug (a table; every bug unless --bug)'))
    .option('--runs <n>', `schedules per trial at most (default ${DEFAULT_MAX_SCHEDULES})`)
    .option('--trials <n>', 'campaigns per cell, base seeds --seed, --seed+1, ...', String(DEFAULT_TRIALS))
    .option('--strategies <list>', `the strategies to compare (${STRATEGIES.join(', ')})`, DEFAULT_STRATEGIES.join(','))
    .option('--jobs <j>', 'runs at a time (default: host cores; for free, host cores / --cpus, at least 1)');
  addConfigOption(cmd, 'explore');
  return cmd.action((flags, command: Command) => exploreAction(flags, command, 'explore'));
}

/**
 * The action of `smpsim explore` and of its alias `smpsim stress --catalogue`; `name` prefixes the
 * progress lines on stderr (each command keeps its own).
 */
export async function exploreAction(flags: Record<string, any>, command: Command, name: string): Promise<void> {
  if (flags.trace !== undefined) throw new UsageError('--trace records one run: use it with smpsim run or smpsim replay');
  const given = (k: string) => {
    const s = command.getOptionValueSource(k);
    return s !== undefined && s !== 'default';
  };
  const strategies = String(flags.strategies ?? DEFAULT_STRATEGIES.join(','))
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const s of strategies) if (!(STRATEGIES as readonly string[]).includes(s)) throw new UsageError(`--strategies: unknown strategy '${s}' (one of: ${STRATEGIES.join(', ')})`);
  const f = flags.ops === undefined ? { ...flags, ops: String(DEFAULT_STRESS_OPS) } : flags;
  // the scheduler options come from the flags; the mode is chosen per strategy
  const run = runOptionsFrom({ ...f, mode: 'deterministic', duration: undefined });
  const bugs = (flags.bug as string[]).length ? (flags.bug as BugId[]) : [...BUG_IDS];
  const r = await runExploration({
    run,
    given,
    bugs,
    strategies: strategies as Strategy[],
    maxSchedules: flags.runs !== undefined ? parseIntStrict(flags.runs, '--runs', 1) : DEFAULT_MAX_SCHEDULES,
    trials: flags.trials !== undefined ? parseIntStrict(flags.trials, '--trials', 1) : DEFAULT_TRIALS,
    ...(flags.jobs !== undefined ? { jobs: parseIntStrict(flags.jobs, '--jobs', 1, MAX_JOBS) } : {}),
    onCell: (c) => process.stderr.write(`${name}: ${c.bug} / ${c.strategy}: ${c.schedules.map((x) => x ?? '-').join(', ')} (${(c.hostMs / 1000).toFixed(1)} s)\n`),
  });
  process.stdout.write((flags.json ? JSON.stringify(r) : formatExploration(r)) + '\n');
}
