/**
 * Portfolio campaigns: `smpsim stress` without `--workload` draws each run's configuration — the
 * workload, its parameters (file sizes, op mix), the run length, the CPU and process counts, the
 * perturbation, the checkpoint period, the kernel threads' rates and (free mode) the host scheduler — from a seeded generator of the
 * run's seed (deriveSeed(base, i)), so the same campaign seed gives the same draws on any machine, in
 * any shard, after any resume. An option the user gave is never drawn. A configuration the workload
 * refuses (its files() throws, e.g. msync-race on one CPU, mprotect-race in two processes) or the
 * machine refuses (validateConfig) is never drawn: each draw picks only among accepted values.
 *
 * Every weight and every list of values lives in the two tables below. To add a workload to the
 * portfolio, add a row to PORTFOLIO (its name as `--workload` takes it, a weight, a `why`, its `ops`
 * and, optionally, lists of values for its parameters). A row with weight 0 is never drawn unless
 * `--portfolio NAME=W` gives it a weight.
 */
import { type DaemonConfig, Rng, validateConfig } from '@smpsim/core';
import { loadWorkload, resolveWorkload, type Workload } from '@smpsim/cpu-worker';
import { z } from 'zod';
import { UsageError } from './parse.js';
import { configFor } from './run.js';
import type { RunKey, RunOptions } from './run-options.js';

type ParamValue = string | number | boolean;

/** One workload of the portfolio. */
export interface PortfolioRow {
  /** Relative weight of the workload in the draw (0: never drawn unless overridden). */
  readonly weight: number;
  /** What it stresses, or why it is left out: the table is read by people choosing weights. */
  readonly why: string;
  /**
   * Ops per CPU to draw from when the user gives neither --ops nor --duration. An op is the
   * workload's own unit (a store, an msync, a PTE rewritten), so each row sizes its runs: about a
   * second or two of host time at 2 CPUs.
   */
  readonly ops: readonly number[];
  /** Values to draw each parameter from; a parameter not listed keeps the workload's default. */
  readonly params?: Readonly<Record<string, readonly ParamValue[]>>;
  /**
   * The row's own lists for run options PORTFOLIO_DRAWS draws for every workload (a value listed twice
   * is drawn twice as often), for a workload whose races live in one shape of machine.
   */
  readonly draws?: {
    readonly cpus?: readonly number[];
    readonly procs?: readonly number[];
    readonly perturb?: readonly number[];
    /** Host schedulers (PORTFOLIO_DRAWS.hostScheduler). */
    readonly hostScheduler?: readonly HostScheduler[];
    /** Kernel-thread and amplifier settings (PORTFOLIO_DRAWS.daemonConfig). */
    readonly daemonConfig?: readonly Partial<DaemonConfig>[];
  };
}

/**
 * Who schedules the simulated CPUs on the host when they outnumber its cores: run tokens (the
 * default, `--host-threads 0`), or the host OS (`--host-threads` = the run's CPUs: no tokens).
 */
export type HostScheduler = 'tokens' | 'os';

/** The values of the run options a portfolio draws for every workload (each drawn uniformly). */
export const PORTFOLIO_DRAWS = {
  cpus: [2, 3, 4],
  /** Processes the CPUs are divided into, at most the run's CPUs. */
  procs: [1, 2, 3],
  perturb: [0, 0.02, 0.1, 0.5],
  checkEvery: [2_000_000, 500_000],
  /** Kernel-thread rates: the defaults, or a busy journal and reclaim (strip-buffers-unlocked's window). */
  daemonConfig: [{}, { journalPeriod: 100_000, reclaimPeriod: 100_000, reclaimBatch: 32 }],
  /** Free mode: run tokens two times in three, the host OS otherwise (`hostThreads`: the run's CPUs). */
  hostScheduler: ['tokens', 'tokens', 'os'] as readonly HostScheduler[],
} as const;

