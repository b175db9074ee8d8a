/**
 * `smpsim replay '<schedule>'`: runs a schedule string again, in deterministic mode, following its
 * decision list. A complete schedule (as a run prints it) reproduces the run exactly: the same
 * violation report and the same trace hash; the replay says so when its hash differs from the one the
 * string recorded (a nondeterminism check). A shortened schedule (from `smpsim shrink`) is a valid
 * schedule too: where its list is silent, the running CPU goes on until it blocks.
 *
 * ```ts
 * import { replaySchedule } from '@smpsim/harness';
 * const { summary, diverged } = await replaySchedule(scheduleString);
 * ```
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseScheduleString } from './det.js';
import { UsageError } from './parse.js';
import { formatSummary } from './report.js';
import { type CpuWorkerPool, type RunOptions, type RunSummary, runMachine } from './run.js';
import { shrinkCommand } from './shrink.js';

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

export interface ReplayResult {
  summary: RunSummary;
  /** The trace hash the schedule recorded (null if it carries none). */
  expectedHash: string | null;
  /** True when the schedule recorded a hash and the replay's differs. */
  diverged: boolean;
}

/** Replays a schedule string (UsageError for a bad string). `extra` adds run options (trace, cwd). */
export async function replaySchedule(text: string, extra: Partial<RunOptions> = {}, pool?: CpuWorkerPool): Promise<ReplayResult> {
  const { run, traceHash } = parseScheduleString(text);
  const summary = await runMachine({ ...run, ...extra }, pool);
  return { summary, expectedHash: traceHash, diverged: traceHash !== null && summary.traceHash !== traceHash };
}

/** After a deterministic run: prints the schedule and its replay command when it failed; --schedule-out writes it. */
export function printScheduleOf(s: RunSummary, o: { json: boolean; out?: string | undefined }): void {
  const sc = s.schedule;
  if (!sc) return;
  if (o.out) {
    if (!sc.string) throw new UsageError(`--schedule-out: the decision log overflowed (${sc.switches} switches); this run has no schedule string`);
    try {
      writeFileSync(o.out, sc.string + '\n');
    } catch (e) {
      throw new UsageError(`cannot write ${o.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (s.ok || o.json) return;
  process.stdout.write(`\ntrace hash: ${s.traceHash}; ${sc.steps} scheduling steps, ${sc.switches} switches, ${sc.decisions} decisions in the schedule (${sc.policy})\n`);
  if (sc.string) {
    process.stdout.write(`schedule: ${sc.string}\n`);
    process.stdout.write(`replay: ${sc.replay}\n`);
  } else process.stdout.write('schedule: (the decision log overflowed; repeat the run with the command above)\n');
}

/** Registers `smpsim replay` and `smpsim shrink`. */
export function replayCommandRegister(p: Command): Command {
  return p
    .command('replay')
    .description('replay a schedule string of deterministic mode (exit 1 if the run finds a violation)')
    .argument('<schedule>', "the schedule string ('smpsim1:...'), or @FILE")
    .option('--json', 'print one JSON object')
    .option('--trace <file.json>', "write the run's events as a Chrome trace (opens in Perfetto)")
    .option('--schedule-out <file>', 'write the schedule string of the replay to FILE')
    .option('--verbose', 'stack traces for errors')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
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

export function shrinkCommandRegister(p: Command): Command {
  return shrinkCommand(p);
}
