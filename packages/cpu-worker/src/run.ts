/**
 * Running a machine on CPU workers (parent side): every worker is set up for its CPU, then all run,
 * raced against two limits — the whole run's host time, and progress: a CPU that passes no preemption
 * point for `stallMs` of host time (free mode: its heartbeat; deterministic mode: the scheduler's step
 * counter) is a `hang`, reported then instead of at the run's time limit. A worker that dies is a
 * `crash` naming its CPU. Either way the machine is stopped and the result says the workers are
 * broken (the caller terminates them rather than reusing them).
 */
import { CpuState, type Machine, releaseAll, type SchedState, type Violation } from '@smpsim/core';
import type { CpuWorker } from './handle.js';
import type { CpuRunResult, CpuSetup } from './protocol.js';

/** Host time without a preemption point after which a CPU is reported as hung. */
export const STALL_MS = 10_000;

export interface WorkerRunOptions {
  /** CPU c's set-up, without the machine's config and buffers and the CPU number (filled in here). */
  readonly setup: (cpu: number) => Omit<CpuSetup, 'config' | 'buffers' | 'cpu'>;
  /** Host time the whole run may take. */
  readonly limitMs: number;
  /** Host time a CPU may pass no preemption point (default STALL_MS). */
  readonly stallMs?: number;
  /** Deterministic mode's scheduler state (its step counter measures progress; released on a stop). */
  readonly sched?: SchedState | null;
}

export interface WorkerRunResult {
  /** Each CPU's result (when the run broke: those of the CPUs that finished). */
  readonly results: CpuRunResult[];
  /** Violations found outside the CPUs: `hang`, or `crash` for a dead worker (the CPUs' own are in `results`). */
  readonly violations: Violation[];
  /** The run did not end normally: the workers may be stuck or dead, terminate them. */
  readonly broken: boolean;
  /** Host ms the workers took to set up (attach the machine, load the workload, boot their CPU). */
  readonly setupMs: number;
}

class RunFailure extends Error {
  constructor(readonly violation: Violation) {
    super(violation.message);
  }
}

/**
 * Sets up `workers` (worker c runs CPU c of `m`) and runs them. Throws what a set-up throws (bad
 * input: an unloadable workload); the workers are then in an unknown state too.
 */
export async function runOnWorkers(m: Machine, workers: readonly CpuWorker[], o: WorkerRunOptions): Promise<WorkerRunResult> {
  const setupStart = Date.now();
  await Promise.all(workers.map((w, cpu) => w.setup({ config: m.config, buffers: m.buffers, cpu, ...o.setup(cpu) })));
  const setupMs = Date.now() - setupStart;
  const stallMs = o.stallMs ?? STALL_MS;
  const sched = o.sched ?? null;
  let monitor: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => {
    const t0 = Date.now();
    const beats = workers.map(() => ({ value: -1, since: t0 }));
    let step = { value: -1, since: t0 };
    monitor = setInterval(() => {
      const now = Date.now();
      if (now - t0 > o.limitMs) reject(new RunFailure({ kind: 'hang', message: `the run did not finish within ${Math.round(o.limitMs / 1000)} s of host time` }));
      if (sched && m.stopReason() === 0) {
        // Deterministic mode: one CPU runs at a time, so progress is the scheduler's step counter
        // (timed mode decides rarely: its CPUs' preemption points are the progress).
        const progress = sched.timed ? workers.reduce((a, _, c) => a + m.heartbeat(c), 0) : sched.step;
        if (progress !== step.value) step = { value: progress, since: now };
        else if (now - step.since > stallMs) {
          reject(new RunFailure({ kind: 'hang', message: `${sched.timed ? 'timed' : 'deterministic'} mode: no scheduling step for ${stallMs / 1000} s of host time at step ${sched.step} (cpu${sched.turn} spins without a preemption point?)`, cpu: sched.turn }));
        }
        return;
      }
      // Free mode, and every mode once the machine stopped (each CPU must then unwind at its next point).
      workers.forEach((_, c) => {
        if (m.cpuState(c) === CpuState.Done) return;
        const hb = m.heartbeat(c);
        if (hb !== beats[c]!.value) beats[c] = { value: hb, since: now };
        else if (now - beats[c]!.since > stallMs) {
          reject(new RunFailure({ kind: 'hang', message: `cpu${c} passed no preemption point for ${stallMs / 1000} s of host time (a loop without simulated accesses, system calls or cpu_relax?)`, cpu: c }));
        }
      });
    }, Math.min(1000, Math.max(50, stallMs / 10)));
  });
  failed.catch(() => {});
  // The results of the CPUs that finished, kept for a run that breaks: their violations (found before
  // the machine stopped) come before the hang or crash that broke it.
  const settled: Array<CpuRunResult | undefined> = workers.map(() => undefined);
  try {
    const runs = workers.map((w, cpu) =>
      w.run().then(
        (r) => (settled[cpu] = r),
        (e: unknown) => {
          throw new RunFailure({ kind: 'crash', message: `cpu${cpu}: its CPU worker died: ${(e as Error)?.message ?? String(e)}`, cpu });
        },
      ),
    );
    const results = await Promise.race([Promise.all(runs), failed]);
    return { results, violations: [], broken: false, setupMs };
  } catch (e) {
    if (!(e instanceof RunFailure)) throw e;
    m.abort();
    if (sched) releaseAll(sched);
    const results = settled.filter((r): r is CpuRunResult => r !== undefined);
    return { results, violations: [e.violation], broken: true, setupMs };
  } finally {
    clearInterval(monitor);
  }
}
