/**
 * The architecture's rules, checked on the sources and the compiled output of every package:
 * - no import cycle among a package's files (type-only imports aside: checked with madge on the
 *   compiled JavaScript, where TypeScript has erased them), except Linux's own knot inside
 *   core/src/kernel, listed below: a new cycle fails this test until it is understood and listed;
 * - free versus deterministic mode is decided in the waiters only (no `det !== null` / `det.block`
 *   elsewhere in core or cpu-worker);
 * - one writer of G_STOP (machine/stop.ts);
 * - cpu-worker and the harness use no raw shared-memory offset (no layout import, no G_/C_/PG_ words).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import madge from 'madge';

const packages = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(ext) && !p.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const sources = (pkg: string) => files(join(packages, pkg, 'src'), '.ts').map((f) => ({ path: relative(packages, f), text: readFileSync(f, 'utf8') }));

/** Cycles madge finds among a package's compiled files. */
async function cycles(pkg: string): Promise<string[][]> {
  const r = await madge(join(packages, pkg, 'dist'), { fileExtensions: ['js'] });
  return r.circular();
}

/**
 * The kernel's cycles, which are Linux's own call graph: set_page_dirty and writepage (mm/page-writeback.c)
 * reach fs/buffer.c (__set_page_dirty_buffers, block_write_full_page), whose try_to_free_buffers calls
 * back into page-writeback.c (cancel_dirty_page, and page_mkclean in the restored 2.6.19 bugs); write
 * back finds pages through mm/filemap.c, whose readpage attaches buffers (fs/buffer.c); and
 * clear_page_dirty_for_io calls page_mkclean (mm/rmap.c), whose try_to_unmap_one calls set_page_dirty.
 * In Linux the file system's half is reached through a_ops function pointers; here it is imported.
 */
const KERNEL_CYCLES = [
  ['kernel/buffer.js', 'kernel/page-writeback.js'],
  ['kernel/buffer.js', 'kernel/page-writeback.js', 'kernel/filemap.js'],
  ['kernel/page-writeback.js', 'kernel/rmap.js'],
];

test("core: no import cycle but Linux's own knot in the kernel", async () => {
  const found = await cycles('core');
  for (const c of found) assert.ok(c.every((f) => f.startsWith('kernel/')), `a cycle outside core/src/kernel: ${c.join(' -> ')}`);
  const key = (c: string[]) => [...c].sort().join(' ');
  assert.equal(found.map(key).sort(), KERNEL_CYCLES.map(key).sort());
});

for (const pkg of ['cpu-worker', 'harness']) {
  test(`${pkg}: no import cycle`, async () => {
    assert.equal(await cycles(pkg), []);
  });
}

test('the execution mode is chosen in the waiters only', () => {
  for (const pkg of ['core', 'cpu-worker']) {
    for (const f of sources(pkg)) {
      if (/det !== null|det\.block/.test(f.text)) assert.ok(/sched\/(wait|det)\.ts$/.test(f.path), `${f.path} tests the execution mode`);
    }
  }
});

test('one writer of G_STOP', () => {
  const writers: string[] = [];
  for (const pkg of ['core', 'cpu-worker', 'harness']) {
    for (const f of sources(pkg)) {
      f.text.split('\n').forEach((line, i) => {
        if (/G_STOP/.test(line) && /Atomics\.(store|exchange|compareExchange|add|sub|or|and)\(|\]\s*=[^=]/.test(line)) writers.push(`${f.path}:${i + 1}`);
      });
    }
  }
  assert.is(writers.length, 1, writers.join(', '));
  assert.match(writers[0]!, /core\/src\/machine\/stop\.ts/);
});

test('cpu-worker and the harness use no raw shared-memory offset', () => {
  for (const pkg of ['cpu-worker', 'harness']) {
    for (const f of sources(pkg)) {
      assert.not.match(f.text, /layout as L|@smpsim\/core\/testing/, `${f.path} imports the layout`);
      assert.not.match(f.text, /\b(G|C|PG|MM|VMA|F)_[A-Z_]+\b/, `${f.path} names a shared-memory offset`);
    }
  }
});

test.run();
