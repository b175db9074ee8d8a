/**
 * Deterministic mode: same flags, same run (summary and trace hash); the replay round trip (fail,
 * capture the schedule string, replay, the same failure) — never skipped; shrinking; PCT finding a
 * planted depth-2 ordering bug within the schedules its probability bound promises; the logical
 * watchdog; the Perfetto trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSchedule, deriveSeed } from '@smpsim/core';
import { CpuWorkerPool, deterministicPart, replaySchedule, runCampaign, runMachine, type RunOptions, type RunSummary, shrinkSchedule } from '@smpsim/harness';

const bin = fileURLToPath(new URL('../bin/smpsim.js', import.meta.url));
const fx = (n: string) => fileURLToPath(new URL(`./fixtures/${n}.js`, import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
const dir = mkdtempSync(join(tmpdir(), 'smpsim-det-'));
const pool = new CpuWorkerPool();
const det = (o: Partial<RunOptions>): Partial<RunOptions> => ({ mode: 'deterministic', workload: 'dirty-share', ...o });

for (const [seed, cpus, sched, extra] of [
  [5, 3, 'random', {}],
  [11, 2, 'pct', {}],
  [23, 4, 'random', { procs: 2, checkEvery: 300_000 }],
  [7, 1, 'pct', {}],
] as Array<[number, number, 'random' | 'pct', Partial<RunOptions>]>) {
  test(`same seed, same run: seed ${seed}, ${cpus} CPU(s), ${sched}${extra.checkEvery ? ', checkpoints' : ''}`, async () => {
    const o = det({ seed, cpus, sched, ops: 1500, ...extra });
    const a = await runMachine(o, pool);
    const b = await runMachine(o, pool);
    assert.ok(a.ok, JSON.stringify(a.violations));
    assert.is(a.mode, 'deterministic');
    assert.match(a.traceHash ?? '', /^[0-9a-f]{8}$/);
    assert.is(b.traceHash, a.traceHash);
    assert.equal(deterministicPart(b), deterministicPart(a));
    assert.is(a.stats.ops, 1500 * cpus);
    assert.ok(a.schedule!.steps > 1500 * cpus, 'every access is a scheduling step');
    if (cpus > 1) assert.ok(a.schedule!.switches > 0);
    if (extra.checkEvery) assert.ok(a.stats.checkpoints > 0, 'checkpoints ran');
    // the schedule string replays the same run
    const r = await replaySchedule(a.schedule!.string!, {}, pool);
    assert.not.ok(r.diverged);
    assert.is(r.summary.traceHash, a.traceHash);
    assert.equal(r.summary.stats.ops, a.stats.ops);
  });
}

test('different seeds give different interleavings', async () => {
  const a = await runMachine(det({ seed: 1, cpus: 2, ops: 800 }), pool);
  const b = await runMachine(det({ seed: 2, cpus: 2, ops: 800 }), pool);
  assert.is.not(a.traceHash, b.traceHash);
});

test('deterministic mode refuses --duration and a bad scheduler option (exit 2, one line)', () => {
  for (const args of [
    ['run', '--mode', 'deterministic', '--duration', '1s'],
    ['run', '--mode', 'deterministic', '--sched', 'nope'],
    ['run', '--mode', 'deterministic', '--switch-prob', '2'],
    ['run', '--schedule-out', join(dir, 'x')],
    ['replay', 'smpsim9:abc'],
    ['replay', 'smpsim1:!!!'],
    ['run', '--cost', 'nope=3'],
  ]) {
    const r = cli(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.status} ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

/** The first failing run of a deterministic campaign over derived seeds (deterministic itself). */
async function firstFailing(o: Partial<RunOptions>, base: number, max: number): Promise<RunSummary> {
  for (let i = 0; i < max; i++) {
    const s = await runMachine({ ...o, seed: deriveSeed(base, i) }, pool);
    if (!s.ok) return s;
  }
  throw new Error(`no failing run in ${max} schedules`);
}

