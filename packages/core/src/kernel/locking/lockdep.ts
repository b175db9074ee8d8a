/**
 * A lock-dependency validator after the kernel's lockdep (Documentation/locking/lockdep-design.rst,
 * Ingo Molnar and Arjan van de Ven, 2006). Locks belong to classes (lockorder.ts); taking class B
 * while holding class A records the edge A -> B once, in a class graph in shared memory, with the
 * call sites that made it. A new edge that closes a cycle is reported in the kernel's wording, so an
 * inversion is found from lock chains alone, also in runs where the deadlock never happens.
 *
 * As in the kernel, the new lock depends directly only on the most recently taken lock (and any
 * trylocks above it); older held locks reach it through the chain.
 *
 * Each CPU keeps its held-lock stack in its per-CPU area (layout.ts: C_HELD), and a cache of chains
 * (held-class set × new class × context) already validated, so a chain is checked once per CPU.
 *
 * IRQ state, as the kernel's CONFIG_TRACE_IRQFLAGS part of lockdep (hardirqs only: the model has no
 * softirqs). Each class carries usage bits in shared memory (Layout.lockdepUsageBase), each with where
 * it was first seen: IN-HARDIRQ-W/R (acquired in hardirq context: a handler run by Cpu.hardirq, e.g.
 * the flush IPI's smp_invalidate_interrupt) and HARDIRQ-ON-W/R (acquired with the interrupt flag set,
 * or held when spin_unlock_irqrestore / spin_unlock_irq set it again: mark_held_locks). The read
 * variants are for down_read. Three reports, in the kernel's wording:
 * - "inconsistent lock state": a class gets IN-HARDIRQ and HARDIRQ-ON (the interrupt can arrive
 *   while the lock is held and spin on it forever) — valid_state;
 * - "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected": a new edge prev -> next connects a class
 *   used in hardirq (prev or any class before it) to a class taken with hardirqs on (next or any class
 *   after it) — check_usage, run on each new edge;
 * - "possible irq lock inversion dependency detected": the same pair, found when a usage bit appears
 *   on a class whose forward (IN-HARDIRQ) or backward (HARDIRQ-ON) dependencies already have the
 *   other bit — check_usage_forwards / check_usage_backwards in mark_lock.
 * Both sides of each pair are searched when either half appears, so the order in which CPUs record
 * edges and bits does not matter (and with sequentially consistent Atomics, two CPUs racing to record
 * the two halves cannot both miss each other). Locks taken in hardirq context form chains of their
 * own (the kernel's irq_context): no dependency is recorded between the locks a handler takes and the
 * locks the interrupted code holds. Trylocks mark HARDIRQ-ON only, as the kernel's.
 */
import type { Cpu } from '../../hw/cpu.js';
import * as L from '../../machine/layout.js';
import { LOCK_CLASS_COUNT, LOCK_CLASS_NAMES, SITE_NAMES } from './lockorder.js';

const NC = L.LOCKDEP_MAX_CLASSES;

/** A class's IRQ usage bits (bit numbers in its USAGE_MASK word). */
export const enum LockUsage {
  /** Acquired in hardirq context (hardirq-safe: the class must be taken with hardirqs off everywhere). */
  InHardirq = 0,
  /** Acquired, or held, with hardirqs enabled (hardirq-unsafe). */
  HardirqOn = 1,
  InHardirqRead = 2,
  HardirqOnRead = 3,
}
/** usage_str, in today's kernels' spelling. */
export const USAGE_STR: readonly string[] = ['IN-HARDIRQ-W', 'HARDIRQ-ON-W', 'IN-HARDIRQ-R', 'HARDIRQ-ON-R'];

/**
 * Where a usage bit was first seen (its USAGE_TRACE word): the CPU, the site that took the lock and,
 * when hardirqs were enabled while it was held rather than at its acquisition, the site of the lock
 * whose spin_unlock_irqrestore enabled them (0 otherwise).
 */
const packTrace = (cpu: number, site: number, enabledBy: number) => site | (enabledBy << 8) | ((cpu + 1) << 16);

/** An edge word packs the site that held A and the site that took B (plus one, so 0 means none). */
const packEdge = (heldSite: number, takeSite: number) => ((heldSite << 8) | takeSite) + 1;
const heldSiteOf = (e: number) => (e - 1) >>> 8;
const takeSiteOf = (e: number) => (e - 1) & 0xff;

