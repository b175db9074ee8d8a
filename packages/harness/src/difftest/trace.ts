/**
 * The differential-test trace format, version 1 (FIDELITY-REVIEW.md C2): one operation per line on one
 * file, `#` comments, run single-threaded by the host kernel (difftest/host.ts) and by smpsim
 * (difftest/sim.ts). The README documents it; parseTrace checks every line and names the bad one.
 *
 *   version 1                                  first op line
 *   file PAGES                                 the test file: PAGES pages of zeros on disk, none cached
 *   map SLOT PGOFF PAGES rw|r shared|private [random]
 *   unmap SLOT
 *   store SLOT PAGE WORD VALUE                 PAGE counts from the mapping's first page
 *   load SLOT PAGE WORD
 *   mprotect SLOT PAGE N rw|r
 *   msync SLOT PAGE N sync|async
 *   fsync
 *   pread PAGE WORD                            PAGE counts from the file's first page
 *   pwrite PAGE WORD VALUE
 *   ftruncate PAGES
 *   stat [PAGE N]                              page-cache state: cached, dirty, writeback pages
 *   io                                         pages dirtied so far
 */
import { UsageError } from '../parse.js';

export const TRACE_VERSION = 1;
/** Mapping slots a trace may name (0..MAX_SLOTS-1). */
export const MAX_SLOTS = 16;
export const WORDS_PER_PAGE = 1024;

export type TraceOp =
  | { op: 'file'; pages: number }
  | { op: 'map'; slot: number; pgoff: number; pages: number; write: boolean; shared: boolean; random: boolean }
  | { op: 'unmap'; slot: number }
  | { op: 'store'; slot: number; page: number; word: number; value: number }
  | { op: 'load'; slot: number; page: number; word: number }
  | { op: 'mprotect'; slot: number; page: number; n: number; write: boolean }
  | { op: 'msync'; slot: number; page: number; n: number; sync: boolean }
  | { op: 'fsync' }
  | { op: 'pread'; page: number; word: number }
  | { op: 'pwrite'; page: number; word: number; value: number }
  | { op: 'ftruncate'; pages: number }
  | { op: 'stat'; page?: number; n?: number }
  | { op: 'io' };

/** An op with the line it came from (1-based) and its text. */
export type TraceLine = TraceOp & { line: number; text: string };

export interface Trace {
  /** Where it came from (a path, or a description of a generated trace). */
  readonly name: string;
  readonly lines: readonly TraceLine[];
}

const ARITY: Record<TraceOp['op'], number[]> = {
  file: [1],
  map: [5, 6],
  unmap: [1],
  store: [4],
  load: [3],
  mprotect: [4],
  msync: [4],
  fsync: [0],
  pread: [2],
  pwrite: [3],
  ftruncate: [1],
  stat: [0, 2],
  io: [0],
};

