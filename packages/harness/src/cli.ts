/**
 * The `smpsim` command line. Exit status: 0 ok, 1 a violation found by the simulator (with a report
 * and a reproducer), 2 bad input (one clear line, no stack trace unless --verbose).
 */
import { Command, CommanderError, Option } from 'commander';
import { BUG_CATALOGUE, BUG_IDS, type BugId, ConfigError, type DaemonConfig, DEFAULT_DAEMONS, type KernelPreset } from '@smpsim/core';
import { WorkloadError } from '@smpsim/cpu-worker';
import { benchCommand } from './bench.js';
import { DEFAULT_DEADLOCK_STEPS, DEFAULT_DET_OPS, DEFAULT_PCT_DEPTH, DEFAULT_SWITCH_PROB, parseCosts } from './det.js';
import { printScheduleOf, replayCommandRegister, shrinkCommandRegister } from './replay.js';
import { catalogueCommand } from './catalogue.js';
import { addConfigOption } from './config-file.js';
import { mergeCommand } from './merge.js';
import { stressCommand } from './stress.js';
import { parseDuration, parseIntStrict, parseList, parseParam, parseSize, parseTlb, UsageError } from './parse.js';
import { formatLockStat, formatSummary } from './report.js';
import { DEFAULT_RUN, type RunOptions, runMachine } from './run.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** Run options shared by run, stress and bench. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--cpus <n>', 'simulated CPUs', '4')
    .option('--procs <p>', 'processes the CPUs are divided into', '1')
    .option('--workload <name|path>', 'tlb-hit, page-fault3, dirty-share, or a module path', 'dirty-share')
    .option('--ops <n>', 'operations per CPU')
    .option('--duration <T>', 'host time to run (e.g. 3s, 500ms)')
    .option('--seed <s>', 'seed of every random choice', '1')
    .option('--memory <size>', 'physical memory (e.g. 64M)', '64M')
    .option('--tlb <geometry>', 'L1 dTLB [,L2] as SETSxWAYS', '16x4,128x12')
    .option('--param <key=value>', 'workload parameter (repeatable)', collect, [])
    .option('--bug <id>', 'restore a historical bug (repeatable; see smpsim bugs)', collect, [])
    .option('--kernel <preset>', 'linux-2.6.18 | linux-2.6.19 | linux-2.6.20', 'linux-2.6.20')
    .addOption(new Option('--lockdep <on|off>', 'lock validator').choices(['on', 'off']).default('on'))
    .option('--lock-stat', 'per-class lock statistics, /proc/lock_stat style')
    .option('--watchdog <T>', 'lock-spin / flush-wait threshold of the watchdog', '5s')
    .option('--perturb <p>', 'probability of a random delay at a preemption point', '0')
    .option('--check-every <cycles>', 'stop-the-world invariant checks every N simulated cycles', '0')
    .option('--flush-ceiling <pages>', 'ranges above this become full flushes', '33')
    .option('--no-daemons', 'do not run the flusher, journal and reclaim threads')
    .option('--daemon <key=value>', 'kernel-thread setting, e.g. journalPeriod=100000 (repeatable; see DaemonConfig)', collect, [])
    .addOption(new Option('--mode <mode>', 'free: CPUs in parallel; deterministic: one at a time under a seeded scheduler (--ops only)').choices(['free', 'deterministic']).default('free'))
    .addOption(new Option('--sched <policy>', 'deterministic mode: random walk or PCT').choices(['random', 'pct']).default('random'))
    .option('--switch-prob <p>', 'random: probability of a switch at each scheduling point', String(DEFAULT_SWITCH_PROB))
    .option('--pct-depth <d>', 'pct: bug depth d (d-1 priority change points)', String(DEFAULT_PCT_DEPTH))
    .option('--pct-steps <k>', 'pct: expected scheduling steps of a run (default: ops x cpus x 2)')
    .option('--deadlock-steps <n>', 'deterministic watchdog: scheduling steps with every CPU blocked', String(DEFAULT_DEADLOCK_STEPS))
    .option('--cost <key=value>', 'cost-model override in simulated cycles, e.g. ipiSend=500 (repeatable)', collect, [])
    .option('--trace <file.json>', 'write the run\'s events as a Chrome trace (opens in Perfetto)')
    .option('--schedule-out <file>', 'deterministic mode: write the run\'s schedule string to FILE (stress: the first failing run\'s)')
    .option('--json', 'print one JSON object')
    .option('--verbose', 'stack traces for errors');
}

interface RawRunFlags {
  cpus: string;
  procs: string;
  workload: string;
  ops?: string;
  duration?: string;
  seed: string;
  memory: string;
  tlb: string;
  param: string[];
  bug: string[];
  kernel: string;
  lockdep: string;
  lockStat?: boolean;
  watchdog: string;
  perturb: string;
  checkEvery: string;
  flushCeiling: string;
  daemons: boolean;
  daemon?: string[];
  mode?: string;
  sched?: string;
  switchProb?: string;
  pctDepth?: string;
  pctSteps?: string;
  deadlockSteps?: string;
  cost?: string[];
  trace?: string;
  scheduleOut?: string;
}