export interface LockdepEdge {
  readonly from: number;
  readonly to: number;
  readonly heldSite: string;
  readonly takeSite: string;
}

/** Reads the class graph (for reports and tests). */
export function lockdepEdges(meta: Int32Array, lay: L.Layout): LockdepEdge[] {
  const out: LockdepEdge[] = [];
  for (let a = 0; a < LOCK_CLASS_COUNT; a++) {
    for (let b = 0; b < LOCK_CLASS_COUNT; b++) {
      const e = Atomics.load(meta, lay.lockdepBase + a * NC + b);
      if (e) out.push({ from: a, to: b, heldSite: SITE_NAMES[heldSiteOf(e)]!, takeSite: SITE_NAMES[takeSiteOf(e)]! });
    }
  }
  return out;
}

/** A path of classes from `from` to `to` in the graph (BFS, shortest), or null. */
function findPath(meta: Int32Array, base: number, from: number, to: number): number[] | null {
  const prev = new Int32Array(NC).fill(-2);
  prev[from] = -1;
  const queue = [from];
  while (queue.length) {
    const x = queue.shift()!;
    if (x === to) {
      const path: number[] = [];
      for (let v = to; v !== -1; v = prev[v]!) path.unshift(v);
      return path;
    }
    for (let y = 0; y < NC; y++) {
      if (prev[y] === -2 && Atomics.load(meta, base + x * NC + y) !== 0) {
        prev[y] = x;
        queue.push(y);
      }
    }
  }
  return null;
}

/** The hardirq-context flag (HELD_F_HARDIRQ) of what this CPU runs now. */
const ctxFlag = (cpu: Cpu): number => (cpu.meta[cpu.base + L.C_HARDIRQ]! > 0 ? L.HELD_F_HARDIRQ : 0);

/** The classes this CPU holds in context `ctx` (the top of its stack down to a context boundary), as a bit mask. */
function heldMask(cpu: Cpu, ctx: number): number {
  const b = cpu.base;
  const depth = cpu.meta[b + L.C_HELD_DEPTH]!;
  let mask = 0;
  for (let i = depth - 1; i >= 0; i--) {
    const h = b + L.C_HELD + i * L.HELD_FIELDS;
    if ((cpu.meta[h + L.HELD_TRYLOCK]! & L.HELD_F_HARDIRQ) !== ctx) break;
    mask |= 1 << cpu.meta[h + L.HELD_CLASS]!;
  }
  return mask;
}

/**
 * Validates taking a lock of class `cls` at `site` (for reading: `read`) with the CPU's current held
 * locks and IRQ state. Returns null, or the report of what this acquisition breaks: a circular
 * dependency, an inconsistent IRQ usage, or a hardirq-safe -> hardirq-unsafe order (the caller
 * raises it).
 */
export function lockdepAcquire(cpu: Cpu, cls: number, site: number, read = false): string | null {
  const meta = cpu.meta;
  const b = cpu.base;
  // mark_irqflags: the usage bits first, then the chain (so a new edge sees this acquisition's bits)
  const ctx = ctxFlag(cpu);
  if (ctx !== 0) {
    const r = markLock(cpu, cls, read ? LockUsage.InHardirqRead : LockUsage.InHardirq, site, site, 0);
    if (r) return r;
  }
  if (meta[b + L.C_IRQ] !== 0) {
    const r = markLock(cpu, cls, read ? LockUsage.HardirqOnRead : LockUsage.HardirqOn, site, site, 0);
    if (r) return r;
  }
  const key = ((heldMask(cpu, ctx) * NC + cls) << 1) | (ctx !== 0 ? 1 : 0);
  if (cpu.lockdepCache.has(key)) return null;
  const base = cpu.layout.lockdepBase;
  const depth = meta[b + L.C_HELD_DEPTH]!;
  // As the kernel's check_prevs_add: a dependency from the most recently taken lock, and from any
  // trylocks above it; the locks below were connected to it when it was taken, so the graph holds
  // their order transitively. Only locks of this context: a handler's chain starts afresh.
  for (let i = depth - 1; i >= 0; i--) {
    const h = b + L.C_HELD + i * L.HELD_FIELDS;
    const flags = meta[h + L.HELD_TRYLOCK]!;
    if ((flags & L.HELD_F_HARDIRQ) !== ctx) break;
    const a = meta[h + L.HELD_CLASS]!;
    if (a === cls) continue; // nesting within one class (two pte locks, two pages) is not an order
    const idx = base + a * NC + cls;
    if (Atomics.load(meta, idx) === 0 && Atomics.compareExchange(meta, idx, 0, packEdge(meta[h + L.HELD_SITE]!, site)) === 0) {
      // A new edge a -> cls: a cycle exists iff cls already reaches a.
      const path = findPath(meta, base, cls, a);
      if (path) return circularReport(cpu, a, meta[h + L.HELD_SITE]!, cls, site, path);
      // check_usage: does it connect a hardirq-safe class (a, or one before it) to a hardirq-unsafe
      // one (cls, or one after it)? Then for the read side of hardirq-safe.
      const r = checkUsage(cpu, a, meta[h + L.HELD_SITE]!, cls, site, LockUsage.InHardirq) ?? checkUsage(cpu, a, meta[h + L.HELD_SITE]!, cls, site, LockUsage.InHardirqRead);
      if (r) return r;
    }
    if (!(flags & L.HELD_F_TRYLOCK)) break;
  }
  cpu.lockdepCache.add(key);
  return null;
}

