/**
 * The run flags as commander options, one per row of the run-option table (run-options.ts), in its
 * order: `--help` shows each row's flag, description, choices and default.
 */
import { Command, Option } from 'commander';
import { runOptionsFrom } from '../run-flags.js';
import { type AnyRow, longFlag, shownDefault } from '../run-option-row.js';
import { RUN_OPTION_ROWS, RUN_OPTIONS, type RunKey, type RunOptions } from '../run-options.js';
import { collect } from './common.js';

/** The commander option of run option `key`; `as` changes its help (bench's own wording, no default shown). */
export function runOption(key: RunKey, as: { description?: string; noDefault?: true } = {}): Option {
  const row = RUN_OPTIONS[key] as AnyRow;
  const opt = new Option(row.flag, as.description ?? row.description);
  if (row.choices) opt.choices(row.choices);
  if (row.list) return opt.argParser(collect).default([]);
  const shown = as.noDefault ? undefined : shownDefault(row);
  return shown === undefined ? opt : opt.default(shown);
}

/** The commander option of the alias of run option `key` (undefined: it has none). */
export function aliasOption(key: RunKey): Option | undefined {
  const row = RUN_OPTIONS[key] as AnyRow;
  if (!row.alias) return undefined;
  const opt = new Option(`${row.alias} ${row.flag.split(' ')[1] ?? ''}`.trimEnd(), `the same as ${longFlag(row)}`);
  return row.choices ? opt.choices(row.choices) : opt;
}

/** Run options shared by run, stress and explore: every row (and its alias), then the command flags. */
export function addRunOptions(cmd: Command): Command {
  for (const [key] of RUN_OPTION_ROWS) {
    cmd.addOption(runOption(key));
    const alias = aliasOption(key);
    if (alias) cmd.addOption(alias);
  }
  return cmd
    .option('--schedule-out <file>', 'deterministic mode: write the run\'s schedule string to FILE (stress: the first failing run\'s)')
    .option('--json', 'print one JSON object')
    .option('--verbose', 'stack traces for errors');
}

/**
 * The RunOptions of run flags written as on a command line (`['--cpus', '2', '--bug', 'x']`, or the
 * words of a reproduce line after `npx smpsim run`). Throws UsageError (or commander's error) for bad
 * input.
 */
export function runOptionsFromArgs(args: readonly string[]): RunOptions {
  const cmd = addRunOptions(new Command('run')).exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  cmd.parse([...args], { from: 'user' });
  return runOptionsFrom(cmd.opts());
}
