/**
 * The x86 arch kernel's TLB code for SMP (2.6.20 arch/i386/kernel/smp.c and
 * include/asm-i386/mmu_context.h, with x86_64's flush ranges): switch_mm and lazy TLB mode
 * (enter_lazy_tlb, leave_mm), the flush IPI sent by flush_tlb_others and serviced by
 * smp_invalidate_interrupt, and the flush API built on them — a QEMU-style grid, scope in the name,
 * always synchronous across CPUs.
 *
 * Two shootdown protocols (KernelConfig.flushProtocol): 'modern' flushes a range page by page under
 * the flush ceiling, with any number of senders at once; 'linux-2.6.20' is 2.6.20's
 * arch/x86_64/kernel/smp.c: every range flush is a flush of the whole mm, and a sender holds its slot's
 * tlbstate_lock (8 slots, cpu % 8) from the request to the last acknowledgement — or, with arch
 * 'i386' (arch/i386/kernel/smp.c), the one tlbstate_lock of the system.
 *
 * Every flush runs the same local decision (`localFlush`) on the initiator and on each target: a CPU
 * that does not run the mm has nothing to flush; one that only borrows it lazily (a kernel thread)
 * leaves it instead (leave_mm) and gets no more of its IPIs; otherwise it flushes the range or all.
 */
import { hasBug } from '../config.js';
import { type CpuMask, maskCount, maskIsEmpty } from '../cpumask.js';
import { metaLine } from '../hw/coherence.js';
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { CTR } from '../machine/machine.js';
import type { LockIdx } from '../handles.js';
import { irqsOffWaitReport } from './locking/lockdep.js';
import { spinLock, spinUnlock } from './locking/locks.js';
import { LockClass, S } from './locking/lockorder.js';

// ------------------------------------------------------------------ switch_mm and lazy TLB

/** switch_mm: runs `mm` on this CPU; reloads CR3 (a full flush) unless the mm was kept lazily. */
export function switchMm(cpu: Cpu, mm: number): void {
  const meta = cpu.meta;
  const b = cpu.base;
  const left = meta[b + L.C_LAZY_LEFT]!;
  if (left !== 0) {
    // back from leave_mm: flushes of the mm it left reach it again (if it runs that mm)
    Atomics.sub(meta, cpu.layout.mm(left - 1) + L.MM_LAZY_LEFT, 1);
    meta[b + L.C_LAZY_LEFT] = 0;
  }
  const prev = meta[b + L.C_ACTIVE_MM]!;
  if (prev !== mm && prev >= 0) Atomics.and(meta, cpu.layout.mmCpuMask(prev) + cpu.maskWord, ~cpu.bit);
  meta[b + L.C_TLB_STATE] = L.TLBSTATE_OK;
  const was = Atomics.or(meta, cpu.layout.mmCpuMask(mm) + cpu.maskWord, cpu.bit);
  meta[b + L.C_ACTIVE_MM] = mm;
  // i386 switch_mm: after leave_mm cleared us from cpu_vm_mask, flush IPIs were not delivered, so
  // CR3 must be reloaded.
  if (prev !== mm || !(was & cpu.bit)) cpu.flushAllLocal();
  cpu.mmId = mm;
}

/**
 * enter_lazy_tlb: a kernel thread (or the idle task) starts on this CPU and borrows the current mm
 * lazily: the CPU stays in its cpu_vm_mask until the first flush IPI, which it answers with leave_mm.
 */
export function enterLazyTlb(cpu: Cpu): void {
  if (cpu.meta[cpu.base + L.C_ACTIVE_MM]! >= 0) cpu.meta[cpu.base + L.C_TLB_STATE] = L.TLBSTATE_LAZY;
}

/** The kernel thread is done: back to the task's mm. */
export function leaveLazyTlb(cpu: Cpu): void {
  if (cpu.mmId >= 0) switchMm(cpu, cpu.mmId);
}

/** leave_mm: a lazy CPU asked to flush drops the mm instead (and stops getting its IPIs). */
export function leaveMm(cpu: Cpu): void {
  const b = cpu.base;
  const am = cpu.meta[b + L.C_ACTIVE_MM]!;
  if (am >= 0) {
    Atomics.and(cpu.meta, cpu.layout.mmCpuMask(am) + cpu.maskWord, ~cpu.bit);
    if (cpu.meta[b + L.C_LAZY_LEFT] === 0) {
      Atomics.add(cpu.meta, cpu.layout.mm(am) + L.MM_LAZY_LEFT, 1);
      cpu.meta[b + L.C_LAZY_LEFT] = am + 1;
    }
  }
  cpu.meta[b + L.C_ACTIVE_MM] = -1;
  cpu.flushAllLocal();
  cpu.ctr[CTR.leaveMm]!++;
}

/**
 * What a CPU does with a flush of [start, end) (or all) of `mm`, on the initiator and on every
 * target alike: nothing if it does not run the mm; leave_mm if it only borrows it lazily; otherwise
 * INVLPG each page, or a CR3 reload for all.
 */
