import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_KERNEL } from '@smpsim/core';
import { fixture, runWorkers } from './helpers.js';

test('watchdog: a real AB-BA deadlock stops the machine, reporting both held locks and the cycle', async () => {
  const t0 = Date.now();
  const r = await runWorkers(fixture('abba'), { cpus: 2, config: { watchdogMs: 300, kernel: { ...DEFAULT_KERNEL, lockdep: false } } });
  const ms = Date.now() - t0;
  const d = r.violations.find((v) => v.kind === 'deadlock');
  assert.ok(d, `expected a deadlock violation, got ${JSON.stringify(r.violations)}`);
  assert.match(d!.message, /wait-for cycle: cpu\d -> cpu\d -> cpu\d/);
  assert.match(d!.message, /test_lock_a/);
  assert.match(d!.message, /test_lock_b/);
  assert.match(d!.message, /cpu0 \(irqs on\): spinning on/);
  assert.match(d!.message, /cpu1 \(irqs on\): spinning on/);
  assert.ok(ms < 5000, `the machine stopped promptly (${ms} ms)`);
});

test('lockdep: the same AB-BA order is reported as a circular dependency before any wait', async () => {
  const r = await runWorkers(fixture('abba'), { cpus: 2, config: { watchdogMs: 2000 } });
  const v = r.violations.find((x) => x.kind === 'lockdep');
  assert.ok(v, JSON.stringify(r.violations));
  assert.match(v!.message, /WARNING: possible circular locking dependency detected/);
  assert.match(v!.message, /the existing dependency chain \(in reverse order\) is:/);
});

test.run();