/** A trylock succeeded: only its HARDIRQ-ON usage is recorded (the kernel adds no dependency, and no IN-HARDIRQ, for a trylock). */
export function lockdepTrylock(cpu: Cpu, cls: number, site: number): string | null {
  if (cpu.meta[cpu.base + L.C_IRQ] === 0) return null;
  return markLock(cpu, cls, LockUsage.HardirqOn, site, site, 0);
}

/**
 * trace_hardirqs_on: this CPU is about to set its interrupt flag again (spin_unlock_irqrestore or
 * spin_unlock_irq of the lock taken at `enabledBy`) while it still holds locks: each of them becomes
 * HARDIRQ-ON (mark_held_locks). Returns null or a report.
 */
export function lockdepHardirqsOn(cpu: Cpu, enabledBy: number): string | null {
  const meta = cpu.meta;
  const b = cpu.base;
  const depth = meta[b + L.C_HELD_DEPTH]!;
  for (let i = 0; i < depth; i++) {
    const h = b + L.C_HELD + i * L.HELD_FIELDS;
    const read = (meta[h + L.HELD_TRYLOCK]! & L.HELD_F_READ) !== 0;
    const r = markLock(cpu, meta[h + L.HELD_CLASS]!, read ? LockUsage.HardirqOnRead : LockUsage.HardirqOn, meta[h + L.HELD_SITE]!, meta[h + L.HELD_SITE]!, enabledBy);
    if (r) return r;
  }
  return null;
}

/** Meta index of class `cls`'s usage record. */
const usageOf = (lay: L.Layout, cls: number) => lay.lockdepUsageBase + cls * L.USAGE_STRIDE;

/** The usage bits of every class (index = class), for reports and tests. */
export function lockdepUsage(meta: Int32Array, lay: L.Layout): number[] {
  return Array.from({ length: LOCK_CLASS_COUNT }, (_, c) => Atomics.load(meta, usageOf(lay, c) + L.USAGE_MASK));
}

/**
 * mark_lock: sets usage bit `bit` of class `cls` (taken at `site`; `traceSite`/`enabledBy` are what its
 * trace records) and, if it is new, validates the state transition as the kernel's mark_lock_irq.
 */
function markLock(cpu: Cpu, cls: number, bit: LockUsage, site: number, traceSite: number, enabledBy: number): string | null {
  const meta = cpu.meta;
  const u = usageOf(cpu.layout, cls);
  const m = 1 << bit;
  if (meta[u + L.USAGE_MASK]! & m) return null; // set already: nothing to check (a stale read only takes the slow way)
  Atomics.compareExchange(meta, u + L.USAGE_TRACE + bit, 0, packTrace(cpu.id, traceSite, enabledBy));
  const old = Atomics.or(meta, u + L.USAGE_MASK, m);
  if (old & m) return null;
  // valid_state: the bits this one excludes on the same class
  const bad = EXCLUDES[bit]!;
  for (const x of bad) if (old & (1 << x)) return usageBugReport(cpu, cls, site, x, bit);
  // the class's dependencies: forwards for a hardirq-safe bit, backwards for a hardirq-unsafe one
  for (const [other, forwards] of SEARCHES[bit]!) {
    const path = findUsage(meta, cpu.layout, cls, other, forwards);
    if (path) return inversionReport(cpu, cls, site, bit, other, forwards, path);
  }
  return null;
}

