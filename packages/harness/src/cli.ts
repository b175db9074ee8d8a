/**
 * The `smpsim` command line: the program assembled from its commands (commands/), and the mapping of
 * errors to exit statuses. Exit status: 0 ok, 1 a violation found by the simulator (with a report and
 * a reproducer), 2 bad input (one clear line, no stack trace unless --verbose), 130 interrupted.
 * Imported only by the bin script and index.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '@smpsim/core';
import { WorkloadError } from '@smpsim/cpu-worker';
import { registerBench } from './commands/bench.js';
import { registerBugs } from './commands/bugs.js';
import { registerCatalogue } from './commands/catalogue.js';
import { registerDifftest } from './commands/difftest.js';
import { registerExplore } from './commands/explore.js';
import { registerMerge } from './commands/merge.js';
import { registerReplay } from './commands/replay.js';
import { registerRun } from './commands/run.js';
import { registerShrink } from './commands/shrink.js';
import { registerStress } from './commands/stress.js';
import { UsageError } from './parse.js';

/** The package's version (package.json), for --version. */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function program(): Command {
  const p = new Command('smpsim')
    .description('a multi-threaded SMP simulator running a slice of Linux memory management (shared dirty-page tracking)')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .showHelpAfterError(false);
  registerRun(p);
  registerBugs(p);
  registerBench(p);
  registerCatalogue(p);
  registerStress(p);
  registerExplore(p);
  registerMerge(p);
  registerReplay(p);
  registerShrink(p);
  registerDifftest(p);
  return p;
}

/** Entry point of the bin script. */
export async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes('--verbose');
  const p = program();
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      process.stderr.write(`smpsim: ${e.message.replace(/^error: /, '')}\n`);
      process.exitCode = 2;
      return;
    }
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof WorkloadError) {
      process.stderr.write(`smpsim: ${e.message}\n`);
      if (verbose) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`smpsim: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (verbose) process.stderr.write(`${(e as Error)?.stack}\n`);
    process.exitCode = 2;
  }
}
