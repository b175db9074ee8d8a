/**
 * `smpsim difftest`: differential testing against the host kernel (difftest/): the same trace of
 * single-threaded operations on one file run on the host (a real file in --dir) and on smpsim (one
 * CPU, kernel threads off), every difference either explained or reported. Exit 1 if any is not.
 */
import type { Command } from 'commander';
import { BUG_IDS, type BugId, KERNEL_PRESETS, type KernelPreset, MSYNC_SCOPES, type MsyncScope, DEFAULT_KERNEL_PRESET } from '@smpsim/core';
import type { OpComparison } from '../difftest/compare.js';
import { checkHostDir, defaultHostDir, hostRunner } from '../difftest/host.js';
import { compareRace, describeObservation, RACE_WORKLOADS, raceRunner, raceWorkload, runRaceHost, runRaceSim } from '../difftest/race.js';
import { parseWeights } from '../difftest/random.js';
import { loadTraces, randomTraces, runDifftest, SHIPPED_TRACES, type TraceReport } from '../difftest/run.js';
import { parseDuration, parseIntStrict, parseProbability, UsageError } from '../parse.js';
import { RUN_MODES, type RunMode, SCHED_NAMES, type SchedName } from '../run-options.js';
import { collect, subcommand } from './common.js';

type Flags = {
  trace: string[];
  random?: string;
  seed: string;
  ops?: string;
  weights?: string;
  dir?: string;
  kernel: string;
  msyncScope?: string;
  json?: boolean;
  verbose?: boolean;
  race?: string;
  cpus: string;
  time: string;
  runs?: string;
  bug: string[];
  mode: string;
  sched: string;
  perturb: string;
};

/** Only with --race. */
const RACE_ONLY = ['cpus', 'time', 'runs', 'bug', 'mode', 'sched', 'perturb'] as const;
/** msyncs of CPU 0 per smpsim run with --race, unless --ops says otherwise (msync-race's portfolio range is 1 000-5 000). */
const RACE_OPS = 2_000;

