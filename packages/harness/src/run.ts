/**
 * Machine assembly and one run: from options to a configuration, the shared memory, one CPU worker per
 * simulated CPU, the run, the end-of-run oracles, and the summary object `--json` prints (summary.ts).
 */
import { writeFileSync } from 'node:fs';
import {
  BUG_IDS,
  checkBackingStore,
  chromeTrace,
  ConfigError,
  DEFAULT_COSTS,
  DEFAULT_DAEMONS,
  defaultConfig,
  KERNEL_PRESETS,
  layout as L,
  Machine,
  type MachineConfig,
  releaseAll,
  type SchedState,
  StopReason,
  type Violation,
} from '@smpsim/core';
import { type CpuRunResult, type CpuSetup, CpuWorker, loadWorkload, resolveWorkload } from '@smpsim/cpu-worker';
import { UsageError } from './parse.js';
import { DEFAULT_RUN, type RunOptions } from './run-options.js';
import { checkDeterministic, createSchedState, detInfo } from './schedule-options.js';
import { type RunSummary, summarize } from './summary.js';

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

class RunTimeout extends Error {}
/** Host time without a scheduling step after which a deterministic run is reported as a hang. */
const DET_STALL_MS = 30_000;

/** What the CPU workers of one run gave back. */
interface WorkersRun {
  results: CpuRunResult[];
  /** A hang or a dead worker (the harness's own), then each CPU's. */
  violations: Violation[];
  /** The run was cut short (a timeout or a dead worker): the workers must be terminated, not reused. */
  broken: boolean;
  /** The machine stopped because every CPU finished its workload (no violation, no abort). */
  finished: boolean;
  /** The machine's high-water mark of write-notify pages dirty only in PTE D bits. */
  maxDirtyOnlyInPte: number;
}

/**
 * Runs machine `m` on `workers` (one per simulated CPU): sets each up with `setup(cpu)`, runs them all,
 * and races the run against `limitMs` of host time and, in deterministic mode (`sched`), against a
 * scheduler that stops stepping; on a timeout or a dead worker it aborts the machine. Then it reads
 * the machine's end state. This is the one place where the harness touches the machine's shared words
 * (G_STOP, G_MAX_UNACCOUNTED) directly. Throws if a worker cannot be set up (the workers are then
 * broken too).
 */
async function runOnWorkers(m: Machine, workers: CpuWorker[], setup: (cpu: number) => CpuSetup, limits: { limitMs: number; sched: SchedState | null }): Promise<WorkersRun> {
  const { limitMs, sched } = limits;
  await Promise.all(workers.map((w, cpu) => w.setup(setup(cpu))));
  const violations: Violation[] = [];
  let results: CpuRunResult[] = [];
  let broken = false;
  let timer: NodeJS.Timeout | undefined;
  let stall: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RunTimeout(`the run did not finish within ${Math.round(limitMs / 1000)} s of host time`)), limitMs);
    // Deterministic mode's safety net, outside the simulation: a CPU that makes no scheduling step
    // for DET_STALL_MS of host time spins without a preemption point (see Cpu.relax).
    if (sched) {
      let last = -1;
      stall = setInterval(() => {
        const step = sched.step;
        if (step === last && Atomics.load(m.meta, L.G_STOP) === 0) {
          reject(new RunTimeout(`deterministic mode: no scheduling step for ${DET_STALL_MS / 1000} s of host time at step ${step} (cpu${Atomics.load(sched.i, 0)} spins without a preemption point?)`));
        }
        last = step;
      }, DET_STALL_MS);
    }
  });
  try {
    results = await Promise.race([Promise.all(workers.map((w) => w.run())), timeout]);
  } catch (e) {
    broken = true;
    Atomics.store(m.meta, L.G_STOP, StopReason.Abort);
    if (sched) releaseAll(sched);
    const msg = (e as Error).message;
    if (e instanceof RunTimeout) violations.push({ kind: 'hang', message: msg });
    else violations.push({ kind: 'crash', message: `a CPU worker died: ${msg}` });
  } finally {
    clearTimeout(timer);
    clearInterval(stall);
  }
  for (const r of results) violations.push(...r.violations);
  return { results, violations, broken, finished: Atomics.load(m.meta, L.G_STOP) === StopReason.Finished, maxDirtyOnlyInPte: Atomics.load(m.meta, L.G_MAX_UNACCOUNTED) };
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
  let files: MachineConfig['files'];
  try {
    files = workload.files({ cpus: o.cpus, procs: o.procs, ops: o.ops, seed: o.seed, params: o.params });
  } catch (e) {
    throw new ConfigError(`workload ${workload.name}: files(): ${(e as Error).message}`);
  }
  const config = buildConfig(o, files);
  const m = Machine.create(config);
  const own = !pool;
  const p = pool ?? new CpuWorkerPool();
  const workers = p.acquire(o.cpus);
  const sched: SchedState | null = o.mode === 'deterministic' ? createSchedState(o) : null;
  const t0 = Date.now();
  const deadline = o.ops ? 0 : Date.now() + o.durationMs;
  const setup = (cpu: number): CpuSetup => ({
    config,
    buffers: m.buffers,
    cpu,
    proc: cpu % o.procs,
    workloadUrl: url,
    ops: o.ops,
    deadline,
    params: o.params,
    checkEvery: o.checkEvery,
    daemons: o.daemons,
    ...(sched ? { sched: sched.buffer } : {}),
    ...(o.trace ? { trace: true } : {}),
  });
  const limitMs = (o.ops ? 600_000 : o.durationMs + 60_000) + 3 * o.watchdogMs;
  let run: WorkersRun | null = null;
  try {
    run = await runOnWorkers(m, workers, setup, { limitMs, sched });
  } finally {
    if (!run || run.broken) await Promise.all(workers.map((w) => w.terminate()));
    else p.release(workers);
    if (own) await p.close();
  }
  const hostWallMs = Date.now() - t0;
  const { results, violations } = run;
  if (violations.length === 0 && run.finished) o.beforeFinalCheck?.(m);
  if (violations.length === 0 && workload.oracle === 'owned-words' && run.finished) {
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
  const s = summarize(o, m, { workloadName: workload.name, results, violations, hostWallMs, maxDirtyOnlyInPte: run.maxDirtyOnlyInPte });
  if (sched) {
    Object.assign(s, detInfo(o, sched));
    // a replay (possibly of a shrunk schedule) is repeated by its schedule string
    if (o.replay && s.schedule?.replay) s.reproduce = s.schedule.replay;
  }
  return s;
}