let failing: RunSummary;

test('replay round trip: a failing schedule replays to the same violation report and trace hash', async () => {
  failing = await firstFailing(det({ cpus: 3, ops: 3000, sched: 'pct', bugs: ['no-remote-flush'] }), 1, 20);
  const v = failing.violations[0]!;
  assert.ok(['lost-write', 'invariant'].includes(v.kind), v.kind);
  const str = failing.schedule!.string!;
  assert.match(str, /^smpsim1:[A-Za-z0-9_-]+$/);
  assert.is(failing.schedule!.replay, `npx smpsim replay '${str}'`);
  const d = decodeSchedule(str);
  assert.is(d.options.seed, failing.seed);
  assert.is(d.decisions[0]!.step, 0);
  const r = await replaySchedule(str, {}, pool);
  assert.not.ok(r.summary.ok);
  assert.not.ok(r.diverged);
  assert.is(r.summary.traceHash, failing.traceHash);
  assert.equal(r.summary.violations, failing.violations);
  assert.is(r.summary.reproduce, failing.schedule!.replay);
});

test('a failing run is deterministic too: the same summary and trace hash, violation included', async () => {
  const o = { ...det({ cpus: 3, ops: 3000, sched: 'pct' as const, bugs: ['no-remote-flush' as const] }), seed: failing.seed };
  const again = await runMachine(o, pool);
  assert.is(again.traceHash, failing.traceHash);
  assert.equal(deterministicPart(again), deterministicPart(failing));
});

test('a deterministic stress campaign (piscina, reused CPU workers) gives a replay that reproduces its first violation', async () => {
  const s = await runCampaign({ run: det({ cpus: 3, ops: 2000, sched: 'pct', bugs: ['no-remote-flush'] }), runs: 6, jobs: 1 });
  assert.ok(s.failed > 0 && s.firstViolation, JSON.stringify(s));
  assert.match(s.campaign, /--mode deterministic --sched pct --pct-steps \d+/);
  const f = s.firstViolation!;
  assert.match(f.replay ?? '', /^npx smpsim replay 'smpsim1:[A-Za-z0-9_-]+'$/);
  const r = await replaySchedule(f.replay!.slice("npx smpsim replay '".length, -1), {}, pool);
  assert.not.ok(r.diverged, 'the replay has the recorded trace hash');
  assert.is(r.summary.violations[0]!.kind, f.kind);
  assert.is(r.summary.violations[0]!.message, f.message);
});

test('replay from the command line: exit 1, the same violation; --schedule-out writes the string', () => {
  const out = join(dir, 'sched.txt');
  const r = cli('replay', failing.schedule!.string!, '--json', '--schedule-out', out);
  assert.is(r.status, 1, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.violations, failing.violations);
  assert.is(s.traceHash, failing.traceHash);
  assert.is(s.replayOf.diverged, false);
  assert.is(readFileSync(out, 'utf8').trim(), failing.schedule!.string);
  // and from the file
  const f = cli('replay', `@${out}`);
  assert.is(f.status, 1);
  assert.match(f.stdout, new RegExp(`VIOLATION ${failing.violations[0]!.kind}`));
  assert.match(f.stdout, /\(as recorded\)/);
});

test('shrink: a schedule no longer than the original that still fails the same way', async () => {
  const r = await shrinkSchedule(failing.schedule!.string!, { attempts: 12, timeMs: 30_000 });
  assert.is(r.kind, failing.violations[0]!.kind);
  assert.ok(r.shrunk.length <= r.original.length);
  assert.ok(r.shrunk.ops <= r.original.ops && r.shrunk.decisions <= r.original.decisions);
  assert.ok(r.attempts <= 12);
  const again = await replaySchedule(r.schedule, {}, pool);
  assert.not.ok(again.summary.ok);
  assert.is(again.summary.violations[0]!.kind, r.kind);
});

