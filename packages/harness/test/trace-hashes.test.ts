/**
 * Pins the model's behaviour: deterministic runs recorded before the architecture restructuring
 * (fixtures/trace-hashes.json: four workloads, 2-6 CPUs, 1-3 processes, the released kernels and the fixed one, nine bug
 * switches) must give the same trace hash, outcome and counters today. The trace hash folds every
 * scheduling decision, fault, lock acquisition and release, flush request and acknowledgement and
 * writeback in execution order, so any change of what the kernel does, or in what order, shows here.
 * scripts/record-trace-hashes.mjs re-records the file; a commit that does so must say why.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuWorkerPool, type RunOptions, runMachine } from '@smpsim/harness';

interface Pinned {
  name: string;
  options: Partial<RunOptions>;
  expect: { traceHash: string; ok: boolean; violations: string[]; steps: number; ops: number; faultsWriteNotify: number; ipisSent: number; pagesWritten: number };
}

const doc = JSON.parse(readFileSync(new URL('../test/fixtures/trace-hashes.json', import.meta.url), 'utf8')) as { runs: Pinned[] };
const pool = new CpuWorkerPool();

test('the pinned set covers the workloads, CPU counts, processes, kernels and bug switches it claims', () => {
  const o = doc.runs.map((r) => r.options);
  assert.ok(doc.runs.length >= 12);
  for (const w of ['dirty-share', 'msync-race', 'mprotect-race', 'page-fault3']) assert.ok(o.some((x) => x.workload === w), w);
  for (const k of ['linux-2.6.18', 'linux-2.6.19', 'linux-2.6.20', 'linux-2.6.20+fixes']) assert.ok(o.some((x) => x.kernel === k), k);
  assert.ok(new Set(o.flatMap((x) => x.bugs ?? [])).size >= 3);
  assert.ok(o.some((x) => x.cpus === 2) && o.some((x) => x.cpus === 6));
  assert.ok(o.some((x) => x.procs === 3));
});

for (const r of doc.runs) {
  test(`pinned: ${r.name}`, async () => {
    const s = await runMachine({ mode: 'deterministic', ...r.options }, pool);
    const got = {
      traceHash: s.traceHash,
      ok: s.ok,
      violations: s.violations.map((v) => v.kind),
      steps: s.schedule?.steps,
      ops: s.stats.ops,
      faultsWriteNotify: s.stats.faults.writeNotify,
      ipisSent: s.stats.shootdowns.ipisSent,
      pagesWritten: s.stats.writeback.pagesWritten,
    };
    assert.equal(got, r.expect, `${r.name}: ${JSON.stringify(got)}`);
  });
}

test.after(() => pool.close());
test.run();
