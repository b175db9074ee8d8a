/** `smpsim merge a.jsonl b.jsonl …`: one summary of a sharded stress campaign (merge.ts). */
import type { Command } from 'commander';
import { mergeRecords } from '../merge.js';
import { formatCampaign } from '../records.js';
import { subcommand } from './common.js';

export function registerMerge(p: Command): Command {
  return subcommand(p, 'merge <files...>')
    .description('combine the JSONL files of a sharded stress campaign into one summary')
    .option('--json', 'print one JSON object (the same as stress --json)')
    .action((files: string[], flags) => {
      const s = mergeRecords(files);
      process.stdout.write((flags.json ? JSON.stringify(s) : formatCampaign(s)) + '\n');
      process.exitCode = s.failed > 0 ? 1 : 0;
    });
}
