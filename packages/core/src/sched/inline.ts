/**
 * A waiter for machines whose CPUs all live in one thread (tests, and one-CPU runs such as `smpsim
 * difftest`'s): no real concurrency, so a CPU takes the others' pending interrupts itself.
 */
import type { Cpu } from '../hw/cpu.js';
import { MachineStop } from '../hw/entry.js';
import * as L from '../machine/layout.js';
import type { WaitKind } from '../machine/layout.js';
import { fireWatchdog } from '../oracles/watchdog.js';
import { type CpuWaiter, waitLoop } from './wait.js';

/** Polls one idle step may spend on writes in flight (each completes `diskLatency` polls after submission). */
const DISK_POLLS = 100_000;

/**
 * The waiter of a CPU whose peers live in the same thread (no real concurrency): at its preemption
 * points and while it waits it takes the other CPUs' pending interrupts itself, so a flush it sends
 * is acknowledged and kernel paths run to completion. A wait that nothing in the thread can end (a
 * lock another CPU of the thread holds) is reported by the watchdog at once, as a deadlock.
 */
export class InlineWaiter implements CpuWaiter {
  readonly interval = 0;
  readonly hostDelays = true;

  constructor(
    private readonly cpu: Cpu,
    private readonly peers: readonly Cpu[],
  ) {}

  enter(): void {}

  /** No host-time perturbation here: the schedule decides. */
  preemptHere(): boolean {
    return false;
  }

  point(): void {
    this.servicePeers();
  }

  userReturn(): void {}

  pause(): void {
    this.servicePeers();
  }

  released(): void {}

  ipiSent(): void {}

  wakeForIpi(): boolean {
    return true;
  }

  interruptDue(): boolean {
    return true;
  }

  release(): void {}

  waitUntil(kind: WaitKind, obj: number, ready: () => boolean): void {
    const cpu = this.cpu;
    waitLoop(cpu, kind, obj, 0, ready, () => {
      this.servicePeers();
      if (ready()) return true;
      // the disk completes a write `diskLatency` interrupt polls after it was submitted: while any
      // CPU of the thread has writes in flight, poll on (the wait may be for one of them)
      for (let polls = 0; polls < DISK_POLLS && this.diskPending(); polls++) {
        cpu.pollInterrupts();
        this.servicePeers();
        if (ready()) return true;
      }
      fireWatchdog(cpu, `watchdog (one thread): cpu${cpu.id} waits for something no CPU of this thread can give`, {});
      throw new MachineStop('machine stopped'); // another violation was reported first
    });
  }

  /** A CPU of this thread that takes interrupts has its disk interrupt pending. */
  private diskPending(): boolean {
    for (const p of this.peers) if (p.meta[p.base + L.C_IRQ] !== 0 && (Atomics.load(p.meta, p.base + L.C_IPI_PENDING) & L.DISK_PENDING) !== 0) return true;
    return false;
  }

  private servicePeers(): void {
    for (const p of this.peers) if (p !== this.cpu) p.pollInterrupts();
  }
}
