import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
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

test.run();
