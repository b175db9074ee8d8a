/**
 * The comparator of a differential test (FIDELITY-REVIEW.md C6): the host's and smpsim's results of
 * one trace, op by op. What must agree and differs is a fidelity bug in one of them ('differs');
 * what necessarily differs is named with its cause ('explained'); nothing is dropped silently.
 *
 * Must agree: every value read (load, pread) and whether an access faulted fatally (segv, sigbus);
 * the results of the system calls; the faults a store takes (host minflt + majflt against smpsim's
 * faults: write faults never use fault-around); dirty page counts (`stat` with cachestat, `io`); no
 * page under writeback at a `stat` right after fsync or msync(MS_SYNC).
 *
 * Necessarily different: faults of a load (3.15+ fault-around maps up to 16 cached neighbours
 * read-only, so the host may take fewer); cached page counts (host readahead caches more); the
 * major/minor split (never compared: smpsim has none); the faults of a store after msync(MS_SYNC)
 * where smpsim runs 2.6.20's whole-file msync (the host, 3.16+, syncs the range); the fault of a store
 * to a private page already copied (anonymous, exclusive) after mprotect of it: 2.6.20 write-protects
 * it (pte_modify with the private mapping's read-only vm_page_prot), and its next store takes a reuse
 * fault, while since 6.0 mprotect leaves exclusive anonymous pages writable (David Hildenbrand, "mm/mprotect:
 * try avoiding write faults for exclusive anonymous pages when changing protection", 64fe24a3e05e —
 * the id from memory, not checked here); writeback in flight
 * on the host at other times (its flusher); a read past the end inside a partial last page, and the
 * page the host dirties by zeroing a partial last page's tail when the file grows (ext4; smpsim sizes
 * files in whole pages, 2.6.20's ext3 zeroed nothing there); ops a runner reports as unsupported, and
 * every difference after the first of them.
 */
import type { OpResult } from './sim.js';
import type { Trace, TraceLine } from './trace.js';

export type Verdict = 'same' | 'explained' | 'differs';

export interface OpComparison {
  line: number;
  text: string;
  host: OpResult;
  sim: OpResult;
  verdict: Verdict;
  /** For 'explained' and 'differs': what differs and why. */
  why?: string;
  /** The class of an explained difference (its cause), or the observable that differs. */
  cls?: string;
}

export interface CompareContext {
  /** smpsim's msync(MS_SYNC) scope in this run. */
  msyncScope: 'range' | 'file';
  /** The host runner had cachestat (dirty and writeback counts). */
  cachestat: boolean;
}

