/**
 * The ground floor: how a CPU enters the kernel — the page-fault and interrupt vectors, as an IDT
 * holds them — and the few things every layer may throw or report. It imports nothing at run time,
 * so the hardware, the kernel, the schedulers and the oracles can all stand on it.
 */
import type { Cpu } from './cpu.js';

/** Thrown to unwind a CPU when the machine stops (violation, watchdog, abort). */
export class MachineStop extends Error {
  override readonly name = 'MachineStop';
}

/** A user access the kernel refused (SIGSEGV). */
export class SegvError extends Error {
  override readonly name = 'SegvError';
  constructor(
    readonly addr: number,
    readonly errcode: number,
  ) {
    super(`SIGSEGV at 0x${addr.toString(16)} (error code 0x${errcode.toString(16)})`);
  }
}

/** An access to a page of a file mapping past the end of the file (SIGBUS: filemap_nopage's NOPAGE_SIGBUS). */
export class BusError extends Error {
  override readonly name = 'BusError';
  constructor(readonly addr: number) {
    super(`SIGBUS at 0x${addr.toString(16)} (past the end of the file)`);
  }
}

/** What an oracle (or the watchdog, or a crash) found; the run reports it with exit status 1. */
export interface Violation {
  readonly kind: string;
  readonly message: string;
  readonly cpu?: number;
  readonly details?: Record<string, unknown>;
  /**
   * Reported after another CPU's violation (or an abort) had begun to stop the machine: a second
   * sighting of the same race, or a consequence of the stop itself (CPUs unwind at their next
   * preemption point, so a kernel path can be left half done: an ftruncate unwound between shrinking
   * i_size and growing it back lets another CPU fault past the end). Not a finding of its own; runs
   * list it apart (RunSummary.afterStop).
   */
  readonly secondary?: boolean;
}

/** The kernel's entry points, as the hardware reaches them. */
export interface KernelEntry {
  /** #PF: a page fault at `addr` with x86 error code `errcode`; throws SegvError if the access is bad. */
  pageFault(cpu: Cpu, addr: number, errcode: number): void;
  /**
   * An interrupt is pending and the CPU's interrupt flag is set (taken at an instruction boundary:
   * a preemption point, a wait loop, local_irq_restore). The handler reads its mailbox itself.
   */
  interrupt(cpu: Cpu): void;
}
