import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

interface Row {
  ceiling: number;
  flush: string;
  flushes: number;
  p50Us: number;
  p99Us: number;
  missesPerFlush: number;
  fullFlushes: number;
  rangeFlushes: number;
  ok: boolean;
}

test('examples/flush-ceiling.mjs runs through the programmatic API with tiny parameters', async () => {
  const { stdout } = await exec(process.execPath, [join(root, 'examples/flush-ceiling.mjs'), '--time', '60ms', '--range', '4', '--pages', '8', '--ceilings', '2,8', '--json'], { cwd: root, timeout: 60_000 });
  const r = JSON.parse(stdout) as { experiment: string; rows: Row[] };
  assert.is(r.experiment, 'flush-ceiling');
  assert.equal(
    r.rows.map((x) => [x.ceiling, x.flush]),
    [
      [2, 'full'],
      [8, 'per-page'],
    ],
  );
  for (const x of r.rows) {
    assert.ok(x.ok);
    assert.ok(x.flushes > 0 && x.p50Us > 0 && x.p50Us <= x.p99Us, JSON.stringify(x));
    assert.ok(x.missesPerFlush >= 0);
  }
  // A range above the ceiling becomes a full flush; at or below it, a range flush.
  assert.ok(r.rows[0]!.fullFlushes >= r.rows[0]!.flushes && r.rows[0]!.rangeFlushes === 0);
  assert.ok(r.rows[1]!.rangeFlushes >= r.rows[1]!.flushes && r.rows[1]!.fullFlushes === 0);
});

test('examples/write-notify-scaling.mjs: simulated faults per CPU for both modes and both flush protocols, and its plot', async () => {
  const svg = join(mkdtempSync(join(tmpdir(), 'smpsim-example-')), 'wn.svg');
  const { stdout } = await exec(process.execPath, [join(root, 'examples/write-notify-scaling.mjs'), '--cpus', '1,3', '--pages', '8', '--rounds', '1', '--svg', svg, '--json'], { cwd: root, timeout: 120_000 });
  const r = JSON.parse(stdout) as { experiment: string; rows: Array<{ flushProtocol: string; mode: string; cpus: number; perCpu: number; ok: boolean }> };
  assert.is(r.experiment, 'write-notify-scaling');
  assert.is(r.rows.length, 8);
  assert.ok(r.rows.every((x) => x.ok && x.perCpu > 0));
  const at = (mode: string, cpus: number, p: string) => r.rows.find((x) => x.mode === mode && x.cpus === cpus && x.flushProtocol === p)!.perCpu;
  for (const p of ['linux-2.6.20', 'modern']) {
    assert.ok(at('processes', 3, p) >= 0.95 * at('processes', 1, p), `${p}: processes scale`);
    assert.ok(at('threads', 3, p) < 0.5 * at('threads', 1, p), `${p}: threads of one mm do not`);
  }
  assert.match(readFileSync(svg, 'utf8'), /^<svg/);
});

test.run();
