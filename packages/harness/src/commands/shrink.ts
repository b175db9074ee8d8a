/** `smpsim shrink '<schedule>'`: a smaller schedule that still fails the same way (shrink.ts); exit 1. */
import type { Command } from 'commander';
import { parseDuration, parseIntStrict } from '../parse.js';
import { formatShrink, shrinkSchedule } from '../shrink.js';
import { readScheduleArg, subcommand, writeUserFile } from './common.js';

export function registerShrink(p: Command): Command {
  return subcommand(p, 'shrink')
    .description('search for a smaller failing schedule (fewer ops, CPUs, context switches), replaying each candidate')
    .argument('<schedule>', "a failing schedule string ('smpsim1:...'), or @FILE")
    .option('--time <T>', 'host time of the search', '60s')
    .option('--attempts <n>', 'replays at most', '200')
    .option('--schedule-out <file>', 'write the smallest schedule string to FILE')
    .option('--json', 'print one JSON object')
    .option('--progress', 'a line on stderr after each replay')
    .option('--verbose', 'stack traces for errors')
    .action(async (arg: string, flags) => {
      const r = await shrinkSchedule(readScheduleArg(arg), {
        timeMs: parseDuration(flags.time, '--time'),
        attempts: parseIntStrict(flags.attempts, '--attempts', 1),
        ...(flags.progress
          ? { onAttempt: (a: { attempt: number; accepted: boolean; what: string; ops: number; cpus: number; decisions: number }) => process.stderr.write(`shrink: replay ${a.attempt} (${a.what}): ${a.accepted ? 'accepted' : 'rejected'}; best ${a.ops} ops x ${a.cpus} CPUs, ${a.decisions} decisions\n`) }
          : {}),
      });
      if (flags.scheduleOut) writeUserFile(flags.scheduleOut, r.schedule + '\n');
      process.stdout.write((flags.json ? JSON.stringify(r) : formatShrink(r)) + '\n');
      // the shrunk schedule still fails: exit 1, like the run it reproduces
      process.exitCode = 1;
    });
}
