import { availableParallelism } from 'node:os';
/**
 * Machine assembly and one run: from options to a configuration, the shared memory, one CPU worker per
 * simulated CPU, the run, the end-of-run oracles, and the summary object `--json` prints.
 */
import {
  BUG_IDS,
  type BugId,
  checkBackingStore,
  chromeTrace,
  ConfigError,
  type CostModel,
  CTR,
  type Decision,
  DEFAULT_COSTS,
  DEFAULT_DAEMONS,
  defaultConfig,
  type DaemonConfig,
  KERNEL_PRESETS,
  type KernelPreset,
  type LockStatRow,
  Machine,
  type MachineConfig,
  type SchedState,
  StopReason,
  type Violation,
} from '@smpsim/core';
import { writeFileSync } from 'node:fs';
import {
  checkDeterministic,
  costFlags,
  createSchedState,
  DEFAULT_DEADLOCK_STEPS,
  DEFAULT_PCT_DEPTH,
  DEFAULT_SWITCH_PROB,
  detFlags,
  type DetInfo,
  detInfo,
  type RunMode,
  type SchedName,
} from './det.js';
import { CpuWorker, loadWorkload, resolveWorkload, runOnWorkers, workloadFiles, type CpuRunResult } from '@smpsim/cpu-worker';
import { UsageError } from './parse.js';

export interface RunOptions {
  cpus: number;
  procs: number;
  workload: string;
  /** Operations per CPU; 0 with a duration: run until the duration has passed. */
  ops: number;
  durationMs: number;
  seed: number;
  memoryBytes: number;
  tlb: MachineConfig['tlb'];
  params: Record<string, string | number | boolean>;
  bugs: BugId[];
  kernel: KernelPreset;
  lockdep: boolean;
  /** Per-class lock statistics (stats.locks). */
  lockStat: boolean;
  watchdogMs: number;
  perturb: number;
  checkEvery: number;
  daemons: boolean;
  daemonConfig: Partial<DaemonConfig>;
  flushCeiling: number;
  /**
   * 'free' (the default): the CPUs run in parallel. 'deterministic': the same CPU workers, one at a
   * time under a seeded scheduler; same options, same run (needs `ops`; see det.ts).
   */
  mode: RunMode;
  /** Deterministic mode's scheduling policy: a random walk or PCT. */
  sched: SchedName;
  /** random: probability of a switch at each decision point. */
  switchProb: number;
  /** pct: the bug depth d (d - 1 priority change points). */
  pctDepth: number;
  /** pct: expected decision points of a run (0: ops x cpus x 2). */
  pctSteps: number;
  /** Deterministic mode's watchdog: consecutive scheduling steps with every CPU blocked. */
  deadlockSteps: number;
  /** Cost-model overrides, in simulated cycles (`--cost key=value`). */
  costs: Partial<CostModel>;
  /** Deterministic mode: follow these decisions instead of the policy (`smpsim replay`). */
  replay?: readonly Decision[];
  /** Write the run's events to this file, in the Chrome trace-event format (Perfetto). */
  trace?: string;
  /** Directory relative paths (workload modules) are resolved against. */
  cwd: string;
  /**
   * Called with the stopped machine after the final sync and before the end-of-run backing-store
   * comparison (programmatic use: inspection between phases, fault injection in tests).
   */
  beforeFinalCheck?: (m: Machine) => void;
}

export const DEFAULT_RUN: RunOptions = {
  cpus: 4,
  procs: 1,
  workload: 'dirty-share',
  ops: 0,
  durationMs: 3000,
  seed: 1,
  memoryBytes: 64 * 1024 * 1024,
  tlb: { l1: { sets: 16, ways: 4 }, l2: { sets: 128, ways: 12 } },
  params: {},
  bugs: [],
  kernel: 'linux-2.6.20',
  lockdep: true,
  lockStat: false,
  watchdogMs: 5000,
  perturb: 0,
  checkEvery: 0,
  daemons: true,
  daemonConfig: {},
  flushCeiling: 33,
  mode: 'free',
  sched: 'random',
  switchProb: DEFAULT_SWITCH_PROB,
  pctDepth: DEFAULT_PCT_DEPTH,
  pctSteps: 0,
  deadlockSteps: DEFAULT_DEADLOCK_STEPS,
  costs: {},
  cwd: process.cwd(),
};