/** valid_state's pairs: a new bit (index) and the bits of the same class it conflicts with. */
const EXCLUDES: ReadonlyArray<readonly LockUsage[]> = [
  /* InHardirq */ [LockUsage.HardirqOn, LockUsage.HardirqOnRead],
  /* HardirqOn */ [LockUsage.InHardirq, LockUsage.InHardirqRead],
  /* InHardirqRead */ [LockUsage.HardirqOn],
  /* HardirqOnRead */ [LockUsage.InHardirq],
];
/** mark_lock_irq's searches (STRICT_READ_CHECKS): [bit to find, forwards?] for each new bit. */
const SEARCHES: ReadonlyArray<ReadonlyArray<readonly [LockUsage, boolean]>> = [
  /* InHardirq */ [[LockUsage.HardirqOn, true], [LockUsage.HardirqOnRead, true]],
  /* HardirqOn */ [[LockUsage.InHardirq, false], [LockUsage.InHardirqRead, false]],
  /* InHardirqRead */ [[LockUsage.HardirqOn, true]],
  /* HardirqOnRead */ [[LockUsage.InHardirq, false]],
];

/**
 * find_usage_forwards / find_usage_backwards: the shortest path of classes from `from` (itself
 * included) along the edges (against them when `forwards` is false) to a class with usage bit `bit`,
 * or null. The path starts at `from` and ends at the match.
 */
function findUsage(meta: Int32Array, lay: L.Layout, from: number, bit: LockUsage, forwards: boolean): number[] | null {
  const base = lay.lockdepBase;
  const prev = new Int32Array(NC).fill(-2);
  prev[from] = -1;
  const queue = [from];
  while (queue.length) {
    const x = queue.shift()!;
    if (Atomics.load(meta, usageOf(lay, x) + L.USAGE_MASK) & (1 << bit)) {
      const path: number[] = [];
      for (let v = x; v !== -1; v = prev[v]!) path.unshift(v);
      return path;
    }
    for (let y = 0; y < NC; y++) {
      if (prev[y] !== -2) continue;
      if (Atomics.load(meta, forwards ? base + x * NC + y : base + y * NC + x) !== 0) {
        prev[y] = x;
        queue.push(y);
      }
    }
  }
  return null;
}

/**
 * check_usage on a new edge prev -> next: a class with `safeBit` (IN-HARDIRQ-W or -R) at or before
 * prev, and a class with HARDIRQ-ON-W at or after next? Then the report.
 */
function checkUsage(cpu: Cpu, prev: number, prevSite: number, next: number, site: number, safeBit: LockUsage): string | null {
  const back = findUsage(cpu.meta, cpu.layout, prev, safeBit, false);
  if (!back) return null;
  const fwd = findUsage(cpu.meta, cpu.layout, next, LockUsage.HardirqOn, true);
  if (!fwd) return null;
  return badIrqDependencyReport(cpu, prev, prevSite, next, site, safeBit, back.reverse(), fwd);
}

const cname = (c: number) => LOCK_CLASS_NAMES[c] ?? `class${c}`;

/**
 * The kernel's print_circular_bug, in its wording: the acquisition, the held lock, and the existing
 * dependency chain in reverse order, each entry with the sites of the edge that created it.
 */
