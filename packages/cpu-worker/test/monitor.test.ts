/**
 * The run monitor of runOnWorkers: a CPU that passes no preemption point for the stall limit is a
 * `hang` naming it (reported then, not at the run's time limit), and a worker that dies is a `crash`
 * naming its CPU. Either way the machine is stopped and the run reports the workers broken.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STALL_MS } from '@smpsim/cpu-worker';
import { fixture, runWorkers } from './helpers.js';

test('the stall limit is 10 s of host time', () => {
  assert.is(STALL_MS, 10_000);
});

test('a CPU spinning without a preemption point is a hang naming it, once the stall limit has passed', async () => {
  const t0 = Date.now();
  const r = await runWorkers(fixture('stall'), { cpus: 2, ops: 100, stallMs: 1500, limitMs: 60_000 });
  const ms = Date.now() - t0;
  assert.equal(r.violations.map((v) => v.kind), ['hang'], JSON.stringify(r.violations));
  assert.match(r.violations[0]!.message, /^cpu1 passed no preemption point for 1.5 s of host time/);
  assert.is(r.violations[0]!.cpu, 1);
  assert.ok(ms >= 1500 && ms < 15_000, `reported after the stall limit, long before the run's limit (${ms} ms)`);
  assert.ok(r.m.stopReason() > 0, 'the machine was stopped');
});

test("a stop does not reach a CPU spinning without a preemption point: the report keeps the CPU's violation, then the hang", async () => {
  const t0 = Date.now();
  const r = await runWorkers(fixture('stall'), { cpus: 2, ops: 100, params: { report: 1 }, stallMs: 1500, limitMs: 60_000 });
  assert.equal(r.violations.map((v) => v.kind), ['invariant', 'hang'], JSON.stringify(r.violations));
  assert.match(r.violations[0]!.message, 'cpu0 found something');
  assert.match(r.violations[1]!.message, /^cpu1 passed no preemption point/);
  assert.ok(Date.now() - t0 < 15_000, 'reported long before the run limit');
});

test('a worker that dies is a crash naming its CPU', async () => {
  const r = await runWorkers(fixture('die'), { cpus: 2, ops: 100 });
  assert.equal(r.violations.map((v) => v.kind), ['crash'], JSON.stringify(r.violations));
  assert.match(r.violations[0]!.message, /^cpu1: its CPU worker died: CPU worker exited with code 3/);
  assert.is(r.violations[0]!.cpu, 1);
});

test.run();
