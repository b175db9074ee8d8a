/**
 * x86-64 page-table entries, bit positions from the Intel SDM vol. 3, §4.5 (4-level paging).
 *
 * An entry is 64 bits stored as two 32-bit words: the low half holds every flag this model uses and
 * PFN bits 12..31 (4 GiB of physical memory); the high half holds NX (bit 63 = bit 31 of the high half)
 * and PFN bits 32..51, which stay zero here. Every flag update is one atomic operation on the low half,
 * as the hardware's locked read-modify-write is.
 */
export const PTE_P = 1 << 0; // present
export const PTE_RW = 1 << 1; // writable
export const PTE_US = 1 << 2; // user
export const PTE_PWT = 1 << 3;
export const PTE_PCD = 1 << 4;
export const PTE_A = 1 << 5; // accessed
export const PTE_D = 1 << 6; // dirty (final level only)
export const PTE_PS = 1 << 7; // page size / PAT at the last level
export const PTE_G = 1 << 8; // global
export const PTE_NX_HI = 1 << 31; // bit 63, in the high half
export const PTE_FLAGS_MASK = 0xfff;
export const PTE_PFN_SHIFT = 12;

/** Page-fault error code bits (SDM vol. 3, §4.7). A user write to a present read-only page is 0x7. */
export const PF_PROT = 1 << 0;
export const PF_WRITE = 1 << 1;
export const PF_USER = 1 << 2;
export const PF_RSVD = 1 << 3;
export const PF_INSTR = 1 << 4;

import type { Pfn } from '../handles.js';

export const ENTRIES_PER_TABLE = 512;
export const LEVELS = 4;

export const ptePfn = (lo: number): Pfn => (lo >>> PTE_PFN_SHIFT) as Pfn;
export const mkPte = (pfn: Pfn, flags: number): number => ((pfn << PTE_PFN_SHIFT) | (flags & PTE_FLAGS_MASK)) | 0;
export const ptePresent = (lo: number): boolean => (lo & PTE_P) !== 0;
export const pteWrite = (lo: number): boolean => (lo & PTE_RW) !== 0;
export const pteDirty = (lo: number): boolean => (lo & PTE_D) !== 0;
export const pteYoung = (lo: number): boolean => (lo & PTE_A) !== 0;
export const pteNone = (lo: number): boolean => lo === 0;
export const pteMkclean = (lo: number): number => lo & ~PTE_D;
export const pteWrprotect = (lo: number): number => lo & ~PTE_RW;
export const pteMkdirty = (lo: number): number => lo | PTE_D;
export const pteMkyoung = (lo: number): number => lo | PTE_A;
export const pteMkwrite = (lo: number): number => lo | PTE_RW;

/** Index of the entry for `vpn` in the table of `level` (4 = PML4 ... 1 = PT). */
export const tableIndex = (vpn: number, level: number): number => (vpn >>> (9 * (level - 1))) & 511; // vpn < 2^31 (TASK_SIZE)

/** Human form, ptdump style: "RW user ACC DIRTY" etc. */
export function pteString(lo: number): string {
  if (!ptePresent(lo)) return lo === 0 ? 'none' : `not-present 0x${(lo >>> 0).toString(16)}`;
  const p = [`pfn=${ptePfn(lo)}`, lo & PTE_RW ? 'RW' : 'ro', lo & PTE_US ? 'USR' : '   ', lo & PTE_A ? 'ACC' : '   ', lo & PTE_D ? 'DIRTY' : '     '];
  return p.join(' ');
}
