/** The deterministic scheduler's pieces in one thread: shared RNG, policies, decision log, schedule strings. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSchedule, encodeSchedule, isSchedulerPolicy, maskOf, newExecution, POLICIES, Rng, ScheduleError, type SchedOptions, withDecisionLog } from '@smpsim/core';
import { schedOptions } from './helpers.js';

const opts = (o: Partial<SchedOptions> = {}) => schedOptions(4, 9, 0.1, o);
/** The CPU mask of the set bits of x (the CPUs below 32). */
const bits = (x: number) => maskOf([...Array(32).keys()].filter((c) => x & (1 << c)));

test('the scheduler RNG in shared memory is xoshiro128**, the generator of Rng', () => {
  const s = newExecution(opts());
  // the same algorithm from the same state: seed an Rng and the shared state identically
  const a = new Rng(1, 2);
  const state = [a.nextU32(), a.nextU32(), a.nextU32(), a.nextU32() | 1];
  for (let k = 0; k < 4; k++) s.i[8 + k] = state[k]! | 0;
  // reference: a plain-object xoshiro128** from the same state
  let [x, y, z, w] = state.map((v) => v | 0) as [number, number, number, number];
  const rotl = (v: number, k: number) => (v << k) | (v >>> (32 - k));
  for (let n = 0; n < 100; n++) {
    const r = Math.imul(rotl(Math.imul(y, 5), 7), 9) >>> 0;
    const t = y << 9;
    z ^= x;
    w ^= y;
    y ^= z;
    x ^= w;
    z ^= t;
    w = rotl(w, 11);
    assert.is(s.nextU32(), r);
  }
});

test('policies are modules behind one interface', () => {
  for (const p of Object.values(POLICIES)) assert.ok(isSchedulerPolicy(p), p.name);
  assert.not.ok(isSchedulerPolicy({ name: 'x' }));
});

test('PCT: distinct initial priorities d..d+n-1, d-1 change points in 1..k; the highest enabled CPU runs', () => {
  const s = newExecution(opts({ policy: 'pct', pctDepth: 3, pctSteps: 500 }));
  const prio = [0, 1, 2, 3].map((c) => s.i[s.pc(c) + 5]!);
  assert.equal([...prio].sort(), [3, 4, 5, 6]);
  const top = prio.indexOf(6);
  assert.is(s.i[0], top, 'the first CPU is the highest-priority one');
  const points = s.pctChangePoints();
  assert.is(points.length, 2);
  for (const k of points) assert.ok(k >= 1 && k <= 500, `change point ${k}`);
  const quiet = [1, 2, 3, 4].filter((x) => !points.includes(x));
  const p = POLICIES.pct;
  assert.is(p.nextCpu(s, top, bits(0b1111), quiet[0]!), top);
  const second = prio.indexOf(5);
  assert.is(p.nextCpu(s, top, bits(0b1111 & ~(1 << top)), quiet[1]!), second, 'a blocked CPU yields to the next priority');
  // at a change point the running CPU's priority drops below every initial one
  const k1 = Math.min(...points);
  p.nextCpu(s, second, bits(0b1111), k1);
  assert.ok(s.i[s.pc(second) + 5]! < 3);
});

test('random walk: stays with probability 1 - p, never picks a CPU that is not enabled', () => {
  const s = newExecution(opts({ switchProb: 0.25 }));
  let switches = 0;
  for (let step = 1; step <= 4000; step++) {
    const next = POLICIES.random.nextCpu(s, 0, bits(0b0101), step);
    assert.ok(next === 0 || next === 2);
    if (next !== 0) switches++;
  }
  assert.ok(switches > 800 && switches < 1200, `${switches}`);
});

test('the decision log keeps only what the replay default would not do; replay follows it', () => {
  const rec = newExecution(opts({ switchProb: 0.3, logCapacity: 10_000 }));
  const p = withDecisionLog(POLICIES.random);
  const seq: number[] = [];
  let cur = rec.i[0]!;
  for (let step = 1; step <= 500; step++) {
    const enabled = bits(step % 7 === 0 ? 0b1111 & ~(1 << cur) : 0b1111); // sometimes the running CPU is blocked
    cur = p.nextCpu(rec, cur, enabled, step);
    seq.push(cur);
  }
  const decisions = rec.decisions();
  assert.ok(decisions.length < rec.switches + 1, 'implied hand-overs are not logged');
  const rep = newExecution(opts({ policy: 'replay', replay: decisions }));
  assert.is(rep.i[0], decisions[0]!.cpu);
  let c = rep.i[0]!;
  cur = c;
  const again: number[] = [];
  for (let step = 1; step <= 500; step++) {
    const enabled = bits(step % 7 === 0 ? 0b1111 & ~(1 << c) : 0b1111);
    c = POLICIES.replay.nextCpu(rep, c, enabled, step);
    again.push(c);
  }
  assert.equal(again, seq);
});

test('schedule strings: versioned, round-trip, and refused when foreign or damaged', () => {
  const s = { options: { cpus: 3, seed: 5, workload: 'dirty-share', params: { a: 1 } }, decisions: [{ step: 0, cpu: 2 }, { step: 17, cpu: 0 }, { step: 300_000, cpu: 1 }] };
  const str = encodeSchedule(s);
  assert.match(str, /^smpsim1:[A-Za-z0-9_-]+$/);
  assert.equal(decodeSchedule(str), s);
  assert.throws(() => decodeSchedule('smpsim2:AAAA'), (e: Error) => e instanceof ScheduleError && /version 2/.test(e.message));
  assert.throws(() => decodeSchedule('hello'), (e: Error) => e instanceof ScheduleError);
  assert.throws(() => decodeSchedule(str.slice(0, 20)), (e: Error) => e instanceof ScheduleError);
});

test.run();
