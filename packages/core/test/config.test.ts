/**
 * Layout and configuration: the shared buffers are sized from the configuration, the regions of the
 * meta buffer do not overlap, and a configuration that does not fit is refused with ConfigError
 * before any shared buffer is allocated.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, CTR_COUNT, defaultConfig, Machine, type MachineConfig, MASK_WORDS, MAX_CPUS, MAX_MEMORY_BYTES, validateConfig } from '@smpsim/core';
import { file, Layout, layout as L } from '@smpsim/core/testing';

const cfg = (o: Partial<MachineConfig>) => defaultConfig({ memoryBytes: 4 * 1024 * 1024, ...o });

test('buffer sizes follow the configuration', () => {
  const c = cfg({
    cpus: 3,
    procs: 2,
    memoryBytes: 2 * 1024 * 1024,
    files: [file(5), file(7)],
    blockSize: 512,
    tlb: { l1: { sets: 8, ways: 2 }, l2: { sets: 32, ways: 4 } },
    vmasPerMm: 6,
  });
  const m = Machine.create(c);
  const lay = m.layout;
  assert.is(lay.frames, 512);
  assert.is(lay.buffersPerPage, 8);
  assert.is(lay.filePagesTotal, 12);
  assert.is(m.mem.length, 512 * 1024);
  assert.is(m.disk.length, 12 * 1024);
  assert.is(m.shadow.length, 12 * 1024);
  assert.is(m.stats.length, 3 * CTR_COUNT);
  assert.is(m.meta.length, lay.metaWords);
  // Per-CPU area: fixed part, then L1 (8 x 2) and L2 (32 x 4) entries.
  assert.is(lay.tlbL1Off, L.C_FIXED);
  assert.is(lay.tlbL2Off - lay.tlbL1Off, 8 * 2 * L.TLB_FIELDS);
  assert.is(lay.cpuStride - lay.tlbL2Off, 32 * 4 * L.TLB_FIELDS);
  // Regions in order, each of the size its count implies, none overlapping.
  assert.is(lay.pageBase, L.G_FIELDS);
  assert.is(lay.bhBase - lay.pageBase, 512 * L.PAGE_STRIDE);
  assert.is(lay.cpuBase - lay.bhBase, 512 * 8);
  assert.is(lay.mmBase - lay.cpuBase, 3 * lay.cpuStride);
  assert.is(lay.vmaBase - lay.mmBase, 2 * L.MM_STRIDE);
  assert.is(lay.fileBase - lay.vmaBase, 2 * 6 * L.VMA_STRIDE);
  assert.is(lay.pcacheBase - lay.fileBase, 2 * L.F_STRIDE);
  assert.is(lay.tagBase - lay.pcacheBase, 12);
  assert.is(lay.lockdepBase - lay.tagBase, 12);
  assert.is(lay.cpuMaskBase - lay.lockdepBase, L.LOCKDEP_MAX_CLASSES ** 2);
  assert.is(lay.mmMaskBase - lay.cpuMaskBase, 3 * L.CM_STRIDE);
  assert.is(lay.flushLockBase - lay.mmMaskBase, 2 * MASK_WORDS);
  assert.is(lay.lockdepUsageBase - lay.flushLockBase, L.FLUSH_SLOTS * L.SPIN_WORDS);
  assert.is(lay.fileExtBase - lay.lockdepUsageBase, L.LOCKDEP_MAX_CLASSES * L.USAGE_STRIDE);
  assert.is(lay.diskBase - lay.fileExtBase, 2 * L.FX_STRIDE);
  assert.is(lay.metaWords - lay.diskBase, 3 * lay.diskStride); // the asynchronous disk's queues (on by default)
  // The last VMA slot of the last process and the last CPU's last TLB entry stay inside their regions.
  assert.ok(lay.vma(1, 5) + L.VMA_STRIDE <= lay.fileBase);
  assert.ok(lay.cpu(2) + lay.cpuStride <= lay.mmBase);
  assert.ok(lay.bh(511, 7) < lay.cpuBase);
  // totalBytes covers memory, metadata, disk and shadow, and no more than everything allocated.
  const b = m.buffers;
  const big = b.physmem.byteLength + b.meta.byteLength + b.disk.byteLength + b.shadow.byteLength;
  const all = Object.values(b).reduce((s, x: SharedArrayBuffer) => s + x.byteLength, 0);
  assert.ok(lay.totalBytes() >= big && lay.totalBytes() <= all, `totalBytes ${lay.totalBytes()} not within ${big}..${all}`);
  // Files: consecutive slots in the page-cache, tag and disk arrays, properties as configured.
  assert.is(m.meta[lay.file(0) + L.F_BASE], 0);
  assert.is(m.meta[lay.file(1) + L.F_BASE], 5);
  assert.is(m.meta[lay.file(1) + L.F_PAGES], 7);
  assert.is(m.meta[lay.file(1) + L.F_ACCOUNT_DIRTY], 1);
});

test('boot: free list of every frame but 0 and the page-table roots, one PML4 per process, TLBs empty', () => {
  const m = Machine.create(cfg({ cpus: 4, procs: 3, memoryBytes: 1024 * 1024 }));
  const lay = m.layout;
  assert.is(m.meta[L.G_NR_FREE], 256 - 1 - 3);
  const roots = [0, 1, 2].map((p) => m.meta[lay.mm(p) + L.MM_CR3]!);
  assert.is(new Set(roots).size, 3);
  for (const r of roots) {
    assert.ok(r > 0);
    assert.is(m.meta[lay.page(r) + L.PG_KIND], L.FrameKind.PageTable);
  }
  let n = 0;
  const seen = new Set<number>();
  for (let f = m.meta[L.G_FREE_HEAD]!; f >= 0; f = m.meta[lay.page(f) + L.PG_NEXT]!) {
    assert.not.ok(seen.has(f));
    seen.add(f);
    n++;
  }
  assert.is(n, 256 - 1 - 3);
  assert.not.ok(seen.has(0));
  for (const r of roots) assert.not.ok(seen.has(r));
  for (let c = 0; c < 4; c++) {
    const entries = lay.l1Sets * lay.l1Ways + lay.l2Sets * lay.l2Ways;
    for (let e = 0; e < entries; e++) assert.is(m.meta[lay.cpu(c) + lay.tlbL1Off + e * L.TLB_FIELDS + L.TLB_TAG], -1);
  }
});

test('a one-level TLB (l2 null) has no second-level entries', () => {
  const lay = new Layout(cfg({ tlb: { l1: { sets: 4, ways: 4 }, l2: null } }));
  assert.is(lay.l2Sets, 0);
  assert.is(lay.cpuStride, lay.tlbL2Off);
});

/** Counts SharedArrayBuffer constructions while `fn` runs. */
function countAllocations(fn: () => void): number {
  const Real = globalThis.SharedArrayBuffer;
  let n = 0;
  const Counting = new Proxy(Real, {
    construct(target, args) {
      n++;
      return Reflect.construct(target, args);
    },
  });
  globalThis.SharedArrayBuffer = Counting;
  try {
    fn();
  } finally {
    globalThis.SharedArrayBuffer = Real;
  }
  return n;
}

