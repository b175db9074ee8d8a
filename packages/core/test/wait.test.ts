/**
 * Waiting and the machine's lifecycle in one thread: the inline waiter takes the other CPUs'
 * interrupts (a flush completes with no worker), a wait nothing in the thread can end is reported by
 * the watchdog at once; the free waiter's watchdog fires after its threshold with the kernel-style
 * report; runCpu takes a one-CPU machine through its task, a checkpoint, the invariants, the final
 * sync and the stop; a task that throws is a crash naming the CPU.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cpu, CpuState, FlushCause, flushTlbPage, FreeWaiter, initTokens, type LockIdx, Machine, MachineStop, MAP_SHARED, PROT_READ, PROT_WRITE, runCpu, StopReason, sysMmap, TokenState, TokenWaiter, WaitKind } from '@smpsim/core';
import { file, layout as L, LockClass, locks, SITES } from '@smpsim/core/testing';
import { diskWord, small, vpnOf } from './helpers.js';

test('inline waiter: a flush to another CPU of the thread is acknowledged while the initiator waits', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const [a, b] = cpus as [Cpu, Cpu];
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr, 1);
  b.load(addr);
  assert.ok(m.tlbEntry(1, vpnOf(addr)), 'cpu1 caches the translation');
  a.kernelMode(() => flushTlbPage(a, a.mmId, vpnOf(addr), FlushCause.Fault));
  assert.is(m.tlbEntry(1, vpnOf(addr)), null, "cpu1's entry is gone when the flush returns");
  assert.is(m.counter(1, 'ipisReceived'), 1);
  assert.is(m.meta[m.layout.cpu(0) + L.C_WAIT_KIND], WaitKind.None, 'the wait is over');
});

/**
 * Run tokens in one thread: cpu1 caches a translation, then cpu0 (holding the one token) flushes it
 * while cpu1, whose host thread never runs here, is in token state `state` with `pending` interrupts
 * besides the flush. The watchdog bounds the flush's wait: a proxy that refused cpu1 is a deadlock
 * report. Returns cpu1's token word after the flush.
 */
function flushWhileOff(state: TokenState, pending = 0) {
  const { m, cpus } = small({ files: [file(2)], watchdogMs: 2000 });
  const [a, b] = cpus as [Cpu, Cpu];
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr, 1);
  b.load(addr);
  assert.ok(m.tlbEntry(1, vpnOf(addr)), 'cpu1 caches the translation');
  initTokens(m.meta, m.layout, 1);
  a.useWaiter(new TokenWaiter(a, 200));
  a.waiter.enter();
  const tok = m.layout.cpu(1) + L.C_TOKEN;
  Atomics.store(m.meta, tok, state);
  Atomics.or(m.meta, m.layout.cpu(1) + L.C_IPI_PENDING, pending);
  a.kernelMode(() => flushTlbPage(a, a.mmId, vpnOf(addr), FlushCause.Fault));
  assert.equal(a.violations, []);
  assert.is(m.tlbEntry(1, vpnOf(addr)), null, "cpu1's entry is gone when the flush returns");
  assert.is(m.counter(1, 'ipisProxied'), 1);
  assert.is(m.counter(1, 'ipisReceived'), 1);
  return { m, st: Atomics.load(m.meta, tok) };
}

test("run tokens: a parked CPU's flush IPI is taken by proxy even with its disk interrupt pending, which stays for it", () => {
  // cpu1 parked at a user-mode point, interrupts on, a disk completion pending
  const { m, st } = flushWhileOff(TokenState.Parked, L.DISK_PENDING);
  assert.is(Atomics.load(m.meta, m.layout.cpu(1) + L.C_IPI_PENDING), L.DISK_PENDING, 'the disk interrupt is still pending, for cpu1 to take');
  assert.is(st & 7, TokenState.Parked, 'cpu1 is still parked');
  assert.ok(st >>> 3 > 0, 'with the proxy generation moved on (its one-entry translation cache goes when it runs)');
});