/** Compares two runs of `trace`; one comparison per op. */
export function compareRuns(trace: Trace, host: readonly OpResult[], sim: readonly OpResult[], ctx: CompareContext): OpComparison[] {
  if (host.length !== sim.length) throw new Error(`the host printed ${host.length} results and smpsim ${sim.length} for ${trace.lines.length} ops`);
  const out: OpComparison[] = [];
  let unsupportedAt = -1;
  let msyncSyncSeen = false;
  let lastWasSync = false;
  const priv = new Set<number>(); // private slots
  const anon = new Set<string>(); // 'slot:page' copied (COW) in a private slot
  const wrprotected = new Set<string>(); // of those, made read-only by an mprotect since
  const era = { privateWrprotected: (key: string) => wrprotected.has(key) };
  // The host's file size in words (i_size is in bytes there; smpsim's is whole pages, so a pwrite past
  // the end makes the host's last page partial), and whether the host zeroed a partial page's tail
  // since the last sync (ext4 does when it grows the file from a partial size: a dirty page smpsim,
  // and 2.6.20's ext3, do not have).
  let sizeWords = 0;
  let tailsSinceSync = 0; // tail zeroings since the last fsync (pages they may have left dirty)
  let tailsEver = 0; // and in all (pages they dirtied)
  for (let i = 0; i < trace.lines.length; i++) {
    const l = trace.lines[i]!;
    const h = host[i]!;
    const s = sim[i]!;
    if (h.line !== l.line || s.line !== l.line) throw new Error(`results out of step at trace line ${l.line} (host ${h.line}, smpsim ${s.line})`);
    const c: OpComparison = { line: l.line, text: l.text, host: h, sim: s, verdict: 'same' };
    const wholeFileMsync = ctx.msyncScope === 'file' && msyncSyncSeen;
    const differs = (cls: string, why: string) => {
      if (c.verdict === 'differs') return;
      if (unsupportedAt >= 0) {
        c.verdict = 'explained';
        c.cls = 'after-unsupported';
        c.why = `${why} — after line ${unsupportedAt}, an op smpsim does not model yet`;
      } else {
        c.verdict = 'differs';
        c.cls = cls;
        c.why = why;
      }
    };
    const explained = (cls: string, why: string) => {
      if (c.verdict === 'same') {
        c.verdict = 'explained';
        c.cls = cls;
        c.why = why;
      }
    };
    const partial = sizeWords % 1024 !== 0;
    if (l.op === 'pread' && h.result === 'eof' && typeof s.result === 'number' && partial && l.page === Math.floor(sizeWords / 1024) && l.page * 1024 + l.word >= sizeWords) {
      explained('partial-page', `result: host "eof", smpsim ${s.result} (the host's file ends inside this page after a write past the end; smpsim sizes files in whole pages)`);
    } else if (s.result === 'unsupported') {
      explained('unsupported', `smpsim does not model ${l.op} yet`);
      if (unsupportedAt < 0) unsupportedAt = l.line;
    } else if (h.result !== s.result) {
      differs('result', `result: host ${JSON.stringify(h.result)}, smpsim ${JSON.stringify(s.result)}`);
    }
    compareFaults(l, h, s, ctx, msyncSyncSeen, era, differs, explained);
    trackPrivate(l, s, priv, anon, wrprotected);
    if (l.op === 'stat') {
      if (h.cached !== undefined && s.cached !== undefined && h.cached !== s.cached) {
        if (h.cached > s.cached) explained('readahead', `cached: host ${h.cached}, smpsim ${s.cached} (host readahead and fault-around cache more)`);
        else differs('cached', `cached: host ${h.cached}, smpsim ${s.cached} (the host evicted pages? keep files small)`);
      }
      if (ctx.cachestat && h.dirty !== undefined && h.dirty >= 0 && h.dirty !== s.dirty) {
        if (h.dirty > s.dirty! && h.dirty - s.dirty! <= tailsSinceSync) explained('tail-zeroing', `dirty pages: host ${h.dirty}, smpsim ${s.dirty} (the host zeroed the tail of the partial last page when the file grew, ext4's ext4_block_zero_page_range; smpsim's sizes are whole pages)`);
        else if (wholeFileMsync && h.dirty > s.dirty!) explained('msync-scope', `dirty pages: host ${h.dirty}, smpsim ${s.dirty} (smpsim's 2.6.20 msync wrote the whole file; the host's only the range)`);
        else differs('dirty', `dirty pages: host ${h.dirty}, smpsim ${s.dirty}`);
      }
      if (ctx.cachestat && h.writeback !== undefined && h.writeback >= 0 && h.writeback !== s.writeback) {
        if (lastWasSync) differs('writeback', `pages under writeback right after a sync: host ${h.writeback}, smpsim ${s.writeback} (both must be 0)`);
        else explained('background-writeback', `pages under writeback: host ${h.writeback}, smpsim ${s.writeback} (the host's flusher writes in the background)`);
      }
    }
    if (l.op === 'io' && h.dirtied !== undefined && h.dirtied >= 0 && h.dirtied !== s.dirtied) {
      if (h.dirtied > s.dirtied! && h.dirtied - s.dirtied! <= tailsEver) explained('tail-zeroing', `pages dirtied: host ${h.dirtied}, smpsim ${s.dirtied} (the host zeroed partial last pages when the file grew)`);
      else if (wholeFileMsync && s.dirtied! > h.dirtied) explained('msync-scope', `pages dirtied: host ${h.dirtied}, smpsim ${s.dirtied} (pages smpsim's 2.6.20 msync cleaned beyond the range were dirtied again)`);
      else differs('dirtied', `pages dirtied: host ${h.dirtied}, smpsim ${s.dirtied}`);
    }
    if (l.op === 'msync' && l.sync) msyncSyncSeen = true;
    // the file grows from a partial size: ext4 zeroes the old last page's tail (a dirty page)
    const grows = (to: number) => {
      if (to > sizeWords && partial) {
        tailsSinceSync++;
        tailsEver++;
      }
    };
    if (l.op === 'file') sizeWords = l.pages * 1024;
    if (l.op === 'pwrite' && h.result === 'ok') {
      grows(l.page * 1024 + l.word + 1);
      sizeWords = Math.max(sizeWords, l.page * 1024 + l.word + 1);
    }
    if (l.op === 'ftruncate' && h.result === 'ok') {
      grows(l.pages * 1024);
      sizeWords = l.pages * 1024;
    }
    if (l.op === 'fsync') tailsSinceSync = 0;
    if (l.op !== 'stat' && l.op !== 'io') lastWasSync = l.op === 'fsync' || (l.op === 'msync' && l.sync);
    out.push(c);
  }
  return out;
}

