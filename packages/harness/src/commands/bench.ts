/**
 * `smpsim bench <suite>`: scaling benchmarks (bench/). Its --param, --tlb, --flush-ceiling and --seed
 * are the run options of the same names (run-options.ts); --cpus (a list), --lockdep (a switch, off by
 * default) and --daemons mean other things here and are bench's own.
 */
import type { Command } from 'commander';
import { MAX_CPUS } from '@smpsim/core';
import { formatBench, formatBenchCsv } from '../bench/format.js';
import { runBench } from '../bench/measure.js';
import type { BenchMode, BenchOptions } from '../bench/result.js';
import { BENCH_SUITE_NAMES, BENCH_SUITES } from '../bench/suites.js';
import { parseDuration, parseIntStrict, parseList, UsageError } from '../parse.js';
import { runOptionsGiven } from '../run-flags.js';
import type { RunKey } from '../run-options.js';
import { subcommand } from './common.js';
import { addConfigOption } from './config-option.js';
import { aliasOption, runOption } from './flags.js';

/** The run options bench takes, as the flags of `smpsim run` (its own help wording aside). */
const BENCH_RUN_FLAGS: RunKey[] = ['seed', 'tlb', 'flushCeiling', 'flushProtocol', 'arch', 'params', 'costPreset', 'costs', 'quantum', 'hostThreads', 'tokenSliceUs'];
/** --time's default in each time base: host time per run, or simulated time per run. */
const DEFAULT_TIME = { host: '1s', simulated: '2ms' } as const;

type BenchFlags = {
  cpus: string;
  time?: string;
  ops?: string;
  timeBase: string;
  costs?: string;
  cost: string[];
  quantum?: string;
  warmup?: string;
  mode?: string;
  param: string[];
  tlb?: string;
  flushCeiling?: string;
  seed: string;
  lockdep: boolean;
  daemons: boolean;
  baseline: boolean;
  json?: boolean;
  csv?: boolean;
  plot?: string;
  progress?: boolean;
};

export function registerBench(p: Command): Command {
  const cmd = subcommand(p, 'bench <suite>')
    .description('scaling benchmarks: access (TLB-hit accesses/s), faults (write-notify faults/s), shootdown (single-page flush latency), msync (case-msync pages/s)')
    .option('--cpus <list>', 'simulated CPU counts', '1,2,4,8')
    .option('--time <T>', `time per run (e.g. 500ms, 2s): host time (default ${DEFAULT_TIME.host}), or simulated time with --time-base simulated (default ${DEFAULT_TIME.simulated})`)
    .option('--ops <n>', 'end each run after N ops per CPU instead of a time (default with --time-base simulated and no --time: two rounds for faults, four msyncs for msync)')
    .option('--time-base <base>', 'host: the simulator\'s speed in host time; simulated: the simulated kernel in timed mode (simulated ops per simulated second, the same on any host)', 'host')
    .option('--warmup <T>', 'untimed warm-up run at the largest CPU count first (default: --time, at most 1s, times simulated CPUs per host core; 0: none)')
    .option('--mode <mode>', 'processes | threads | both (default: the suite\'s)')
    .addOption(runOption('params'))
    .addOption(runOption('tlb', { noDefault: true }))
    .addOption(runOption('flushCeiling', { noDefault: true }))
    .addOption(runOption('flushProtocol', { noDefault: true }))
    .addOption(aliasOption('flushProtocol')!)
    .addOption(runOption('arch', { noDefault: true }))
    .addOption(runOption('seed', { description: 'seed' }))
    .addOption(runOption('costPreset', { noDefault: true }))
    .addOption(runOption('costs'))
    .addOption(runOption('quantum', { noDefault: true }))
    .addOption(runOption('hostThreads', { noDefault: true }))
    .addOption(runOption('tokenSliceUs', { noDefault: true }))
    .option('--lockdep', 'run with the lock validator (off by default in benchmarks)', false)
    .option('--daemons', 'run the flusher, journal and reclaim threads (off by default in benchmarks)', false)
    .option('--no-baseline', 'skip the native baseline')
    .option('--json', 'print JSON')
    .option('--csv', 'print will-it-scale CSV')
    .option('--plot <file.svg>', 'write an SVG plot of throughput (latency for shootdown) against CPUs')
    .option('--progress', 'a line on stderr after each run');
  addConfigOption(cmd, 'bench');
  return cmd
    .action(async (suite: string, f: BenchFlags) => {
      if (!(suite in BENCH_SUITES)) throw new UsageError(`unknown bench suite '${suite}' (one of: ${BENCH_SUITE_NAMES.join(', ')})`);
      if (f.json && f.csv) throw new UsageError('--json and --csv are exclusive');
      let modes: BenchMode[] | undefined;
      if (f.mode !== undefined) {
        if (f.mode === 'both') modes = ['processes', 'threads'];
        else if (f.mode === 'processes' || f.mode === 'threads') modes = [f.mode];
        else throw new UsageError(`--mode must be processes, threads or both, got '${f.mode}'`);
      }
      if (f.timeBase !== 'host' && f.timeBase !== 'simulated') throw new UsageError(`--time-base must be host or simulated, got '${f.timeBase}'`);
      const timeBase = f.timeBase;
      if (timeBase === 'host' && (f.quantum !== undefined || f.costs !== undefined || f.cost.length > 0)) {
        throw new UsageError('--costs, --cost and --quantum shape simulated time: give them with --time-base simulated');
      }
      if (f.plot !== undefined && !/\.svg$/i.test(f.plot)) throw new UsageError(`--plot writes SVG: the file name must end in .svg, got '${f.plot}'`);
      const { params, ...given } = runOptionsGiven(f, BENCH_RUN_FLAGS);
      const run: BenchOptions['run'] = { ...given, lockdep: f.lockdep, daemons: f.daemons };
      if (f.ops !== undefined && f.time !== undefined) throw new UsageError('--ops and --time are exclusive: a run ends by one of them');
      const def = BENCH_SUITES[suite as keyof typeof BENCH_SUITES];
      const ops = f.ops !== undefined ? parseIntStrict(f.ops, '--ops', 1) : timeBase === 'simulated' && f.time === undefined && def.simOps ? def.simOps({ ...def.params, ...(params ?? {}) }) : 0;
      const b = await runBench(suite, parseList(f.cpus, '--cpus', 1, MAX_CPUS), parseDuration(f.time ?? DEFAULT_TIME[timeBase], '--time'), {
        timeBase,
        ...(ops ? { ops } : {}),
        ...(modes ? { modes } : {}),
        ...(f.warmup !== undefined ? { warmupMs: f.warmup === '0' ? 0 : parseDuration(f.warmup, '--warmup') } : {}),
        baseline: f.baseline,
        params: params ?? {},
        run,
        ...(f.progress ? { onProgress: (l: string) => process.stderr.write(l + '\n') } : {}),
      });
      if (f.plot !== undefined) await (await import('../bench/plot.js')).writePlot(b, f.plot);
      if (f.json) process.stdout.write(JSON.stringify(b) + '\n');
      else if (f.csv) {
        process.stdout.write(formatBenchCsv(b) + '\n');
        const over = b.points.filter((x) => x.oversubscribed).map((x) => x.cpus);
        process.stderr.write(`host: ${b.hostCores} core(s)${over.length ? `; simulated CPUs outnumber them at tasks ${over.join(',')}` : ''}\n`);
      } else {
        process.stdout.write(formatBench(b) + '\n');
        if (f.plot !== undefined) process.stdout.write(`plot written to ${f.plot}\n`);
      }
      process.exitCode = b.ok ? 0 : 1;
    });
}