/** The workloads of a portfolio campaign. Add a row here for a new workload. */
export const PORTFOLIO: Readonly<Record<string, PortfolioRow>> = {
  'dirty-share': {
    weight: 4,
    why: 'the broad one: stores, loads, msync, munmap/remap and mprotect over files with and without write notification, beside the flusher, journal and reclaim',
    ops: [5_000, 20_000, 50_000],
    params: {
      files: [1, 2, 3],
      pages: [16, 64, 256],
      msync: [10, 40, 200],
      remap: [0, 20, 100],
      hot: [5_000, 8_000, 9_500],
      // as --param reads them back: true and false are booleans
      writenotify: ['mixed', true, false],
      // write(2)/read(2) mixed with the mapping a third of the time; truncation at its default or ten times it
      syscalls: [0, 0, 2_000],
      truncate: [2, 20],
    },
  },
  'msync-race': { weight: 2, why: "writers vs msync(MS_SYNC) on one page, checking msync's contract (needs 2 CPUs)", ops: [1_000, 5_000] },
  'mprotect-race': {
    weight: 2,
    why: 'mprotect rewriting PTEs under writers of one process, with or without write notification (lost D bits)',
    ops: [5_000, 20_000],
    params: { pages: [4, 8, 16], writenotify: [false, true] },
  },
  'db-checkpoint': {
    // the one pattern where threads write through ranges other threads unmap, mprotect and msync, and
    // (with two processes) one process's checkpointer cleans pages the other is unmapping: the zap
    // and page_mkclean races live only here, so it weighs as much as dirty-share. Those races need a
    // writer and an unmapping checkpointer in one process and a cleaner in another, inside a window
    // of a few instructions: so two processes of two threads and a wide perturbation are drawn
    // more often, and the op mix leans to munmap/remap half the time (mprotect stays in the mix:
    // with none, mkclean-unlocked-check was found in 1 of 3 90 s campaigns instead of 3).
    weight: 4,
    why: 'writer and checkpointer threads of a process share one mapping; checkpointers msync, mprotect and munmap/remap ranges under the writers',
    ops: [5_000, 20_000],
    params: {
      pages: [16, 64],
      range: [1, 4, 16],
      checkpointers: [1, 2],
      hot: [5_000, 8_000],
      remap: [3_000, 6_000],
      mprotect: [1_500, 3_000],
      writenotify: [true, true, false],
    },
    // and the host OS schedules half of them: its preemptions anywhere in a kernel path meet zap's
    // windows several times as often as run tokens' hand-overs at race points (README, run tokens)
    draws: { cpus: [2, 3, 4, 4], procs: [1, 2, 2, 3], perturb: [0, 0.1, 0.5, 0.5], hostScheduler: ['tokens', 'os'] },
  },
  rtorrent: {
    weight: 2,
    why: "threads download owned pieces of a shared-mapped file, check, msync and remap chunks, beside the journal (2.6.19's rtorrent corruption)",
    ops: [5_000, 20_000],
    params: { pages: [64, 256], piece: [1, 4], chunk: [4, 16], sync: [0, 2_500, 10_000], remap: [0, 3_000], writenotify: [true, false] },
  },
  'write-notify': { weight: 1, why: 'msync then one write-notify fault per page, each CPU on its own file', ops: [1_000, 5_000], params: { pages: [16, 64] } },
  'msync-region': { weight: 1, why: "each CPU writes and msyncs its region of one shared file (page_mkclean's shootdowns reach every CPU)", ops: [50, 200], params: { pages: [4, 16] } },
  'page-fault3': { weight: 1, why: 'map, write every page, unmap: not-present and write-notify faults, zap_pte_range', ops: [5_000, 20_000], params: { pages: [16, 64] } },
  'mixed-io': {
    // the one pattern where write(2) gives buffers to a page that zap is newly dirtying: pages without
    // buffers after a read need ext3's readpage (readpageBuffers off, as --faithful has it), and the
    // write lands inside zap's window mostly with a wide perturbation
    weight: 1,
    why: "pairs of threads write one file through both interfaces: one patches records through one-page mappings (read, store, munmap) while the other pwrites the same pages (create_empty_buffers vs zap's set_page_dirty)",
    ops: [2_000, 5_000],
    params: { pages: [16, 32], spin: [5_000, 20_000] },
    draws: {
      perturb: [0.1, 0.5, 0.5],
      daemonConfig: PORTFOLIO_DRAWS.daemonConfig.map((d) => ({ readpageBuffers: false, ...d })),
    },
  },
  'remap-commit': {
    // the zap window met every round: writers of a process store into the page its compactor is
    // unmapping while the committer's fsync cleans it. A process of one thread has no writer beside
    // its compactor, so one process is drawn twice as often; the window is a few instructions wide
    // without perturbation, so it is always on; a file with dirty accounting is the shape of three
    // of the zap races, one without it of zap-dirty-before-flush; and a busy journal (a commit every
    // 30 000 cycles of the CPU hosting it, which here is the committer) is jbd-data-buffers' shape
    weight: 3,
    why: "writers of a process store into the page its compactor munmaps and maps again while a committer fsyncs the file (zap_pte_range's window against writeback, the journal and reclaim)",
    ops: [500, 1_000],
    params: { pages: [8, 16], writenotify: [true, true, false] },
    draws: { procs: [1, 1, 2], perturb: [0.1, 0.5, 0.5], daemonConfig: [...PORTFOLIO_DRAWS.daemonConfig, { journalPeriod: 30_000 }] },
  },
  'tlb-hit': { weight: 0, why: "benchmark: no kernel path runs after the first faults, and its oracle is 'none'", ops: [20_000] },
  shootdown: { weight: 0, why: "benchmark of flush latency: its oracle is 'none'", ops: [20_000] },
};

