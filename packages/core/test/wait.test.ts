/**
 * Waiting and the machine's lifecycle in one thread: the inline waiter takes the other CPUs'
 * interrupts (a flush completes with no worker), a wait nothing in the thread can end is reported by
 * the watchdog at once; the free waiter's watchdog fires after its threshold with the kernel-style
 * report; runCpu takes a one-CPU machine through its task, a checkpoint, the invariants, the final
 * sync and the stop; a task that throws is a crash naming the CPU. Run tokens in one thread: flushes
 * taken by proxy, the flush initiator's spin and nap, the order of a hand-over, each with
 * perturbation off and (where it differs) on. A slow path that falls inside a kernel path leaves its
 * user-mode part (hooks, the deadline, a token's slice end) to the return to user mode.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cpu, CpuState, type FileId, FlushCause, flushTlbPage, FreeWaiter, initTokens, type LockIdx, Machine, MachineStop, MAP_SHARED, NAP_MS, type Pfn, type PgOff, PROT_READ, PROT_WRITE, runCpu, SegvError, StopReason, sysMmap, sysMunmap, TokenState, TokenWaiter, WaitKind } from '@smpsim/core';
import { file, kdaemons, layout as L, LockClass, locks, SITES } from '@smpsim/core/testing';
import { cachedPfn, diskWord, pageField, small, vpnOf } from './helpers.js';

/** CPU c's run-token state (the low bits of its C_TOKEN word). */
const tokenState = (m: Machine, c: number): number => Atomics.load(m.meta, m.layout.cpu(c) + L.C_TOKEN) & 7;

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

/** Atomics.wait and Atomics.notify, replaced for a test that watches them. */
const spied = Atomics as unknown as {
  wait: (ta: Int32Array, idx: number, v: number, ms?: number) => string;
  notify: (ta: Int32Array, idx: number, n?: number) => number;
};

/** Runs `fn` with Atomics.notify watched: `onNotify` sees each index notified, before the notify. */
function watchNotify(fn: () => void, onNotify: (idx: number) => void): void {
  const notify = spied.notify;
  spied.notify = (ta, idx, n) => {
    onNotify(idx);
    return notify(ta, idx, n);
  };
  try {
    fn();
  } finally {
    spied.notify = notify;
  }
}

/** Runs `fn` with Atomics.notify watched: the indices it notified, in order. */
function notifiedBy(fn: () => void): number[] {
  const notified: number[] = [];
  watchNotify(fn, (idx) => notified.push(idx));
  return notified;
}

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
  // asleep in a wait: its sleep address is published, as Cpu.sleepOn does (a PARKED CPU publishes none)
  const sleepAddr = m.layout.cpu(1) + L.C_IPI_PENDING;
  if (state === TokenState.Sleeping || state === TokenState.Napping) Atomics.store(m.meta, m.layout.cpu(1) + L.C_SLEEP_ADDR, sleepAddr);
  const notified = notifiedBy(() => a.kernelMode(() => flushTlbPage(a, a.mmId, vpnOf(addr), FlushCause.Fault)));
  assert.equal(a.violations, []);
  assert.not.ok(notified.includes(sleepAddr), "cpu1's host thread is not woken: the proxy took its IPI");
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

test('run tokens: a token holder napping in its own flush wait, interrupts on (NAPPING), has its flush IPI taken by proxy', () => {
  const { st } = flushWhileOff(TokenState.Napping);
  assert.is(st & 7, TokenState.Napping, 'back to NAPPING, for cpu1 to take back to RUNNING when its nap ends');
  assert.ok(st >>> 3 > 0, 'with the proxy generation moved on');
});

test('run tokens: an IPI wakes a sleeping CPU unless it sleeps in a wait with interrupts on (SLEEPING, NAPPING), where the initiator takes it by proxy', () => {
  const cases: Array<[string, TokenState, boolean]> = [
    ['SLEEPING', TokenState.Sleeping, false],
    ['NAPPING', TokenState.Napping, false],
    // asleep without a token and with interrupts off (SLEEPING is only set with them on): no proxy takes it
    ['NONE', TokenState.None, true],
    ['RUNNING', TokenState.Running, true],
  ];
  for (const [name, state, woken] of cases) {
    const { m, cpus } = small({ files: [file(2)] });
    const a = cpus[0]!;
    initTokens(m.meta, m.layout, 1);
    a.useWaiter(new TokenWaiter(a, 200));
    a.waiter.enter();
    const b1 = m.layout.cpu(1);
    Atomics.store(m.meta, b1 + L.C_TOKEN, state);
    Atomics.store(m.meta, b1 + L.C_SLEEP_ADDR, b1 + L.C_IPI_PENDING);
    const notified = notifiedBy(() => a.sendIpi(1));
    assert.ok(Atomics.load(m.meta, b1 + L.C_IPI_PENDING) !== 0, `${name}: the IPI is pending`);
    assert.is(notified.includes(b1 + L.C_IPI_PENDING), woken, `${name}: woken`);
  }
});

