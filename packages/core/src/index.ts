/**
 * @smpsim/core — the model: configuration, shared-memory layout, x86-64 paging and the CPU, locks and
 * lockdep, the kernel slice (faults, mmap, writeback, reclaim) and the oracles. Runs in any thread.
 */
export * from './config.js';
export * as layout from './layout.js';
export { Layout, StopReason, CpuState } from './layout.js';
export { Machine, CTR, CTR_COUNT, type CounterName, type MachineBuffers } from './machine.js';
export { Rng, deriveSeed } from './random.js';
export { Cpu, MachineStop, SegvError, PREEMPT_INTERVAL, type Violation, type KernelEntry } from './hw/cpu.js';
export * as pte from './hw/pte.js';
export { LockClass, LOCK_CLASS_NAMES, LOCK_ORDER, lockRank, SITE_NAMES, S as SITES } from './lockorder.js';
export { lockdepAcquire, lockdepEdges, heldLocksLines } from './lockdep.js';
export * as locks from './locks.js';
export { Kernel, bootCpu, finalSync, sysMmap, sysMunmap, sysMprotect, sysMsync, sysFsync, sysDropCaches } from './kernel/kernel.js';
export { PROT_READ, PROT_WRITE, PROT_EXEC, MAP_SHARED, MAP_PRIVATE, MS_ASYNC, MS_SYNC, SyscallError, type SpecialMapping } from './kernel/mmap.js';
export { flushTlbPage, flushTlbRange, flushTlbMm, FlushCause } from './kernel/tlbflush.js';
export { OutOfMemory } from './kernel/mm.js';
export { checkInvariants, checkBackingStore, locateWord, forEachPte, lookupPte, type CheckFinding } from './checks.js';