/** The run options a portfolio may draw (each only when the user did not give it). */
export const DRAWN_KEYS: readonly RunKey[] = ['workload', 'cpus', 'procs', 'ops', 'durationMs', 'params', 'perturb', 'checkEvery', 'daemonConfig', 'hostThreads'];

/** The Rng stream of the draws (the run's own randomness uses others). */
const DRAW_STREAM = 0x504f5254;
/** Draws of a row's parameters tried before a row is declared unusable with the fixed options. */
const TRIES = 64;

/** `--portfolio` weights: 'NAME=W,NAME=W' or a map (a config file), merged over the table's. */
export interface PortfolioWeights {
  /** Every workload of the table with its weight after the overrides. */
  readonly weights: Readonly<Record<string, number>>;
  /** The overrides as `--portfolio` writes them ('' for none): part of the campaign's identity. */
  readonly text: string;
}

const WEIGHT_ERROR = 'must be a number ≥ 0';
const weightsSchema = () =>
  z.strictObject(Object.fromEntries(Object.keys(PORTFOLIO).map((n) => [n, z.number({ error: WEIGHT_ERROR }).min(0, { error: WEIGHT_ERROR }).finite({ error: WEIGHT_ERROR }).optional()])));

/**
 * Reads `--portfolio` overrides (true or '' for none). Throws UsageError with one line for an entry
 * that is not NAME=WEIGHT, a workload the table does not have, a weight below 0, or weights that
 * leave nothing to draw.
 */
export function portfolioWeights(spec: string | Readonly<Record<string, unknown>> | boolean | undefined): PortfolioWeights {
  let given: Record<string, unknown> = {};
  if (typeof spec === 'string' && spec.trim()) {
    for (const item of spec.split(',')) {
      const m = /^\s*([^=\s]+)\s*=\s*(\S*)\s*$/.exec(item);
      if (!m) throw new UsageError(`--portfolio must be WORKLOAD=WEIGHT[,WORKLOAD=WEIGHT...], got '${spec}'`);
      if (m[1]! in given) throw new UsageError(`--portfolio: ${m[1]} is given twice`);
      given[m[1]!] = /^\d+(\.\d+)?$/.test(m[2]!) ? Number(m[2]) : m[2];
    }
  } else if (typeof spec === 'object' && spec !== null) given = { ...spec };
  const r = weightsSchema().safeParse(given);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw new UsageError(`--portfolio: no workload '${issue.keys[0]}' in the portfolio (its workloads: ${Object.keys(PORTFOLIO).join(', ')})`);
    const name = String(issue.path[0]);
    throw new UsageError(`--portfolio: the weight of ${name} ${WEIGHT_ERROR}, got '${given[name]}'`);
  }
  const overrides = r.data as Record<string, number | undefined>;
  const weights: Record<string, number> = {};
  for (const [n, row] of Object.entries(PORTFOLIO)) weights[n] = overrides[n] ?? row.weight;
  if (!Object.values(weights).some((w) => w > 0)) throw new UsageError('--portfolio: every workload has weight 0, so there is nothing to draw');
  const text = Object.entries(overrides)
    .filter(([, w]) => w !== undefined)
    .map(([n, w]) => `${n}=${w}`)
    .join(',');
  return { weights, text };
}

