/**
 * Stress campaigns: many machine runs of one configuration over seeds derived from a base seed (run i
 * uses deriveSeed(base, i)), on a piscina pool of threads. Each piscina thread runs one machine at a
 * time and keeps its simulated CPUs' worker threads alive between runs (stress-worker.ts).
 *
 * ```ts
 * import { runCampaign } from '@smpsim/harness';
 * const s = await runCampaign({ run: { cpus: 2, ops: 10_000, seed: 7, bugs: ['no-remote-flush'] }, runs: 50, keepGoing: true });
 * console.log(s.ok, s.failed, s.violations, s.firstViolation?.reproduce);
 * ```
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { BUG_CATALOGUE, deriveSeed, ConfigError, validateConfig } from '@smpsim/core';
import { loadWorkload, resolveWorkload } from '@smpsim/cpu-worker';
import { addRunOptions, runOptionsFrom } from './cli.js';
import { addConfigOption } from './config-file.js';
import { parseDuration, parseIntStrict, UsageError } from './parse.js';
import { type CampaignSummary, formatCampaign, readRecords, recordFromSummary, RecordWriter, type RunRecord, summarizeRecords } from './records.js';
import { formatSummary } from './report.js';
import { buildConfig, DEFAULT_RUN, reproduceCommand, type RunOptions, type RunSummary, runMachine } from './run.js';
import { exploreCommandAction } from './explore.js';
import { PCT_STEPS_PER_OP } from './det.js';
import { writeFileSync } from 'node:fs';

/** Per-run length when a campaign gives neither ops nor a duration. */
export const DEFAULT_STRESS_OPS = 20_000;
/** Number of runs when a campaign gives neither runs nor a time. */
export const DEFAULT_STRESS_RUNS = 100;

export interface CampaignOptions {
  /** The machine configuration of every run; `seed` is the base seed. Without ops or durationMs: 20 000 ops. */
  run?: Partial<RunOptions>;
  /** Runs in the campaign (indices 0..runs-1). Default 100, or unbounded with `timeMs`. */
  runs?: number;
  /** Host time of the whole campaign: no run starts after it is used up. */
  timeMs?: number;
  /** Runs at a time. Default: max(1, floor(availableParallelism() / cpus)). */
  jobs?: number;
  /** Go on after a violation (default: stop at the first one and cancel the runs in flight). */
  keepGoing?: boolean;
  /** JSONL file: one line per finished run, written and flushed as the run finishes. */
  out?: string;
  /** Read `out` first and run only the indices not yet there. */
  resume?: boolean;
  /** Run only shard K of N: the indices i with (i mod N) + 1 = K. 'K/N' or { index: K, count: N }. */
  shard?: string | { index: number; count: number };
  /** Stops the campaign (runs in flight are cancelled); the summary says 'interrupted'. */
  signal?: AbortSignal;
  /** Called once the campaign knows what it will run. */
  onStart?: (info: { total: number | null; resumed: number; jobs: number; campaign: string }) => void;
  /** Called for every finished run (summary is null when the run's thread failed: a 'crash' record). */
  onRun?: (record: RunRecord, summary: RunSummary | null) => void;
}

