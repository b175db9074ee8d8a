/**
 * `smpsim stress`: a campaign of runs over derived seeds (campaign.ts), with a progress bar, a report
 * per violation kind and a closing summary. Exit 0, 1 (a run found a violation), 2, or 130 (Ctrl-C).
 * `--catalogue` is the former name of `smpsim explore`.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CampaignOptions, DEFAULT_STRESS_OPS, DEFAULT_STRESS_RUNS, MAX_JOBS, parseShard, runCampaign, tuneForStress } from '../campaign.js';
import { DEFAULT_STRATEGIES, DEFAULT_TRIALS, STRATEGIES } from '../explore.js';
import { parseDuration, parseIntStrict, UsageError } from '../parse.js';
import { CampaignProgress } from '../progress.js';
import { type CampaignSummary, formatCampaign } from '../records.js';
import { formatSummary } from '../report.js';
import { runOptionsFrom } from '../run-flags.js';
import { subcommand } from './common.js';
import { addConfigOption } from './config-option.js';
import { exploreAction } from './explore.js';
import { addRunOptions } from './flags.js';

export function registerStress(p: Command): Command {
  const cmd = addRunOptions(subcommand(p, 'stress').description('many runs of one configuration over seeds derived from --seed; stops at the first violation'))
    .option('--runs <n>', `runs in the campaign (default ${DEFAULT_STRESS_RUNS}, or as many as --time allows)`)
    .option('--time <T>', 'host time of the whole campaign: no run starts after it (e.g. 10m)')
    .option('--jobs <j>', 'runs at a time (default: host cores / --cpus, at least 1)')
    .option('--keep-going', 'go on after a violation')
    .option('--out <file.jsonl>', 'write one JSON line per finished run')
    .option('--resume', 'run only the indices not yet in --out')
    .option('--shard <K/N>', 'run the K-th of N disjoint parts (run i belongs to shard (i mod N)+1)')
    .option('--catalogue', 'deterministic mode: how many schedules each strategy needs to find each bug (a table; --runs caps the schedules per cell)')
    .option('--strategies <list>', `with --catalogue: the strategies to compare (${STRATEGIES.join(', ')})`, DEFAULT_STRATEGIES.join(','))
    .option('--trials <n>', 'with --catalogue: campaigns per cell, base seeds --seed, --seed+1, ...', String(DEFAULT_TRIALS));
  addConfigOption(cmd, 'stress');
  cmd.action(async (flags, command: Command) => {
    if (flags.trace !== undefined) throw new UsageError('--trace records one run: use it with smpsim run or smpsim replay');
    if (flags.catalogue) return exploreAction(flags, command, 'catalogue');
    const f = flags.ops === undefined && flags.duration === undefined ? { ...flags, ops: String(DEFAULT_STRESS_OPS) } : flags;
    const run = tuneForStress(runOptionsFrom(f), (k) => command.getOptionValueSource(k));
    const options: CampaignOptions = {
      run,
      keepGoing: !!flags.keepGoing,
      resume: !!flags.resume,
      ...(flags.runs !== undefined ? { runs: parseIntStrict(flags.runs, '--runs', 1) } : {}),
      ...(flags.time !== undefined ? { timeMs: parseDuration(flags.time, '--time') } : {}),
      ...(flags.jobs !== undefined ? { jobs: parseIntStrict(flags.jobs, '--jobs', 1, MAX_JOBS) } : {}),
      ...(flags.out !== undefined ? { out: flags.out as string } : {}),
      ...(flags.shard !== undefined ? { shard: parseShard(flags.shard) } : {}),
    };
    const json = !!flags.json;
    const progress = new CampaignProgress(options.timeMs);
    const reported = new Set<string>();
    const schedules = new Map<number, string>();
    const interrupt = new AbortController();
    const onSigint = () => interrupt.abort();
    process.once('SIGINT', onSigint);
    let summary: CampaignSummary;
    try {
      summary = await runCampaign({
        ...options,
        signal: interrupt.signal,
        onStart: (i) => progress.start(i.total, i.resumed, i.jobs),
        onRun: (r, s) => {
          progress.run(r.ok);
          if (r.ok) return;
          // The full report for the first run of each violation kind, one line for the others.
          const kind = r.violations[0]?.kind ?? 'unknown';
          if (s?.schedule?.string) schedules.set(r.index, s.schedule.string);
          const replay = r.replay ? `\n  replay: ${r.replay}` : '';
          if (s && !reported.has(kind)) progress.print(`\nrun ${r.index} (seed ${r.seed}):\n${formatSummary(s)}${s.schedule?.replay ? `\nreplay: ${s.schedule.replay}` : ''}\n`, !json);
          else progress.print(`run ${r.index} (seed ${r.seed}): ${kind}: ${r.violations[0]?.message.split('\n')[0] ?? ''}\n  reproduce: ${r.reproduce}${replay}`, !json);
          reported.add(kind);
        },
      });
    } finally {
      progress.stop();
      process.removeListener('SIGINT', onSigint);
    }
    process.stdout.write((json ? JSON.stringify(summary) : formatCampaign(summary)) + '\n');
    const firstSchedule = summary.firstViolation ? schedules.get(summary.firstViolation.index) : undefined;
    if (flags.scheduleOut && firstSchedule) writeFileSync(flags.scheduleOut, firstSchedule + '\n');
    process.exitCode = summary.stopped === 'interrupted' ? 130 : summary.failed > 0 ? 1 : 0;
  });
  return cmd;
}