function localFlush(cpu: Cpu, mm: number, start: number, end: number, all: boolean): void {
  if (cpu.meta[cpu.base + L.C_ACTIVE_MM] !== mm) return;
  if (cpu.meta[cpu.base + L.C_TLB_STATE] !== L.TLBSTATE_OK) {
    leaveMm(cpu);
    return;
  }
  if (all) cpu.flushAllLocal();
  else for (let v = start; v < end; v++) cpu.invlpg(v);
}

// ------------------------------------------------------------------ the flush IPI

/**
 * smp_invalidate_interrupt, the flush IPI's handler (reached through KernelEntry.interrupt): for each
 * initiator with a request for this CPU, highest CPU first, do the local flush decision, then
 * acknowledge: clear this CPU's bit in the initiator's CM_FLUSH_LEFT mask and, if it was set, count
 * the acknowledgement down in its C_FLUSH_ACK (waking the initiator if it sleeps on that word).
 *
 * The initiators are in CM_IPI_FROM, one bit per CPU, summarised by C_IPI_PENDING (bit w: word w may
 * be non-empty). A sender sets its FROM bit, then the summary bit (Cpu.sendIpi); this takes the
 * summary (exchange with 0), then each word it names (exchange with 0). No request is lost: a FROM
 * bit not taken here was set after this FROM word's exchange, hence after the summary's, and its
 * summary bit, set after it, is pending again for the next interrupt. The other way round, a request
 * taken here whose summary bit came after our exchange leaves that bit set with nothing behind it:
 * the next interrupt then finds an empty word and services nobody, which is harmless. (In
 * deterministic mode one CPU runs at a time and neither sequence has a preemption point, so there
 * is no such spurious interrupt there.)
 */
export function smpInvalidateInterrupt(cpu: Cpu): void {
  const meta = cpu.meta;
  const from = cpu.maskBase + L.CM_IPI_FROM;
  // (the disk's interrupt bit stays for diskInterrupt)
  let summary = Atomics.and(meta, cpu.base + L.C_IPI_PENDING, L.DISK_PENDING) & ~L.DISK_PENDING;
  if (cpu.lines !== null) cpu.lines.write(cpu, metaLine(cpu.base + L.C_IPI_PENDING));
  while (summary !== 0) {
    const w = 31 - Math.clz32(summary);
    summary &= ~(1 << w);
    let pending = Atomics.exchange(meta, from + w, 0);
    while (pending !== 0) {
      const j = 31 - Math.clz32(pending);
      pending &= ~(1 << j);
      const src = (w << 5) | j;
      const sb = cpu.layout.cpu(src);
      // timed mode: the request line comes over from the initiator
      if (cpu.lines !== null) cpu.lines.read(cpu, metaLine(sb + L.C_FLUSH_MM));
      localFlush(cpu, Atomics.load(meta, sb + L.C_FLUSH_MM), Atomics.load(meta, sb + L.C_FLUSH_START), Atomics.load(meta, sb + L.C_FLUSH_END), Atomics.load(meta, sb + L.C_FLUSH_ALL) !== 0);
      cpu.ctr[CTR.ipisReceived]!++;
      cpu.ctr[CTR.cycles]! += cpu.config.costs.ipiReceive;
      if (cpu.tracer !== null) cpu.tracer.flushAck(src);
      // Our LEFT bit is cleared before the count drops, so a count of 0 means an empty LEFT mask.
      // A late acknowledgement of an earlier request (the no-flush-wait bug) finds its bit clear
      // and counts nothing, as it cleared nothing in the one-word mask this replaced.
      if (Atomics.and(meta, cpu.layout.cpuMasks(src) + L.CM_FLUSH_LEFT + cpu.maskWord, ~cpu.bit) & cpu.bit) Atomics.sub(meta, sb + L.C_FLUSH_ACK, 1);
      if (cpu.lines !== null) cpu.lines.write(cpu, metaLine(sb + L.C_FLUSH_ACK));
      if (Atomics.load(meta, sb + L.C_SLEEP_ADDR) === sb + L.C_FLUSH_ACK) Atomics.notify(meta, sb + L.C_FLUSH_ACK);
    }
  }
}

/**
 * flush_tlb_others: publishes a flush request for [start, end) of `mm` (or all of it), sends the
 * flush IPI to every CPU in `targets` (highest first) and, unless `wait` is false, returns only when
 * each has acknowledged. Interrupts stay enabled while it waits, and the wait takes them, so two
 * CPUs flushing each other cannot deadlock (with lockdep on, a wait with the interrupt flag clear
 * or in hardirq context is reported: no path of the model flushes under an irq-disabled lock).
 * `targets` is only read (callers pass cpu.flushTargets).
 * Postcondition (wait = true): no CPU in `targets` will translate with the flushed entries.
 */
