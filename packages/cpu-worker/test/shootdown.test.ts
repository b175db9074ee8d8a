import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, runWorkers } from './helpers.js';

test('flushTlbPage: when it returns, no other CPU translates with the flushed entry (3 workers)', async () => {
  const r = await runWorkers(fixture('flush-post'), { cpus: 3, params: { rounds: 150 } });
  assert.equal(r.violations, [], r.violations.map((v) => v.message).join('\n'));
  const res = r.results[0]!.result as { checked: number; cachedBefore: number };
  assert.is(res.checked, 300);
  assert.ok(res.cachedBefore > 100, `the others held the translation before most flushes (${res.cachedBefore})`);
  assert.ok(r.m.total('ipisSent') >= 300, 'every flush sent IPIs');
  const threads = new Set(r.results.map((x) => x.threadId));
  assert.is(threads.size, 3, 'one worker thread per CPU');
});

test('flushTlbPage with the no-flush-wait bug: the postcondition check fails', async () => {
  const r = await runWorkers(fixture('flush-post'), { cpus: 3, params: { rounds: 300 }, bugs: ['no-flush-wait'] });
  assert.ok(r.violations.some((v) => v.kind === 'invariant' && /still holds/.test(v.message)), 'the check must be able to fail');
});

test('central race: a writer vs page_mkclean loses nothing (correct kernel)', async () => {
  const r = await runWorkers(fixture('mkclean-race'), { cpus: 2, params: { rounds: 200 } });
  assert.equal(r.violations, [], r.violations.map((v) => v.message).join('\n'));
  // Each msync that found CPU 1's PTE writable cleaned it; CPU 1's next write faulted again.
  assert.ok(r.m.total('pagesCleaned') >= 20, `page_mkclean cleaned PTEs (${r.m.total('pagesCleaned')})`);
  assert.ok(r.m.total('faultsWriteNotify') >= 20, `the writer re-faulted after cleans (${r.m.total('faultsWriteNotify')})`);
});

test('central race with no-remote-flush: the stale writable entry loses a write', async () => {
  const r = await runWorkers(fixture('mkclean-race'), { cpus: 2, params: { rounds: 200 }, bugs: ['no-remote-flush'] });
  assert.ok(r.violations.some((v) => v.kind === 'lost-write'), r.violations.map((v) => v.message).join('\n') || 'no violation');
});

test('central race with fault-dirty-race (2.6.20 as released): msync misses a write', async () => {
  let found = '';
  for (let i = 0; i < 8 && !found; i++) {
    const r = await runWorkers(fixture('mkclean-race'), { cpus: 2, params: { rounds: 200 }, bugs: ['fault-dirty-race'] });
    found = r.violations.map((v) => v.kind).join(',');
  }
  assert.ok(/lost-write|invariant/.test(found), found || 'not found in 8 runs');
});

test.run();