export function parseShard(v: string | { index: number; count: number }): { index: number; count: number } {
  if (typeof v === 'object') {
    if (!(Number.isInteger(v.index) && Number.isInteger(v.count) && v.index >= 1 && v.index <= v.count)) {
      throw new UsageError(`--shard must be K/N with 1 ≤ K ≤ N, got ${v.index}/${v.count}`);
    }
    return v;
  }
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) throw new UsageError(`--shard must be K/N (e.g. 2/8), got '${v}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(index >= 1 && index <= count)) throw new UsageError(`--shard must be K/N with 1 ≤ K ≤ N, got '${v}'`);
  return { index, count };
}

export function defaultJobs(cpus: number): number {
  return Math.max(1, Math.floor(availableParallelism() / cpus));
}

/** The stress command of a campaign's configuration (its identity in the JSONL records). */
export function campaignCommand(o: RunOptions): string {
  return reproduceCommand(o).replace(/^npx smpsim run/, 'npx smpsim stress');
}

/**
 * PCT's k for a campaign of deterministic runs: the scheduling steps of one run of the base seed under
 * the random walk, without bug switches (if that run fails anyway: at least ops x cpus x 2).
 */
export async function calibratePctSteps(o: RunOptions): Promise<number> {
  // without the bug switches, so that a bug the calibration run hits does not cut k short
  const s = await runMachine({ ...o, sched: 'random', pctSteps: 0, bugs: [] });
  const steps = s.schedule?.steps ?? 0;
  return Math.max(1, s.ok ? steps : Math.max(steps, o.ops * o.cpus * PCT_STEPS_PER_OP));
}

/** Checks a campaign's run configuration in this thread, so bad input fails before any thread starts. */
async function preflight(o: RunOptions): Promise<void> {
  if (!o.ops && !o.durationMs) throw new UsageError('a run needs --ops or --duration');
  if (o.procs > o.cpus) throw new UsageError(`--procs (${o.procs}) cannot exceed --cpus (${o.cpus})`);
  const workload = await loadWorkload(await resolveWorkload(o.workload, o.cwd));
  let files;
  try {
    files = workload.files({ cpus: o.cpus, procs: o.procs, ops: o.ops, seed: o.seed, params: o.params });
  } catch (e) {
    throw new ConfigError(`workload ${workload.name}: files(): ${(e as Error).message}`);
  }
  validateConfig(buildConfig(o, files));
}

/**
 * Runs a stress campaign and resolves with its summary (the object `smpsim stress --json` prints).
 * Throws UsageError / ConfigError / WorkloadError for bad input before any run starts. A violation
 * is not an error: it is in the summary (`failed`, `violations`, `firstViolation`).
 */
export async function runCampaign(options: CampaignOptions = {}): Promise<CampaignSummary> {
  const partial = options.run ?? {};
  const noLength = !partial.ops && partial.durationMs === undefined;
  const o: RunOptions = {
    ...DEFAULT_RUN,
    ...partial,
    params: { ...(partial.params ?? {}) },
    ...(noLength ? { ops: DEFAULT_STRESS_OPS, durationMs: 0 } : {}),
  };
  if (o.ops) o.durationMs = 0;
  const check = (v: number | undefined, what: string, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new UsageError(`${what} must be an integer ≥ ${min}, got ${v}`);
  };
  check(options.runs, '--runs', 1);
  check(options.jobs, '--jobs', 1);
  if (options.timeMs !== undefined && !(options.timeMs > 0)) throw new UsageError(`--time must be positive, got ${options.timeMs}`);
  if (options.resume && !options.out) throw new UsageError('--resume needs --out FILE');
  const shard = options.shard !== undefined ? parseShard(options.shard) : { index: 1, count: 1 };
  const shardName = options.shard !== undefined ? `${shard.index}/${shard.count}` : null;
  const runs = options.runs ?? (options.timeMs !== undefined ? Infinity : DEFAULT_STRESS_RUNS);
  // deterministic mode runs one simulated CPU at a time: a run needs one host core
  const jobs = options.jobs ?? defaultJobs(o.mode === 'deterministic' ? 1 : o.cpus);
  const base = o.seed;
  await preflight(o);
  // PCT draws its change points from the steps 1..k of a run, so it needs k in advance: a campaign
  // measures it once, deterministically, and every run (and the campaign's identity) uses that k.
  if (o.mode === 'deterministic' && o.sched === 'pct' && !o.pctSteps && !options.signal?.aborted) o.pctSteps = await calibratePctSteps(o);
  const campaign = campaignCommand(o);

  const inCampaign = (i: number) => i < runs && i % shard.count === shard.index - 1;
  const records: RunRecord[] = [];
  const done = new Set<number>();
  if (options.resume && options.out) {
    for (const r of readRecords(options.out, { repair: true })) {
      if (r.campaign !== campaign) {
        throw new UsageError(`${options.out} holds runs of another campaign (${r.campaign}); this one is ${campaign}`);
      }
      if (!inCampaign(r.index) || done.has(r.index)) continue;
      done.add(r.index);
      records.push(r);
    }
  }
  const resumed = records.length;
  const writer = options.out ? new RecordWriter(options.out, { truncate: !options.resume }) : null;
  const shardSize = (n: number) => Math.max(0, Math.ceil((n - (shard.index - 1)) / shard.count));
  const total = Number.isFinite(runs) ? shardSize(runs) : null;
  options.onStart?.({ total, resumed, jobs, campaign });

  function* pending(): Generator<number> {
    for (let i = shard.index - 1; i < runs; i += shard.count) if (!done.has(i)) yield i;
  }
  const queue = pending();
  const t0 = Date.now();
  const deadline = options.timeMs !== undefined ? t0 + options.timeMs : Infinity;
  let executed = 0;
  let stopped: CampaignSummary['stopped'] = 'complete';
  let stopping = false;
  const cancel = new AbortController();
  const stop = (why: CampaignSummary['stopped']) => {
    if (stopping) return;
    stopping = true;
    stopped = why;
    cancel.abort();
  };
  const onAbort = () => stop('interrupted');
  options.signal?.addEventListener('abort', onAbort);

  const toRun = total === null ? jobs : Math.max(0, total - resumed);
  const threads = Math.max(1, Math.min(jobs, toRun));
  let pool: Piscina | null = null;
  try {
    if (options.signal?.aborted) stop('interrupted');
    if (toRun > 0 && !stopping) {
      pool = new Piscina({
        filename: new URL('./stress-worker.js', import.meta.url).href,
        minThreads: threads,
        maxThreads: threads,
        idleTimeout: 60_000,
        // The thread must keep its event loop running between tasks: its CPU workers talk to it by messages.
        atomics: 'disabled',
      });
      const p = pool;
      await new Promise<void>((finished) => {
        let active = 0;
        const start = (i: number) => {
          active++;
          const ro: RunOptions = { ...o, seed: deriveSeed(base, i) };
          const t = Date.now();
          p.run(ro, { signal: cancel.signal }).then(
            (s: RunSummary) => settle(i, s, null, Date.now() - t),
            (e: unknown) => settle(i, null, e, Date.now() - t),
          );
        };
        const settle = (i: number, s: RunSummary | null, err: unknown, ms: number) => {
          active--;
          if (!(err && cancel.signal.aborted)) {
            const r: RunRecord = s
              ? recordFromSummary(i, base, campaign, s, ms)
              : {
                  index: i,
                  seed: deriveSeed(base, i),
                  base,
                  ok: false,
                  violations: [{ kind: 'crash', message: `the run's thread failed: ${(err as Error)?.message ?? String(err)}` }],
                  reproduce: reproduceCommand({ ...o, seed: deriveSeed(base, i) }),
                  hostMs: ms,
                  finishedAt: Date.now(),
                  campaign,
                  stats: null,
                };
            records.push(r);
            executed++;
            writer?.write(r);
            options.onRun?.(r, s);
            if (!r.ok && !options.keepGoing) stop('violation');
          }
          pump();
        };
        const pump = () => {
          while (!stopping && active < threads) {
            if (Date.now() >= deadline) {
              stopped = 'time';
              break;
            }
            const n = queue.next();
            if (n.done) break;
            start(n.value);
          }
          if (active === 0) finished();
        };
        pump();
      });
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    writer?.close();
    // Terminates every piscina thread, and with them their CPU worker threads.
    if (pool) await pool.destroy();
  }
  return summarizeRecords(records, { campaign, baseSeed: base, shard: shardName, resumed, executed, hostMs: Date.now() - t0, stopped });
}

