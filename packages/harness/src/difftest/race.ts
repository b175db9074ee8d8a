/**
 * `smpsim difftest --race WORKLOAD`: multi-threaded outcome classes. Interleavings of real threads
 * cannot be compared with a simulated machine's; what a race workload promises can. The host runs
 * the workload's contract with real threads on a real file (difftest/race-runner.c) and counts how
 * often it was checked and broken; smpsim runs the same workload as a campaign (free mode by default,
 * or deterministic schedules); the two outcomes are compared:
 *
 * - both keep the contract: agree;
 * - smpsim breaks it with a bug switch on (or a released-kernel preset) whose catalogue entry expects
 *   that violation: explained — the switch restores a race the host's kernel has the fix for;
 * - anything else (smpsim breaks it on the fixed kernel, or with another kind of violation; the host
 *   breaks it): an unexplained difference, exit 1, with smpsim's reproducer.
 *
 * Today one workload has a host twin: msync-race (after msync(MS_SYNC) returns, the disk holds every
 * store that had returned before it started).
 */
import { spawnSync } from 'node:child_process';
import { BUG_CATALOGUE, type BugId, KERNEL_PRESETS, type KernelPreset } from '@smpsim/core';
import { runCampaign } from '../campaign.js';
import { UsageError } from '../parse.js';
import type { RunMode, SchedName } from '../run-options.js';
import { compiledRunner, type HostRunner } from './host.js';

/** The race workloads with a host twin, and the contract each checks. */
export const RACE_WORKLOADS = {
  'msync-race': {
    contract: 'after msync(MS_SYNC) returns, the disk holds every store that had returned before it started',
    violation: 'lost-write',
  },
} as const;
export type RaceWorkload = keyof typeof RACE_WORKLOADS;

/** The host's outcome (race-runner.c's line). */
export interface HostRaceOutcome {
  runner: 'race';
  workload: RaceWorkload;
  kernel: string;
  fs: string;
  /** How the disk is read: the block device (exact), or the file with O_DIRECT (writes dirty cached pages back first). */
  observation: 'block-device' | 'o-direct-file';
  device: string;
  msync: boolean;
  writers: number;
  checks: number;
  lost: number;
  stores: number;
  first: { check: number; writer: number; before: number; onDisk: number } | null;
}

/** smpsim's outcome: a campaign of the workload. */
export interface SimRaceOutcome {
  runs: number;
  /** Contract checks over the runs that finished without a violation (msync-race: CPU 0's msyncs). */
  checks: number;
  /** The first violation, or null. */
  violation: { kind: string; message: string; reproduce: string } | null;
  /** The bug switches in force (the preset's and --bug). */
  bugs: BugId[];
  /** The campaign's command line. */
  campaign: string;
}

export interface RaceVerdict {
  verdict: 'agree' | 'explained' | 'differs';
  /** 'holds', 'planted-bug', 'sim-violates', 'host-violates'. */
  cls: string;
  why: string;
}

export interface RaceOptions {
  workload: RaceWorkload;
  /** Simulated CPUs; the host runs cpus - 1 writer threads beside its checker, as msync-race does. */
  cpus: number;
  /** Host time of the host run, and of smpsim's campaign unless `runs` is given. */
  timeMs: number;
  /** smpsim: this many runs instead of a time budget (deterministic reproducers). */
  runs?: number;
  /** smpsim: ops (msyncs of CPU 0) per run. */
  ops: number;
  kernel: KernelPreset;
  bugs: BugId[];
  seed: number;
  mode: RunMode;
  sched: SchedName;
  perturb: number;
}

export const raceRunner = (): HostRunner => compiledRunner('race-runner', ['-pthread']);