export function registerDifftest(p: Command): Command {
  return subcommand(p, 'difftest')
    .description('run traces on the host kernel and on smpsim and compare them op by op (exit 1 on an unexplained difference)')
    .option('--trace <path>', 'a trace file, or a directory of *.trace files (repeatable; default: the traces shipped with smpsim)', collect, [])
    .option('--random <n>', 'N seeded random traces (fsx-style) instead')
    .option('--seed <s>', 'base seed of --random', '1')
    .option('--ops <n>', 'ops per random trace (default 40); with --race, ops per smpsim run (default 2000)')
    .option('--weights <spec>', "random op weights, e.g. 'store=50,pread=0'")
    .option('--dir <d>', 'directory for the host\'s test file, on a disk file system (not tmpfs) (default: the OS temporary directory, else the current one)')
    .option('--kernel <preset>', `smpsim's kernel: ${Object.keys(KERNEL_PRESETS).join(' | ')}`, DEFAULT_KERNEL_PRESET)
    .option('--msync-scope <s>', `smpsim's msync(MS_SYNC) scope: ${MSYNC_SCOPES.join(' | ')} (default: the kernel preset's)`)
    .option('--race <workload>', `instead of traces: a race workload's contract run with threads on the host and as a campaign on smpsim, outcomes compared (${Object.keys(RACE_WORKLOADS).join(', ')})`)
    .option('--cpus <n>', 'with --race: simulated CPUs; the host runs one thread fewer writing and one checking', '4')
    .option('--time <T>', "with --race: the host's run time, and smpsim's campaign time unless --runs is given", '20s')
    .option('--runs <n>', "with --race: smpsim runs this many runs instead of for --time")
    .option('--bug <id>', 'with --race: a bug switch for smpsim (repeatable)', collect, [])
    .option('--mode <m>', `with --race: smpsim's mode (${RUN_MODES.filter((m) => m !== 'timed').join(' | ')})`, 'free')
    .option('--sched <s>', `with --race and --mode deterministic: the scheduler (${SCHED_NAMES.join(' | ')})`, 'random')
    .option('--perturb <p>', 'with --race: probability of a random delay at a preemption point (free mode)', '0.02')
    .option('--json', 'print one JSON object')
    .option('--verbose', 'also list the explained differences, and stack traces for errors')
    .action(async (f: Flags, command: Command) => {
      const given = (k: string) => command.getOptionValueSource(k) === 'cli' || command.getOptionValueSource(k) === 'env';
      if (!(f.kernel in KERNEL_PRESETS)) throw new UsageError(`--kernel must be one of ${Object.keys(KERNEL_PRESETS).join(', ')}, got '${f.kernel}'`);
      if (f.race !== undefined) return raceAction(f);
      for (const k of RACE_ONLY) if (given(k)) throw new UsageError(`--${k} goes with --race`);
      if (f.msyncScope !== undefined && !(MSYNC_SCOPES as readonly string[]).includes(f.msyncScope)) throw new UsageError(`--msync-scope must be one of ${MSYNC_SCOPES.join(', ')}, got '${f.msyncScope}'`);
      if (f.random !== undefined && f.trace.length) throw new UsageError('--trace and --random are exclusive');
      const traces =
        f.random !== undefined
          ? randomTraces(parseIntStrict(f.random, '--random', 1), parseIntStrict(f.seed, '--seed', 0), parseIntStrict(f.ops ?? '40', '--ops', 1), parseWeights(f.weights))
          : loadTraces(f.trace.length ? f.trace : [SHIPPED_TRACES]);
      const dir = f.dir ?? defaultHostDir();
      checkHostDir(dir);
      const runner = hostRunner();
      if (!runner.available) throw new UsageError(`difftest needs the host runner: ${runner.reason}`);
      const { host, reports } = runDifftest(traces, { runner: runner.path, dir, kernel: f.kernel as KernelPreset, ...(f.msyncScope ? { msyncScope: f.msyncScope as MsyncScope } : {}) }, f.json ? undefined : (r) => process.stdout.write(formatReport(r, !!f.verbose)));
      const failed = reports.filter((r) => r.differs > 0).length;
      const classes: Record<string, number> = {};
      for (const r of reports) for (const [k, n] of Object.entries(r.classes)) classes[k] = (classes[k] ?? 0) + n;
      const ops = reports.reduce((s, r) => s + r.ops, 0);
      const same = reports.reduce((s, r) => s + r.same, 0);
      if (f.json) process.stdout.write(JSON.stringify({ ok: failed === 0, ops, same, classes, host, kernel: f.kernel, msyncScope: f.msyncScope ?? KERNEL_PRESETS[f.kernel as KernelPreset].msyncScope, compiler: runner.compiler, dir, reports }) + '\n');
      else {
        process.stdout.write(`host: Linux ${host?.kernel}, file system ${host?.fs} in ${dir}, cachestat ${host?.cachestat ? 'yes' : 'no (dirty counts not compared)'}; smpsim: ${f.kernel}\n`);
        process.stdout.write(`${ops} ops: ${same} the same on both machines; differences by class: ${Object.entries(classes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}\n`);
        process.stdout.write(`${reports.length} trace(s): ${reports.length - failed} agree (differences all explained), ${failed} differ\n`);
      }
      process.exitCode = failed ? 1 : 0;
    });
}