function circularReport(cpu: Cpu, held: number, heldSite: number, taking: number, site: number, path: number[]): string {
  const meta = cpu.meta;
  const base = cpu.layout.lockdepBase;
  const lines: string[] = [];
  lines.push('======================================================');
  lines.push('WARNING: possible circular locking dependency detected');
  lines.push('------------------------------------------------------');
  lines.push(`cpu${cpu.id} is trying to acquire lock:`);
  lines.push(` (${cname(taking)}), at: ${SITE_NAMES[site]}`);
  lines.push('');
  lines.push('but task is already holding lock:');
  lines.push(` (${cname(held)}), at: ${SITE_NAMES[heldSite]}`);
  lines.push('');
  lines.push('which lock already depends on the new lock.');
  lines.push('');
  lines.push('the existing dependency chain (in reverse order) is:');
  // path: taking -> x1 -> ... -> held. Entry #k is the lock at the end of the k-th edge.
  for (let k = path.length - 1; k >= 1; k--) {
    const e = Atomics.load(meta, base + path[k - 1]! * NC + path[k]!);
    lines.push('');
    lines.push(`-> #${k} (${cname(path[k]!)}):`);
    lines.push(`       ${SITE_NAMES[takeSiteOf(e)]}  (taken while holding ${cname(path[k - 1]!)} from ${SITE_NAMES[heldSiteOf(e)]})`);
  }
  lines.push('');
  lines.push(`-> #0 (${cname(taking)}):`);
  lines.push(`       ${SITE_NAMES[site]}  (taken while holding ${cname(held)} from ${SITE_NAMES[heldSite]})`);
  lines.push('');
  lines.push('other info that might help us debug this:');
  lines.push('');
  if (path.length === 2) {
    lines.push(' Possible unsafe locking scenario:');
    lines.push('');
    lines.push('       CPU0                    CPU1');
    lines.push('       ----                    ----');
    lines.push(`  lock(${cname(held)});`);
    lines.push(`                               lock(${cname(taking)});`);
    lines.push(`                               lock(${cname(held)});`);
    lines.push(`  lock(${cname(taking)});`);
    lines.push('');
    lines.push(' *** DEADLOCK ***');
  } else {
    lines.push(` Chain exists of:\n   ${path.map(cname).join(' --> ')} --> ${cname(taking)}`);
  }
  lines.push('');
  lines.push(`${meta[cpu.base + L.C_HELD_DEPTH]} lock(s) held by cpu${cpu.id}:`);
  lines.push(...heldLocksLines(meta, cpu.layout, cpu.id));
  return lines.join('\n');
}

// ------------------------------------------------------------------ IRQ-state reports

/** get_usage_char (today's kernels) for the hardirq write and read states: '.', '-' in hardirq, '+' hardirqs on, '?' both. */
function usageChars(meta: Int32Array, lay: L.Layout, cls: number): string {
  const u = Atomics.load(meta, usageOf(lay, cls) + L.USAGE_MASK);
  const ch = (inIrq: LockUsage, on: LockUsage) => (u & (1 << on) ? (u & (1 << inIrq) ? '?' : '+') : u & (1 << inIrq) ? '-' : '.');
  return `{${ch(LockUsage.InHardirq, LockUsage.HardirqOn)}${ch(LockUsage.InHardirqRead, LockUsage.HardirqOnRead)}}`;
}

/** print_lock_name: the class and its usage characters. */
const lockName = (cpu: Cpu, cls: number) => `(${cname(cls)})${usageChars(cpu.meta, cpu.layout, cls)}`;

/** The task's IRQ state as the kernel prints it ([HC<hardirq context>[<count>]:HE<hardirqs enabled>]; no softirqs here). */
function irqState(cpu: Cpu): string {
  const hc = cpu.meta[cpu.base + L.C_HARDIRQ]!;
  return `[HC${hc > 0 ? 1 : 0}[${hc}]:HE${cpu.meta[cpu.base + L.C_IRQ] !== 0 ? 1 : 0}]`;
}

/** The usage trace of `bit` of `cls`: where it was first seen. */
function traceLine(meta: Int32Array, lay: L.Layout, cls: number, bit: LockUsage): string {
  const w = Atomics.load(meta, usageOf(lay, cls) + L.USAGE_TRACE + bit);
  if (w === 0) return '  (not recorded yet)';
  const site = w & 0xff;
  const by = (w >>> 8) & 0xff;
  const how =
    bit === LockUsage.InHardirq || bit === LockUsage.InHardirqRead
      ? 'in hardirq context'
      : by !== 0
        ? `held when spin_unlock_irqrestore of the lock taken at ${SITE_NAMES[by]} enabled hardirqs`
        : 'hardirqs enabled';
  return `  ${SITE_NAMES[site]} (cpu${(w >>> 16) - 1}, ${how})`;
}

/** The edges of a class path, each with the sites that made it. */
function pathLines(meta: Int32Array, base: number, path: readonly number[]): string[] {
  const out: string[] = [];
  if (path.length < 2) return [` (${cname(path[0]!)}): the same lock`];
  for (let k = 1; k < path.length; k++) {
    const e = Atomics.load(meta, base + path[k - 1]! * NC + path[k]!);
    out.push(` -> (${cname(path[k]!)}) taken at ${SITE_NAMES[takeSiteOf(e)]} while holding (${cname(path[k - 1]!)}) from ${SITE_NAMES[heldSiteOf(e)]}`);
  }
  return out;
}