const refused: Array<[string, Partial<MachineConfig>, RegExp]> = [
  ['too much memory', { memoryBytes: MAX_MEMORY_BYTES + 4096 }, /memory .* does not fit/],
  ['too many CPUs', { cpus: MAX_CPUS + 1 }, /cpus/],
  ['no CPU', { cpus: 0 }, /cpus/],
  ['more processes than CPUs', { cpus: 2, procs: 3 }, /procs/],
  ['too little memory for the processes', { cpus: 8, procs: 8, memoryBytes: (8 * 8 + 64 - 1) * 4096 }, /process\(es\) need at least/],
  ['memory not a whole number of pages', { memoryBytes: 4 * 1024 * 1024 + 100 }, /whole number of 4 KiB pages/],
  ['TLB sets not a power of two', { tlb: { l1: { sets: 12, ways: 4 }, l2: null } }, /tlb l1 sets/],
  ['TLB L2 sets too many', { tlb: { l1: { sets: 16, ways: 4 }, l2: { sets: 8192, ways: 4 } } }, /tlb l2 sets/],
  ['TLB without ways', { tlb: { l1: { sets: 16, ways: 0 }, l2: null } }, /tlb l1 ways/],
  ['TLB with too many ways', { tlb: { l1: { sets: 16, ways: 4 }, l2: { sets: 64, ways: 33 } } }, /tlb l2 ways/],
  ['bad block size', { blockSize: 1000 }, /block size/],
  ['no files', { files: [] }, /files/],
  ['empty file', { files: [file(0)] }, /files\[0\]\.pages/],
  ['perturbation above 1', { perturb: 1.5 }, /perturb/],
];

for (const [what, o, msg] of refused) {
  test(`refused before allocation: ${what}`, () => {
    const c = cfg(o);
    assert.throws(() => validateConfig(c), (e: unknown) => e instanceof ConfigError && msg.test((e as Error).message));
    let err: unknown = null;
    const n = countAllocations(() => {
      try {
        Machine.create(c);
      } catch (e) {
        err = e;
      }
    });
    assert.instance(err, ConfigError);
    assert.is(n, 0, 'no SharedArrayBuffer was allocated');
  });
}

test('the boundaries themselves are accepted', () => {
  validateConfig(cfg({ cpus: MAX_CPUS, procs: MAX_CPUS, memoryBytes: (MAX_CPUS * 8 + 64) * 4096 }));
  validateConfig(cfg({ cpus: 8, procs: 8, memoryBytes: (8 * 8 + 64) * 4096 }));
  validateConfig(cfg({ memoryBytes: MAX_MEMORY_BYTES }));
  validateConfig(cfg({ tlb: { l1: { sets: 1, ways: 1 }, l2: { sets: 4096, ways: 32 } } }));
  // And the counting itself sees a real allocation.
  let m: Machine | null = null;
  const n = countAllocations(() => {
    m = Machine.create(cfg({ memoryBytes: 1024 * 1024 }));
  });
  assert.ok(n >= 5);
  assert.is(n, Object.keys(m!.buffers).length);
});

test.run();