export interface RunSummary {
  ok: boolean;
  seed: number;
  reproduce: string;
  violations: Violation[];
  config: {
    cpus: number;
    procs: number;
    workload: string;
    ops: number;
    durationMs: number;
    memoryBytes: number;
    tlb: string;
    kernel: string;
    bugs: string[];
    hostCores: number;
  };
  stats: {
    perCpu: Array<{ cpu: number; threadId: number; accesses: number; ops: number; cycles: number; runMs: number }>;
    accesses: number;
    ops: number;
    tlb: { hits: number; l2Hits: number; misses: number };
    faults: { notPresent: number; writeNotify: number; other: number; cow: number };
    shootdowns: {
      ipisSent: number;
      ipisReceived: number;
      flushesPage: number;
      flushesRange: number;
      flushesFull: number;
      flushesElided: number;
      leaveMm: number;
      byCause: { mkclean: number; munmap: number; mprotect: number; fault: number; reclaim: number };
    };
    writeback: { pagesCleaned: number; pagesWritten: number; bufferWrites: number; pageReads: number; flusherRuns: number; journalRuns: number };
    reclaim: { evicted: number; refaults: number; runs: number };
    syscalls: { mmap: number; munmap: number; mprotect: number; msync: number };
    checkpoints: number;
    /** Most write-notify pages seen (at checkpoints and the end) dirty only in PTE D bits. */
    maxDirtyOnlyInPte: number;
    lockContended: number;
    /** Per lock class, /proc/lock_stat columns (with --lock-stat; empty otherwise). */
    locks: LockStatRow[];
    simCycles: number;
    hostWallMs: number;
    workloadMs: number;
  };
  results: unknown[];
  /** 'free' or 'deterministic'. */
  mode: RunMode;
  /** Deterministic mode: FNV-1a over the ordered event sequence (decisions, faults, locks, flushes, writeback). */
  traceHash?: string;
  /** Deterministic mode: the scheduler, its step and switch counts, and the schedule string. */
  schedule?: DetInfo;
}

/** Builds the machine configuration for a run (throws ConfigError / UsageError on bad input). */
export function buildConfig(o: RunOptions, files: MachineConfig['files']): MachineConfig {
  for (const b of o.bugs) if (!BUG_IDS.includes(b)) throw new UsageError(`unknown bug '${b}' (see: smpsim bugs)`);
  const preset = KERNEL_PRESETS[o.kernel];
  if (!preset) throw new UsageError(`unknown kernel '${o.kernel}' (one of: ${Object.keys(KERNEL_PRESETS).join(', ')})`);
  const bugs = [...new Set([...preset.bugs, ...o.bugs])];
  return defaultConfig({
    cpus: o.cpus,
    procs: o.procs,
    memoryBytes: o.memoryBytes,
    files,
    tlb: o.tlb,
    seed: o.seed,
    kernel: { writeNotify: preset.writeNotify, bugs, flushCeiling: o.flushCeiling, lockdep: o.lockdep, lockStat: o.lockStat },
    watchdogMs: o.watchdogMs,
    // deterministic mode: no host-time delays; the schedule is the only source of interleaving
    perturb: o.mode === 'deterministic' ? 0 : o.perturb,
    costs: { ...DEFAULT_COSTS, ...(o.costs ?? {}) },
    daemons: { ...DEFAULT_DAEMONS, ...o.daemonConfig },
  });
}