test('PCT finds a planted depth-2 ordering bug within the schedules its bound promises', async () => {
  const o = det({ workload: fx('pct-depth2'), cpus: 2, ops: 1, daemons: false, sched: 'pct', pctDepth: 2 });
  // k: the steps of one execution; PCT finds a depth-d bug in one run with probability >= 1/(n k^(d-1))
  const k = (await runMachine({ ...o, seed: 1 }, pool)).schedule!.steps;
  const n = 2;
  const p = 1 / (n * k);
  const bound = Math.ceil(Math.log(1000) / p); // 99.9 % by the bound
  let found = -1;
  for (let i = 0; i < bound && found < 0; i++) {
    const s = await runMachine({ ...o, pctSteps: k, seed: deriveSeed(42, i) }, pool);
    if (!s.ok) {
      assert.is(s.violations[0]!.kind, 'planted-order');
      found = i + 1;
    }
  }
  assert.ok(found > 0, `PCT did not find the depth-2 bug in ${bound} schedules (k = ${k})`);
  // with depth 1 (no change point) PCT runs CPUs by fixed priority: the bug needs a preemption
  const d1 = await runMachine({ ...o, pctDepth: 1, pctSteps: k, seed: 3 }, pool);
  assert.ok(d1.ok);
});

test('the logical watchdog: an AB-BA deadlock in deterministic mode is reported with its wait-for cycle', async () => {
  const s = await firstFailing(det({ workload: fx('abba-det'), cpus: 2, ops: 1, daemons: false, lockdep: false }), 3, 40);
  const v = s.violations[0]!;
  assert.is(v.kind, 'deadlock');
  assert.match(v.message, /watchdog \(deterministic mode\): every CPU has been blocked for 1000 scheduling steps/);
  assert.match(v.message, /wait-for cycle: cpu(\d) -> cpu(\d) -> cpu\1/);
  const r = await replaySchedule(s.schedule!.string!, {}, pool);
  assert.equal(r.summary.violations, s.violations);
});

for (const mode of ['deterministic', 'free'] as const) {
  test(`--trace writes a Chrome trace-event file Perfetto opens (${mode} mode)`, async () => {
    const file = join(dir, `trace-${mode}.json`);
    const s = await runMachine({ mode, cpus: 2, ops: 400, workload: 'dirty-share', seed: 3, trace: file, ...(mode === 'deterministic' ? {} : { durationMs: 0 }) }, pool);
    assert.ok(s.ok, JSON.stringify(s.violations));
    const t = JSON.parse(readFileSync(file, 'utf8'));
    assert.ok(Array.isArray(t.traceEvents) && t.traceEvents.length > 10);
    for (const e of t.traceEvents) {
      assert.type(e.name, 'string');
      assert.ok(['B', 'E', 'X', 'i', 'M'].includes(e.ph), e.ph);
      assert.type(e.ts, 'number');
      assert.type(e.pid, 'number');
      assert.type(e.tid, 'number');
      if (e.ph === 'X') assert.type(e.dur, 'number');
    }
    const cats = new Set(t.traceEvents.map((e: { cat: string }) => e.cat));
    for (const c of ['fault', 'lock', 'flush', 'io']) assert.ok(cats.has(c), `events of category ${c}: ${[...cats]}`);
    // the disk's submissions and completions, each on the CPU whose queue it is
    const io = (name: string) => t.traceEvents.filter((e: { name: string }) => e.name === name).length;
    assert.is(io('I/O submit'), s.stats.io.submitted);
    assert.is(io('I/O complete'), s.stats.io.completed);
    if (mode === 'deterministic') assert.ok(cats.has('sched'), 'schedule switches');
    const tids = new Set(t.traceEvents.filter((e: { ph: string }) => e.ph !== 'M').map((e: { tid: number }) => e.tid));
    assert.equal([...tids].sort(), [0, 1]);
  });
}

test.after(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});
test.run();
