/**
 * A CPU's run, from its first turn to the machine's stop: the task (a workload), then the end-of-run
 * protocol, and the stop-the-world checkpoints in between. It runs in the CPU's own thread, on any
 * waiter, so the whole protocol can be driven in one thread (tests) or on workers.
 *
 * End of run: every CPU that finishes its task goes idle, in lazy TLB mode, but keeps taking interrupts
 * (others may still need its acknowledgements). CPU 0 coordinates: when all are done it checks the structural invariants
 * on the quiescent machine, runs the final sync and stops the machine (Finished). A violation anywhere
 * stops every CPU at its next preemption point or wait.
 *
 * Checkpoints: every `checkEvery` simulated cycles CPU 0 opens one (G_CHECKPOINT odd), waits until
 * every other CPU has parked at a user-mode preemption point (no kernel path half done) or finished,
 * checks the invariants, and releases them (G_CHECKPOINT even).
 */
import type { Cpu } from '../hw/cpu.js';
import { MachineStop, type Violation } from '../hw/entry.js';
import { drainDisk } from '../kernel/disk.js';
import { finalSync } from '../kernel/kernel.js';
import { enterLazyTlb } from '../kernel/smp.js';
import { checkMachine, type CheckFinding } from '../oracles/checks.js';
import * as L from './layout.js';
import { CTR } from './machine.js';
import { stopMachine, stopReason } from './stop.js';

/** Runs `task` on `cpu` and then the end-of-run protocol; returns what the task returned. */
export function runCpu(cpu: Cpu, task: () => unknown, checkEvery: number): unknown {
  let result: unknown;
  if (checkEvery > 0 && cpu.id === 0) installCheckpoints(cpu, checkEvery);
  if (checkEvery > 0) {
    cpu.userHooks.push(parkAtCheckpoint);
    cpu.onRelax = parkAtCheckpoint;
  }
  try {
    // Deterministic mode: nothing runs before this CPU's first turn.
    cpu.waiter.enter();
    result = task();
  } catch (e) {
    if (!(e instanceof MachineStop)) crash(cpu, e);
  }
  cpu.publishCounters();
  try {
    finish(cpu);
  } catch (e) {
    if (!(e instanceof MachineStop)) crash(cpu, e);
  }
  cpu.publishCounters();
  cpu.tracer?.finish();
  Atomics.store(cpu.meta, cpu.base + L.C_STATE, L.CpuState.Done);
  return result;
}

/** A workload or kernel error inside the run: violation `crash`, naming the CPU; stops the machine. */
function crash(cpu: Cpu, e: unknown): void {
  const err = e as Error;
  const v: Violation = { kind: 'crash', message: `cpu${cpu.id}: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`, cpu: cpu.id, details: { stack: err?.stack } };
  stopMachine(cpu.m, L.StopReason.Abort, cpu, v);
}

const stopping = (cpu: Cpu): boolean => stopReason(cpu.meta) !== 0;

/** Idles until `until()` holds, taking interrupts; `watch` is the word whose change may end it. */
function idle(cpu: Cpu, until: () => boolean, watch = -1): void {
  cpu.waiter.waitUntil(L.WaitKind.Idle, 0, until, watch);
  cpu.pollInterrupts();
}

function finish(cpu: Cpu): void {
  const meta = cpu.meta;
  Atomics.store(meta, cpu.base + L.C_STATE, L.CpuState.Idle);
  // The task is done: the CPU switches to the idle task, which borrows the mm lazily (2.6.20
  // context_switch → enter_lazy_tlb). It stays in cpu_vm_mask until the first flush IPI, answers that
  // with leave_mm, and later flushes of the mm skip it.
  if (meta[cpu.base + L.C_ACTIVE_MM]! >= 0) {
    enterLazyTlb(cpu);
    cpu.ctr[CTR.lazyIdle]!++;
  }
  // The writes this CPU's disk still has in flight complete before it counts as done (a CPU whose
  // task is over submits nothing more), so the end-of-run check sees a quiescent disk.
  drainDisk(cpu);
  Atomics.sub(meta, L.G_RUNNING, 1);
  if (cpu.id !== 0) {
    cpu.wake(0);
    idle(cpu, () => stopping(cpu));
    return;
  }
  idle(cpu, () => stopping(cpu) || Atomics.load(meta, L.G_RUNNING) === 0, L.G_RUNNING);
  cpu.checkStop();
  if (stopping(cpu)) return;
  const bad = check(cpu, true);
  if (bad.length) cpu.violation('invariant', bad.map((b) => b.message).join('\n'), { findings: bad, when: 'end' });
  finalSync(cpu);
  stopMachine(cpu.m, L.StopReason.Finished, cpu);
}