/** The command line that repeats a run. */
export function reproduceCommand(o: RunOptions): string {
  const a = ['npx smpsim run', `--cpus ${o.cpus}`];
  if (o.procs !== 1) a.push(`--procs ${o.procs}`);
  a.push(`--workload ${o.workload}`);
  if (o.ops) a.push(`--ops ${o.ops}`);
  else a.push(`--duration ${o.durationMs}ms`);
  a.push(`--seed ${o.seed}`);
  if (o.memoryBytes !== DEFAULT_RUN.memoryBytes) a.push(`--memory ${o.memoryBytes}`);
  const t = (g: { sets: number; ways: number }) => `${g.sets}x${g.ways}`;
  if (JSON.stringify(o.tlb) !== JSON.stringify(DEFAULT_RUN.tlb)) a.push(`--tlb ${t(o.tlb.l1)}${o.tlb.l2 ? ',' + t(o.tlb.l2) : ''}`);
  if (o.kernel !== DEFAULT_RUN.kernel) a.push(`--kernel ${o.kernel}`);
  for (const b of o.bugs) a.push(`--bug ${b}`);
  if (!o.lockdep) a.push('--lockdep off');
  if (o.lockStat) a.push('--lock-stat');
  if (o.watchdogMs !== DEFAULT_RUN.watchdogMs) a.push(`--watchdog ${o.watchdogMs}ms`);
  if (o.perturb && o.mode !== 'deterministic') a.push(`--perturb ${o.perturb}`);
  a.push(...detFlags(o), ...costFlags(o));
  if (o.checkEvery) a.push(`--check-every ${o.checkEvery}`);
  if (!o.daemons) a.push('--no-daemons');
  if (o.flushCeiling !== DEFAULT_RUN.flushCeiling) a.push(`--flush-ceiling ${o.flushCeiling}`);
  for (const [k, v] of Object.entries(o.daemonConfig)) a.push(`--daemon ${k}=${v}`);
  for (const [k, v] of Object.entries(o.params)) a.push(`--param ${k}=${v}`);
  return a.join(' ');
}

/** Worker threads kept between runs, so short runs pay no thread start-up. */
export class CpuWorkerPool {
  private idle: CpuWorker[] = [];

  acquire(n: number): CpuWorker[] {
    const out: CpuWorker[] = [];
    while (out.length < n) {
      const w = this.idle.pop();
      if (!w) out.push(CpuWorker.spawn());
      else if (w.alive) out.push(w);
    }
    return out;
  }

  release(ws: CpuWorker[]): void {
    for (const w of ws) if (w.alive) this.idle.push(w);
  }