/** Parses a trace; throws UsageError naming the file and line of the first bad line. */
export function parseTrace(text: string, name: string): Trace {
  const lines: TraceLine[] = [];
  let versionSeen = false;
  const src = text.split('\n');
  for (let i = 0; i < src.length; i++) {
    const raw = src[i]!;
    const body = raw.replace(/#.*$/, '').trim();
    if (!body) continue;
    const at = `${name}:${i + 1}`;
    const bad = (why: string): never => {
      throw new UsageError(`${at}: ${why}: '${body}'`);
    };
    const [op, ...args] = body.split(/\s+/);
    if (!versionSeen) {
      if (op !== 'version') bad(`the first line must be 'version ${TRACE_VERSION}'`);
      if (args.length !== 1 || args[0] !== String(TRACE_VERSION)) bad(`unsupported trace version (this smpsim reads version ${TRACE_VERSION})`);
      versionSeen = true;
      continue;
    }
    if (!(op! in ARITY)) bad(`unknown op '${op}' (one of: ${Object.keys(ARITY).join(', ')})`);
    const kind = op as TraceOp['op'];
    if (!ARITY[kind].includes(args.length)) bad(`${kind} takes ${ARITY[kind].join(' or ')} argument(s), got ${args.length}`);
    const int = (k: number, what: string, min: number, max = 2 ** 31 - 1): number => {
      const v = args[k]!;
      if (!/^-?\d+$/.test(v)) bad(`${what} must be an integer, got '${v}'`);
      const n = Number(v);
      if (n < min || n > max) bad(`${what} must be from ${min} to ${max}, got ${n}`);
      return n;
    };
    const pick = (k: number, what: string, yes: string, no: string): boolean => {
      if (args[k] === yes) return true;
      if (args[k] === no) return false;
      return bad(`${what} must be ${yes} or ${no}, got '${args[k]}'`);
    };
    const slot = () => int(0, 'SLOT', 0, MAX_SLOTS - 1);
    const word = (k: number) => int(k, 'WORD', 0, WORDS_PER_PAGE - 1);
    const value = (k: number) => int(k, 'VALUE', -(2 ** 31));
    let o: TraceOp;
    switch (kind) {
      case 'file':
        o = { op: kind, pages: int(0, 'PAGES', 1, 4096) };
        break;
      case 'map':
        if (args.length === 6 && args[5] !== 'random') bad(`the last word of map may only be 'random', got '${args[5]}'`);
        o = { op: kind, slot: slot(), pgoff: int(1, 'PGOFF', 0), pages: int(2, 'PAGES', 1), write: pick(3, 'protection', 'rw', 'r'), shared: pick(4, 'sharing', 'shared', 'private'), random: args.length === 6 };
        break;
      case 'unmap':
        o = { op: kind, slot: slot() };
        break;
      case 'store':
        o = { op: kind, slot: slot(), page: int(1, 'PAGE', 0), word: word(2), value: value(3) };
        break;
      case 'load':
        o = { op: kind, slot: slot(), page: int(1, 'PAGE', 0), word: word(2) };
        break;
      case 'mprotect':
        o = { op: kind, slot: slot(), page: int(1, 'PAGE', 0), n: int(2, 'N', 1), write: pick(3, 'protection', 'rw', 'r') };
        break;
      case 'msync':
        o = { op: kind, slot: slot(), page: int(1, 'PAGE', 0), n: int(2, 'N', 1), sync: pick(3, 'mode', 'sync', 'async') };
        break;
      case 'pread':
        o = { op: kind, page: int(0, 'PAGE', 0), word: word(1) };
        break;
      case 'pwrite':
        o = { op: kind, page: int(0, 'PAGE', 0), word: word(1), value: value(2) };
        break;
      case 'ftruncate':
        o = { op: kind, pages: int(0, 'PAGES', 0, 4096) };
        break;
      case 'stat':
        o = args.length ? { op: kind, page: int(0, 'PAGE', 0), n: int(1, 'N', 1) } : { op: kind };
        break;
      default:
        o = { op: kind } as TraceOp;
    }
    if (o.op === 'file' ? lines.length !== 0 : lines.length === 0) bad(o.op === 'file' ? `'file' may appear once, as the first op after 'version'` : `the first op after 'version' must be 'file PAGES'`);
    lines.push({ ...o, line: i + 1, text: body });
  }
  if (!versionSeen) throw new UsageError(`${name}: empty trace (no 'version ${TRACE_VERSION}' line)`);
  if (lines.length === 0) throw new UsageError(`${name}: no 'file PAGES' line`);
  checkSlots(lines, name);
  return { name, lines };
}

/**
 * The checks that need the trace's state: a slot is mapped before use and not mapped twice, and every
 * page an op names lies inside its mapping. Both runners rely on them.
 */
function checkSlots(lines: readonly TraceLine[], name: string): void {
  const maps = new Map<number, { pages: number }>();
  for (const l of lines) {
    const bad = (why: string): never => {
      throw new UsageError(`${name}:${l.line}: ${why}: '${l.text}'`);
    };
    switch (l.op) {
      case 'map':
        if (maps.has(l.slot)) bad(`slot ${l.slot} is already mapped`);
        maps.set(l.slot, { pages: l.pages });
        break;
      case 'unmap':
        if (!maps.delete(l.slot)) bad(`slot ${l.slot} is not mapped`);
        break;
      case 'store':
      case 'load':
      case 'mprotect':
      case 'msync': {
        const m = maps.get(l.slot) ?? bad(`slot ${l.slot} is not mapped`);
        const end = l.page + ('n' in l ? l.n : 1);
        if (end > m.pages) bad(`pages ${l.page}..${end - 1} are outside slot ${l.slot}'s ${m.pages} pages`);
        break;
      }
      default:
    }
  }
}

/** The trace as text again (version line first), e.g. for a shrunk trace. */
export function formatTrace(lines: readonly TraceLine[]): string {
  return [`version ${TRACE_VERSION}`, ...lines.map((l) => l.text)].join('\n') + '\n';
}
