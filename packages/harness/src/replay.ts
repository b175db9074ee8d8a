/**
 * Replaying a schedule string (`smpsim replay '<schedule>'`): runs it again, in deterministic mode,
 * following its decision list. A complete schedule (as a run prints it) reproduces the run exactly: the same
 * violation report and the same trace hash; the replay says so when its hash differs from the one the
 * string recorded (a nondeterminism check). A shortened schedule (from `smpsim shrink`) is a valid
 * schedule too: where its list is silent, the running CPU goes on until it blocks.
 *
 * ```ts
 * import { replaySchedule } from '@smpsim/harness';
 * const { summary, diverged } = await replaySchedule(scheduleString);
 * ```
 */
import { type CpuWorkerPool, runMachine } from './run.js';
import type { RunOptions } from './run-options.js';
import { parseScheduleString } from './schedule-options.js';
import type { RunSummary } from './summary.js';

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
