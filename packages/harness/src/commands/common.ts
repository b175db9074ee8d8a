/** What the commands share: a subcommand's commander set-up, and reading and writing schedule strings. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../parse.js';
import type { RunSummary } from '../summary.js';

/** A new subcommand of `p` whose errors reach main() (which prints one line and exits 2), not stderr. */
export function subcommand(p: Command, nameAndArgs: string): Command {
  return p.command(nameAndArgs).exitOverride().configureOutput({ writeErr: () => {} });
}

/** Commander's accumulator for a repeatable flag. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Writes text to a file the user named (UsageError, exit 2, if it cannot be written). */
export function writeUserFile(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A schedule given on the command line: the string itself, or @FILE holding it. */
export function readScheduleArg(arg: string): string {
  if (arg.startsWith('@')) {
    try {
      return readFileSync(arg.slice(1), 'utf8').trim();
    } catch (e) {
      throw new UsageError(`cannot read ${arg.slice(1)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return arg.trim();
}

/** After a deterministic run: prints the schedule and its replay command when it failed; --schedule-out writes it. */
export function printScheduleOf(s: RunSummary, o: { json: boolean; out?: string | undefined }): void {
  const sc = s.schedule;
  if (!sc) return;
  if (o.out) {
    if (!sc.string) throw new UsageError(`--schedule-out: the decision log overflowed (${sc.switches} switches); this run has no schedule string`);
    writeUserFile(o.out, sc.string + '\n');
  }
  if (s.ok || o.json) return;
  process.stdout.write(`\ntrace hash: ${s.traceHash}; ${sc.steps} scheduling steps, ${sc.switches} switches, ${sc.decisions} decisions in the schedule (${sc.policy})\n`);
  if (sc.string) {
    process.stdout.write(`schedule: ${sc.string}\n`);
    process.stdout.write(`replay: ${sc.replay}\n`);
  } else process.stdout.write('schedule: (the decision log overflowed; repeat the run with the command above)\n');
}