  async close(): Promise<void> {
    const ws = this.idle;
    this.idle = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

function hostCores(): number {
  return availableParallelism();
}

/**
 * Runs one machine. Resolves with the summary; a violation is in `violations` (ok: false). Throws
 * UsageError, ConfigError or WorkloadError for bad input, before any worker starts.
 */
export async function runMachine(partial: Partial<RunOptions>, pool?: CpuWorkerPool): Promise<RunSummary> {
  const o: RunOptions = { ...DEFAULT_RUN, ...partial, params: { ...(partial.params ?? {}) } };
  if (!o.ops && !o.durationMs) throw new UsageError('a run needs --ops or --duration');
  checkDeterministic(o);
  const url = await resolveWorkload(o.workload, o.cwd);
  const workload = await loadWorkload(url);
  const files = workloadFiles(workload, { cpus: o.cpus, procs: o.procs, ops: o.ops, seed: o.seed, params: o.params });
  const config = buildConfig(o, files);
  const m = Machine.create(config);
  const own = !pool;
  const p = pool ?? new CpuWorkerPool();
  const workers = p.acquire(o.cpus);
  const sched: SchedState | null = o.mode === 'deterministic' ? createSchedState(o) : null;
  const t0 = Date.now();
  const violations: Violation[] = [];
  let results: CpuRunResult[] = [];
  let broken = true;
  try {
    const deadline = o.ops ? 0 : Date.now() + o.durationMs;
    const r = await runOnWorkers(m, workers, {
      setup: (cpu) => ({
        proc: cpu % o.procs,
        workloadUrl: url,
        ops: o.ops,
        deadline,
        params: o.params,
        checkEvery: o.checkEvery,
        daemons: o.daemons,
        ...(sched ? { sched: sched.buffer } : {}),
        ...(o.trace ? { trace: true } : {}),
      }),
      limitMs: (o.ops ? 600_000 : o.durationMs + 60_000) + 3 * o.watchdogMs,
      sched,
    });
    results = r.results;
    violations.push(...r.violations);
    broken = r.broken;
  } finally {
    if (broken) await Promise.all(workers.map((w) => w.terminate()));
    else p.release(workers);
    if (own) await p.close();
  }
  const hostWallMs = Date.now() - t0;
  for (const r of results) violations.push(...r.violations);
  if (violations.length === 0 && m.stopReason() === StopReason.Finished) o.beforeFinalCheck?.(m);
  if (violations.length === 0 && workload.oracle === 'owned-words' && m.stopReason() === StopReason.Finished) {
    for (const f of checkBackingStore(m)) violations.push({ kind: f.kind, message: f.message, details: f.details });
  }
  if (o.trace) {
    const t = chromeTrace(
      results.map((r) => r.trace ?? []),
      { cpus: o.cpus, deterministic: sched !== null, title: `smpsim ${workload.name} (${o.mode}, seed ${o.seed})` },
    );
    try {
      writeFileSync(o.trace, JSON.stringify(t));
    } catch (e) {
      throw new UsageError(`cannot write the trace to ${o.trace}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const s = summarize(o, m, workload.name, results, violations, hostWallMs);
  if (sched) {
    Object.assign(s, detInfo(o, sched));
    // a replay (possibly of a shrunk schedule) is repeated by its schedule string
    if (o.replay && s.schedule?.replay) s.reproduce = s.schedule.replay;
  }
  return s;
}

function summarize(o: RunOptions, m: Machine, workloadName: string, results: CpuRunResult[], violations: Violation[], hostWallMs: number): RunSummary {
  const t = (n: keyof typeof CTR) => m.total(n);
  const tlbs = (g: { sets: number; ways: number }) => `${g.sets}x${g.ways}`;
  return {
    ok: violations.length === 0,
    seed: o.seed,
    reproduce: reproduceCommand(o),
    violations,
    config: {
      cpus: o.cpus,
      procs: o.procs,
      workload: workloadName,
      ops: o.ops,
      durationMs: o.ops ? 0 : o.durationMs,
      memoryBytes: o.memoryBytes,
      tlb: `${tlbs(m.config.tlb.l1)}${m.config.tlb.l2 ? ',' + tlbs(m.config.tlb.l2) : ''}`,
      kernel: o.kernel,
      bugs: [...m.config.kernel.bugs],
      hostCores: hostCores(),
    },
    stats: {
      perCpu: Array.from({ length: o.cpus }, (_, c) => ({
        cpu: c,
        threadId: m.counter(c, 'threadId'),
        accesses: m.counter(c, 'accesses'),
        ops: m.counter(c, 'ops'),
        cycles: m.counter(c, 'cycles'),
        runMs: results.find((r) => r.cpu === c)?.runMs ?? 0,
      })),
      accesses: t('accesses'),
      ops: t('ops'),
      tlb: { hits: t('tlbHits'), l2Hits: t('tlbL2Hits'), misses: t('tlbMisses') },
      faults: { notPresent: t('faultsNotPresent'), writeNotify: t('faultsWriteNotify'), other: t('faultsOther'), cow: t('cowFaults') },
      shootdowns: {
        ipisSent: t('ipisSent'),
        ipisReceived: t('ipisReceived'),
        flushesPage: t('flushesPage'),
        flushesRange: t('flushesRange'),
        flushesFull: t('flushesFull'),
        flushesElided: t('flushesElided'),
        leaveMm: t('leaveMm'),
        byCause: {
          mkclean: t('shootdownsMkclean'),
          munmap: t('shootdownsMunmap'),
          mprotect: t('shootdownsMprotect'),
          fault: t('shootdownsFault'),
          reclaim: t('shootdownsReclaim'),
        },
      },
      writeback: {
        pagesCleaned: t('pagesCleaned'),
        pagesWritten: t('pagesWritten'),
        bufferWrites: t('bufferWrites'),
        pageReads: t('pageReads'),
        flusherRuns: t('flusherRuns'),
        journalRuns: t('journalRuns'),
      },
      reclaim: { evicted: t('evicted'), refaults: t('refaults'), runs: t('reclaimRuns') },
      syscalls: { mmap: t('mmaps'), munmap: t('munmaps'), mprotect: t('mprotects'), msync: t('msyncs') },
      checkpoints: t('checkpoints'),
      maxDirtyOnlyInPte: m.maxDirtyOnlyInPte,
      lockContended: t('lockContended'),
      locks: m.config.kernel.lockStat ? m.lockStats() : [],
      simCycles: Math.max(...Array.from({ length: o.cpus }, (_, c) => m.counter(c, 'cycles'))),
      hostWallMs,
      workloadMs: Math.max(0, ...results.map((r) => r.runMs)),
    },
    results: results.map((r) => r.result),
    mode: o.mode,
  };
}