/** print_irq_lock_scenario, with the whole chain (safe ... unsafe) when it has more than two classes. */
function irqScenario(chain: readonly number[]): string[] {
  const safe = chain[0]!;
  const unsafe = chain[chain.length - 1]!;
  const middle = chain.length > 2 ? chain[chain.length - 2]! : unsafe;
  const lines: string[] = [];
  if (chain.length > 2) lines.push(' Chain exists of:', `   ${chain.map(cname).join(' --> ')}`, '');
  lines.push(' Possible interrupt unsafe locking scenario:', '');
  lines.push('       CPU0                    CPU1');
  lines.push('       ----                    ----');
  lines.push(`  lock(${cname(unsafe)});`);
  lines.push('                               local_irq_disable();');
  lines.push(`                               lock(${cname(safe)});`);
  lines.push(`                               lock(${cname(middle)});`);
  lines.push('  <Interrupt>');
  lines.push(`    lock(${cname(safe)});`);
  lines.push('', ' *** DEADLOCK ***');
  return lines;
}

function heldTail(cpu: Cpu): string[] {
  return ['', `${cpu.meta[cpu.base + L.C_HELD_DEPTH]} lock(s) held by cpu${cpu.id}:`, ...heldLocksLines(cpu.meta, cpu.layout, cpu.id)];
}

/** print_usage_bug: class `cls`, taken at `site`, gets `newBit` while it has `prevBit`. */
function usageBugReport(cpu: Cpu, cls: number, site: number, prevBit: LockUsage, newBit: LockUsage): string {
  const lines = [
    '================================',
    'WARNING: inconsistent lock state',
    '--------------------------------',
    `inconsistent {${USAGE_STR[prevBit]}} -> {${USAGE_STR[newBit]}} usage.`,
    `cpu${cpu.id} ${irqState(cpu)} takes:`,
    ` ${lockName(cpu, cls)}, at: ${SITE_NAMES[site]}`,
    `{${USAGE_STR[prevBit]}} state was registered at:`,
    traceLine(cpu.meta, cpu.layout, cls, prevBit),
    `{${USAGE_STR[newBit]}} state is this one:`,
    traceLine(cpu.meta, cpu.layout, cls, newBit),
    '',
    'other info that might help us debug this:',
    ' Possible unsafe locking scenario:',
    '',
    '       CPU0',
    '       ----',
    `  lock(${cname(cls)});`,
    '  <Interrupt>',
    `    lock(${cname(cls)});`,
    '',
    ' *** DEADLOCK ***',
    ...heldTail(cpu),
  ];
  return lines.join('\n');
}

/**
 * print_bad_irq_dependency: the new edge prev -> next connects `back` (safe class ... prev) to `fwd`
 * (next ... unsafe class).
 */
function badIrqDependencyReport(cpu: Cpu, prev: number, prevSite: number, next: number, site: number, safeBit: LockUsage, back: number[], fwd: number[]): string {
  const irqclass = safeBit === LockUsage.InHardirqRead ? 'HARDIRQ-READ' : 'HARDIRQ';
  const safe = back[0]!;
  const unsafe = fwd[fwd.length - 1]!;
  const base = cpu.layout.lockdepBase;
  const lines = [
    '=====================================================',
    `WARNING: ${irqclass}-safe -> ${irqclass}-unsafe lock order detected`,
    '-----------------------------------------------------',
    `cpu${cpu.id} ${irqState(cpu)} is trying to acquire:`,
    ` ${lockName(cpu, next)}, at: ${SITE_NAMES[site]}`,
    '',
    'and this task is already holding:',
    ` ${lockName(cpu, prev)}, at: ${SITE_NAMES[prevSite]}`,
    'which would create a new lock dependency:',
    ` ${lockName(cpu, prev)} -> ${lockName(cpu, next)}`,
    '',
    `but this new dependency connects a ${irqclass}-irq-safe lock:`,
    ` ${lockName(cpu, safe)}`,
    '',
    `... which became ${irqclass}-irq-safe at:`,
    traceLine(cpu.meta, cpu.layout, safe, safeBit),
    '',
    `to a ${irqclass}-irq-unsafe lock:`,
    ` ${lockName(cpu, unsafe)}`,
    '',
    `... which became ${irqclass}-irq-unsafe at:`,
    '...',
    traceLine(cpu.meta, cpu.layout, unsafe, LockUsage.HardirqOn),
    '',
    'other info that might help us debug this:',
    '',
    ...irqScenario([...back, ...fwd]),
    ...heldTail(cpu),
    '',
    `the dependencies between ${irqclass}-irq-safe lock and the holding lock:`,
    ...pathLines(cpu.meta, base, back),
    '',
    `the dependencies between the lock to be acquired and ${irqclass}-irq-unsafe lock:`,
    ...pathLines(cpu.meta, base, fwd),
  ];
  return lines.join('\n');
}