export function flushTlbOthers(cpu: Cpu, mm: number, start: number, end: number, all: boolean, targets: CpuMask, wait: boolean): void {
  if (maskIsEmpty(targets)) return;
  const meta = cpu.meta;
  const b = cpu.base;
  if (wait && cpu.config.kernel.lockdep) {
    const report = irqsOffWaitReport(cpu, 'flush_tlb_others() waits for acknowledgements');
    if (report) cpu.violation('lockdep', report, { site: 'flush_tlb_others' });
  }
  // 2.6.20 x86_64: the sender's slot (cpu % NUM_INVALIDATE_TLB_VECTORS) is held from the request to
  // the last acknowledgement, so senders of one slot flush one at a time; i386 has one tlbstate_lock
  // (arch/i386/kernel/smp.c), so one sender at a time system-wide
  const k = cpu.config.kernel;
  const slot = k.flushProtocol === 'linux-2.6.20' ? (cpu.layout.flushLock(k.arch === 'i386' ? 0 : cpu.id % L.FLUSH_SLOTS) as LockIdx) : -1;
  if (slot >= 0) spinLock(cpu, slot as LockIdx, LockClass.TlbState, S.flush_tlb_others);
  if (cpu.tracer !== null) cpu.tracer.flushRequest(mm, start, end, all, targets);
  Atomics.store(meta, b + L.C_FLUSH_MM, mm);
  Atomics.store(meta, b + L.C_FLUSH_START, start);
  Atomics.store(meta, b + L.C_FLUSH_END, end);
  Atomics.store(meta, b + L.C_FLUSH_ALL, all ? 1 : 0);
  // Who is left to acknowledge (for the watchdog's report), then how many (what the wait tests).
  // Only the words the machine's CPUs occupy: the others stay 0.
  const words = cpu.layout.maskWords;
  const left = cpu.maskBase + L.CM_FLUSH_LEFT;
  for (let w = 0; w < words; w++) Atomics.store(meta, left + w, targets[w]!);
  const n = maskCount(targets);
  Atomics.store(meta, b + L.C_FLUSH_ACK, n);
  if (cpu.lines !== null) cpu.lines.write(cpu, metaLine(b + L.C_FLUSH_MM));
  for (let w = words - 1; w >= 0; w--) {
    for (let t = targets[w]!; t !== 0; ) {
      const j = 31 - Math.clz32(t);
      t &= ~(1 << j);
      cpu.sendIpi((w << 5) | j);
    }
  }
  cpu.ctr[CTR.ipisSent]! += n;
  cpu.ctr[CTR.cycles]! += n * cpu.config.costs.ipiSend;
  const ack = b + L.C_FLUSH_ACK;
  if (wait && Atomics.load(meta, ack) !== 0) cpu.waiter.waitUntil(L.WaitKind.FlushAck, n, () => Atomics.load(meta, ack) === 0, ack);
  if (wait && cpu.lines !== null) cpu.lines.read(cpu, metaLine(ack));
  if (slot >= 0) spinUnlock(cpu, slot as LockIdx);
  if (cpu.tracer !== null) cpu.tracer.flushDone();
}

// ------------------------------------------------------------------ the flush API

export const enum FlushCause {
  Fault = 0,
  Mkclean = 1,
  Munmap = 2,
  Mprotect = 3,
  Reclaim = 4,
  /** msync_pte_range (2.6.18) moving PTE dirty bits: counted with page_mkclean's, whose work it is. */
  Msync = 5,
}

const CAUSE_CTR = [CTR.shootdownsFault, CTR.shootdownsMkclean, CTR.shootdownsMunmap, CTR.shootdownsMprotect, CTR.shootdownsReclaim, CTR.shootdownsMkclean];

function flushOthers(cpu: Cpu, mm: number, start: number, end: number, all: boolean, cause: FlushCause): void {
  // cpumask_andnot(targets, mm->cpu_vm_mask, cpumask_of(self)), one word at a time.
  // (Words past layout.maskWords are never set, here or in the mask.)
  const targets = cpu.flushTargets;
  const vm = cpu.layout.mmCpuMask(mm);
  const n = cpu.layout.maskWords;
  for (let w = 0; w < n; w++) targets[w] = Atomics.load(cpu.meta, vm + w);
  targets[cpu.maskWord]! &= ~cpu.bit;
  const lazy = Atomics.load(cpu.meta, cpu.layout.mm(mm) + L.MM_LAZY_LEFT);
  if (lazy !== 0) cpu.ctr[CTR.lazySkipped]! += lazy;
  if (maskIsEmpty(targets)) {
    cpu.ctr[CTR.flushesElided]!++;
    return;
  }
  cpu.ctr[CAUSE_CTR[cause]!]!++;
  flushTlbOthers(cpu, mm, start, end, all, targets, !hasBug(cpu.config, 'no-flush-wait'));
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
  // 2.6.20 x86_64 (include/asm-x86_64/tlbflush.h): flush_tlb_range is flush_tlb_mm
  if (end - start > cpu.config.kernel.flushCeiling || cpu.config.kernel.flushProtocol === 'linux-2.6.20') {
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