test('run tokens: a CPU asleep in a kernel wait without a token, interrupts on (SLEEPING), has its flush IPI taken by proxy', () => {
  // cpu1 waits in the kernel (a spinlock, say) and sleeps there: its host thread is not scheduled
  const { st } = flushWhileOff(TokenState.Sleeping);
  assert.is(st & 7, TokenState.Sleeping, 'back to SLEEPING, for cpu1 to take back to NONE when its sleep ends');
  assert.ok(st >>> 3 > 0, 'with the proxy generation moved on');
});

test('inline waiter: a lock another CPU of the thread holds is a deadlock at once, with the report', () => {
  const { m, cpus } = small({ files: [file(1), file(1)] });
  const [a, b] = cpus as [Cpu, Cpu];
  const lock = (m.layout.file(1) + L.F_PRIVATE_LOCK) as LockIdx;
  locks.spinLock(b, lock, LockClass.Test0, SITES.test_site);
  assert.throws(() => locks.spinLock(a, lock, LockClass.Test0, SITES.lock_page), (e: unknown) => e instanceof MachineStop);
  const v = a.violations[0]!;
  assert.is(v.kind, 'deadlock');
  assert.match(v.message, /^watchdog \(one thread\): cpu0 waits for something no CPU of this thread can give/);
  assert.match(v.message, /cpu0 \(irqs on\): spinning on test_lock_a \(lock@\d+, taken at test_site\)/);
  assert.match(v.message, /wait-for cycle: none|no wait-for cycle/);
  assert.is(m.stopReason(), StopReason.Watchdog);
});

test('free waiter: the watchdog fires after its threshold, naming what the CPU waits for', () => {
  const m = Machine.create({ ...small().m.config, cpus: 1, watchdogMs: 60 });
  const c = new Cpu(m, 0);
  assert.ok(c.waiter instanceof FreeWaiter, 'free mode is the default');
  const t0 = Date.now();
  assert.throws(() => c.waiter.waitUntil(WaitKind.FlushAck, 0, () => false, L.G_TEST_LOCKS), (e: unknown) => e instanceof MachineStop);
  assert.ok(Date.now() - t0 >= 60, 'not before the threshold');
  assert.match(c.violations[0]!.message, /^watchdog: cpu0 has waited \d+ ms \(threshold 60 ms\)/);
  assert.ok(m.heartbeat(0) > 0, 'every iteration of the wait is a heartbeat');
});

test('free waiter: a wait ends as soon as ready() holds, after interrupts were taken', () => {
  const { cpus } = small();
  const c = new Cpu(cpus[0]!.m, 0);
  let n = 0;
  c.waiter.waitUntil(WaitKind.Spin, 0, () => ++n > 100, -1);
  assert.is(n, 101);
});

test('runCpu on one CPU: task, checkpoints, invariants, final sync, stop', () => {
  const { m, cpus } = small({ cpus: 1, files: [file(2)] });
  const c = cpus[0]!;
  const result = runCpu(
    c,
    () => {
      const addr = sysMmap(c, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
      for (let i = 0; i < 20_000; i++) c.store(addr + 4096 + 8, i);
      return 'done';
    },
    5_000,
  );
  assert.is(result, 'done');
  assert.is(m.stopReason(), StopReason.Finished);
  assert.is(m.cpuState(0), CpuState.Done);
  assert.ok(m.counter(0, 'checkpoints') > 0, 'checkpoints ran');
  assert.is(m.disk[diskWord(m, 0, 1) + 2], 19_999, 'the final sync wrote the last value');
  assert.equal(c.violations, []);
});

test('runCpu: a task that throws is a crash naming the CPU, and the machine stops', () => {
  const { m, cpus } = small({ cpus: 1 });
  const c = cpus[0]!;
  runCpu(c, () => {
    throw new TypeError('boom');
  }, 0);
  assert.is(c.violations[0]!.kind, 'crash');
  assert.match(c.violations[0]!.message, /^cpu0: TypeError: boom/);
  assert.is(m.stopReason(), StopReason.Abort);
});

test.run();