test("up_read wakes the rw-semaphore's sleepers only when the last reader leaves (__up_read); up_write always", () => {
  const { m, cpus } = small({ files: [file(2)] });
  const [a, b] = cpus as [Cpu, Cpu];
  const sem = (m.layout.mm(0) + L.MM_SEM) as LockIdx;
  a.kernelMode(() => locks.downRead(a, sem, LockClass.MmapSem, SITES.handle_mm_fault));
  b.kernelMode(() => locks.downRead(b, sem, LockClass.MmapSem, SITES.handle_mm_fault));
  Atomics.store(m.meta, sem + L.RWSEM_SLEEPERS, 1); // a writer sleeps, waiting for the count to reach 0
  assert.equal(notifiedBy(() => a.kernelMode(() => locks.upRead(a, sem))), [], 'a reader left, one remains: nobody woken');
  assert.equal(notifiedBy(() => b.kernelMode(() => locks.upRead(b, sem))), [sem + L.RWSEM_COUNT], 'the last reader wakes the sleepers');
  a.kernelMode(() => locks.downWrite(a, sem, LockClass.MmapSem, SITES.handle_mm_fault));
  assert.equal(notifiedBy(() => a.kernelMode(() => locks.upWrite(a, sem))), [sem + L.RWSEM_COUNT], 'up_write wakes them');
});

/**
 * cpu0 (a token) flushes a page cpu1 caches; cpu1 holds the other token but its host thread is off
 * the host's cores (its heartbeat stands still). Atomics.wait is watched: at each of cpu0's sleeps,
 * what it waits on is recorded and cpu1 gets a core and takes its interrupt. Perturbation `perturb`.
 */
function flushWithRunningTarget(perturb: number) {
  const { m, cpus } = small({ files: [file(2)], watchdogMs: 5000, perturb });
  const [a, b] = cpus as [Cpu, Cpu];
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr, 1);
  b.load(addr);
  initTokens(m.meta, m.layout, 2);
  a.useWaiter(new TokenWaiter(a, 200));
  a.waiter.enter();
  Atomics.store(m.meta, m.layout.cpu(1) + L.C_TOKEN, TokenState.Running);
  Atomics.sub(m.meta, L.G_TOKENS, 1);
  const naps: Array<{ idx: number; ms: number; published: number; heartbeat: number; state: number }> = [];
  const wait = spied.wait;
  spied.wait = (_ta, idx, _v, ms) => {
    const w0 = m.layout.cpu(0);
    naps.push({ idx, ms: ms ?? Infinity, published: Atomics.load(m.meta, w0 + L.C_SLEEP_ADDR), heartbeat: m.meta[w0 + L.C_HEARTBEAT]!, state: tokenState(m, 0) });
    b.pollInterrupts(); // cpu1 gets a core and takes its interrupt
    return 'timed-out';
  };
  const before = m.meta[m.layout.cpu(0) + L.C_HEARTBEAT]!;
  try {
    a.kernelMode(() => flushTlbPage(a, a.mmId, vpnOf(addr), FlushCause.Fault));
  } finally {
    spied.wait = wait;
  }
  assert.equal(a.violations, []);
  assert.is(m.tlbEntry(1, vpnOf(addr)), null, "cpu1's entry is gone when the flush returns");
  assert.is(m.counter(1, 'ipisProxied'), 0, 'cpu1 took the IPI itself');
  assert.is(m.counter(1, 'ipisReceived'), 1);
  return { m, naps, steps: naps.map((n) => n.heartbeat - before) };
}

