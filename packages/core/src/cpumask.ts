/**
 * CPU masks (the kernel's cpumask_t): one bit per CPU in MASK_WORDS 32-bit words, CPU c at bit
 * c & 31 of word c >>> 5. Every per-CPU set is one: an mm's cpu_vm_mask and the IPI initiators and
 * flush targets in shared memory (meta words, changed with Atomics one word at a time), a flush's
 * target list, and the deterministic scheduler's blocked and enabled sets (CpuMask arrays).
 *
 * The helpers below work on CpuMask arrays and allocate nothing, except `maskOf` and `maskList`
 * (set-up, tests and reports). Hot callers keep one scratch mask each and refill it. Iteration is in
 * CPU order (word 0 first), so for machines of at most 32 CPUs every helper gives what the one-word
 * mask arithmetic it replaced gave.
 */
import { MASK_WORDS } from './config.js';

/** A set of CPUs: MASK_WORDS words. */
export type CpuMask = Int32Array;

/** An empty mask. */
export function newMask(): CpuMask {
  return new Int32Array(MASK_WORDS);
}

/** A mask of the CPUs listed (set-up and tests). */
export function maskOf(cpus: Iterable<number>): CpuMask {
  const m = newMask();
  for (const c of cpus) maskSet(m, c);
  return m;
}

/** The CPUs of `m`, in increasing order (reports). */
export function maskList(m: CpuMask): number[] {
  const out: number[] = [];
  for (let w = 0; w < m.length; w++) for (let j = 0; j < 32; j++) if (m[w]! & (1 << j)) out.push((w << 5) | j);
  return out;
}

export function maskHas(m: CpuMask, c: number): boolean {
  return (m[c >>> 5]! & (1 << (c & 31))) !== 0;
}

export function maskSet(m: CpuMask, c: number): void {
  m[c >>> 5]! |= 1 << (c & 31);
}

export function maskUnset(m: CpuMask, c: number): void {
  m[c >>> 5]! &= ~(1 << (c & 31));
}

/** Empties `m`. */
export function maskClear(m: CpuMask): void {
  for (let w = 0; w < m.length; w++) m[w] = 0;
}

/** Makes `m` the first `n` CPUs (0 .. n-1). */
export function maskFill(m: CpuMask, n: number): void {
  for (let w = 0; w < m.length; w++) {
    const k = n - (w << 5);
    m[w] = k >= 32 ? -1 : k <= 0 ? 0 : (1 << k) - 1;
  }
}

export function maskIsEmpty(m: CpuMask): boolean {
  for (let w = 0; w < m.length; w++) if (m[w] !== 0) return false;
  return true;
}

/** Number of CPUs in `m`. */
export function maskCount(m: CpuMask): number {
  let n = 0;
  for (let w = 0; w < m.length; w++) n += popcount32(m[w]!);
  return n;
}

/** The k-th (0-based) CPU of `m` in increasing order, or -1 if `m` has no more than k CPUs. */
export function maskNth(m: CpuMask, k: number): number {
  for (let w = 0; w < m.length; w++) {
    let x = m[w]!;
    const n = popcount32(x);
    if (k >= n) {
      k -= n;
      continue;
    }
    for (; k > 0; k--) x &= x - 1; // drop the lowest k bits
    return (w << 5) | (31 - Math.clz32(x & -x));
  }
  return -1;
}

/** Number of set bits of one 32-bit word. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
