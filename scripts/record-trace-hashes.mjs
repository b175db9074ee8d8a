#!/usr/bin/env node
/**
 * Records the trace hashes of the deterministic runs listed in
 * packages/harness/test/fixtures/trace-hashes.json (their `options`), writing back the file with the
 * hash, outcome and a few counters of each run. The test trace-hashes.test.ts replays them and
 * requires the same values: it pins the model's behaviour across restructurings.
 *
 *   node scripts/record-trace-hashes.mjs            # re-record every entry (say why in the commit)
 *
 * Re-record only for a reason a reader can check (a real bug fixed, a deliberate change of the model),
 * and name it in the commit message.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CpuWorkerPool, runMachine } from '@smpsim/harness';

const file = fileURLToPath(new URL('../packages/harness/test/fixtures/trace-hashes.json', import.meta.url));
const doc = JSON.parse(readFileSync(file, 'utf8'));
const pool = new CpuWorkerPool();
try {
  for (const e of doc.runs) {
    const s = await runMachine({ mode: 'deterministic', ...e.options }, pool);
    e.expect = {
      traceHash: s.traceHash,
      ok: s.ok,
      violations: s.violations.map((v) => v.kind),
      steps: s.schedule.steps,
      ops: s.stats.ops,
      faultsWriteNotify: s.stats.faults.writeNotify,
      ipisSent: s.stats.shootdowns.ipisSent,
      pagesWritten: s.stats.writeback.pagesWritten,
    };
    process.stderr.write(`${e.name}: ${s.traceHash} ${s.ok ? 'ok' : s.violations.map((v) => v.kind).join(',')} ${s.schedule.steps} steps\n`);
  }
} finally {
  await pool.close();
}
writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
