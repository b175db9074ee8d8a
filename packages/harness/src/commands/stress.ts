/**
 * `smpsim stress`: a campaign of runs over derived seeds (campaign.ts), with a progress bar, a report
 * per violation kind and a closing summary. Exit 0, 1 (a run found a violation), 2, or 130 (Ctrl-C).
 * `--catalogue` is the former name of `smpsim explore`.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CampaignOptions, DEFAULT_STRESS_OPS, DEFAULT_STRESS_RUNS, defaultStressOps, MAX_JOBS, parseShard, runCampaign, tuneForStress } from '../campaign.js';
import { DEFAULT_STRATEGIES, DEFAULT_TRIALS, STRATEGIES } from '../explore.js';
import { parseDuration, parseIntStrict, UsageError } from '../parse.js';
import { CampaignProgress } from '../progress.js';
import { type CampaignSummary, formatCampaign } from '../records.js';
import { formatDrawn, PORTFOLIO } from '../portfolio.js';
import { formatSummary } from '../report.js';
import { runOptionsFrom } from '../run-flags.js';
import { attributeName } from '../run-option-row.js';
import { RUN_OPTION_ROWS } from '../run-options.js';
import { runSignatures } from '../signature.js';
import { subcommand } from './common.js';
import { addConfigOption } from './config-option.js';
import { exploreAction } from './explore.js';
import { addRunOptions } from './flags.js';

export function registerStress(p: Command): Command {
  const cmd = addRunOptions(subcommand(p, 'stress').description('many runs over seeds derived from --seed: of one configuration, or (without --workload) a portfolio of drawn ones; stops at the first violation'))
    .option('--runs <n>', `runs in the campaign (default ${DEFAULT_STRESS_RUNS}, or as many as --time allows)`)
    .option('--time <T>', 'host time of the whole campaign: no run starts after it (e.g. 10m)')
    .option('--jobs <j>', 'runs at a time (default: host cores / --cpus, at least 1)')
    .option('--keep-going', 'go on after a violation')
    .option('--out <file.jsonl>', 'write one JSON line per finished run')
    .option('--resume', 'run only the indices not yet in --out')
    .option('--shard <K/N>', 'run the K-th of N disjoint parts (run i belongs to shard (i mod N)+1)')
    .option('--portfolio [weights]', `draw each run's workload, parameters, length, CPUs, processes, perturbation, checkpoints and kernel-thread rates from its seed (the default without --workload, unless --bug tunes the campaign); WEIGHTS overrides the table's, e.g. msync-race=3,page-fault3=0 (workloads: ${Object.keys(PORTFOLIO).join(', ')})`)
    .option('--tune', "apply each --bug's tuning to the options left at their defaults (the default with --bug, unless --portfolio is given)")
    .option('--no-tune', 'no per-bug tuning: with --bug and without --workload, a portfolio campaign')
    .option('--catalogue', 'deterministic mode: how many schedules each strategy needs to find each bug (a table; --runs caps the schedules per cell)')
    .option('--strategies <list>', `with --catalogue: the strategies to compare (${STRATEGIES.join(', ')})`, DEFAULT_STRATEGIES.join(','))
    .option('--trials <n>', 'with --catalogue: campaigns per cell, base seeds --seed, --seed+1, ...', String(DEFAULT_TRIALS));
  addConfigOption(cmd, 'stress');
  cmd.action(async (flags, command: Command) => {
    if (flags.trace !== undefined) throw new UsageError('--trace records one run: use it with smpsim run or smpsim replay');
    if (flags.catalogue) {
      if (flags.portfolio !== undefined) throw new UsageError('--catalogue runs each bug with its tuning: leave out --portfolio');
      return exploreAction(flags, command, 'catalogue');
    }
    const f = flags.ops === undefined && flags.duration === undefined ? { ...flags, ops: String(DEFAULT_STRESS_OPS) } : flags;
    const source = (k: string) => command.getOptionValueSource(k);
    const given = (k: string) => source(k) !== undefined && source(k) !== 'default';
    const parsed = runOptionsFrom(f);
    if (flags.portfolio !== undefined && given('workload')) throw new UsageError('--portfolio draws the workload of each run: leave out --workload or --portfolio');
    if (flags.portfolio !== undefined && flags.tune === true) throw new UsageError('--tune gives the campaign one configuration for its bugs, --portfolio draws one per run: give one of them');
    // per-bug tuning: on with --bug unless told otherwise; a portfolio without --workload and without tuning
    const tune = (flags.tune as boolean | undefined) ?? (flags.portfolio === undefined && parsed.bugs.length > 0);
    const portfolio = !given('workload') && !(tune && parsed.bugs.length > 0);
    const run = tuneForStress(parsed, source, tune);
    if (tune && parsed.bugs.length > 0) {
      // say what the tuning changed, so that a campaign of a chosen configuration is not silently another
      const plain = tuneForStress(parsed, source, false);
      const changed = RUN_OPTION_ROWS.map(([k]) => k)
        .filter((k) => JSON.stringify(run[k]) !== JSON.stringify(plain[k]))
        .map((k) => `${k} ${typeof run[k] === 'object' ? JSON.stringify(run[k]) : String(run[k])}`);
      if (changed.length) process.stderr.write(`stress: the tuning of ${parsed.bugs.map((b) => `--bug ${b}`).join(', ')} set ${changed.join(', ')} (options left at their defaults; --no-tune for none)\n`);
    }
    // no length given and none tuned: the workload's own default (msync-region's ops are whole-region msyncs)
    if (!portfolio && flags.ops === undefined && flags.duration === undefined && run.ops === parsed.ops) run.ops = await defaultStressOps(run);
    const options: CampaignOptions = {
      run,
      ...(portfolio
        ? {
            portfolio: {
              weights: flags.portfolio === true ? undefined : flags.portfolio,
              fixed: RUN_OPTION_ROWS.filter(([, row]) => given(attributeName(row))).map(([k]) => k),
            },
          }
        : {}),
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
        onPortfolio: (p) => {
          const left = p.excluded.length ? `; left out: ${p.excluded.map((x) => `${x.workload} (${x.why})`).join(', ')}` : '';
          progress.print(`portfolio: ${p.workloads.map((w) => `${w.name} ${w.weight}`).join(', ')}${left}`, !json);
        },
        onRun: (r, s) => {
          progress.run(r.ok);
          if (r.ok) return;
          // The full report for the first run of each finding (signature.ts), one line for the others.
          const kind = r.violations[0]?.kind ?? 'unknown';
          const sigs = runSignatures(r.violations);
          if (s?.schedule?.string) schedules.set(r.index, s.schedule.string);
          const replay = r.replay ? `\n  replay: ${r.replay}` : '';
          const drawn = r.drawn ? `\n  drawn: ${formatDrawn(r.drawn)}` : '';
          if (s && sigs.some((x) => !reported.has(x))) progress.print(`\nrun ${r.index} (seed ${r.seed}):${drawn}\n${formatSummary(s)}${s.schedule?.replay ? `\nreplay: ${s.schedule.replay}` : ''}\n  finding: ${sigs.join('; ')}\n`, !json);
          else progress.print(`run ${r.index} (seed ${r.seed}): ${kind}: ${r.violations[0]?.message.split('\n')[0] ?? ''}${drawn}\n  reproduce: ${r.reproduce}${replay}`, !json);
          for (const x of sigs) reported.add(x);
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