test('run tokens: a flush initiator spins while a running target makes progress, and naps without being woken by the acknowledgement once it does not', () => {
  // cpu0 spins its share, then its progress check, then naps on its own interrupt word (not on the
  // acknowledgement word, so cpu1's handler makes no host wake-up); during the nap cpu1 runs
  const { m, naps, steps } = flushWithRunningTarget(0);
  assert.is(naps.length, 1, 'one nap');
  assert.is(naps[0]!.idx, m.layout.cpu(0) + L.C_IPI_PENDING, "on cpu0's interrupt word");
  assert.is(naps[0]!.published, m.layout.cpu(0) + L.C_IPI_PENDING, 'published as such: an IPI wakes it, the acknowledgement does not');
  assert.is(naps[0]!.ms, NAP_MS);
  assert.is(naps[0]!.state, TokenState.Napping, 'NAPPING meanwhile: open to a proxy');
  assert.ok(steps[0]! > 256 + 512, `after its spins and a progress check without progress (${steps[0]} idle steps)`);
  assert.is(tokenState(m, 0), TokenState.Running, 'RUNNING again after it');
});

test('run tokens with perturbation on: the flush initiator sleeps on its acknowledgement word after its spins, as before (the delays find races)', () => {
  const { m, naps, steps } = flushWithRunningTarget(0.5);
  assert.is(naps.length, 1, 'one sleep');
  assert.is(naps[0]!.idx, m.layout.cpu(0) + L.C_FLUSH_ACK, 'on the acknowledgement word, which wakes it');
  assert.is(naps[0]!.published, m.layout.cpu(0) + L.C_FLUSH_ACK);
  assert.is(naps[0]!.ms, 1);
  assert.is(naps[0]!.state, TokenState.Running, 'RUNNING meanwhile, as before (no proxy takes its IPIs)');
  assert.ok(steps[0]! > 256 && steps[0]! < 256 + 512, `after its spins only (${steps[0]} idle steps)`);
});

test("run tokens: two token holders flushing each other: the one napping in its wait has the other's IPI taken by proxy, and is RUNNING again after the nap", () => {
  // write-notify with 8 CPUs of one mm on 2 cores: both token holders flush at once, each waits for
  // the other's acknowledgement; before, one napping made the other find its heartbeat still and nap
  // as well, both until their naps' timeouts
  const { m, cpus } = small({ files: [file(2)], watchdogMs: 1000 });
  const [a, b] = cpus as [Cpu, Cpu];
  const p0 = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  const p1 = p0 + 4096;
  a.store(p0, 1);
  b.load(p1);
  initTokens(m.meta, m.layout, 2);
  for (const c of [a, b]) {
    c.useWaiter(new TokenWaiter(c, 200));
    c.waiter.enter();
  }
  let dropped = 0;
  const forget = a.tlbChangedElsewhere.bind(a);
  a.tlbChangedElsewhere = () => {
    dropped++;
    forget();
  };
  const states: number[] = [];
  const wait = spied.wait;
  spied.wait = (_ta, _idx, _v, _ms) => {
    if (states.length === 0) {
      // cpu0 naps in its flush of p1, waiting for cpu1 (whose heartbeat stood still): cpu1 runs now and
      // flushes p0, which cpu0 caches
      states.push(tokenState(m, 0));
      b.kernelMode(() => flushTlbPage(b, b.mmId, vpnOf(p0), FlushCause.Fault));
    }
    return 'timed-out';
  };
  try {
    a.kernelMode(() => flushTlbPage(a, a.mmId, vpnOf(p1), FlushCause.Fault));
  } finally {
    spied.wait = wait;
  }
  assert.equal(a.violations, []);
  assert.equal(b.violations, []);
  assert.equal(states, [TokenState.Napping], 'cpu0 napped as NAPPING');
  assert.is(m.counter(0, 'ipisProxied'), 1, "cpu1 took cpu0's IPI by proxy");
  assert.is(m.counter(1, 'ipisProxied'), 0, 'cpu1 took its own (in its wait)');
  assert.is(m.tlbEntry(0, vpnOf(p0)), null, "cpu0's entry for p0 is gone");
  assert.is(m.tlbEntry(1, vpnOf(p1)), null, "cpu1's entry for p1 is gone");
  assert.is(tokenState(m, 0), TokenState.Running, 'cpu0 holds its token, RUNNING');
  assert.is(dropped, 1, 'cpu0 dropped its one-entry translation cache after the nap');
});

/**
 * cpu0 takes the one token, cpu1 is parked; then `act` runs with Atomics.notify watched: at cpu1's
 * wake-up, `record()` is kept and the machine stopped (so that a wait of cpu0's returns in this one
 * thread). Returns what was recorded.
 */
function atWakeOfParkedCpu1(m: Machine, a: Cpu, record: () => number[], act: () => void): number[] {
  initTokens(m.meta, m.layout, 1);
  a.useWaiter(new TokenWaiter(a, 200));
  a.waiter.enter();
  Atomics.store(m.meta, m.layout.cpu(1) + L.C_TOKEN, TokenState.Parked);
  let seen: number[] = [];
  watchNotify(act, (idx) => {
    if (idx === m.layout.cpu(1) + L.C_TOKEN && seen.length === 0) {
      seen = record();
      m.abort();
    }
  });
  return seen;
}

