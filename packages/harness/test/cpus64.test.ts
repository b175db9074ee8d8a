/**
 * 64 CPUs, one worker thread each, in both modes: short dirty-share runs end ok (flushes whose
 * targets span both words of the CPU masks, the deterministic scheduler's two-word sets), and the
 * command line refuses a 65th CPU with exit status 2 and one line.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_CPUS } from '@smpsim/core';
import { CpuWorkerPool, runMachine } from '@smpsim/harness';

const bin = fileURLToPath(new URL('../bin/smpsim.js', import.meta.url));
// One pool for both runs: the 64 worker threads start once.
const pool = new CpuWorkerPool();

test('dirty-share on 64 CPUs, free mode: ok, 64 threads, every IPI taken', async () => {
  const s = await runMachine({ cpus: 64, workload: 'dirty-share', ops: 30, seed: 3 }, pool);
  assert.ok(s.ok, JSON.stringify(s.violations));
  assert.is(s.stats.ops, 64 * 30);
  assert.is(new Set(s.stats.perCpu.map((p) => p.threadId)).size, 64);
  assert.ok(s.stats.shootdowns.ipisSent > 0);
  assert.is(s.stats.shootdowns.ipisReceived, s.stats.shootdowns.ipisSent, 'every IPI was taken');
});

test('dirty-share on 64 CPUs, deterministic mode: ok, and every CPU ran', async () => {
  const s = await runMachine({ mode: 'deterministic', cpus: 64, workload: 'dirty-share', ops: 10, seed: 4 }, pool);
  assert.ok(s.ok, JSON.stringify(s.violations));
  assert.is(s.mode, 'deterministic');
  assert.is(s.stats.ops, 64 * 10);
  assert.match(s.traceHash ?? '', /^[0-9a-f]{8}$/);
  assert.ok(s.stats.shootdowns.ipisSent > 0);
});

test('the command line refuses one CPU more than MAX_CPUS (--cpus 65): exit 2, one line', () => {
  const n = MAX_CPUS + 1;
  const r = spawnSync(process.execPath, [bin, 'run', '--cpus', String(n), '--ops', '10'], { encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 2);
  assert.is(r.stdout, '');
  assert.is(r.stderr, `smpsim: --cpus must be from 1 to ${MAX_CPUS}, got ${n}\n`);
});

test.after(() => pool.close());
test.run();
