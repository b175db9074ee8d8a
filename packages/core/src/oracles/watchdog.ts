/**
 * The watchdog's report: every CPU's held locks and what it waits for, read from shared memory, and
 * the wait-for cycle among CPUs when there is one (a lock's holder, or the targets that have not
 * acknowledged a flush).
 */
import type { Cpu } from '../hw/cpu.js';
import * as L from '../machine/layout.js';
import { heldLocksLines } from '../kernel/locking/lockdep.js';
import { LOCK_CLASS_NAMES, SITE_NAMES } from '../kernel/locking/lockorder.js';
import type { Machine } from '../machine/machine.js';
import { claimFirstViolation } from '../machine/stop.js';

export interface CpuWait {
  readonly cpu: number;
  readonly kind: string;
  readonly what: string;
  /** CPUs this one waits for. */
  readonly on: number[];
}

const KIND_NAMES: Record<number, string> = {
  [L.WaitKind.Spin]: 'spinning on',
  [L.WaitKind.FlushAck]: 'waiting for flush acknowledgements from',
  [L.WaitKind.RwsemRead]: 'down_read on',
  [L.WaitKind.RwsemWrite]: 'down_write on',
  [L.WaitKind.PageLock]: 'lock_page on',
  [L.WaitKind.Idle]: 'idle (workload done), taking interrupts',
  [L.WaitKind.Park]: 'parked at a checkpoint, waiting for',
  [L.WaitKind.Checkpoint]: 'at a checkpoint, waiting for',
  [L.WaitKind.BufferLock]: 'lock_buffer on',
};

/** The CPUs holding the lock at meta index `idx` (from their held-lock stacks), and its class. */
function holdersOf(m: Machine, idx: number): { cpus: number[]; cls: string } {
  const cpus: number[] = [];
  let cls = `lock@${idx}`;
  L.findHolder(m.meta, m.layout, idx, (c, h) => {
    cpus.push(c);
    cls = `${LOCK_CLASS_NAMES[m.meta[h + L.HELD_CLASS]!]} (lock@${idx}, taken at ${SITE_NAMES[m.meta[h + L.HELD_SITE]!]})`;
    return false;
  });
  return { cpus, cls };
}

export function cpuWaits(m: Machine): CpuWait[] {
  const lay = m.layout;
  const out: CpuWait[] = [];
  for (let c = 0; c < lay.cpus; c++) {
    const b = lay.cpu(c);
    const kind = Atomics.load(m.meta, b + L.C_WAIT_KIND);
    if (kind === L.WaitKind.None) continue;
    const obj = m.meta[b + L.C_WAIT_OBJ]!;
    if (kind === L.WaitKind.FlushAck || kind === L.WaitKind.Checkpoint || kind === L.WaitKind.Park) {
      const on: number[] = [];
      if (kind === L.WaitKind.FlushAck) {
        const left = lay.cpuMasks(c) + L.CM_FLUSH_LEFT;
        for (let t = 0; t < lay.cpus; t++) if (Atomics.load(m.meta, left + (t >>> 5)) & (1 << (t & 31))) on.push(t);
      } else if (kind === L.WaitKind.Park) on.push(0);
      else for (let t = 0; t < lay.cpus; t++) if (t !== c && Atomics.load(m.meta, lay.cpu(t) + L.C_STATE) === L.CpuState.Running) on.push(t);
      out.push({ cpu: c, kind: KIND_NAMES[kind]!, what: on.map((t) => `cpu${t}`).join(', ') || '(none left)', on });
    } else if (kind === L.WaitKind.Idle) {
      out.push({ cpu: c, kind: KIND_NAMES[kind]!, what: '', on: [] });
    } else {
      const { cpus, cls } = holdersOf(m, obj);
      out.push({ cpu: c, kind: KIND_NAMES[kind] ?? 'waiting on', what: cls, on: cpus.filter((x) => x !== c) });
    }
  }
  return out;
}

/** A cycle in the wait-for graph, as a list of CPUs, or null. */
export function waitCycle(waits: CpuWait[]): number[] | null {
  const edges = new Map(waits.map((w) => [w.cpu, w.on]));
  const state = new Map<number, number>();
  const stack: number[] = [];
  const dfs = (c: number): number[] | null => {
    state.set(c, 1);
    stack.push(c);
    for (const n of edges.get(c) ?? []) {
      if (state.get(n) === 1) return stack.slice(stack.indexOf(n));
      if (!state.has(n)) {
        const r = dfs(n);
        if (r) return r;
      }
    }
    stack.pop();
    state.set(c, 2);
    return null;
  };
  for (const w of waits) if (!state.has(w.cpu)) {
    const r = dfs(w.cpu);
    if (r) return r;
  }
  return null;
}

/** The report: `headline` (who waited how long), the wait-for cycle, each CPU's wait and held locks. */
export function watchdogReport(m: Machine, headline: string): { text: string; cycle: number[] | null; waits: CpuWait[] } {
  const waits = cpuWaits(m);
  const cycle = waitCycle(waits);
  const lines = [
    headline,
    cycle ? `wait-for cycle: ${[...cycle, cycle[0]!].map((c) => `cpu${c}`).join(' -> ')}` : 'no wait-for cycle among the CPUs',
    '',
  ];
  for (let c = 0; c < m.layout.cpus; c++) {
    const w = waits.find((x) => x.cpu === c);
    const irq = m.meta[m.layout.cpu(c) + L.C_IRQ] ? 'irqs on' : 'irqs OFF';
    lines.push(`cpu${c} (${irq}): ${w ? `${w.kind} ${w.what}`.trimEnd() : 'not waiting'}`);
    const held = heldLocksLines(m.meta, m.layout, c);
    lines.push(held.length ? `  holds:\n${held.map((h) => '   ' + h).join('\n')}` : '  holds no lock');
  }
  return { text: lines.join('\n'), cycle, waits };
}

/**
 * The watchdog fires on `cpu` (one implementation for every wait: free mode measures host time,
 * deterministic mode scheduling steps): the report names every CPU's held locks and what it waits
 * for, with the wait-for cycle, and the machine stops with violation `deadlock` (MachineStop is
 * thrown). CPUs that wait for each other reach the threshold together: the first claims the report,
 * and for any other this returns — it goes on waiting, so that the report reads its wait as it is, and
 * it unwinds when the machine stops.
 */
export function fireWatchdog(cpu: Cpu, headline: string, details: Record<string, unknown>): void {
  if (!claimFirstViolation(cpu.m, cpu.id)) return;
  const r = watchdogReport(cpu.m, headline);
  cpu.violation('deadlock', r.text, { cycle: r.cycle, waits: r.waits, ...details });
}
