/**
 * One CPU's run: the workload, then the end-of-run protocol. Every CPU that finishes goes idle but
 * keeps servicing IPIs (others may still need its acknowledgements). CPU 0 coordinates: when all are
 * done it checks the structural invariants on the quiescent machine, runs the final sync, and stops
 * the machine. A violation anywhere stops every CPU at its next preemption point.
 *
 * In deterministic mode every wait here (idling, the checkpoint rendezvous) yields to the scheduler
 * instead of sleeping on host time, and a stop releases the scheduler so every CPU can unwind.
 */
import { checkMachine, type Cpu, CTR, finalSync, layout as L, MachineStop, StopReason, type Violation } from '@smpsim/core';
import type { CpuApi } from './api.js';
import type { Workload } from './workload.js';

const IDLE_SLEEP_MS = 20;

/** Runs the workload on `cpu` and the end-of-run protocol; returns the workload's result. */
export function runCpu(cpu: Cpu, api: CpuApi, workload: Workload, checkEvery: number): unknown {
  let result: unknown;
  if (checkEvery > 0 && cpu.id === 0) installCheckpoints(cpu, checkEvery);
  if (checkEvery > 0) cpu.userHooks.push(parkAtCheckpoint);
  try {
    // Deterministic mode: nothing runs before this CPU's first turn.
    if (cpu.det !== null) cpu.det.enter();
    result = workload.run(api);
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
  return result;
}

/** A workload or kernel error inside the run: violation `crash`, naming the CPU; stops the machine. */
function crash(cpu: Cpu, e: unknown): void {
  const err = e as Error;
  const v: Violation = { kind: 'crash', message: `cpu${cpu.id}: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`, cpu: cpu.id, details: { stack: err?.stack } };
  cpu.violations.push(v);
  Atomics.compareExchange(cpu.meta, L.G_VIOLATION, 0, cpu.id + 1);
  Atomics.store(cpu.meta, L.G_STOP, StopReason.Abort);
  cpu.wakeAll();
  cpu.det?.release();
}

function stopping(cpu: Cpu): boolean {
  return Atomics.load(cpu.meta, L.G_STOP) !== 0;
}

/**
 * Idles until `until()` holds, servicing interrupts; sleeps on the IPI word between them (in
 * deterministic mode: yields until an interrupt arrives or meta[watch] changes).
 */
function idle(cpu: Cpu, until: () => boolean, watch = -1): void {
  const pend = cpu.base + L.C_IPI_PENDING;
  const det = cpu.det;
  if (det !== null) {
    while (!until()) {
      cpu.serviceIpisIfEnabled();
      if (until()) break;
      det.block(watch, watch >= 0 ? Atomics.load(cpu.meta, watch) : 0);
    }
    cpu.serviceIpisIfEnabled();
    return;
  }
  while (!until()) {
    cpu.serviceIpisIfEnabled();
    cpu.sleepOn(pend, 0, IDLE_SLEEP_MS);
  }
  cpu.serviceIpisIfEnabled();
}

function finish(cpu: Cpu): void {
  const meta = cpu.meta;
  Atomics.store(meta, cpu.base + L.C_STATE, L.CpuState.Idle);
  Atomics.sub(meta, L.G_RUNNING, 1);
  if (cpu.id !== 0) {
    cpu.wake(0);
    idle(cpu, () => stopping(cpu));
    return;
  }
  idle(cpu, () => stopping(cpu) || Atomics.load(meta, L.G_RUNNING) === 0, L.G_RUNNING);
  cpu.checkStop();
  if (stopping(cpu)) return;
  const bad = check(cpu);
  if (bad.length) cpu.violation('invariant', bad.map((b) => b.message).join('\n'), { findings: bad, when: 'end' });
  finalSync(cpu);
  Atomics.store(meta, L.G_STOP, StopReason.Finished);
  cpu.wakeAll();
  cpu.det?.release();
}

/** The structural invariants; also records the most pages seen dirty only in PTEs. */
function check(cpu: Cpu) {
  const r = checkMachine(cpu.m);
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
  cpu.userHooks.push(() => {
    if (cpu.ctr[CTR.cycles]! < next) return;
    next = cpu.ctr[CTR.cycles]! + every;
    const meta = cpu.meta;
    Atomics.store(meta, L.G_PARKED, 1); // CPU 0 itself
    Atomics.add(meta, L.G_CHECKPOINT, 1);
    cpu.wakeAll();
    // Everyone else parks at a user-mode preemption point or is already idle.
    const others = () => {
      let n = Atomics.load(meta, L.G_PARKED);
      for (let c = 0; c < cpu.lay.cpus; c++) {
        const s = Atomics.load(meta, cpu.lay.cpu(c) + L.C_STATE);
        if (s === L.CpuState.Idle || s === L.CpuState.Done) n++;
      }
      return n >= cpu.lay.cpus || stopping(cpu);
    };
    const det = cpu.det;
    if (det !== null) {
      // Deterministic mode: yield until another CPU parks or finishes its workload.
      while (!others()) {
        cpu.pollInterrupts();
        cpu.checkStop();
        if (others()) break;
        det.block(L.G_PARKED, Atomics.load(meta, L.G_PARKED), L.G_RUNNING, Atomics.load(meta, L.G_RUNNING));
      }
    } else {
      const since = Date.now();
      while (!others()) {
        cpu.pollInterrupts();
        cpu.checkStop();
        if (Date.now() - since > cpu.config.watchdogMs) {
          cpu.violation('deadlock', `checkpoint: not every CPU reached a preemption point within ${cpu.config.watchdogMs} ms`);
        }
      }
    }
    cpu.ctr[CTR.checkpoints]!++;
    const bad = check(cpu);
    Atomics.store(meta, L.G_PARKED, 0);
    Atomics.add(meta, L.G_CHECKPOINT, 1); // odd -> even: released
    cpu.wakeAll();
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
  const det = cpu.det;
  while (Atomics.load(meta, L.G_CHECKPOINT) === seq && !stopping(cpu)) {
    cpu.serviceIpisIfEnabled();
    if (det !== null) det.block(L.G_CHECKPOINT, seq);
    else cpu.sleepOn(L.G_CHECKPOINT, seq, 5);
  }
  Atomics.store(meta, cpu.base + L.C_STATE, L.CpuState.Running);
  cpu.checkStop();
}
