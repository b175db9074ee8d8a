import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runMachine } from '@smpsim/harness';

const bin = fileURLToPath(new URL('../bin/smpsim.js', import.meta.url));
const fx = (n: string) => fileURLToPath(new URL(`./fixtures/${n}.js`, import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

test('dirty-share on 4 CPUs: ok, one thread per CPU, write-notify faults, TLB misses and IPIs', async () => {
  const s = await runMachine({ cpus: 4, workload: 'dirty-share', ops: 20000, seed: 7 });
  assert.ok(s.ok, JSON.stringify(s.violations));
  assert.is(new Set(s.stats.perCpu.map((p) => p.threadId)).size, 4);
  assert.ok(s.stats.faults.writeNotify > 0);
  assert.ok(s.stats.tlb.misses > 0);
  assert.ok(s.stats.shootdowns.ipisSent > 0);
  assert.ok(s.stats.writeback.pagesCleaned > 0 && s.stats.writeback.bufferWrites > 0);
  assert.match(s.reproduce, /^npx smpsim run --cpus 4 --workload dirty-share --ops 20000 --seed 7/);
});

test('page-fault3: every page write faults (no fault-around for write faults)', async () => {
  const s = await runMachine({ cpus: 2, workload: 'page-fault3', ops: 3000 });
  assert.ok(s.ok, JSON.stringify(s.violations));
  assert.ok(s.stats.faults.notPresent + s.stats.faults.writeNotify >= 6000);
});

for (const seed of [1, 2, 3]) {
  test(`correct kernel, bounded stress (seed ${seed}, 4 CPUs in 2 processes, checkpoints): no violation`, async () => {
    // a fixed amount of work, not 1.5 s of host time: beside other jobs 1.5 s ran no checkpoint
    const s = await runMachine({ cpus: 4, procs: 2, workload: 'dirty-share', ops: 20_000, seed, checkEvery: 1_000_000, perturb: 0.05 });
    assert.ok(s.ok, `seed ${seed}: ${s.violations.map((v) => v.kind + ': ' + v.message).join('\n')}\nreproduce: ${s.reproduce}`);
    assert.ok(s.stats.checkpoints > 0, 'stop-the-world checkpoints ran');
    assert.ok(s.stats.reclaim.evicted > 0 && s.stats.reclaim.refaults > 0, 'reclaim evicted and pages refaulted');
  });
}

test('correct kernel with write(2) and read(2) mixed into dirty-share (syscalls=3000), in 4 MiB so writers throttle: no violation', async () => {
  // a fixed amount of work, not 2 s of host time (beside another job that throttled nobody), and
  // vm.dirty_ratio 10: at the default 40 the flusher kept up more often once run tokens proxied
  // sleeping CPUs' flushes (0-7 throttles in 10 000 ops per CPU; at 10, 65-79)
  const s = await runMachine({ cpus: 4, procs: 2, workload: 'dirty-share', ops: 40_000, seed: 4, memoryBytes: 4 * 1024 * 1024, checkEvery: 1_000_000, perturb: 0.05, params: { syscalls: 3000 }, daemonConfig: { dirtyRatio: 10 } });
  assert.ok(s.ok, `${s.violations.map((v) => v.kind + ': ' + v.message).join('\n')}\nreproduce: ${s.reproduce}`);
  assert.ok(s.stats.syscalls.pwrite > 0 && s.stats.syscalls.pread > 0, JSON.stringify(s.stats.syscalls));
  assert.ok(s.stats.writeback.throttled > 0, 'writers were throttled');
});

test('the asynchronous disk on real workers (--daemon diskLatency=8, with write(2), throttling and checkpoints): several writes in flight, all completed by the end, no violation', async () => {
  const s = await runMachine({ cpus: 4, procs: 2, workload: 'dirty-share', durationMs: 2000, seed: 5, memoryBytes: 4 * 1024 * 1024, checkEvery: 1_000_000, perturb: 0.05, params: { syscalls: 2000 }, daemonConfig: { diskLatency: 8 } });
  assert.ok(s.ok, `${s.violations.map((v) => v.kind + ': ' + v.message).join('\n')}\nreproduce: ${s.reproduce}`);
  assert.ok(s.stats.ioInflightMax > 1, `in flight at most ${s.stats.ioInflightMax}`);
  assert.ok(s.stats.io.submitted > 0);
  assert.is(s.stats.io.completed, s.stats.io.submitted, 'the final sync waited for every write');
  assert.is(s.stats.writeback.bufferWrites, s.stats.io.completed, 'every buffer write went through the disk');
});

test('the asynchronous disk in deterministic mode: the same seed, the same run', async () => {
  const o = { cpus: 3, procs: 2, workload: 'dirty-share', ops: 1500, seed: 8, mode: 'deterministic' as const, checkEvery: 500_000, daemonConfig: { diskLatency: 4 } };
  const [a, b] = [await runMachine(o), await runMachine(o)];
  assert.ok(a.ok, JSON.stringify(a.violations));
  assert.ok(a.stats.io.submitted > 0);
  assert.is(a.traceHash, b.traceHash);
});

test('the defaults (dirty-share, 4 CPUs in 2 processes): writes in flight on the disk, truncations, lazy-skipped flush targets, no violation', async () => {
  const s = await runMachine({ cpus: 4, procs: 2, workload: 'dirty-share', durationMs: 2000, seed: 11 });
  assert.ok(s.ok, `${s.violations.map((v) => v.kind + ': ' + v.message).join('\n')}\nreproduce: ${s.reproduce}`);
  assert.ok(s.stats.ioInflightMax > 1, `in flight at most ${s.stats.ioInflightMax}`);
  assert.is(s.stats.io.completed, s.stats.io.submitted);
  assert.ok(s.stats.syscalls.ftruncate > 0, 'dirty-share truncates by default');
  assert.ok(s.stats.shootdowns.lazySkipped > 0);
});

// truncate while other CPUs fault, store, msync, munmap/remap and mprotect the same files (a truncate
// of a tail every 10 ops of a CPU, 8-page files): deterministic schedules and free mode
for (const [mode, seed] of [['deterministic', 1], ['deterministic', 2], ['free', 3]] as const) {
  test(`truncate racing faults and the kernel threads (${mode}, seed ${seed}, 3 CPUs in 2 processes, truncate=1000, 8-page files): no violation`, async () => {
    const s = await runMachine({ cpus: 3, procs: 2, workload: 'dirty-share', ops: mode === 'free' ? 20_000 : 3_000, seed, mode, perturb: mode === 'free' ? 0.05 : 0, checkEvery: 500_000, params: { truncate: 1000, pages: 8, hot: 5000 } });
    assert.ok(s.ok, `${s.violations.map((v) => v.kind + ': ' + v.message).join('\n')}\nreproduce: ${s.reproduce}`);
    assert.ok(s.stats.syscalls.ftruncate >= 20, `${s.stats.syscalls.ftruncate} ftruncate calls`);
    assert.ok(s.stats.writeback.dirtyCancelled > 0, 'truncate cancelled the dirty state of pages it dropped');
  });
}

test('truncate_count: a fault that looked the page up before a truncate retries (deterministic PCT over seeds)', async () => {
  let retries = 0;
  for (let seed = 1; seed <= 6 && retries === 0; seed++) {
    const s = await runMachine({ cpus: 3, workload: 'dirty-share', ops: 2_000, seed, mode: 'deterministic', sched: 'pct', params: { truncate: 2000, pages: 8, files: 1, hot: 0 } });
    assert.ok(s.ok, `seed ${seed}: ${s.violations.map((v) => v.kind + ': ' + v.message).join('\n')}`);
    retries += s.stats.truncateRetries;
  }
  assert.ok(retries > 0, 'no fault raced a truncate');
});

test('the final backing-store check reports exactly a corrupted word', async () => {
  let at = { file: 0, page: 0, word: 0 };
  const s = await runMachine({
    cpus: 2,
    workload: 'dirty-share',
    ops: 3000,
    beforeFinalCheck: (m) => {
      // word 5 of page 3 of file 0: flip the backing store's copy
      const w = (0 + 3) * 1024 + 5;
      m.disk[w] = m.disk[w]! + 1;
      at = { file: 0, page: 3, word: 5 };
    },
  });
  assert.not.ok(s.ok);
  assert.is(s.violations.length, 1);
  const v = s.violations[0]!;
  assert.is(v.kind, 'lost-write');
  assert.equal({ file: (v.details as any).file, page: (v.details as any).page, word: (v.details as any).word }, at);
});

test('lockdep finds the inversion of mkclean-under-private-lock, naming the locks and sites', async () => {
  const s = await runMachine({ cpus: 4, workload: 'dirty-share', durationMs: 20000, bugs: ['mkclean-under-private-lock'] });
  const v = s.violations.find((x) => x.kind === 'lockdep');
  assert.ok(v, JSON.stringify(s.violations.map((x) => x.kind)));
  for (const name of ['private_lock', 'i_mmap_lock', 'pte lock', 'try_to_free_buffers']) assert.ok(v!.message.includes(name), `names ${name}`);
  assert.ok(/zap_pte_range|try_to_unmap_one/.test(v!.message));
  assert.ok(s.stats.hostWallMs < 20000);
});

test('lock statistics: a row per lock class in /proc/lock_stat columns', async () => {
  const s = await runMachine({ cpus: 4, workload: 'dirty-share', durationMs: 800, lockStat: true });
  const classes = s.stats.locks.map((r) => r.class);
  for (const c of ['mmap_sem', 'PG_locked', 'i_mmap_lock', 'pte lock', 'private_lock', 'tree_lock']) assert.ok(classes.some((x) => x.includes(c)), `row for ${c}: ${classes}`);
  for (const r of s.stats.locks) assert.ok(r.acquisitions >= r.contentions);
});

test('bad input: one line on stderr, exit 2', () => {
  for (const args of [['run', '--cpus', '0'], ['run', '--cpus', 'abc'], ['run', '--workload', 'nope'], ['run', '--frob'], ['run', '--memory', '8G'], ['run', '--memory', '100K'], ['run', '--workload', fx('throws-at-import')], ['run', '--bug', 'nope']]) {
    const r = cli(...args);
    assert.is(r.status, 2, `${args.join(' ')}: status ${r.status}, stderr ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.not.match(r.stderr, /\n\s+at /);
  }
});

test('a workload that throws inside the run: violation crash naming the CPU, exit 1, no stack', () => {
  const r = cli('run', '--cpus', '2', '--ops', '1000', '--workload', fx('throws-in-run'), '--json');
  assert.is(r.status, 1, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.is(s.violations[0].kind, 'crash');
  assert.match(s.violations[0].message, /cpu1/);
});

test("a violation reported while the machine stops is listed apart, not as the run's finding (a truncate unwound half done, then SIGBUS)", () => {
  const r = cli('run', '--cpus', '2', '--ops', '10', '--workload', fx('unwound-truncate'), '--json');
  assert.is(r.status, 1, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.violations.map((v: { kind: string; cpu: number }) => [v.kind, v.cpu]), [['invariant', 0]], r.stdout.slice(0, 2000));
  assert.is(s.afterStop.length, 1, JSON.stringify(s.afterStop));
  assert.is(s.afterStop[0].kind, 'crash');
  assert.is(s.afterStop[0].secondary, true);
  assert.match(s.afterStop[0].message, /^cpu1: BusError: SIGBUS at 0x[0-9a-f]+[7f]000 \(past the end of the file\)/);
  const text = cli('run', '--cpus', '2', '--ops', '10', '--workload', fx('unwound-truncate'));
  assert.is(text.status, 1, text.stderr);
  assert.match(text.stdout, /VIOLATION invariant \(cpu0\)/);
  assert.match(text.stdout, /reported while the machine stopped [^\n]*\n  crash \(cpu1\): cpu1: BusError: SIGBUS/);
  assert.not.match(text.stdout, /VIOLATION crash/);
});

test.run();
