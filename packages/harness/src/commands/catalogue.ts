/** `smpsim catalogue`: the bug table — detection rate and time of stress campaigns per bug switch (catalogue.ts). */
import type { Command } from 'commander';
import { BUG_IDS, type BugId } from '@smpsim/core';
import { formatCatalogue, formatCatalogueRow, runCatalogue } from '../catalogue.js';
import { parseDuration, parseIntStrict, UsageError } from '../parse.js';
import { RUN_OPTIONS } from '../run-options.js';
import { collect, subcommand } from './common.js';

export function registerCatalogue(p: Command): Command {
  return subcommand(p, 'catalogue')
    .description('stress every bug switch (and the correct kernel) and tabulate detection rates and times')
    .option('--campaigns <n>', 'campaigns per bug', '3')
    .option('--time <T>', 'host time of each campaign', '60s')
    .option('--bug <id>', "bugs to include (repeatable; 'none' is the correct kernel); default all", collect, [] as string[])
    .option('--seed <s>', 'base seed', '1')
    .option('--json', 'print JSON')
    .action(async (flags) => {
      const chosen: string[] = flags.bug.length ? flags.bug : [...BUG_IDS, 'none'];
      for (const b of chosen) if (b !== 'none' && !(BUG_IDS as readonly string[]).includes(b)) throw new UsageError(`unknown bug '${b}'`);
      const campaigns = parseIntStrict(flags.campaigns, '--campaigns', 1, 1000);
      const timeMs = parseDuration(flags.time, '--time');
      if (!flags.json) process.stdout.write(formatCatalogue({ timePerCampaignMs: timeMs, campaignsPerBug: campaigns, rows: [] }) + '\n');
      const res = await runCatalogue({
        bugs: chosen as Array<BugId | 'none'>,
        campaigns,
        timeMs,
        seed: RUN_OPTIONS.seed.parse(flags.seed),
        onRow: (r) => {
          if (!flags.json) process.stdout.write(formatCatalogueRow(r) + '\n');
        },
      });
      if (flags.json) process.stdout.write(JSON.stringify(res) + '\n');
    });
}
