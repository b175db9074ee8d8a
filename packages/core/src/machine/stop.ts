/**
 * Stopping the machine, written once: `stopMachine` is the only writer of G_STOP, and the first
 * violation is claimed (G_VIOLATION) in one place, `claimFirstViolation`.
 * A CPU that finds a violation, a crash, the watchdog, the end of the run and the harness (abort,
 * timeouts) all stop the machine here; every CPU then unwinds at its next preemption point or wait
 * (MachineStop), and sleeping CPUs are woken so that they notice.
 */
import type { Cpu } from '../hw/cpu.js';
import type { Violation } from '../hw/entry.js';
import * as L from './layout.js';
import type { Machine } from './machine.js';

/**
 * Stops the machine for `reason`. From a CPU (`by`): its violation, if any, is recorded on it and the
 * CPU claims the machine's first violation; afterwards its scheduler lets every CPU run free. A
 * violation reported once the machine is stopping for another (or an abort) is recorded as secondary.
 */
export function stopMachine(m: Machine, reason: L.StopReason, by?: Cpu, violation?: Violation): void {
  if (by && violation) {
    // (the watchdog claims before it reports, so "already mine" is still the first)
    const first = stopRequested(m.meta) ? Atomics.load(m.meta, L.G_VIOLATION) === by.id + 1 : claimFirstViolation(m, by.id);
    by.violations.push(first ? violation : { ...violation, secondary: true });
  }
  Atomics.store(m.meta, L.G_STOP, reason);
  wakeAll(m);
  by?.waiter.release();
}

/**
 * CPU `cpu` claims the machine's first violation; true if it has it (now or already). A CPU whose
 * report needs the others' state as it is (the watchdog) claims before reading it.
 */
export function claimFirstViolation(m: Machine, cpu: number): boolean {
  const prev = Atomics.compareExchange(m.meta, L.G_VIOLATION, 0, cpu + 1);
  return prev === 0 || prev === cpu + 1;
}

/** Why the machine stopped (0 while it runs). */
export const stopReason = (meta: Int32Array): number => Atomics.load(meta, L.G_STOP);

/** The machine is stopping abnormally (a violation, the watchdog, an abort): CPUs must unwind. */
export const stopRequested = (meta: Int32Array): boolean => Atomics.load(meta, L.G_STOP) > L.StopReason.Finished;

/** Wakes every CPU that sleeps (idle, or waiting on a word), so that it sees the stop. */
function wakeAll(m: Machine): void {
  const lay = m.layout;
  for (let c = 0; c < lay.cpus; c++) {
    const s = Atomics.load(m.meta, lay.cpu(c) + L.C_SLEEP_ADDR);
    if (s >= 0) Atomics.notify(m.meta, s);
  }
}