/** `difftest --race WORKLOAD`: the workload's contract on both machines (difftest/race.ts). */
async function raceAction(f: Flags): Promise<void> {
  const workload = raceWorkload(f.race!);
  if (f.trace.length || f.random !== undefined) throw new UsageError('--race runs a workload, not traces: leave out --trace and --random');
  if (f.weights !== undefined || f.msyncScope !== undefined) throw new UsageError('--weights and --msync-scope go with traces, not --race');
  for (const b of f.bug) if (!(BUG_IDS as readonly string[]).includes(b)) throw new UsageError(`unknown bug '${b}' (see: smpsim bugs)`);
  if (!(RUN_MODES as readonly string[]).includes(f.mode) || f.mode === 'timed') throw new UsageError(`--mode must be free or deterministic with --race, got '${f.mode}'`);
  if (!(SCHED_NAMES as readonly string[]).includes(f.sched)) throw new UsageError(`--sched must be one of ${SCHED_NAMES.join(', ')}, got '${f.sched}'`);
  const cpus = parseIntStrict(f.cpus, '--cpus', 2, 64);
  const timeMs = parseDuration(f.time, '--time');
  if (!(timeMs > 0)) throw new UsageError(`--time must be positive, got '${f.time}'`);
  const dir = f.dir ?? defaultHostDir();
  checkHostDir(dir);
  const runner = raceRunner();
  if (!runner.available) throw new UsageError(`difftest --race needs the host runner: ${runner.reason}`);
  const o = {
    workload,
    cpus,
    timeMs,
    ...(f.runs !== undefined ? { runs: parseIntStrict(f.runs, '--runs', 1) } : {}),
    ops: parseIntStrict(f.ops ?? String(RACE_OPS), '--ops', 1),
    kernel: f.kernel as KernelPreset,
    bugs: f.bug as BugId[],
    seed: parseIntStrict(f.seed, '--seed', 0),
    mode: f.mode as RunMode,
    sched: f.sched as SchedName,
    perturb: parseProbability(f.perturb, '--perturb', false),
  };
  if (!f.json) process.stdout.write(`${workload}: ${RACE_WORKLOADS[workload].contract}\nhost: ${cpus - 1} writer threads and a checker for ${f.time} ...\n`);
  const host = runRaceHost(runner.path, workload, dir, cpus - 1, timeMs);
  if (!f.json) process.stdout.write(`smpsim: ${cpus} CPUs, ${o.runs !== undefined ? `${o.runs} run(s)` : f.time}, kernel ${o.kernel}${o.bugs.length ? ` + ${o.bugs.join(', ')}` : ''}, ${o.mode} mode ...\n`);
  const sim = await runRaceSim(o);
  const v = compareRace(workload, host, sim);
  if (f.json) process.stdout.write(JSON.stringify({ ok: v.verdict !== 'differs', workload, contract: RACE_WORKLOADS[workload].contract, ...v, host, sim, dir, compiler: runner.compiler }) + '\n');
  else {
    process.stdout.write(`host: Linux ${host.kernel}, file system ${host.fs} in ${dir}; ${host.checks} checks, ${host.lost} broken, ${host.stores} stores; observation: ${describeObservation(host)}\n`);
    process.stdout.write(`smpsim: ${sim.runs} run(s), ${sim.checks} checks, ${sim.violation ? `${sim.violation.kind}: ${sim.violation.message.split('\n')[0]}` : 'no violation'}\n`);
    process.stdout.write(`${v.verdict === 'differs' ? 'DIFFERS' : v.verdict} (${v.cls}): ${v.why}\n`);
    if (sim.violation) process.stdout.write(`  reproduce: ${sim.violation.reproduce}\n`);
  }
  process.exitCode = v.verdict === 'differs' ? 1 : 0;
}

const side = (o: OpComparison['host']): string =>
  `${JSON.stringify(o.result)} faults ${o.faults}${o.cached !== undefined ? ` cached ${o.cached} dirty ${o.dirty} wb ${o.writeback}` : ''}${o.dirtied !== undefined ? ` dirtied ${o.dirtied}` : ''}`;

function formatReport(r: TraceReport, verbose: boolean): string {
  const lines = [`${r.trace}: ${r.ops} ops, ${r.same} same, ${r.explained} explained, ${r.differs} differ`];
  for (const c of r.notes) {
    if (c.verdict === 'explained' && !verbose) continue;
    lines.push(`  ${c.verdict === 'differs' ? 'DIFFERS' : 'explained'} line ${c.line}: ${c.text}  — ${c.why}`);
    if (c.verdict === 'differs') lines.push(`    host:   ${side(c.host)}`, `    smpsim: ${side(c.sim)}`);
  }
  if (r.shrunk) {
    lines.push('  shortest trace that still differs:');
    for (const t of r.shrunk.text.trimEnd().split('\n')) lines.push(`    ${t}`);
    for (const c of r.shrunk.comparisons.filter((x) => x.verdict === 'differs')) lines.push(`    line ${c.line} (${c.text}): host ${side(c.host)} | smpsim ${side(c.sim)}`);
  }
  return lines.join('\n') + '\n';
}
