/**
 * Long campaigns must run in flat memory. V8 does not count a SharedArrayBuffer's memory towards its
 * GC heuristics and a CPU worker's run allocates next to nothing on the JS heap, so shared memory that
 * each run allocated afresh was kept alive by garbage in the threads (the CPU workers, the thread that
 * created it) for as long as they lived: a default `stress --time 10m` grew by 6.5 MB a run. A pool
 * (CpuWorkerPool, one per campaign thread) now hands the shared memory of its last run to the next.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { MachineBuffers } from '@smpsim/core';
import { CpuWorkerPool, deterministicPart, type RunOptions, runCampaign, runMachine } from '@smpsim/harness';

const MiB = 1024 * 1024;
/** Short runs: a few ms of simulation each, so that the test is about what a run leaves behind. */
const SHORT: Partial<RunOptions> = { cpus: 2, ops: 300, memoryBytes: 4 * MiB };

/** Resident memory of the whole process (every thread), in bytes. */
function rss(): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage.rss();
}

/** Lets pending callbacks and finalizers run (a GC between runs, where --expose-gc allows it). */
async function settle(): Promise<void> {
  for (let k = 0; k < 3; k++) await new Promise((r) => setImmediate(r));
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * How much this thread's array buffers grew over runs 6..35 of `run` through one pool, after runs 0..5
 * warmed it. process.memoryUsage().arrayBuffers counts the SharedArrayBuffers this thread allocated
 * that are still alive anywhere: exact, unlike RSS.
 */
async function poolGrowth(run: (i: number, pool: CpuWorkerPool) => Promise<unknown>): Promise<number> {
  const pool = new CpuWorkerPool();
  try {
    for (let i = 0; i < 6; i++) await run(i, pool);
    await settle();
    const warm = process.memoryUsage().arrayBuffers;
    for (let i = 6; i < 36; i++) await run(i, pool);
    await settle();
    return process.memoryUsage().arrayBuffers - warm;
  } finally {
    await pool.close();
  }
}

test('runs through one pool allocate no new shared memory once warm (free and deterministic runs, mixed)', async () => {
  // A run of SHORT allocates about 4.3 MiB of machine and, in deterministic mode, 16 MiB of scheduler state.
  const grown = await poolGrowth((i, pool) => runMachine({ ...SHORT, seed: 100 + i, ...(i % 3 === 2 ? { mode: 'deterministic' as const } : {}) }, pool));
  assert.ok(grown < 2 * MiB, `30 runs through one pool grew this thread's array buffers by ${(grown / MiB).toFixed(1)} MiB`);
});

test('runs of different sizes through one pool (a portfolio) keep the largest buffers and allocate none once warm', async () => {
  // 2, 3 or 4 CPUs and 16 or 32 pages per file: the metadata, disk and shadow differ in size from run
  // to run; a buffer at least as large as a run needs is used again (before: 16.3 MiB in 30 runs)
  const grown = await poolGrowth((i, pool) => runMachine({ ...SHORT, cpus: 2 + (i % 3), seed: 200 + i, params: { pages: 16 << (i % 2) } }, pool));
  assert.ok(grown < 2 * MiB, `30 runs of mixed sizes through one pool grew this thread's array buffers by ${(grown / MiB).toFixed(1)} MiB`);
});

test('a campaign of many short runs stays in flat resident memory', async () => {
  // The default memory size: booting a machine writes the metadata of every frame (1 MiB at 64 MiB),
  // so a run that leaves its machine behind leaves at least that much resident memory (before the
  // fix: about 2.5 MiB a run of this campaign). 100 runs take about 5 s.
  const samples: number[] = [];
  const s = await runCampaign({
    run: { cpus: 2, ops: 300, seed: 3 },
    runs: 100,
    jobs: 1,
    keepGoing: true,
    onRun: () => samples.push(rss()),
  });
  assert.is(s.runs, 100);
  // After a warm-up of 60 runs (threads started, code compiled, heaps grown to their working size;
  // it takes about 45), the last 40 runs together may add no more than 16 MiB. Added: the sum of the
  // rises from one run to the next, so that a GC giving back some of a leak does not hide the rest.
  let added = 0;
  for (let i = 61; i < samples.length; i++) added += Math.max(0, samples[i]! - samples[i - 1]!);
  assert.ok(added < 16 * MiB, `runs 61-100 of a campaign added ${(added / MiB).toFixed(1)} MiB of resident memory (MiB after each run: ${samples.map((b) => Math.round(b / MiB)).join(' ')})`);
});

test('a run on a pool’s reused buffers is the run on new ones (same trace hash, outcome and counters)', async () => {
  const det = (o: Partial<RunOptions>) => ({ mode: 'deterministic' as const, ops: 400, ...o });
  const cases: Array<Partial<RunOptions>> = [
    det({ cpus: 2, seed: 11, workload: 'dirty-share' }),
    det({ cpus: 3, procs: 2, seed: 12, workload: 'msync-race', bugs: ['no-remote-flush'] }),
    det({ cpus: 2, seed: 13, workload: 'mprotect-race', sched: 'pct' }),
  ];
  for (const c of cases) {
    const fresh = deterministicPart(await runMachine(c));
    const pool = new CpuWorkerPool();
    try {
      // another seed first, so that the machine and the scheduler state are an earlier run's
      const seen: MachineBuffers[] = [];
      const hook = { beforeFinalCheck: (m: { buffers: MachineBuffers }) => void seen.push(m.buffers) };
      await runMachine({ ...c, ...hook, seed: (c.seed ?? 0) + 1000 }, pool);
      const again = await runMachine({ ...c, ...hook }, pool);
      // (the hook runs only in a run without violations)
      if (again.ok) assert.ok(seen.length === 2 && seen[0]!.physmem === seen[1]!.physmem && seen[0]!.meta === seen[1]!.meta, 'the second run used the first run’s buffers');
      assert.equal(deterministicPart(again), fresh, `${c.workload} seed ${c.seed}`);
    } finally {
      await pool.close();
    }
  }
});

test.run();
