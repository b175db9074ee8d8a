/**
 * Timed mode (sched/timed.ts): a wait costs the simulated time until the holder releases; the same
 * flags give the same clocks; IPIs take their latency; and `bench --time-base simulated` prints the
 * same numbers twice, with processes that share nothing scaling flat and threads of one mm not.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COST_PRESETS } from '@smpsim/core';
import { CpuWorkerPool, deterministicPart, runBench, runMachine, type RunOptions } from '@smpsim/harness';

const bin = fileURLToPath(new URL('../bin/smpsim.js', import.meta.url));
const fx = (n: string) => fileURLToPath(new URL(`./fixtures/${n}.js`, import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
const pool = new CpuWorkerPool();
const timed = (o: Partial<RunOptions>): Partial<RunOptions> => ({ mode: 'timed', daemons: false, ...o });
const modern = COST_PRESETS['modern-x86'].costs;

test.after(() => pool.close());

type Hold = { tookAt: number; releasedAt: number };
type Want = { triedAt: number; tookAt: number };

test('a spinlock held by a CPU charges its waiter the holder\'s simulated time, plus the hand-over', async () => {
  const s = await runMachine(timed({ workload: fx('timed-hold'), cpus: 2, ops: 1, lockdep: false, params: { hold: 200_000, delay: 10_000 } }), pool);
  assert.ok(s.ok, JSON.stringify(s.violations));
  const [h, w] = s.results as [Hold, Want];
  assert.ok(w.triedAt > h.tookAt && w.triedAt < h.releasedAt, `CPU 1 tried (${w.triedAt}) while CPU 0 held the lock (${h.tookAt}..${h.releasedAt})`);
  assert.ok(w.triedAt < 20_000, `CPU 1 tried after its own ${10_000} cycles, not later (${w.triedAt})`);
  // taken once released: the holder's time, then the lock's line coming over and the acquisition
  assert.ok(w.tookAt >= h.releasedAt, `took at ${w.tookAt}, released at ${h.releasedAt}`);
  assert.ok(w.tookAt - h.releasedAt <= modern.lineRemote + 4 * modern.lockAcquire + 200, `hand-over took ${w.tookAt - h.releasedAt} cycles`);
  // with nothing to wait for, taking it costs only the acquisition and the transfer
  const q = await runMachine(timed({ workload: fx('timed-hold'), cpus: 2, ops: 1, lockdep: false, params: { hold: 100, delay: 10_000 } }), pool);
  const [, w2] = q.results as [Hold, Want];
  assert.ok(w2.tookAt - w2.triedAt <= modern.lineRemote + 2 * modern.lockAcquire, `uncontended: ${w2.tookAt - w2.triedAt} cycles`);
});

test('two timed runs with the same flags give the same clocks, trace hash and summary', async () => {
  const o = timed({ workload: 'dirty-share', cpus: 4, procs: 2, ops: 400, seed: 5, daemons: true });
  const a = await runMachine(o, pool);
  const b = await runMachine(o, pool);
  assert.ok(a.ok, JSON.stringify(a.violations));
  assert.equal(a.timed!.clocks, b.timed!.clocks);
  assert.is(a.traceHash, b.traceHash);
  assert.equal(deterministicPart(a), deterministicPart(b));
  assert.ok(a.timed!.clocks.every((c) => c > 0));
  assert.is(a.timed!.costs, 'modern-x86');
  assert.match(a.reproduce, / --mode timed/);
  // another preset, other clocks
  const c = await runMachine({ ...o, costPreset: 'core2-2007' }, pool);
  assert.is(c.timed!.costs, 'core2-2007');
  assert.is.not(JSON.stringify(c.timed!.clocks), JSON.stringify(a.timed!.clocks));
});

test('the asynchronous disk in timed mode (on by default): writes in flight and completed, truncates, the same run twice', async () => {
  const o = timed({ workload: 'dirty-share', cpus: 3, procs: 2, ops: 3000, seed: 9, daemons: true, memoryBytes: 4 * 1024 * 1024, params: { truncate: 200 } });
  const a = await runMachine(o, pool);
  const b = await runMachine(o, pool);
  assert.ok(a.ok, JSON.stringify(a.violations));
  assert.ok(a.stats.ioInflightMax > 1, `in flight at most ${a.stats.ioInflightMax}`);
  assert.is(a.stats.io.completed, a.stats.io.submitted);
  assert.ok(a.stats.syscalls.ftruncate > 0);
  assert.is(a.traceHash, b.traceHash);
  assert.equal(a.timed!.clocks, b.timed!.clocks);
});

test('a --duration in timed mode is simulated time: every CPU\'s workload stops there', async () => {
  const s = await runMachine(timed({ workload: 'tlb-hit', cpus: 3, ops: 0, durationMs: 0.5 }), pool);
  assert.ok(s.ok);
  for (const ms of s.timed!.simMs) assert.ok(ms >= 0.5 && ms < 0.52, `stopped at ${ms} simulated ms`);
});

test('bench --time-base simulated: the same numbers twice; processes scale flat, threads of one mm fall; flushes take the IPI latency', async () => {
  const run = () => runBench('faults', [1, 2, 4], 1, { timeBase: 'simulated', pool });
  const a = await run();
  const b = await run();
  assert.ok(a.ok);
  assert.equal(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
  assert.is(a.timeBase, 'simulated');
  assert.is(a.config.costs!.preset, 'modern-x86');
  assert.is(a.baseline, null);
  const proc = a.points.map((p) => p.processes!.perCpu);
  const thr = a.points.map((p) => p.threads!.perCpu);
  assert.ok(proc[2]! >= 0.95 * proc[0]!, `processes: ${proc}`);
  assert.ok(thr[1]! < 0.9 * thr[0]! && thr[2]! < thr[1]!, `threads: ${thr}`);
  assert.ok(a.points.every((p) => p.processes!.hostWallMs === undefined), 'no host figures');
  const sd = await runBench('shootdown', [2], 0.2, { timeBase: 'simulated', pool });
  const lat = sd.points[0]!.threads!.latency!;
  const ipiNs = (modern.ipiLatency + modern.ipiReceive) / modern.ghz;
  assert.ok(lat.p50Ns >= ipiNs, `p50 ${lat.p50Ns} ns >= IPI latency + handler ${ipiNs} ns`);
  assert.is(lat.timerNs, 0);
});

test('2.6.20 flush protocol in timed mode: threads of one mm share 8 sender slots, so at 9 CPUs two senders wait for one slot', async () => {
  const tlb = (s: Awaited<ReturnType<typeof runMachine>>) => s.stats.locks.find((r) => r.class === '&f->tlbstate_lock');
  // 512 pages a CPU: each CPU's file has a page-table page (and a pte lock) of its own, so flushes
  // under different pte locks can meet at a slot
  const o = timed({ workload: 'write-notify', procs: 1, ops: 0, durationMs: 0.4, lockdep: false, lockStat: true, flushProtocol: 'linux-2.6.20', params: { pages: 512 } });
  const eight = await runMachine({ ...o, cpus: 8 }, pool);
  const nine = await runMachine({ ...o, cpus: 9 }, pool);
  assert.ok(eight.ok && nine.ok);
  assert.ok(tlb(eight)!.acquisitions > 0);
  assert.is(tlb(eight)!.contentions, 0, 'one CPU per slot');
  assert.ok(tlb(nine)!.contentions > 0, 'CPUs 0 and 8 share slot 0');
});

test('timed mode refuses what it cannot do, with exit status 2 and one line', () => {
  for (const [args, msg] of [
    [['run', '--mode', 'timed', '--ops', '10', '--check-every', '1000'], /timed mode does not run stop-the-world checkpoints/],
    [['run', '--costs', 'nope'], /--costs must be one of default, core2-2007, modern-x86, got 'nope'/],
    [['bench', 'faults', '--quantum', '500'], /give them with --time-base simulated/],
    [['bench', 'faults', '--time-base', 'wall'], /--time-base must be host or simulated/],
  ] as Array<[string[], RegExp]>) {
    const r = cli(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test.run();