/** Progress on stderr: a cli-progress bar on a terminal, a plain line every few seconds otherwise. */
class Progress {
  private bars: cliProgress.MultiBar | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private timer: NodeJS.Timeout | null = null;
  private total: number | null = null;
  private done = 0;
  private executed = 0;
  private failed = 0;
  private readonly t0 = Date.now();
  private lastLine = Date.now();

  constructor(private readonly timeMs: number | undefined) {}

  start(total: number | null, resumed: number, jobs: number): void {
    this.total = total;
    this.done = resumed;
    if (process.stderr.isTTY) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: `stress {bar} ${this.timeMs !== undefined ? '{runs}' : '{value}/{total}'} runs | {violations} violation(s) | {rate} runs/s | {left} left | ${jobs} at a time`,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          fps: 5,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      // With --time the bar shows the time used; otherwise the runs done.
      this.bar = this.timeMs !== undefined ? this.bars.create(Math.ceil(this.timeMs / 100), 0, this.payload()) : this.bars.create(total ?? 0, this.done, this.payload());
    }
    this.timer = setInterval(() => this.tick(), 500);
    this.timer.unref();
  }

  private payload() {
    const secs = (Date.now() - this.t0) / 1000;
    const rate = secs > 0 ? this.executed / secs : 0;
    let left = '?';
    if (this.timeMs !== undefined) left = fmtSecs(Math.max(0, this.timeMs / 1000 - secs));
    else if (this.total !== null && rate > 0) left = fmtSecs((this.total - this.done) / rate);
    return { runs: this.done, violations: this.failed, rate: rate.toFixed(1), left };
  }

  private tick(): void {
    if (this.bar) {
      const value = this.timeMs !== undefined ? Math.min(this.timeMs, Date.now() - this.t0) / 100 : this.done;
      this.bar.update(Math.floor(value), this.payload());
    } else if (Date.now() - this.lastLine >= 2000) {
      this.lastLine = Date.now();
      const p = this.payload();
      process.stderr.write(`stress: ${this.done}${this.total !== null ? `/${this.total}` : ''} runs, ${p.violations} violation(s), ${p.rate} runs/s, ${p.left} left\n`);
    }
  }

  run(ok: boolean): void {
    this.done++;
    this.executed++;
    if (!ok) this.failed++;
    this.tick();
  }

  /** Prints text (a violation report) without breaking the bar. */
  print(text: string, toStdout: boolean): void {
    if (this.bars && (!toStdout || process.stdout.isTTY)) this.bars.log(text + '\n');
    else (toStdout ? process.stdout : process.stderr).write(text + '\n');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.bar) this.tick();
    this.bars?.stop();
  }
}

