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
