/**
 * Per-CPU masks of more than one word (64 CPUs): the mask helpers across the word boundary; a flush
 * from CPU 40 reaching CPUs of both words of cpu_vm_mask; the IPI summary word and initiator mask
 * (every initiator serviced, highest first, a spurious summary bit harmless); the acknowledgement
 * count and the watchdog's list of who has not acknowledged; the scheduler's policies on masks of
 * two words, and the random policy making exactly the one-word decisions (and RNG draws) below 32 CPUs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Cpu,
  cpuWaits,
  FlushCause,
  flushTlbPage,
  MAP_SHARED,
  MASK_WORDS,
  MAX_CPUS,
  maskClear,
  maskCount,
  maskFill,
  maskHas,
  maskIsEmpty,
  maskList,
  maskNth,
  maskOf,
  maskSet,
  maskUnset,
  newExecution,
  newMask,
  POLICIES,
  popcount32,
  PROT_READ,
  PROT_WRITE,
  type SchedOptions,
  type SchedState,
  sysMmap,
  Tracer,
  WaitKind,
} from '@smpsim/core';
import { file, ksmp, layout as L } from '@smpsim/core/testing';
import { schedOptions, small, vpnOf } from './helpers.js';

/** The first two words of a mask (any further ones, with MAX_CPUS above 64, must be empty). */
const words = (m: Int32Array) => {
  assert.ok(m.subarray(2).every((w) => w === 0));
  return Array.from(m.subarray(0, 2));
};

test('at least 64 CPUs, and a mask is MAX_CPUS / 32 words', () => {
  assert.ok(MAX_CPUS >= 64);
  assert.is(MASK_WORDS * 32, MAX_CPUS);
  assert.is(newMask().length, MASK_WORDS);
});

test('mask helpers across the word boundary', () => {
  const m = newMask();
  assert.ok(maskIsEmpty(m));
  for (const c of [31, 32, 63]) maskSet(m, c);
  assert.equal(words(m), [1 << 31, 1 | (1 << 31)]);
  assert.ok(maskHas(m, 31) && maskHas(m, 32) && maskHas(m, 63));
  assert.not.ok(maskHas(m, 0) || maskHas(m, 30) || maskHas(m, 33));
  assert.is(maskCount(m), 3);
  assert.equal([0, 1, 2, 3].map((k) => maskNth(m, k)), [31, 32, 63, -1]);
  assert.equal(maskList(m), [31, 32, 63]);
  maskUnset(m, 32);
  assert.equal(maskList(m), [31, 63]);
  assert.equal(words(maskOf([0, 33])), [1, 2]);
  maskClear(m);
  assert.ok(maskIsEmpty(m));
  for (const [n, w] of [[5, [31, 0]], [32, [-1, 0]], [33, [-1, 1]], [64, [-1, -1]]] as Array<[number, number[]]>) {
    maskFill(m, n);
    assert.equal(words(m), w, `first ${n} CPUs`);
    assert.is(maskCount(m), n);
    assert.is(maskNth(m, n - 1), n - 1);
  }
  assert.is(popcount32(-1), 32);
  assert.is(popcount32(1 << 31), 1);
  assert.is(popcount32(0x0f0f0f0f), 16);
});

