/**
 * The owned-word oracle's report, written once for every place that finds a lost write (a CPU's read
 * of its own word, an msync's contract, a page evicted as clean, the end-of-run backing store): where
 * the word is, and why its value is wrong.
 */

/** A word of a file: page `page`, word `word` (32-bit words, WORDS_PER_PAGE of them per page). */
export interface WordAt {
  readonly file: number;
  readonly page: number;
  readonly word: number;
}

/** "lost write at file F page P word W: <why>". */
export function lostWriteMessage(at: WordAt, why: string): string {
  return `lost write at file ${at.file} page ${at.page} word ${at.word}: ${why}`;
}

/** The violation details of a lost write: where, what the owner wrote, what was seen, when it was checked. */
export function lostWriteDetails(at: WordAt, expected: number, seen: number, when: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { file: at.file, page: at.page, word: at.word, expected, seen, when, ...extra };
}

/**
 * The clean-page oracle's words (kernel/disk.ts at a write's completion: memory against what that write
 * carried; kernel/page-writeback.ts at a write fault: memory against the backing store, which holds the
 * page's last writeback or, never written back, what it was read from), while the page is clean.
 */
export function storeIntoCleanPageMessage(at: WordAt, memory: number, reference: number, when: 'a write fault' | 'the completion of its write'): string {
  const ref = when === 'a write fault' ? `the backing store holds ${reference}` : `that write carried ${reference}`;
  return lostWriteMessage(at, `${when} found the page clean, but memory holds ${memory} and ${ref}: a store reached the page after it was last cleaned and no dirty bit records it`);
}

/**
 * The first of `n` words at which `a` from word `ai` and `b` from word `bi` differ, or -1 (byte views of
 * a machine's arrays: Machine.memBytes, metaBytes, diskBytes): one native comparison when they are
 * equal, no allocation.
 */
export function firstDifference(a: Buffer, ai: number, b: Buffer, bi: number, n: number): number {
  if (a.compare(b, bi * 4, (bi + n) * 4, ai * 4, (ai + n) * 4) === 0) return -1;
  for (let w = 0; w < n; w++) if (a.readInt32LE((ai + w) * 4) !== b.readInt32LE((bi + w) * 4)) return w;
  return -1;
}
