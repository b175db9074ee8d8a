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
 * (held-class set × new class) already validated, so a chain is checked once per CPU.
 */
import type { Cpu } from '../../hw/cpu.js';
import * as L from '../../machine/layout.js';
import { LOCK_CLASS_COUNT, LOCK_CLASS_NAMES, SITE_NAMES } from './lockorder.js';

const NC = L.LOCKDEP_MAX_CLASSES;

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

/** The held-class set of a CPU, as a bit mask. */
function heldMask(cpu: Cpu): number {
  const b = cpu.base;
  const depth = cpu.meta[b + L.C_HELD_DEPTH]!;
  let mask = 0;
  for (let i = 0; i < depth; i++) mask |= 1 << cpu.meta[b + L.C_HELD + i * L.HELD_FIELDS + L.HELD_CLASS]!;
  return mask;
}

/**
 * Validates taking a lock of class `cls` at `site` with the CPU's current held locks. Returns null,
 * or the report of the circular dependency this acquisition closes (the caller raises it).
 */
export function lockdepAcquire(cpu: Cpu, cls: number, site: number): string | null {
  const key = heldMask(cpu) * NC + cls;
  if (cpu.lockdepCache.has(key)) return null;
  const meta = cpu.meta;
  const base = cpu.layout.lockdepBase;
  const b = cpu.base;
  const depth = meta[b + L.C_HELD_DEPTH]!;
  // As the kernel's check_prevs_add: a dependency from the most recently taken lock, and from any
  // trylocks above it; the locks below were connected to it when it was taken, so the graph holds
  // their order transitively.
  for (let i = depth - 1; i >= 0; i--) {
    const h = b + L.C_HELD + i * L.HELD_FIELDS;
    const a = meta[h + L.HELD_CLASS]!;
    if (a === cls) continue; // nesting within one class (two pte locks, two pages) is not an order
    const idx = base + a * NC + cls;
    if (Atomics.load(meta, idx) === 0 && Atomics.compareExchange(meta, idx, 0, packEdge(meta[h + L.HELD_SITE]!, site)) === 0) {
      // A new edge a -> cls: a cycle exists iff cls already reaches a.
      const path = findPath(meta, base, cls, a);
      if (path) return circularReport(cpu, a, meta[h + L.HELD_SITE]!, cls, site, path);
    }
    if (!meta[h + L.HELD_TRYLOCK]) break;
  }
  cpu.lockdepCache.add(key);
  return null;
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
