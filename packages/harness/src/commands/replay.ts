/** `smpsim replay '<schedule>'`: a schedule string run again (replay.ts); exit 1 if it finds a violation. */
import type { Command } from 'commander';
import { replaySchedule } from '../replay.js';
import { formatSummary } from '../report.js';
import { printScheduleOf, readScheduleArg, subcommand } from './common.js';

export function registerReplay(p: Command): Command {
  return subcommand(p, 'replay')
    .description('replay a schedule string of deterministic mode (exit 1 if the run finds a violation)')
    .argument('<schedule>', "the schedule string ('smpsim1:...'), or @FILE")
    .option('--json', 'print one JSON object')
    .option('--trace <file.json>', "write the run's events as a Chrome trace (opens in Perfetto)")
    .option('--schedule-out <file>', 'write the schedule string of the replay to FILE')
    .option('--verbose', 'stack traces for errors')
    .action(async (arg: string, flags) => {
      const r = await replaySchedule(readScheduleArg(arg), flags.trace ? { trace: flags.trace as string } : {});
      const s = r.summary;
      if (r.diverged) process.stderr.write(`smpsim: warning: the replay's trace hash ${s.traceHash} differs from the recorded ${r.expectedHash}: the run is not deterministic\n`);
      if (flags.json) process.stdout.write(JSON.stringify({ ...s, replayOf: { expectedHash: r.expectedHash, diverged: r.diverged } }) + '\n');
      else {
        process.stdout.write(formatSummary(s) + '\n');
        process.stdout.write(`trace hash: ${s.traceHash}${r.expectedHash ? (r.diverged ? ` (recorded: ${r.expectedHash}, DIVERGED)` : ' (as recorded)') : ''}; ${s.schedule?.steps} scheduling steps\n`);
      }
      printScheduleOf({ ...s, ok: true }, { json: true, out: flags.scheduleOut });
      process.exitCode = s.ok ? 0 : 1;
    });
}