/** `--daemon key=value` settings, checked against DaemonConfig's fields. */
function parseDaemons(list: string[]): Partial<DaemonConfig> {
  const out: Record<string, number | boolean> = {};
  for (const item of list) {
    const [k, v] = parseParam(item);
    if (!(k in DEFAULT_DAEMONS)) throw new UsageError(`--daemon: unknown setting '${k}' (one of: ${Object.keys(DEFAULT_DAEMONS).join(', ')})`);
    const want = typeof DEFAULT_DAEMONS[k as keyof DaemonConfig];
    if (typeof v !== want || (typeof v === 'number' && !(v >= 0))) throw new UsageError(`--daemon ${k} must be a ${want === 'number' ? 'non-negative number' : want}, got '${v}'`);
    out[k] = v as number | boolean;
  }
  return out as Partial<DaemonConfig>;
}

/** Flags -> RunOptions, with every value checked. */
export function runOptionsFrom(f: RawRunFlags): RunOptions {
  const perturb = Number(f.perturb);
  if (!(perturb >= 0 && perturb <= 1)) throw new UsageError(`--perturb must be a probability from 0 to 1, got '${f.perturb}'`);
  for (const b of f.bug) if (!(BUG_IDS as readonly string[]).includes(b)) throw new UsageError(`unknown bug '${b}' (one of: ${BUG_IDS.join(', ')})`);
  const det = f.mode === 'deterministic';
  if (det && f.duration !== undefined) throw new UsageError('deterministic mode counts --ops, never host time: use --ops N instead of --duration');
  if (!det && f.scheduleOut !== undefined) throw new UsageError('--schedule-out needs --mode deterministic');
  const ops = f.ops !== undefined ? parseIntStrict(f.ops, '--ops', 1) : det ? DEFAULT_DET_OPS : 0;
  const switchProb = Number(f.switchProb ?? DEFAULT_SWITCH_PROB);
  if (!(switchProb > 0 && switchProb <= 1)) throw new UsageError(`--switch-prob must be a probability in (0, 1], got '${f.switchProb}'`);
  return {
    ...DEFAULT_RUN,
    cpus: parseIntStrict(f.cpus, '--cpus', 1, 32),
    procs: parseIntStrict(f.procs, '--procs', 1, 32),
    workload: f.workload,
    ops,
    durationMs: f.duration !== undefined ? parseDuration(f.duration, '--duration') : ops ? 0 : DEFAULT_RUN.durationMs,
    seed: parseIntStrict(f.seed, '--seed', 0, 2 ** 31 - 1),
    memoryBytes: parseSize(f.memory, '--memory'),
    tlb: parseTlb(f.tlb),
    params: Object.fromEntries(f.param.map(parseParam)),
    bugs: f.bug as BugId[],
    kernel: f.kernel as KernelPreset,
    lockdep: f.lockdep === 'on',
    lockStat: f.lockStat === true,
    watchdogMs: parseDuration(f.watchdog, '--watchdog'),
    perturb,
    checkEvery: parseIntStrict(f.checkEvery, '--check-every', 0),
    daemons: f.daemons,
    daemonConfig: parseDaemons(f.daemon ?? []),
    flushCeiling: parseIntStrict(f.flushCeiling, '--flush-ceiling', 1),
    mode: det ? 'deterministic' : 'free',
    sched: f.sched === 'pct' ? 'pct' : 'random',
    switchProb,
    pctDepth: parseIntStrict(f.pctDepth ?? String(DEFAULT_PCT_DEPTH), '--pct-depth', 1, 64),
    pctSteps: f.pctSteps !== undefined ? parseIntStrict(f.pctSteps, '--pct-steps', 1) : 0,
    deadlockSteps: parseIntStrict(f.deadlockSteps ?? String(DEFAULT_DEADLOCK_STEPS), '--deadlock-steps', 1),
    costs: parseCosts(f.cost ?? []),
    ...(f.trace !== undefined ? { trace: f.trace } : {}),
    cwd: process.cwd(),
  };
}

function program(): Command {
  const p = new Command('smpsim')
    .description('a multi-threaded SMP simulator running a slice of Linux memory management (shared dirty-page tracking)')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .showHelpAfterError(false);

  const runCmd = addRunOptions(p.command('run').description('run one simulated machine').exitOverride().configureOutput({ writeErr: () => {} }));
  addConfigOption(runCmd, 'run');
  runCmd.action(async (flags) => {
    const o = runOptionsFrom(flags);
    if (o.procs > o.cpus) throw new UsageError(`--procs (${o.procs}) cannot exceed --cpus (${o.cpus})`);
    const s = await runMachine(o);
    if (flags.json) process.stdout.write(JSON.stringify(s) + '\n');
    else {
      process.stdout.write(formatSummary(s) + '\n');
      if (o.lockStat) process.stdout.write('\n' + formatLockStat(s.stats.locks) + '\n');
    }
    printScheduleOf(s, { json: !!flags.json, out: flags.scheduleOut });
    process.exitCode = s.ok ? 0 : 1;
  });

  p.command('bugs')
    .description('list the historical bug switches')
    .option('--json', 'print JSON')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
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

  benchCommand(p);
  catalogueCommand(p);
  const benchCmd = p.commands.find((c) => c.name() === 'bench');
  if (benchCmd) addConfigOption(benchCmd, 'bench');
  stressCommand(p);
  mergeCommand(p);
  replayCommandRegister(p);
  shrinkCommandRegister(p);
  return p;
}

/** Entry point of the bin script. */
export async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes('--verbose');
  const p = program();
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      process.stderr.write(`smpsim: ${e.message.replace(/^error: /, '')}\n`);
      process.exitCode = 2;
      return;
    }
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof WorkloadError) {
      process.stderr.write(`smpsim: ${e.message}\n`);
      if (verbose) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`smpsim: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (verbose) process.stderr.write(`${(e as Error)?.stack}\n`);
    process.exitCode = 2;
  }
}
