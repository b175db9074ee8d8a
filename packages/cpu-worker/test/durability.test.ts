/**
 * The msync/fsync durability contract of the CPU API (api.ts), on real workers: it fires on a state
 * built to break it (a page's dirty state dropped while its PTE stays writable and dirty) and stays
 * silent on the same sequence unbroken, and on a page 2.6.20's cancel_dirty_page left that way.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, runWorkers } from './helpers.js';

for (const op of ['msync', 'fsync']) {
  test(`${op}: a word published before the call and missing after it is a lost write naming the call`, async () => {
    const r = await runWorkers(fixture('lost-dirty'), { cpus: 1, params: { lose: 1, op } });
    assert.is(r.violations.length, 1, JSON.stringify(r.violations));
    const v = r.violations[0]!;
    assert.is(v.kind, 'lost-write');
    assert.match(v.message, op === 'msync' ? /after msync\(MS_SYNC\) of 2 page\(s\) at 0x[0-9a-f]+ returned the backing store holds 11, but the word's owner had written 21 before the call began/ : /after fsync of file 0 returned the backing store holds 11/);
    assert.equal({ ...v.details, pageFlags: 0 }, { file: 0, page: 1, word: 0, expected: 21, seen: 11, when: op, cpu: 0, pageFlags: 0 });
  });

  test(`${op}: silent when nothing is broken, and on a page cancel_dirty_page left clean under its PTE`, async () => {
    const ok = await runWorkers(fixture('lost-dirty'), { cpus: 1, params: { lose: -1, op } });
    assert.equal(ok.violations, []);
    const cancelled = await runWorkers(fixture('lost-dirty'), { cpus: 1, params: { lose: 1, op, cancel: 1 } });
    assert.equal(cancelled.violations, [], 'exempt: 2.6.20 itself keeps that data only under the PTE (the end-of-run harvest writes it)');
  });
}

test('pwrite and pread of owned words (CpuApi.ownPwrite, ownPread): seen through the mapping, on disk after fsync, and a word changed behind the owner is a lost write', async () => {
  const ok = await runWorkers(fixture('pwrite-check'), { cpus: 1 });
  assert.equal(ok.violations, []);
  assert.equal(ok.results[0]!.result, { viaMap: 41, viaRead: 41, onDisk: 41 });
  const bad = await runWorkers(fixture('pwrite-check'), { cpus: 1, params: { corrupt: 1 } });
  assert.is(bad.violations.length, 1, JSON.stringify(bad.violations));
  assert.match(bad.violations[0]!.message, /cpu0 \(process 0\) reads 99 with pread, it last wrote 41/);
});

test.run();
