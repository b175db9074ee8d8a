/** Runs a machine on real CPU workers (one per simulated CPU), without the harness. */
import { checkBackingStore, defaultConfig, DEFAULT_KERNEL, type BugId, Machine, type MachineConfig, StopReason, type Violation } from '@smpsim/core';
import { CpuWorker, loadWorkload, runOnWorkers, workloadFiles, type CpuRunResult } from '@smpsim/cpu-worker';

export const fixture = (name: string) => new URL(`./fixtures/${name}.js`, import.meta.url).href;

export interface WorkerRun {
  m: Machine;
  results: CpuRunResult[];
  violations: Violation[];
  ms: number;
}

export async function runWorkers(
  workloadUrl: string,
  o: { cpus: number; procs?: number; ops?: number; durationMs?: number; bugs?: BugId[]; params?: Record<string, string | number | boolean>; daemons?: boolean; config?: Partial<MachineConfig>; limitMs?: number; stallMs?: number },
): Promise<WorkerRun> {
  const w = await loadWorkload(workloadUrl);
  const params = o.params ?? {};
  const config = defaultConfig({
    cpus: o.cpus,
    procs: o.procs ?? 1,
    files: workloadFiles(w, { cpus: o.cpus, procs: o.procs ?? 1, ops: o.ops ?? 0, seed: 1, params }),
    kernel: { ...DEFAULT_KERNEL, bugs: o.bugs ?? [] },
    ...o.config,
  });
  const m = Machine.create(config);
  const workers = Array.from({ length: o.cpus }, () => CpuWorker.spawn());
  const t0 = Date.now();
  try {
    const deadline = o.durationMs ? Date.now() + o.durationMs : 0;
    const r = await runOnWorkers(m, workers, {
      setup: (cpu) => ({ proc: cpu % (o.procs ?? 1), workloadUrl, ops: o.ops ?? 0, deadline, params, checkEvery: 0, daemons: o.daemons ?? false }),
      limitMs: o.limitMs ?? 120_000,
      ...(o.stallMs !== undefined ? { stallMs: o.stallMs } : {}),
    });
    const violations = [...r.results.flatMap((x) => x.violations), ...r.violations];
    if (!violations.length && w.oracle === 'owned-words' && m.stopReason() === StopReason.Finished) {
      for (const f of checkBackingStore(m)) violations.push({ kind: f.kind, message: f.message, details: f.details });
    }
    return { m, results: r.results, violations, ms: Date.now() - t0 };
  } finally {
    await Promise.all(workers.map((wk) => wk.terminate()));
  }
}