/** Runs the workload's contract on the host for `ms` with `writers` threads (`msync: false` plants a violation). */
export function runRaceHost(runner: string, workload: RaceWorkload, dir: string, writers: number, ms: number, msync = true): HostRaceOutcome {
  const args = [workload, dir, String(writers), String(Math.max(1, Math.round(ms))), ...(msync ? [] : ['--no-msync'])];
  const r = spawnSync(runner, args, { encoding: 'utf8', timeout: ms + 60_000 });
  if (r.error) throw new Error(`race runner: ${r.error.message}`);
  if (r.status === 2) throw new UsageError(r.stderr.trim() || 'race runner refused');
  if (r.status !== 0) throw new Error(`race runner exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim()) as HostRaceOutcome;
}

/** The bug switches a run of `kernel` with `bugs` has in force. */
export const bugsInForce = (kernel: KernelPreset, bugs: readonly BugId[]): BugId[] => [...new Set<BugId>([...KERNEL_PRESETS[kernel].bugs, ...bugs])];

/** Runs the workload on smpsim: a campaign that stops at the first violation. */
export async function runRaceSim(o: RaceOptions): Promise<SimRaceOutcome> {
  let checks = 0;
  const s = await runCampaign({
    run: { workload: o.workload, cpus: o.cpus, procs: 1, kernel: o.kernel, bugs: o.bugs, seed: o.seed, ops: o.ops, mode: o.mode, sched: o.sched, perturb: o.perturb },
    ...(o.runs !== undefined ? { runs: o.runs } : { timeMs: o.timeMs }),
    onRun: (_r, summary) => {
      for (const x of summary?.results ?? []) {
        if (x && typeof x === 'object' && 'msyncs' in x) checks += Number((x as { msyncs: number }).msyncs);
      }
    },
  });
  const v = s.firstViolation;
  return {
    runs: s.runs,
    checks,
    violation: v ? { kind: v.kind, message: v.message, reproduce: v.reproduce } : null,
    bugs: bugsInForce(o.kernel, o.bugs),
    campaign: s.campaign,
  };
}

/** Compares the two outcomes by the rules in this file's header. */
export function compareRace(workload: RaceWorkload, host: HostRaceOutcome, sim: SimRaceOutcome): RaceVerdict {
  const w = RACE_WORKLOADS[workload];
  if (host.lost > 0) {
    const f = host.first!;
    return {
      verdict: 'differs',
      cls: 'host-violates',
      why: `the host kernel broke the contract (${w.contract}) ${host.lost} time(s) in ${host.checks} checks: writer ${f.writer} had stored ${f.before}, the disk held ${f.onDisk}${host.msync ? '' : ' (msync was skipped: a planted violation)'}`,
    };
  }
  if (!sim.violation) {
    return { verdict: 'agree', cls: 'holds', why: `both machines keep the contract (${w.contract}): host ${host.checks} checks, smpsim ${sim.checks} in ${sim.runs} run(s)` };
  }
  const expecting = sim.violation.kind === w.violation ? sim.bugs.filter((b) => BUG_CATALOGUE[b].expected.includes(w.violation)) : [];
  if (expecting.length) {
    return {
      verdict: 'explained',
      cls: 'planted-bug',
      why: `smpsim runs with ${expecting.map((b) => `${b} (fixed in ${BUG_CATALOGUE[b].fixedIn ?? 'a later kernel'})`).join(', ')}, restoring races the host's kernel has the fixes for (\`smpsim bugs\` names each fix); the host kept the contract in ${host.checks} checks`,
    };
  }
  return {
    verdict: 'differs',
    cls: 'sim-violates',
    why: `smpsim reports ${sim.violation.kind} where the host kept the contract in ${host.checks} checks${sim.bugs.length ? ` (no bug in force, ${sim.bugs.join(', ')}, expects ${sim.violation.kind})` : ' (no bug switch in force)'}: ${sim.violation.message.split('\n')[0]}`,
  };
}

/** The host's observation, as a line for the report. */
export function describeObservation(h: HostRaceOutcome): string {
  return h.observation === 'block-device'
    ? `the disk read from ${h.device} with O_DIRECT at the file's block (FIEMAP)`
    : `the file read with O_DIRECT (the block device could not be opened): such a read writes the range's dirty cached pages back first, so it sees writes lost from the page cache's dirty state but not writes msync merely left unwritten`;
}

/** Checks a --race workload name. */
export function raceWorkload(name: string): RaceWorkload {
  if (!(name in RACE_WORKLOADS)) throw new UsageError(`--race must be one of ${Object.keys(RACE_WORKLOADS).join(', ')} (the workloads with a host twin), got '${name}'`);
  return name as RaceWorkload;
}