/** The structural invariants (`quiescent`: at the end); also records the most pages seen dirty only in PTEs. */
function check(cpu: Cpu, quiescent = false): CheckFinding[] {
  const r = checkMachine(cpu.m, 10, quiescent);
  const g = L.G_MAX_UNACCOUNTED;
  for (let cur = Atomics.load(cpu.meta, g); r.dirtyOnlyInPte > cur; cur = Atomics.load(cpu.meta, g)) {
    if (Atomics.compareExchange(cpu.meta, g, cur, r.dirtyOnlyInPte) === cur) break;
  }
  return r.findings;
}

// ---- stop-the-world checkpoints ----

/** CPU 0 requests a checkpoint every `every` simulated cycles, waits for all CPUs, checks, resumes. */
function installCheckpoints(cpu: Cpu, every: number): void {
  let next = every;
  const meta = cpu.meta;
  const n = cpu.layout.cpus;
  // Every other CPU has parked at a user-mode preemption point or is done with its workload.
  const allParked = () => {
    let k = Atomics.load(meta, L.G_PARKED);
    for (let c = 0; c < n; c++) {
      const s = Atomics.load(meta, cpu.layout.cpu(c) + L.C_STATE);
      if (s === L.CpuState.Idle || s === L.CpuState.Done) k++;
    }
    return k >= n || stopping(cpu);
  };
  cpu.userHooks.push(() => {
    if (cpu.ctr[CTR.cycles]! < next) return;
    next = cpu.ctr[CTR.cycles]! + every;
    Atomics.store(meta, L.G_PARKED, 1); // CPU 0 itself
    Atomics.add(meta, L.G_CHECKPOINT, 1);
    cpu.wakeOthers();
    cpu.waiter.waitUntil(L.WaitKind.Checkpoint, 0, allParked, L.G_PARKED, L.G_RUNNING);
    // The wait also ends when the machine stops: then CPUs may still be inside kernel paths, where
    // the invariants need not hold, and what stopped the machine is the report.
    cpu.checkStop();
    cpu.ctr[CTR.checkpoints]!++;
    const bad = check(cpu);
    Atomics.store(meta, L.G_PARKED, 0);
    Atomics.add(meta, L.G_CHECKPOINT, 1); // odd -> even: released
    cpu.wakeOthers();
    if (bad.length) cpu.violation('invariant', bad.map((b) => b.message).join('\n'), { findings: bad, when: 'checkpoint' });
  });
}

/** Every CPU but 0: park while a checkpoint is open (the sequence number is odd). */
function parkAtCheckpoint(cpu: Cpu): void {
  if (cpu.id === 0) return;
  const meta = cpu.meta;
  const seq = Atomics.load(meta, L.G_CHECKPOINT);
  if ((seq & 1) === 0) return;
  Atomics.store(meta, cpu.base + L.C_STATE, L.CpuState.Parked);
  Atomics.add(meta, L.G_PARKED, 1);
  cpu.wake(0);
  cpu.waiter.waitUntil(L.WaitKind.Park, seq, () => Atomics.load(meta, L.G_CHECKPOINT) !== seq || stopping(cpu), L.G_CHECKPOINT);
  Atomics.store(meta, cpu.base + L.C_STATE, L.CpuState.Running);
  cpu.checkStop();
}