/** What a portfolio drew for one run: the options it decided, under their RunOptions names. */
export type Drawn = Record<string, unknown>;

/** One drawn run: its options (seed included) and what was drawn. */
export interface Draw {
  readonly run: RunOptions;
  readonly drawn: Drawn;
}

/** Why a configuration is refused (the workload's files() or the machine's validation), or null. */
function refusal(w: Workload, o: RunOptions): string | null {
  if (o.procs > o.cpus) return `--procs (${o.procs}) cannot exceed --cpus (${o.cpus})`;
  try {
    validateConfig(configFor(o, w));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.below(xs.length)]!;

interface Entry {
  readonly name: string;
  readonly row: PortfolioRow;
  readonly weight: number;
  readonly workload: Workload;
}

/** A portfolio over a campaign's fixed options: draws each run's configuration from its seed. */
export class Portfolio {
  private constructor(
    private readonly base: RunOptions,
    /** The options drawn (those the user did not give). */
    readonly drawnKeys: ReadonlySet<RunKey>,
    readonly weights: PortfolioWeights,
    private readonly entries: readonly Entry[],
    /** Workloads with a weight that accept no configuration with the fixed options, and why. */
    readonly excluded: ReadonlyArray<{ workload: string; why: string }>,
  ) {}

  /**
   * `base`: the campaign's options (those in `fixed` are the user's and are never drawn). Loads the
   * weighted workloads and drops those that refuse every configuration with the fixed options;
   * UsageError when none is left.
   */
  static async create(base: RunOptions, fixed: ReadonlySet<RunKey>, weights: PortfolioWeights): Promise<Portfolio> {
    if (fixed.has('workload')) throw new UsageError('a portfolio draws the workload of each run: leave out --workload (or leave out --portfolio)');
    const drawn = new Set(DRAWN_KEYS.filter((k) => !fixed.has(k)));
    // a run length the user gave (--ops or --duration) is kept, whichever
    if (fixed.has('ops') || fixed.has('durationMs')) drawn.delete('ops'), drawn.delete('durationMs');
    // perturbation is a host-time delay, and host scheduling a host matter: free mode only
    if (base.mode !== 'free') drawn.delete('perturb'), drawn.delete('hostThreads');
    if (!base.daemons) drawn.delete('daemonConfig');
    const entries: Entry[] = [];
    const excluded: Array<{ workload: string; why: string }> = [];
    for (const [name, row] of Object.entries(PORTFOLIO)) {
      const weight = weights.weights[name] ?? 0;
      if (!(weight > 0)) continue;
      const workload = await loadWorkload(await resolveWorkload(name, base.cwd));
      entries.push({ name, row, weight, workload });
    }
    const p = new Portfolio(base, drawn, weights, entries, excluded);
    // A workload that accepts none of TRIES draws with the fixed options is left out.
    for (const e of [...entries]) {
      const why = p.tryRow(new Rng(base.seed, DRAW_STREAM + 1), e);
      if (typeof why === 'string') {
        entries.splice(entries.indexOf(e), 1);
        excluded.push({ workload: e.name, why });
      }
    }
    if (!entries.length) throw new UsageError(`no workload of the portfolio accepts this configuration: ${excluded.map((x) => `${x.workload}: ${x.why}`).join('; ')}`);
    return p;
  }

  /** The most CPUs a run may draw (for the campaign's default --jobs). */
  get maxCpus(): number {
    return this.drawnKeys.has('cpus') ? Math.max(...PORTFOLIO_DRAWS.cpus, ...this.entries.flatMap((e) => e.row.draws?.cpus ?? [])) : this.base.cpus;
  }

  /** The workloads drawn from, with their weights. */
  get workloads(): ReadonlyArray<{ name: string; weight: number }> {
    return this.entries.map((e) => ({ name: e.name, weight: e.weight }));
  }

  /** The configuration of the run with seed `seed` (deriveSeed(base, i)): the same seed, the same draw. */
  draw(seed: number): Draw {
    const rng = new Rng(seed, DRAW_STREAM);
    const total = this.entries.reduce((s, e) => s + e.weight, 0);
    let x = rng.float() * total;
    let e = this.entries[this.entries.length - 1]!;
    for (const c of this.entries) {
      if (x < c.weight) {
        e = c;
        break;
      }
      x -= c.weight;
    }
    const d = this.tryRow(rng, e);
    if (typeof d === 'string') throw new Error(`portfolio: ${e.name} accepted no drawn configuration for seed ${seed} (${d})`);
    return { run: { ...d.run, seed }, drawn: d.drawn };
  }

  /** Up to TRIES draws of a row's parameters, each with the CPU and process counts it accepts; the last refusal if none. */
  private tryRow(rng: Rng, e: Entry): Draw | string {
    const b = this.base;
    const has = (k: RunKey) => this.drawnKeys.has(k);
    let why = 'no configuration drawn';
    for (let t = 0; t < TRIES; t++) {
      const drawnParams: Record<string, ParamValue> = {};
      if (has('params')) for (const [k, vs] of Object.entries(e.row.params ?? {})) drawnParams[k] = pick(rng, vs);
      // the user's parameters win (a workload that does not take them refuses and is not drawn)
      for (const k of Object.keys(b.params)) delete drawnParams[k];
      const o: RunOptions = { ...b, workload: e.name, params: { ...drawnParams, ...b.params } };
      if (has('ops')) {
        o.ops = pick(rng, e.row.ops);
        o.durationMs = 0;
      }
      const cpuChoices = has('cpus') ? (e.row.draws?.cpus ?? PORTFOLIO_DRAWS.cpus) : [b.cpus];
      const procList = e.row.draws?.procs ?? PORTFOLIO_DRAWS.procs;
      const accepted: Array<[number, number[]]> = [];
      for (const cpus of cpuChoices) {
        const procs = (has('procs') ? procList.filter((p) => p <= cpus) : [b.procs]).filter((procs) => {
          const r = refusal(e.workload, { ...o, cpus, procs });
          if (r !== null) why = r;
          return r === null;
        });
        if (procs.length) accepted.push([cpus, procs]);
      }
      if (!accepted.length) continue;
      const [cpus, procChoices] = pick(rng, accepted);
      o.cpus = cpus;
      o.procs = pick(rng, procChoices);
      if (has('perturb')) o.perturb = pick(rng, e.row.draws?.perturb ?? PORTFOLIO_DRAWS.perturb);
      if (has('checkEvery')) o.checkEvery = pick(rng, PORTFOLIO_DRAWS.checkEvery);
      if (has('daemonConfig')) o.daemonConfig = { ...pick(rng, e.row.draws?.daemonConfig ?? PORTFOLIO_DRAWS.daemonConfig) };
      // drawn last, so the draws before it are those of a campaign seed before it was drawn
      if (has('hostThreads')) o.hostThreads = pick(rng, e.row.draws?.hostScheduler ?? PORTFOLIO_DRAWS.hostScheduler) === 'os' ? o.cpus : 0;
      const drawn: Drawn = { workload: e.name };
      for (const k of ['cpus', 'procs', 'ops', 'perturb', 'checkEvery', 'daemonConfig', 'hostThreads'] as const) if (has(k)) drawn[k] = o[k];
      if (Object.keys(drawnParams).length) drawn.params = drawnParams;
      return { run: o, drawn };
    }
    return why;
  }
}

/** What was drawn, as one line: "msync-race cpus=3 procs=1 ops=5000 perturb=0.1 ...". */
export function formatDrawn(d: Drawn): string {
  const parts = [String(d.workload)];
  for (const [k, v] of Object.entries(d)) {
    if (k === 'workload') continue;
    if (v && typeof v === 'object') {
      const kv = Object.entries(v as Record<string, unknown>).map(([a, b]) => `${a}=${b}`);
      if (kv.length) parts.push(`${k}{${kv.join(',')}}`);
    } else parts.push(`${k}=${v}`);
  }
  return parts.join(' ');
}
