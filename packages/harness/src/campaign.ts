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
import { BUG_CATALOGUE, deriveSeed, validateConfig } from '@smpsim/core';
import { loadWorkload, resolveWorkload } from '@smpsim/cpu-worker';
import { campaignLine, reproduceLine } from './command-lines.js';
import { UsageError } from './parse.js';
import { type Drawn, Portfolio, portfolioWeights } from './portfolio.js';
import { type CampaignSummary, readRecords, recordFromSummary, RecordWriter, type RunRecord, summarizeRecords } from './records.js';
import { configFor, runMachine } from './run.js';
import { type AnyRow, longFlag } from './run-option-row.js';
import { DEFAULT_RUN, PCT_STEPS_PER_OP, RUN_OPTIONS, type RunKey, type RunOptions } from './run-options.js';
import type { RunSummary } from './summary.js';

/** Per-run length when a campaign gives neither ops nor a duration. */
export const DEFAULT_STRESS_OPS = 20_000;
/** Number of runs when a campaign gives neither runs nor a time. */
export const DEFAULT_STRESS_RUNS = 100;
/** Runs at a time at most (--jobs). */
export const MAX_JOBS = 1024;

export interface CampaignOptions {
  /** The machine configuration of every run; `seed` is the base seed. Without ops or durationMs: the workload's defaultOps, else 20 000 ops. */
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
  /**
   * A portfolio campaign (portfolio.ts): each run's workload, parameters, length, CPUs, processes,
   * perturbation, checkpoints and kernel-thread rates are drawn from its seed, except the options in
   * `fixed` (default: the keys given in `run`), which keep `run`'s values. `weights`: overrides of
   * the table's weights, 'NAME=W,...' or a map. `true`: the table as it is, nothing fixed but `run`'s keys.
   */
  portfolio?: true | { weights?: string | Readonly<Record<string, unknown>>; fixed?: readonly RunKey[] };
  /** Stops the campaign (runs in flight are cancelled); the summary says 'interrupted'. */
  signal?: AbortSignal;
  /** Called once the campaign knows what it will run. */
  onStart?: (info: { total: number | null; resumed: number; jobs: number; campaign: string }) => void;
  /** Called for every finished run (summary is null when the run's thread failed: a 'crash' record). */
  onRun?: (record: RunRecord, summary: RunSummary | null) => void;
  /** A portfolio campaign: called once the portfolio knows what it draws from (after the checks, before any run). */
  onPortfolio?: (p: Portfolio) => void;
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

/**
 * The ops per CPU of a campaign's runs when no length is given: the workload's own `defaultOps`
 * (msync-region's op is an msync of a whole region), else DEFAULT_STRESS_OPS.
 */
export async function defaultStressOps(o: Pick<RunOptions, 'workload' | 'cwd'>): Promise<number> {
  const workload = await loadWorkload(await resolveWorkload(o.workload, o.cwd));
  return workload.defaultOps ?? DEFAULT_STRESS_OPS;
}

/** Checks a campaign's run configuration in this thread, so bad input fails before any thread starts. */
async function preflight(o: RunOptions): Promise<void> {
  if (!o.ops && !o.durationMs) throw new UsageError('a run needs --ops or --duration');
  if (o.procs > o.cpus) throw new UsageError(`--procs (${o.procs}) cannot exceed --cpus (${o.cpus})`);
  const workload = await loadWorkload(await resolveWorkload(o.workload, o.cwd));
  validateConfig(configFor(o, workload));
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
  if (noLength && !options.portfolio) o.ops = await defaultStressOps(o);
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
  let portfolio: Portfolio | null = null;
  if (options.portfolio) {
    const spec = options.portfolio === true ? {} : options.portfolio;
    const fixed = new Set<RunKey>(spec.fixed ?? (Object.keys(partial).filter((k) => k in DEFAULT_RUN && k !== 'seed') as RunKey[]));
    if (!o.ops && !o.durationMs) throw new UsageError('a run needs --ops or --duration');
    portfolio = await Portfolio.create(o, fixed, portfolioWeights(spec.weights));
    options.onPortfolio?.(portfolio);
  }
  // deterministic mode runs one simulated CPU at a time: a run needs one host core
  const jobs = options.jobs ?? defaultJobs(o.mode === 'deterministic' ? 1 : (portfolio?.maxCpus ?? o.cpus));
  const base = o.seed;
  if (!portfolio) await preflight(o);
  // PCT draws its change points from the steps 1..k of a run, so it needs k in advance: a campaign
  // measures it once, deterministically, and every run (and the campaign's identity) uses that k.
  // (A portfolio's runs differ: each estimates its own k from its ops and CPUs.)
  if (!portfolio && o.mode === 'deterministic' && o.sched === 'pct' && !o.pctSteps && !options.signal?.aborted) o.pctSteps = await calibratePctSteps(o);
  const campaign = portfolio ? campaignLine(o, { drawn: portfolio.drawnKeys, weights: portfolio.weights.text }) : campaignLine(o);
  /** Run i's options (and, in a portfolio, what was drawn for it). */
  const runOf = (i: number): { ro: RunOptions; drawn?: Drawn } => {
    if (!portfolio) return { ro: { ...o, seed: deriveSeed(base, i) } };
    const d = portfolio.draw(deriveSeed(base, i));
    return { ro: d.run, drawn: d.drawn };
  };

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
          const { ro, drawn } = runOf(i);
          const t = Date.now();
          p.run(ro, { signal: cancel.signal }).then(
            (s: RunSummary) => settle(i, ro, drawn, s, null, Date.now() - t),
            (e: unknown) => settle(i, ro, drawn, null, e, Date.now() - t),
          );
        };
        const settle = (i: number, ro: RunOptions, drawn: Drawn | undefined, s: RunSummary | null, err: unknown, ms: number) => {
          active--;
          if (!(err && cancel.signal.aborted)) {
            const r: RunRecord = s
              ? recordFromSummary(i, base, campaign, s, ms, drawn)
              : {
                  index: i,
                  seed: ro.seed,
                  base,
                  ok: false,
                  violations: [{ kind: 'crash', message: `the run's thread failed: ${(err as Error)?.message ?? String(err)}` }],
                  ...(drawn ? { drawn } : {}),
                  reproduce: reproduceLine(ro),
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
  const summary = summarizeRecords(records, { campaign, baseSeed: base, shard: shardName, resumed, executed, hostMs: Date.now() - t0, stopped });
  if (portfolio) {
    summary.portfolio = {
      weights: Object.fromEntries(portfolio.workloads.map((w) => [w.name, w.weight])),
      drawn: [...portfolio.drawnKeys].filter((k) => k !== 'durationMs').map((k) => longFlag(RUN_OPTIONS[k] as AnyRow).slice(2)),
      excluded: [...portfolio.excluded],
    };
  }
  return summary;
}

/** A stress campaign hunts bugs: seeded perturbation and periodic checkpoints unless told otherwise. */
export const STRESS_DEFAULTS = { perturb: 0.02, checkEvery: 2_000_000 } as const;

/**
 * Applies the stress defaults and (unless `tune` is false: `--no-tune`) each bug's tuning (BUG_CATALOGUE[id].tuning: workload, params,
 * perturbation, checkpoints, CPUs, host threads) to every option the user left at its default (`source(flag)` is
 * commander's value source: 'default' or undefined when not given).
 */
export function tuneForStress(run: RunOptions, source: (flag: string) => string | undefined, tune = true): RunOptions {
  const free = (k: string) => {
    const s = source(k);
    return s === undefined || s === 'default';
  };
  const o: RunOptions = { ...run };
  if (free('perturb')) o.perturb = STRESS_DEFAULTS.perturb;
  if (free('checkEvery')) o.checkEvery = STRESS_DEFAULTS.checkEvery;
  for (const b of tune ? run.bugs : []) {
    const t = BUG_CATALOGUE[b].tuning;
    if (!t) continue;
    if (t.workload !== undefined && free('workload')) o.workload = t.workload;
    if (t.params !== undefined && free('param') && (t.workload === undefined || o.workload === t.workload)) o.params = { ...o.params, ...t.params };
    if (t.perturb !== undefined && free('perturb')) o.perturb = Math.max(o.perturb, t.perturb);
    if (t.checkEvery !== undefined && free('checkEvery')) o.checkEvery = o.checkEvery ? Math.min(o.checkEvery, t.checkEvery) : t.checkEvery;
    if (t.cpus !== undefined && free('cpus')) o.cpus = t.cpus;
    if (t.procs !== undefined && free('procs') && (t.workload === undefined || o.workload === t.workload)) o.procs = Math.min(t.procs, o.cpus);
    if (t.ops !== undefined && free('ops') && free('duration') && !o.durationMs) o.ops = t.ops;
    if (t.daemons !== undefined && free('daemon')) o.daemonConfig = { ...o.daemonConfig, ...t.daemons };
    if (t.hostThreads !== undefined && free('hostThreads') && o.mode === 'free') o.hostThreads = t.hostThreads;
  }
  return o;
}
