/**
 * The lock order of kernel/locking/lockorder.ts, checked against what the kernel does: every path is
 * driven on a machine in this thread (faults, mmap/munmap/mprotect/msync/fsync, pwrite/pread, ftruncate,
 * the flusher, the journal, reclaim with and without aging, drop_caches, the end-of-run sync), with lockdep recording each dependency edge
 * (class A held while class B is taken); every edge must go from a lower rank to a higher one. A real
 * edge that contradicts the block means the block is wrong. Lockdep itself reports cycles and IRQ-state
 * inversions, not ranks: the ranks are checked here, not at run time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_KERNEL, type LockdepEdge, lockdepEdges } from '@smpsim/core';
import { file, LOCK_CLASS_NAMES, LOCK_ORDER, LockClass, lockRank, testMachine } from '@smpsim/core/testing';
import { driveEveryPath } from './helpers.js';

const name = (c: number) => LOCK_CLASS_NAMES[c]!;
const show = (e: LockdepEdge) => `${name(e.from)} (rank ${lockRank(e.from)}) -> ${name(e.to)} (rank ${lockRank(e.to)}) [${e.heldSite} -> ${e.takeSite}]`;

/** Every edge between classes of the order goes from a lower rank to a higher one. */
function checkEdges(edges: LockdepEdge[]): void {
  assert.ok(edges.length > 0, 'lockdep recorded the kernel paths');
  const wrong = edges.filter((e) => lockRank(e.from) >= 0 && lockRank(e.to) >= 0 && !(lockRank(e.from) < lockRank(e.to)));
  assert.equal(wrong.map(show), [], 'an edge against the order in kernel/locking/lockorder.ts');
}

const seen = new Set<string>();
const C = {
  MmapSem: LockClass.MmapSem,
  PageLock: LockClass.PageLock,
  IMmapLock: LockClass.IMmapLock,
  PteLock: LockClass.PteLock,
  PrivateLock: LockClass.PrivateLock,
  TreeLock: LockClass.TreeLock,
  PageTableLock: LockClass.PageTableLock,
  ZoneLock: LockClass.ZoneLock,
  Test0: LockClass.Test0,
  Test1: LockClass.Test1,
  Test2: LockClass.Test2,
  TlbState: LockClass.TlbState,
  IMutex: LockClass.IMutex,
};
const pair = (e: LockdepEdge) => `${name(e.from)} -> ${name(e.to)}`;

for (const [writeNotify, flushProtocol] of [[true, 'modern'], [false, 'modern'], [true, 'linux-2.6.20']] as const) {
  test(`one thread, ${writeNotify ? 'with' : 'without (2.6.18)'} write notification, ${flushProtocol} flush protocol: every edge the kernel records follows the lock order`, () => {
    // 2.6.20's flush slots are taken only for a remote flush: both CPUs run one mm there
    const procs = flushProtocol === 'modern' ? 2 : 1;
    const { m, cpus } = testMachine({ cpus: 2, procs, memoryBytes: 4 * 1024 * 1024, files: [file(16), file(8)], kernel: { ...DEFAULT_KERNEL, writeNotify, flushProtocol } }, { daemons: true });
    driveEveryPath(m, cpus);
    const edges = lockdepEdges(m.meta, m.layout);
    checkEdges(edges);
    for (const e of edges) seen.add(pair(e));
  });
}

test('the paths driven above make every nesting the block names (the check is not vacuous)', () => {
  const want: Array<[LockClass, LockClass]> = [
    [C.MmapSem, C.PageLock],
    [C.MmapSem, C.IMmapLock],
    [C.MmapSem, C.PteLock],
    [C.MmapSem, C.PageTableLock],
    [C.MmapSem, C.ZoneLock],
    [C.PageLock, C.IMmapLock],
    [C.PageLock, C.PrivateLock],
    [C.PageLock, C.TreeLock],
    [C.IMmapLock, C.PteLock],
    [C.PteLock, C.PrivateLock],
    [C.PteLock, C.TreeLock],
    [C.PteLock, C.TlbState],
    [C.MmapSem, C.TlbState],
    [C.IMutex, C.PageLock], // write(2) and truncate_inode_pages under i_mutex
    [C.IMutex, C.IMmapLock], // unmap_mapping_range under do_truncate's i_mutex
  ];
  const missing = want.map(([a, b]) => `${name(a)} -> ${name(b)}`).filter((p) => !seen.has(p));
  assert.equal(missing, []);
});

test('the order covers every kernel lock class, and only those', () => {
  const kernelClasses = [C.MmapSem, C.PageLock, C.IMmapLock, C.PteLock, C.PrivateLock, C.TreeLock, C.PageTableLock, C.ZoneLock, C.TlbState, C.IMutex];
  assert.equal(LOCK_ORDER.map(([c]) => c).sort((x, y) => x - y), kernelClasses);
  for (const c of [C.Test0, C.Test1, C.Test2]) assert.is(lockRank(c), -1);
});

test.run();