/**
 * print_irq_inversion_bug: class `cls` (taken at `site`) just got `bit`; `path` leads from it to a
 * class with `otherBit`, along the edges (`forwards`: cls is hardirq-safe and took an unsafe class)
 * or against them (cls is hardirq-unsafe and was taken under a safe class).
 */
function inversionReport(cpu: Cpu, cls: number, site: number, bit: LockUsage, otherBit: LockUsage, forwards: boolean, path: number[]): string {
  const other = path[path.length - 1]!;
  const irqclass = bit === LockUsage.InHardirqRead || otherBit === LockUsage.InHardirqRead ? 'HARDIRQ-READ' : 'HARDIRQ';
  // the chain in lock order: safe ... unsafe
  const chain = forwards ? path : [...path].reverse();
  const lines = [
    '========================================================',
    'WARNING: possible irq lock inversion dependency detected',
    '--------------------------------------------------------',
    `cpu${cpu.id} ${irqState(cpu)} just changed the state of lock:`,
    ` ${lockName(cpu, cls)}, at: ${SITE_NAMES[site]}`,
    forwards ? `but this lock took another, ${irqclass}-unsafe lock in the past:` : `but this lock was taken by another, ${irqclass}-safe lock in the past:`,
    ` ${lockName(cpu, other)}`,
    '',
    '',
    'and interrupts could create inverse lock ordering between them.',
    '',
    `{${USAGE_STR[bit]}} state of ${cname(cls)} was registered at:`,
    traceLine(cpu.meta, cpu.layout, cls, bit),
    `{${USAGE_STR[otherBit]}} state of ${cname(other)} was registered at:`,
    traceLine(cpu.meta, cpu.layout, other, otherBit),
    '',
    'other info that might help us debug this:',
    ...irqScenario(chain),
    ...heldTail(cpu),
    '',
    'the shortest dependencies between 2nd lock and 1st lock:',
    ...pathLines(cpu.meta, cpu.layout.lockdepBase, chain),
  ];
  return lines.join('\n');
}

/**
 * A wait for other CPUs' interrupts (flush_tlb_others waiting for acknowledgements) with this CPU's
 * interrupt flag clear, or in hardirq context: the kernel's WARN_ON(irqs_disabled()) of
 * smp_call_function. Two such CPUs flushing each other never acknowledge. Null if the flag is set.
 */
export function irqsOffWaitReport(cpu: Cpu, what: string): string | null {
  const b = cpu.base;
  if (cpu.meta[b + L.C_IRQ] !== 0 && cpu.meta[b + L.C_HARDIRQ] === 0) return null;
  return [
    '------------[ cut here ]------------',
    `WARNING: ${what} with hardirqs disabled`,
    `cpu${cpu.id} ${irqState(cpu)} would wait for other CPUs' interrupt handlers with its own interrupts off:`,
    'a target that flushes this CPU meanwhile waits for it in turn, and neither acknowledges.',
    ...heldTail(cpu),
  ].join('\n');
}

/** "#0: (&mapping->private_lock), at: try_to_free_buffers" lines for one CPU's held locks. */
export function heldLocksLines(meta: Int32Array, lay: L.Layout, cpuId: number): string[] {
  const b = lay.cpu(cpuId);
  const depth = Math.min(Atomics.load(meta, b + L.C_HELD_DEPTH), L.HELD_MAX);
  const out: string[] = [];
  for (let i = 0; i < depth; i++) {
    const h = b + L.C_HELD + i * L.HELD_FIELDS;
    out.push(` #${i}: (${cname(meta[h + L.HELD_CLASS]!)}){lock@${meta[h + L.HELD_LOCK]}}, at: ${SITE_NAMES[meta[h + L.HELD_SITE]!]}`);
  }
  return out;
}