/** cpu0 (the one token) hands it to the parked cpu1 in a workload's busy-wait: both CPUs' token states at the wake-up. */
function handOver(perturb: number) {
  const { m, cpus } = small({ files: [file(2)], perturb });
  const a = cpus[0]!;
  // a workload's busy-wait in user mode: hand the token to a parked CPU
  const seen = atWakeOfParkedCpu1(m, a, () => [tokenState(m, 1), tokenState(m, 0)], () => a.waiter.pause(-1, 0));
  assert.is(m.counter(0, 'tokenSwitches'), 1);
  return seen;
}

test('run tokens: a CPU that hands its token over at a user-mode point is PARKED before it wakes the taker', () => {
  // a wake-up can take the giver's host thread off its core at once: from then on its flush IPIs
  // must be open to a proxy
  assert.equal(handOver(0), [TokenState.Handed, TokenState.Parked], 'cpu1 handed the token, cpu0 already parked');
});

test('run tokens with perturbation on: the taker is woken first, as before', () => {
  assert.equal(handOver(0.5), [TokenState.Handed, TokenState.Running], 'cpu1 handed the token, cpu0 not parked yet');
});

/**
 * cpu1, parked, holds a lock (taken by `take`) that cpu0 (the one token) then waits for (`wait`):
 * cpu0's wait, past its spins, hands its token to cpu1 (a directed yield). Returns cpu1's token state
 * and cpu0's directed yields at cpu1's wake-up.
 */
function yieldToParkedHolder(take: (c: Cpu) => void, wait = take) {
  const { m, cpus } = small({ files: [file(2)], watchdogMs: 2000 });
  const [a, b] = cpus as [Cpu, Cpu];
  b.kernelMode(() => take(b));
  return atWakeOfParkedCpu1(
    m,
    a,
    () => [tokenState(m, 1), m.counter(0, 'directedYields')],
    () => assert.throws(() => a.kernelMode(() => wait(a)), (e: unknown) => e instanceof MachineStop),
  );
}

test('run tokens: a CPU that waits for a spinlock, an rw-semaphore or a page lock held by a parked CPU hands that CPU its token', () => {
  const spin = (c: Cpu) => locks.spinLock(c, (c.layout.file(1) + L.F_PRIVATE_LOCK) as LockIdx, LockClass.Test0, SITES.test_site);
  const write = (c: Cpu) => locks.downWrite(c, (c.layout.mm(0) + L.MM_SEM) as LockIdx, LockClass.MmapSem, SITES.handle_mm_fault);
  const read = (c: Cpu) => locks.downRead(c, (c.layout.mm(0) + L.MM_SEM) as LockIdx, LockClass.MmapSem, SITES.handle_mm_fault);
  const page = (c: Cpu) => locks.lockPage(c, 1 as Pfn, SITES.lock_page);
  assert.equal(yieldToParkedHolder(spin), [TokenState.Handed, 1], 'spinlock: its owner word names cpu1');
  // rw-semaphores and page locks record no owner: the holder is found on the held-lock stacks
  assert.equal(yieldToParkedHolder(write, read), [TokenState.Handed, 1], 'a reader waiting for the writer');
  assert.equal(yieldToParkedHolder(read, write), [TokenState.Handed, 1], 'a writer waiting for a reader');
  assert.equal(yieldToParkedHolder(page), [TokenState.Handed, 1], 'a page lock');
});

