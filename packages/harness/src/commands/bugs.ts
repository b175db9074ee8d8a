/** `smpsim bugs`: the historical bug switches (core's BUG_CATALOGUE). */
import type { Command } from 'commander';
import { BUG_CATALOGUE, BUG_IDS } from '@smpsim/core';
import { subcommand } from './common.js';

export function registerBugs(p: Command): Command {
  return subcommand(p, 'bugs')
    .description('list the historical bug switches')
    .option('--json', 'print JSON')
    .action((flags) => {
      if (flags.json) {
        process.stdout.write(JSON.stringify(BUG_IDS.map((id) => ({ id, ...BUG_CATALOGUE[id] }))) + '\n');
        return;
      }
      for (const id of BUG_IDS) {
        const b = BUG_CATALOGUE[id];
        process.stdout.write(`${id}${b.harmful ? '' : ' (control)'}\n  restores: ${b.restores}\n  fixed by: ${b.fixedBy}\n  expected: ${b.expected}\n`);
      }
    });
}