/** Which pages of private slots are anonymous copies, and which of those mprotect write-protected since. */
function trackPrivate(l: TraceLine, s: OpResult, priv: Set<number>, anon: Set<string>, wrprotected: Set<string>): void {
  const drop = (slot: number) => {
    for (const set of [anon, wrprotected]) for (const k of [...set]) if (k.startsWith(`${slot}:`)) set.delete(k);
  };
  switch (l.op) {
    case 'map':
      drop(l.slot);
      if (l.shared) priv.delete(l.slot);
      else priv.add(l.slot);
      break;
    case 'unmap':
      drop(l.slot);
      priv.delete(l.slot);
      break;
    case 'store':
      if (priv.has(l.slot) && s.result === 'ok') {
        anon.add(`${l.slot}:${l.page}`);
        wrprotected.delete(`${l.slot}:${l.page}`);
      }
      break;
    case 'mprotect':
      if (priv.has(l.slot) && s.result === 'ok') for (let p = l.page; p < l.page + l.n; p++) if (anon.has(`${l.slot}:${p}`)) wrprotected.add(`${l.slot}:${p}`);
      break;
    default:
  }
}

function compareFaults(
  l: TraceLine,
  h: OpResult,
  s: OpResult,
  ctx: CompareContext,
  msyncSyncSeen: boolean,
  era: { privateWrprotected: (key: string) => boolean },
  differs: (cls: string, w: string) => void,
  explained: (cls: string, w: string) => void,
): void {
  if (h.faults === s.faults) return;
  const what = `faults: host ${h.faults}, smpsim ${s.faults}`;
  if (l.op === 'load') {
    if (h.faults < s.faults) explained('fault-around', `${what} (host fault-around mapped the page on an earlier read fault)`);
    else differs('faults', what);
    return;
  }
  if (l.op === 'store') {
    if (ctx.msyncScope === 'file' && msyncSyncSeen && s.faults > h.faults) explained('msync-scope', `${what} (smpsim's 2.6.20 msync cleaned the whole file; the host's, 3.16+, only the range)`);
    else if (s.faults === h.faults + 1 && era.privateWrprotected(`${l.slot}:${l.page}`))
      explained('private-mprotect', `${what} (a private page already copied, then mprotect: 2.6.20 write-protects it and the store takes a reuse fault; since 6.0 mprotect keeps exclusive anonymous pages writable)`);
    else differs('faults', what);
    return;
  }
  // system calls fault on the host only through the runner's own pages (stack, stdio): not the trace's
  explained('syscall-faults', `${what} (faults outside the trace's mappings)`);
}

/** The comparisons that make a run fail. */
export const unexplained = (cs: readonly OpComparison[]): OpComparison[] => cs.filter((c) => c.verdict === 'differs');
