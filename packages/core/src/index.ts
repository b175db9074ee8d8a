/**
 * @smpsim/core — the model: configuration, the machine (shared memory, its lifecycle and how it
 * stops), the CPU hardware, the kernel slice (faults, mmap, writeback, reclaim, the SMP TLB code), the
 * oracles, and the execution modes (waiters, the deterministic scheduler, schedules, traces). Runs in
 * any thread. Internals (layout, locks, the kernel's files) are in `@smpsim/core/testing`.
 */
export * from './config.js';
export type { Pfn, Vpn, FileId, MmId, PgOff, PteIdx, LockIdx, VmaIdx } from './handles.js';
export { Machine, CTR, CTR_COUNT, LS, LS_FIELDS, type CounterName, type MachineBuffers, type LockStatRow, type LockTimes, type TlbEntryView, type MachineView } from './machine/machine.js';
export { StopReason, CpuState, WaitKind } from './machine/layout.js';
export { stopMachine } from './machine/stop.js';
export { runCpu } from './machine/lifecycle.js';
export { Cpu, PREEMPT_INTERVAL } from './hw/cpu.js';
export { InlineWaiter } from './sched/inline.js';
export { CacheLines, LINE_ENTRIES, LINE_FIELDS, lockLine, metaLine, memLine } from './hw/coherence.js';
export { COST_KEYS, COST_PRESETS, costPreset, type CostPreset } from './costs.js';
export { BusError, MachineStop, SegvError, type Violation, type KernelEntry } from './hw/entry.js';
export { msyncRangesUnlocked } from './kernel/mmap.js';
export { Kernel, bootCpu, finalSync, sysMmap, sysMunmap, sysMprotect, sysMsync, sysFsync, sysDropCaches, sysPread, sysPwrite, sysFtruncate } from './kernel/kernel.js';
export { fileSize } from './kernel/filemap.js';
export { PROT_READ, PROT_WRITE, PROT_EXEC, MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MS_ASYNC, MS_SYNC, SyscallError, type SpecialMapping } from './kernel/mmap.js';
export { flushTlbPage, flushTlbRange, flushTlbMm, FlushCause } from './kernel/smp.js';
export { OutOfMemory } from './kernel/mm.js';
export { lockdepEdges, lockdepUsage, heldLocksLines, USAGE_STR, type LockdepEdge } from './kernel/locking/lockdep.js';
export { lostWriteMessage, lostWriteDetails, type WordAt } from './oracles/lost-write.js';
export { checkInvariants, checkMachine, checkBackingStore, checkDurableAtFsync, dirtyCancelled, cachedPageFlags, pageCacheState, syncMustBeDurable, locateWord, forEachPte, lookupPte, type CheckFinding } from './oracles/checks.js';
export { watchdogReport, cpuWaits, waitCycle, type CpuWait } from './oracles/watchdog.js';
export { type CpuWaiter, FreeWaiter, NAP_MS } from './sched/wait.js';
export { DetWaiter, newExecution, releaseAll, POLICIES } from './sched/det.js';
export { TimedWaiter, TIMED_INTERVAL } from './sched/timed.js';
export { TokenWaiter, TokenState, initTokens, DEFAULT_TOKEN_SLICE_US } from './sched/tokens.js';
export { SchedState, POLICY_NAMES, type PolicyName, type SchedOptions, type Decision } from './sched/state.js';
export { type SchedulerPolicy, isSchedulerPolicy, withDecisionLog } from './sched/policy.js';
export { encodeSchedule, decodeSchedule, ScheduleError, SCHEDULE_PREFIX, type Schedule } from './sched/schedule.js';
export { Tracer, chromeTrace, type TraceEvent } from './trace.js';
export { Rng, deriveSeed } from './random.js';
export { type CpuMask, newMask, maskOf, maskList, maskHas, maskSet, maskUnset, maskClear, maskFill, maskIsEmpty, maskCount, maskNth, popcount32 } from './cpumask.js';
