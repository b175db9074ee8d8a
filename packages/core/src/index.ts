/**
 * @smpsim/core — the model: configuration, shared-memory layout, x86-64 paging and the CPU, locks and
 * lockdep, the kernel slice (faults, mmap, writeback, reclaim) and the oracles. Runs in any thread.
 */
export * from './config.js';
export * as layout from './machine/layout.js';
export { Layout, StopReason, CpuState } from './machine/layout.js';
export { Machine, CTR, CTR_COUNT, LS, LS_FIELDS, type CounterName, type MachineBuffers, type LockStatRow, type LockTimes } from './machine/machine.js';
export { watchdogReport, cpuWaits, waitCycle, type CpuWait } from './oracles/watchdog.js';
export { Rng, deriveSeed } from './random.js';
export { Cpu, MachineStop, SegvError, PREEMPT_INTERVAL, type Violation, type KernelEntry } from './hw/cpu.js';
export * as pte from './hw/pte.js';
export { LockClass, LOCK_CLASS_NAMES, LOCK_ORDER, lockRank, SITE_NAMES, S as SITES } from './kernel/locking/lockorder.js';
export { lockdepAcquire, lockdepEdges, heldLocksLines } from './kernel/locking/lockdep.js';
export * as locks from './kernel/locking/locks.js';
export { Kernel, bootCpu, finalSync, sysMmap, sysMunmap, sysMprotect, sysMsync, sysFsync, sysDropCaches } from './kernel/kernel.js';
export { PROT_READ, PROT_WRITE, PROT_EXEC, MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MS_ASYNC, MS_SYNC, SyscallError, type SpecialMapping } from './kernel/mmap.js';
export { flushTlbPage, flushTlbRange, flushTlbMm, FlushCause } from './kernel/tlbflush.js';
export { OutOfMemory } from './kernel/mm.js';
export { checkInvariants, checkMachine, checkBackingStore, locateWord, forEachPte, lookupPte, type CheckFinding } from './oracles/checks.js';
// Kernel internals, for experiments and tests that drive a path directly (names as in the kernel).
export * as kmm from './kernel/mm.js';
export * as krmap from './kernel/rmap.js';
export * as kwriteback from './kernel/page-writeback.js';
export * as kfilemap from './kernel/filemap.js';
export * as kdaemons from './kernel/daemons.js';
export * as kvmscan from './kernel/vmscan.js';
// Deterministic mode: the scheduler's shared state, its policies (random, PCT, replay) and runtime.
export { DetScheduler, newExecution, releaseAll, POLICIES } from './sched/det.js';
export { SchedState, POLICY_NAMES, type PolicyName, type SchedOptions, type Decision } from './sched/state.js';
export { type SchedulerPolicy, isSchedulerPolicy, withDecisionLog } from './sched/policy.js';
export { encodeSchedule, decodeSchedule, ScheduleError, SCHEDULE_PREFIX, type Schedule } from './sched/schedule.js';
export { Tracer, chromeTrace, type TraceEvent } from './trace.js';