/** 64 CPUs, CPU c in mm c; CPUs 3, 35 and 63 switched to CPU 40's mm, which maps a shared file. */
function wideRig() {
  const { m, cpus } = small({ cpus: 64, procs: 64, files: [file(4)] });
  const init = cpus[40]!;
  const addr = sysMmap(init, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  init.store(addr, 7);
  const targets = [3, 35, 63];
  for (const c of targets) {
    ksmp.switchMm(cpus[c]!, 40);
    assert.is(cpus[c]!.load(addr), 7);
  }
  return { m, cpus, init, addr, targets };
}

test('a flush from CPU 40 reaches CPUs 3, 35 and 63 of its mm (cpu_vm_mask bits in both words), and no other', () => {
  const { m, cpus, init, addr, targets } = wideRig();
  const vm = m.layout.mmCpuMask(40);
  assert.equal([m.meta[vm], m.meta[vm + 1]], [1 << 3, (1 << 3) | (1 << 8) | (1 << 31)], 'cpu_vm_mask of mm 40: {3} and {35, 40, 63}');
  assert.is(m.meta[m.layout.mmCpuMask(3)], 0, 'CPU 3 left its own mm');
  for (const c of targets) assert.ok(m.tlbEntry(c, vpnOf(addr)), `cpu${c} caches the translation`);
  init.tracer = new Tracer(40, { record: true, sched: null, clock: () => 0 });
  init.kernelMode(() => flushTlbPage(init, 40, vpnOf(addr), FlushCause.Fault));
  for (const c of targets) {
    assert.is(m.tlbEntry(c, vpnOf(addr)), null, `cpu${c}'s entry is gone when the flush returns`);
    assert.is(m.counter(c, 'ipisReceived'), 1, `cpu${c} took one IPI`);
  }
  assert.is(m.counter(40, 'ipisSent'), 3);
  assert.is(cpus.reduce((n, c) => n + m.counter(c.id, 'ipisReceived'), 0), 3, 'no CPU outside the mask was interrupted');
  assert.is(m.meta[init.base + L.C_FLUSH_ACK], 0);
  assert.equal([0, 1].map((w) => m.meta[m.layout.cpuMasks(40) + L.CM_FLUSH_LEFT + w]), [0, 0]);
  const req = init.tracer.events!.find((e) => e.name === 'TLB shootdown' && e.ph === 'B');
  assert.is(req?.args?.targets, 'cpu3,cpu35,cpu63', 'the trace names targets of both words');
});

test('IPIs from initiators of both mask words: summary bits per word, every initiator serviced, highest first', () => {
  const { m, cpus } = small({ cpus: 64, files: [file(1)] });
  const target = cpus[0]!;
  const from = [1, 31, 32, 33, 63];
  for (const c of from) ksmp.flushTlbOthers(cpus[c]!, 0, 100, 101, false, maskOf([0]), false);
  const b = target.base;
  const fromWords = () => [0, 1].map((w) => m.meta[target.maskBase + L.CM_IPI_FROM + w]);
  assert.is(m.meta[b + L.C_IPI_PENDING], 0b11, 'one summary bit per non-empty initiator word');
  assert.equal(fromWords(), [(1 << 1) | (1 << 31), 1 | (1 << 1) | (1 << 31)]);
  for (const c of from) assert.is(m.meta[cpus[c]!.base + L.C_FLUSH_ACK], 1, `cpu${c} waits for one acknowledgement`);
  target.tracer = new Tracer(0, { record: true, sched: null, clock: () => 0 });
  target.pollInterrupts();
  assert.is(m.counter(0, 'ipisReceived'), from.length);
  assert.equal(
    target.tracer.events!.filter((e) => e.name === 'flush ack').map((e) => e.args!.to),
    ['cpu63', 'cpu33', 'cpu32', 'cpu31', 'cpu1'],
  );
  for (const c of from) assert.is(m.meta[cpus[c]!.base + L.C_FLUSH_ACK], 0, `cpu${c} acknowledged`);
  assert.is(m.meta[b + L.C_IPI_PENDING], 0);
  assert.equal(fromWords(), [0, 0]);
  // A summary bit whose word was already taken (a sender raced the handler) services nobody.
  Atomics.or(m.meta, b + L.C_IPI_PENDING, 0b10);
  target.pollInterrupts();
  assert.is(m.counter(0, 'ipisReceived'), from.length);
  assert.is(m.meta[b + L.C_IPI_PENDING], 0);
});

test("acknowledgements: a count, and the mask the watchdog reads; an acknowledgement not asked for counts nothing", () => {
  const { m, cpus, init } = wideRig();
  const t = maskOf([3, 35, 63]);
  ksmp.flushTlbOthers(init, 40, 0, 0, true, t, false);
  assert.is(m.meta[init.base + L.C_FLUSH_ACK], 3);
  // as if CPU 40 waited for them: the watchdog's report lists who has not acknowledged
  m.meta[init.base + L.C_WAIT_KIND] = WaitKind.FlushAck;
  const on = () => cpuWaits(m).find((w) => w.cpu === 40)!.on;
  assert.equal(on(), [3, 35, 63]);
  cpus[35]!.pollInterrupts();
  assert.equal(on(), [3, 63]);
  assert.is(m.meta[init.base + L.C_FLUSH_ACK], 2);
  // A new request (no wait for the old one: the no-flush-wait bug) to CPU 63 only: CPU 3's late
  // acknowledgement of the old one finds its bit clear and leaves the count alone.
  ksmp.flushTlbOthers(init, 40, 0, 0, true, maskOf([63]), false);
  cpus[3]!.pollInterrupts();
  assert.is(m.meta[init.base + L.C_FLUSH_ACK], 1);
  assert.equal(on(), [63]);
  cpus[63]!.pollInterrupts();
  assert.is(m.meta[init.base + L.C_FLUSH_ACK], 0);
  assert.equal(on(), []);
  m.meta[init.base + L.C_WAIT_KIND] = WaitKind.None;
});

const opts = (o: Partial<SchedOptions> = {}) => schedOptions(64, 3, 0.5, o);

test('random policy on two words: picks only enabled CPUs, of both words', () => {
  const s = newExecution(opts());
  const seen = new Set<number>();
  for (let step = 1; step <= 400; step++) seen.add(POLICIES.random.nextCpu(s, 40, maskOf([5, 40, 63]), step));
  assert.equal([...seen].sort((a, b) => a - b), [5, 40, 63]);
  seen.clear();
  for (let step = 1; step <= 400; step++) seen.add(POLICIES.random.nextCpu(s, 0, maskOf([5, 40]), step));
  assert.equal([...seen].sort((a, b) => a - b), [5, 40], 'a blocked CPU hands over to either');
});

/** The random policy as it was with one-word masks (up to 32 CPUs). */
function oneWordRandom(s: SchedState, cur: number, enabled: number, switchProb: number): number {
  const me = 1 << cur;
  if (enabled & me && s.nextU32() >= switchProb * 4294967296) return cur;
  const others = enabled & ~me;
  if (others === 0) return cur;
  let k = s.below(popcount32(others));
  for (let c = 0; c < 32; c++) if (others & (1 << c) && k-- === 0) return c;
  return -1;
}

test('random policy up to 32 CPUs: the one-word decisions and RNG draws, decision for decision', () => {
  for (const cpus of [2, 5, 32]) {
    const a = newExecution(opts({ cpus, seed: cpus }));
    const b = newExecution(opts({ cpus, seed: cpus }));
    const r = newExecution(opts({ cpus: 2, seed: 99 })); // draws the test's masks
    let cur = a.turn;
    for (let step = 1; step <= 2000; step++) {
      const bits = cpus === 32 ? r.nextU32() | 0 : r.nextU32() & ((1 << cpus) - 1);
      const want = oneWordRandom(b, cur, bits, 0.5);
      const got = POLICIES.random.nextCpu(a, cur, maskOf([...Array(32).keys()].filter((c) => bits & (1 << c))), step);
      assert.is(got, want, `${cpus} CPUs, step ${step}`);
      assert.equal(Array.from(a.i.subarray(8, 12)), Array.from(b.i.subarray(8, 12)), 'the same RNG draws');
      cur = got;
    }
  }
});

test('replay default on two words: the running CPU, else the next enabled one in cyclic order', () => {
  const s = newExecution(opts({ policy: 'replay' }));
  const en = maskOf([2, 50]);
  assert.is(POLICIES.replay.nextCpu(s, 50, en, 1), 50);
  assert.is(POLICIES.replay.nextCpu(s, 40, en, 2), 50);
  assert.is(POLICIES.replay.nextCpu(s, 60, en, 3), 2, 'wraps from word 1 to word 0');
});

test('PCT on 32 and 64 CPUs: the first CPU is the highest-priority one; the highest enabled CPU runs', () => {
  for (const cpus of [32, 64]) {
    const s = newExecution(opts({ cpus, policy: 'pct', pctDepth: 2, pctSteps: 1e6 }));
    const prio = Array.from({ length: cpus }, (_, c) => s.i[s.pc(c) + 5]!);
    assert.is(s.turn, prio.indexOf(2 + cpus - 1), `${cpus} CPUs`);
    const quiet = [1, 2, 3].find((k) => !s.pctChangePoints().includes(k))!;
    const en = maskOf([1, 33 % cpus, cpus - 1]);
    const best = maskList(en).reduce((x, c) => (prio[c]! > prio[x]! ? c : x));
    assert.is(POLICIES.pct.nextCpu(s, s.turn, en, quiet), best);
  }
});

test('the trace hash folds a second mask word only above 32 CPUs', () => {
  const run = (cpus: number, targets: number[]) => {
    const s = newExecution(opts({ cpus }));
    new Tracer(1, { record: false, sched: s, clock: () => 0 }).flushRequest(0, 5, 6, false, maskOf(targets));
    return s.hash;
  };
  const by = (cpus: number, fold: number[]) => {
    const s = newExecution(opts({ cpus }));
    for (const w of fold) s.fold(w);
    return s.hash;
  };
  // event code 4 (flush request) with the CPU in bits 8.., the first page, the mask word(s)
  assert.is(run(4, [0, 2]), by(4, [4 | (1 << 8), 5, 0b101]), 'up to 32 CPUs: three words, as always');
  assert.is(run(64, [0, 2, 40]), by(64, [4 | (1 << 8), 5, 0b101, 1 << 8]));
  assert.is.not(run(64, [0, 40]), run(64, [0, 41]));
});

test.run();