function fmtSecs(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A stress campaign hunts bugs: seeded perturbation and periodic checkpoints unless told otherwise. */
export const STRESS_DEFAULTS = { perturb: 0.02, checkEvery: 2_000_000 } as const;

/**
 * Applies the stress defaults and each bug's tuning (BUG_CATALOGUE[id].tuning: workload, params,
 * perturbation, checkpoints, CPUs) to every option the user left at its default (`source(flag)` is
 * commander's value source: 'default' or undefined when not given).
 */
export function tuneForStress(run: RunOptions, source: (flag: string) => string | undefined): RunOptions {
  const free = (k: string) => {
    const s = source(k);
    return s === undefined || s === 'default';
  };
  const o: RunOptions = { ...run };
  if (free('perturb')) o.perturb = STRESS_DEFAULTS.perturb;
  if (free('checkEvery')) o.checkEvery = STRESS_DEFAULTS.checkEvery;
  for (const b of run.bugs) {
    const t = BUG_CATALOGUE[b].tuning;
    if (!t) continue;
    if (t.workload !== undefined && free('workload')) o.workload = t.workload;
    if (t.params !== undefined && free('param')) o.params = { ...o.params, ...t.params };
    if (t.perturb !== undefined && free('perturb')) o.perturb = Math.max(o.perturb, t.perturb);
    if (t.checkEvery !== undefined && free('checkEvery')) o.checkEvery = o.checkEvery ? Math.min(o.checkEvery, t.checkEvery) : t.checkEvery;
    if (t.cpus !== undefined && free('cpus')) o.cpus = t.cpus;
    if (t.ops !== undefined && free('ops') && free('duration') && !o.durationMs) o.ops = t.ops;
    if (t.daemons !== undefined && free('daemon')) o.daemonConfig = { ...o.daemonConfig, ...t.daemons };
  }
  return o;
}

/** Registers `smpsim stress`. */
export function stressCommand(p: Command): Command {
  const cmd = addRunOptions(
    p
      .command('stress')
      .description('many runs of one configuration over seeds derived from --seed; stops at the first violation')
      .exitOverride()
      .configureOutput({ writeErr: () => {} }),
  )
    .option('--runs <n>', `runs in the campaign (default ${DEFAULT_STRESS_RUNS}, or as many as --time allows)`)
    .option('--time <T>', 'host time of the whole campaign: no run starts after it (e.g. 10m)')
    .option('--jobs <j>', 'runs at a time (default: host cores / --cpus, at least 1)')
    .option('--keep-going', 'go on after a violation')
    .option('--out <file.jsonl>', 'write one JSON line per finished run')
    .option('--resume', 'run only the indices not yet in --out')
    .option('--shard <K/N>', 'run the K-th of N disjoint parts (run i belongs to shard (i mod N)+1)')
    .option('--catalogue', 'deterministic mode: how many schedules each strategy needs to find each bug (a table; --runs caps the schedules per cell)')
    .option('--strategies <list>', 'with --catalogue: the strategies to compare (random, pct, free)', 'random,pct')
    .option('--trials <n>', 'with --catalogue: campaigns per cell, base seeds --seed, --seed+1, ...', '3');
  addConfigOption(cmd, 'stress');
  cmd.action(async (flags, command: Command) => {
    if (flags.trace !== undefined) throw new UsageError('--trace records one run: use it with smpsim run or smpsim replay');
    if (flags.catalogue) return exploreCommandAction(flags, command);
    const f = flags.ops === undefined && flags.duration === undefined ? { ...flags, ops: String(DEFAULT_STRESS_OPS) } : flags;
    const run = tuneForStress(runOptionsFrom(f), (k) => command.getOptionValueSource(k));
    const options: CampaignOptions = {
      run,
      keepGoing: !!flags.keepGoing,
      resume: !!flags.resume,
      ...(flags.runs !== undefined ? { runs: parseIntStrict(flags.runs, '--runs', 1) } : {}),
      ...(flags.time !== undefined ? { timeMs: parseDuration(flags.time, '--time') } : {}),
      ...(flags.jobs !== undefined ? { jobs: parseIntStrict(flags.jobs, '--jobs', 1, 1024) } : {}),
      ...(flags.out !== undefined ? { out: flags.out as string } : {}),
      ...(flags.shard !== undefined ? { shard: parseShard(flags.shard) } : {}),
    };
    const json = !!flags.json;
    const progress = new Progress(options.timeMs);
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
