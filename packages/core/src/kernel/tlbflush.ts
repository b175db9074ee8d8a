/**
 * The TLB flush API (QEMU-style grid: scope in the name, always synchronous across CPUs).
 *
 * Each function flushes the local TLB, then sends a flush IPI to every other CPU in mm->cpu_vm_mask
 * and waits for all of them to acknowledge. A CPU that only borrows the mm lazily (a kernel thread)
 * leaves it instead of flushing (leave_mm), and from then on gets no more of its IPIs.
 */
import { hasBug } from '../config.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { CTR } from '../machine/machine.js';

export const enum FlushCause {
  Fault = 0,
  Mkclean = 1,
  Munmap = 2,
  Mprotect = 3,
  Reclaim = 4,
  Msync = 5,
}

const CAUSE_CTR = [CTR.shootdownsFault, CTR.shootdownsMkclean, CTR.shootdownsMunmap, CTR.shootdownsMprotect, CTR.shootdownsReclaim, CTR.shootdownsMkclean];

function localFlush(cpu: Cpu, mm: number, start: number, end: number, all: boolean): void {
  if (cpu.meta[cpu.base + L.C_ACTIVE_MM] !== mm) return;
  if (cpu.meta[cpu.base + L.C_TLB_STATE] !== L.TLBSTATE_OK) {
    cpu.leaveMm();
    return;
  }
  if (all) cpu.flushAllLocal();
  else for (let v = start; v < end; v++) cpu.invlpg(v);
}

function othersMask(cpu: Cpu, mm: number): number {
  return Atomics.load(cpu.meta, cpu.lay.mm(mm) + L.MM_CPU_MASK) & ~cpu.bit;
}

function flushOthers(cpu: Cpu, mm: number, start: number, end: number, all: boolean, cause: FlushCause): void {
  const targets = othersMask(cpu, mm);
  if (targets === 0) {
    cpu.ctr[CTR.flushesElided]!++;
    return;
  }
  cpu.ctr[CAUSE_CTR[cause]!]!++;
  cpu.sendFlushIpis(mm, start, end, all, targets, !hasBug(cpu.config, 'no-flush-wait'));
}

/**
 * flush_tlb_page: drops the translation of `vpn` in `mm` from every TLB.
 * Postcondition: when it returns, no CPU will translate `vpn` of `mm` with the flushed entry.
 */
export function flushTlbPage(cpu: Cpu, mm: number, vpn: number, cause: FlushCause): void {
  cpu.ctr[CTR.flushesPage]!++;
  localFlush(cpu, mm, vpn, vpn + 1, false);
  flushOthers(cpu, mm, vpn, vpn + 1, false, cause);
}

/** Like flushTlbPage but only the local TLB: what the `no-remote-flush` bug restores. */
export function flushTlbPageLocalOnly(cpu: Cpu, mm: number, vpn: number): void {
  cpu.ctr[CTR.flushesPage]!++;
  localFlush(cpu, mm, vpn, vpn + 1, false);
}

/**
 * flush_tlb_range: drops [start, end) of `mm` from every TLB; more pages than the flush ceiling
 * (Linux: tlb_single_page_flush_ceiling = 33) become a full flush.
 * Postcondition: when it returns, no CPU will translate any page of the range with a flushed entry.
 */
export function flushTlbRange(cpu: Cpu, mm: number, start: number, end: number, cause: FlushCause): void {
  if (end <= start) return;
  if (end - start > cpu.config.kernel.flushCeiling) {
    flushTlbMm(cpu, mm, cause);
    return;
  }
  cpu.ctr[CTR.flushesRange]!++;
  localFlush(cpu, mm, start, end, false);
  flushOthers(cpu, mm, start, end, false, cause);
}

/**
 * flush_tlb_mm: drops every translation of `mm` from every TLB.
 * Postcondition: when it returns, no CPU will translate any address of `mm` with an entry cached
 * before the call.
 */
export function flushTlbMm(cpu: Cpu, mm: number, cause: FlushCause): void {
  cpu.ctr[CTR.flushesFull]!++;
  localFlush(cpu, mm, 0, 0, true);
  flushOthers(cpu, mm, 0, 0, true, cause);
}
