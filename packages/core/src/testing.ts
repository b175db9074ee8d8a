/**
 * @smpsim/core/testing — the package's public entry for tests and for experiments that drive a kernel
 * path directly: machines whose CPUs all live in the calling thread (`testMachine`, with an
 * `InlineWaiter` per CPU), and the model's internals by their kernel names — the shared-memory layout,
 * PTE encoding, locks and lock classes, and the kernel's files (mm, rmap, writeback, page cache, the
 * kernel threads, reclaim, the arch SMP code).
 */
import { type FileSpec, defaultConfig, type MachineConfig } from './config.js';
import { Cpu } from './hw/cpu.js';
import { bootCpu } from './kernel/kernel.js';
import { Machine } from './machine/machine.js';

export * as layout from './machine/layout.js';
export * as pte from './hw/pte.js';
export * as locks from './kernel/locking/locks.js';
export { LockClass, LOCK_CLASS_NAMES, LOCK_ORDER, lockRank, SITE_NAMES, S as SITES } from './kernel/locking/lockorder.js';
export { lockdepAcquire, LockUsage } from './kernel/locking/lockdep.js';
export * as kmm from './kernel/mm.js';
export * as krmap from './kernel/rmap.js';
export * as kwriteback from './kernel/page-writeback.js';
export * as kfilemap from './kernel/filemap.js';
export * as kdaemons from './kernel/daemons.js';
export * as kvmscan from './kernel/vmscan.js';
export * as ksmp from './kernel/smp.js';
export * as kdisk from './kernel/disk.js';

export { InlineWaiter } from './sched/inline.js';
import { InlineWaiter } from './sched/inline.js';

export interface TestMachine {
  readonly m: Machine;
  readonly cpus: Cpu[];
}

/** A machine of `cpus` CPUs (CPU c in process c % procs) in this thread, booted without kernel threads. */
export function testMachine(overrides: Partial<MachineConfig> = {}, opts: { daemons?: boolean } = {}): TestMachine {
  const config = defaultConfig({ cpus: 2, ...overrides });
  const m = Machine.create(config);
  const cpus = Array.from({ length: config.cpus }, (_, i) => new Cpu(m, i));
  for (const c of cpus) {
    c.useWaiter(new InlineWaiter(c, cpus));
    bootCpu(c, c.id % config.procs, opts.daemons ?? false);
  }
  return { m, cpus };
}

export const file = (pages: number, o: Partial<FileSpec> = {}): FileSpec => ({ pages, accountDirty: true, mmapHookChangesProt: false, ...o });
export { Layout } from './machine/layout.js';