test('run tokens: a CPU that waits for a write in flight on a parked CPU (a buffer lock, PG_writeback) hands that CPU its token', () => {
  // only the submitting CPU's interrupt polls complete its disk queue; a buffer's state word names
  // no owner (its BH_* flags were read as one: an undirected hand-over)
  const waitFor = (wait: (c: Cpu, pfn: Pfn) => void) => {
    const { m, cpus } = small({ files: [file(2)], watchdogMs: 2000 });
    const [a, b] = cpus as [Cpu, Cpu];
    b.store(sysMmap(b, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED), 1);
    kdaemons.asKernelThread(b, () => kdaemons.flusherPass(b, 16, { file: 0 as FileId, index: 0 as PgOff }));
    const pfn = cachedPfn(m, 0, 0) as Pfn;
    assert.ok(pageField(m, pfn, L.PG_FLAGS) & L.PG_writeback, "under writeback on cpu1's disk queue");
    assert.ok(Atomics.load(m.meta, m.layout.bh(pfn, 0)) & L.BH_Lock, 'its buffer locked until the write completes');
    return atWakeOfParkedCpu1(
      m,
      a,
      () => [tokenState(m, 1), m.counter(0, 'directedYields')],
      () => assert.throws(() => a.kernelMode(() => wait(a, pfn)), (e: unknown) => e instanceof MachineStop),
    );
  };
  assert.equal(waitFor((c, pfn) => locks.lockBuffer(c, c.layout.bh(pfn, 0))), [TokenState.Handed, 1], 'lock_buffer');
  assert.equal(waitFor((c, pfn) => locks.waitOnPageWriteback(c, pfn)), [TokenState.Handed, 1], 'wait_on_page_writeback');
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

/**
 * One CPU whose every round is a kernel path of 255 preemption points and one user access: the slow
 * path (every 256) always falls inside the kernel path, as page-fault3's did with 256 or 100 pages.
 * `rounds` rounds; a MachineStop ends them early.
 */
function kernelBound(c: Cpu, addr: number, rounds: number): number {
  let r = 0;
  try {
    for (; r < rounds; r++) {
      c.kernelMode(() => {
        for (let i = 0; i < 255; i++) c.preempt();
      });
      c.load(addr);
    }
  } catch (e) {
    if (!(e instanceof MachineStop)) throw e;
  }
  return r;
}

test('a slow path that falls inside a kernel path runs its user-mode part at the return to user mode: hooks, the deadline', () => {
  const { cpus } = small({ cpus: 1, files: [file(2)] });
  const c = cpus[0]!;
  const addr = sysMmap(c, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  c.load(addr);
  let hooks = 0;
  let inKernel = 0;
  c.userHooks.push(() => {
    hooks++;
    inKernel += c.meta[c.base + L.C_IN_KERNEL]!;
  });
  c.deadline = Date.now() - 1;
  kernelBound(c, addr, 64);
  // (before: no hook ever ran and a --duration run never ended)
  assert.ok(hooks >= 63 && hooks <= 64, `hooks ran ${hooks} times in 64 slow paths`);
  assert.is(inKernel, 0, 'in user mode each time');
  assert.ok(c.timeUp, 'the deadline was seen');
});

test('a store that gets SIGSEGV returns to user mode the same way: every slow path is followed by the hooks, those in the fault too', () => {
  // (remap-commit's writers retry stores while the compactor has the page unmapped: one that never ran
  // its hooks never parked at the checkpoint the compactor had opened, a deadlock report after 5 s)
  const { cpus } = small({ cpus: 1, files: [file(2)] });
  const c = cpus[0]!;
  const addr = sysMmap(c, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  sysMunmap(c, addr, 2);
  let hooks = 0;
  c.userHooks.push(() => hooks++);
  const beat = c.base + L.C_HEARTBEAT;
  const before = c.meta[beat]!;
  let segv = 0;
  for (let i = 0; i < 4096; i++) {
    try {
      c.store(addr, i);
    } catch (e) {
      if (!(e instanceof SegvError)) throw e;
      segv++;
    }
  }
  assert.is(segv, 4096);
  const slowPaths = c.meta[beat]! - before;
  assert.ok(slowPaths >= 16, `${slowPaths} slow paths`);
  assert.is(hooks, slowPaths, 'the hooks after every one');
});

test('run tokens: a token holder whose slow paths all fall inside kernel paths hands its token over at a return to user mode once its slice is over', () => {
  // (before: page-fault3 on 4 CPUs made 2 slice hand-overs in 76 s)
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.load(addr);
  initTokens(m.meta, m.layout, 1);
  a.useWaiter(new TokenWaiter(a, 0)); // a slice of 0 µs: over at once
  a.waiter.enter();
  Atomics.store(m.meta, m.layout.cpu(1) + L.C_TOKEN, TokenState.Parked);
  let atWake = -1;
  watchNotify(
    () => kernelBound(a, addr, 64),
    (idx) => {
      if (idx === m.layout.cpu(1) + L.C_TOKEN && atWake < 0) {
        atWake = a.meta[a.base + L.C_IN_KERNEL]!;
        m.abort(); // so that cpu0's wait for the token returns in this one thread
      }
    },
  );
  assert.is(m.counter(0, 'tokenSwitches'), 1, 'one hand-over');
  assert.is(atWake, 0, 'made in user mode');
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
