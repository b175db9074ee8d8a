import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COST_KEYS, COST_PRESETS, costPreset, type CostModel } from '@smpsim/core';

const presets = Object.entries(COST_PRESETS);

test('COST_KEYS lists every key of the cost model once', () => {
  assert.is(new Set(COST_KEYS).size, COST_KEYS.length);
  assert.is(COST_KEYS.length, 16);
  for (const [name, p] of presets) assert.equal(Object.keys(p.costs).sort(), [...COST_KEYS].sort(), name);
});

test('every preset defines every key with a finite positive number, integers except ghz', () => {
  for (const [name, p] of presets) {
    for (const k of COST_KEYS) {
      const v: unknown = p.costs[k];
      assert.type(v, 'number', `${name}.${k}`);
      assert.ok(Number.isFinite(v as number) && (v as number) > 0, `${name}.${k} = ${String(v)}`);
      if (k !== 'ghz') assert.ok(Number.isInteger(v), `${name}.${k} = ${String(v)} is not an integer`);
    }
  }
});

test('every key of every preset has a source', () => {
  for (const [name, p] of presets) {
    for (const k of COST_KEYS) {
      const s = p.sources[k];
      assert.type(s, 'string', `${name}.${k} has no source`);
      assert.ok((s as string).trim().length > 10, `${name}.${k} source too short`);
    }
  }
});

test('line transfers order: remote > local > own-cache atomic', () => {
  for (const [name, p] of presets) {
    const c: CostModel = p.costs;
    assert.ok(c.lineRemote > c.lineLocal, `${name}: lineRemote ${c.lineRemote} <= lineLocal ${c.lineLocal}`);
    assert.ok(c.lineLocal > c.lockAcquire, `${name}: lineLocal ${c.lineLocal} <= lockAcquire ${c.lockAcquire}`);
  }
});

test('IPI delivery and handling each cost at least hundreds of cycles', () => {
  for (const [name, p] of presets) {
    assert.ok(p.costs.ipiLatency >= 200, `${name}: ipiLatency ${p.costs.ipiLatency}`);
    assert.ok(p.costs.ipiReceive >= 200, `${name}: ipiReceive ${p.costs.ipiReceive}`);
  }
});

test('costPreset finds presets by name and nothing else', () => {
  for (const [name, p] of presets) {
    assert.is(costPreset(name), p);
    assert.is(p.name, name);
    assert.ok(p.description.length > 0);
  }
  assert.is(costPreset('nope'), undefined);
  assert.is(costPreset('toString'), undefined);
  assert.is(costPreset('__proto__'), undefined);
});

test.run();
