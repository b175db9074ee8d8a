/**
 * rtorrent: the BitTorrent-client pattern that exposed the 2.6.19 corruption (7658cc289288, "VM: Fix
 * nasty and subtle race in shared mmap'ed page writeback"). A large file is mapped shared (once per
 * process, by its thread 0, published to the other threads) and downloaded piece by piece: every
 * thread owns the pieces i with i mod W = its writer number (W = all threads of all processes) and
 * writes each piece through the mapping in blocks at scattered offsets, as peers' blocks arrive. When
 * a piece is done its writer hash-checks it (reads back own words and checks them), msyncs it
 * (MS_ASYNC, or MS_SYNC for `sync` per 10 000 pieces) and, for `remap` per 10 000 pieces, unmaps the
 * whole chunk holding it (`chunk` pages: several pieces, of several threads) and maps it again at the
 * same address (MAP_FIXED), as rtorrent maps and unmaps file chunks. Meanwhile the flusher and the
 * ext3-style journal (data=ordered: it writes the buffers of dirty pages on its own) and reclaim run.
 *
 * The 2.6.19 loss: the journal writes a page's buffers (clean buffers, page still dirty); more blocks
 * arrive through the still-writable PTE; writeback clears PG_dirty before page_mkclean and writes only
 * dirty buffers — nothing; the page is clean with data the disk never got. A finished piece goes cold
 * while its writer downloads others, so reclaim evicts it (the eviction check compares a clean page
 * with the backing store) or the writer's next check reads the stale refaulted data; the end-of-run
 * check compares the backing store with every word's last value.
 *
 * Other threads' stores into a chunk that is being unmapped get SIGSEGV (raised before the store
 * reaches memory, so ownStore records only stores that happened); the block is dropped and the writer
 * goes on. One op: one block written, or one finished piece's check, msync and (maybe) remap.
 */
import type { CpuApi } from '../api.js';
import type { Workload, WorkloadOptions } from '../workload.js';
import { boolParam, intParam, oneFile, segv, sharedMapping, WRITENOTIFY_PARAM } from './threads.js';

interface Conf {
  pages: number;
  piece: number;
  chunk: number;
  block: number;
  blocks: number;
  verify: number;
  sync: number;
  remap: number;
  writenotify: boolean;
}

function confOf(p: Readonly<Record<string, unknown>>): Conf {
  const c: Conf = {
    pages: intParam(p, 'pages', 256, 1, 65536),
    piece: intParam(p, 'piece', 4, 1, 65536),
    chunk: intParam(p, 'chunk', 16, 1, 65536),
    block: intParam(p, 'block', 16, 1, 1024),
    blocks: intParam(p, 'blocks', 128, 1, 1 << 20),
    verify: intParam(p, 'verify', 256, 0, 1 << 20),
    sync: intParam(p, 'sync', 2500, 0, 10000),
    remap: intParam(p, 'remap', 3000, 0, 10000),
    writenotify: boolParam(p, 'writenotify', true),
  };
  if (c.piece > c.pages) throw new Error(`param piece (${c.piece}) is larger than the file (pages=${c.pages})`);
  if (c.chunk > c.pages) throw new Error(`param chunk (${c.chunk}) is larger than the file (pages=${c.pages})`);
  return c;
}

/** Shared word p: the first VPN of process p's mapping. */
const MAX_PROCS = 8;

function check(o: WorkloadOptions, c: Conf): void {
  if (o.cpus < 2) throw new Error('rtorrent needs at least 2 CPUs (pieces written by several threads)');
  if (o.procs > MAX_PROCS) throw new Error(`rtorrent runs at most ${MAX_PROCS} processes, got --procs ${o.procs}`);
  const pieces = Math.floor(c.pages / c.piece);
  if (pieces < o.cpus) throw new Error(`${pieces} pieces of ${c.piece} pages for ${o.cpus} CPUs: every CPU needs a piece (more pages, or smaller pieces)`);
}

const rtorrent: Workload = {
  name: 'rtorrent',
  description: 'threads download pieces of a shared-mapped file at scattered offsets; msync, chunk munmap/remap; flusher and journal running',
  oracle: 'owned-words',
  params: {
    pages: { default: 256, description: 'pages of the file (one shared mapping of all of it per process)' },
    piece: { default: 4, description: 'pages per piece (every word of a piece belongs to the thread downloading it)' },
    chunk: { default: 16, description: 'pages per chunk: the aligned range unmapped and mapped again after a piece in it is done' },
    block: { default: 16, description: 'words per block (one op writes one block at a random offset of the piece)' },
    blocks: { default: 128, description: 'blocks written before a piece is done' },
    verify: { default: 256, description: 'own words read back and checked when a piece is done (the hash check)' },
    sync: { default: 2500, description: 'done pieces per 10 000 that are msynced with MS_SYNC (the others MS_ASYNC)' },
    remap: { default: 3000, description: 'done pieces per 10 000 after which their chunk is unmapped and mapped again (MAP_FIXED)' },
    writenotify: WRITENOTIFY_PARAM,
  },
  files: (o) => {
    const c = confOf(o.params);
    check(o, c);
    return oneFile(c);
  },
  run(api: CpuApi) {
    const c = confOf(api.params);
    const base = sharedMapping(api, api.proc, () => api.mmap(0, 0, c.pages, { write: true, shared: true }));
    const rng = api.rng;
    const nW = api.cpus;
    const pieces = Math.floor(c.pages / c.piece);
    // this thread's pieces: i = cpu + nW*j (the tail of the file past the last whole piece is never written)
    const mine = Math.floor((pieces - api.cpu - 1) / nW) + 1;
    const pieceWords = c.piece * 1024;
    const stats = { blocks: 0, pieces: 0, checks: 0, segv: 0, msyncs: 0, remaps: 0 };
    let piece = api.cpu + nW * rng.below(mine);
    let written = 0;

    const writeBlock = () => {
      const w0 = rng.below(pieceWords);
      try {
        for (let k = 0; k < c.block; k++) {
          const w = (w0 + k) % pieceWords;
          const page = piece * c.piece + (w >> 10);
          const idx = api.wordIndex(0, page, w & 1023);
          // ownStore records the value only once the store is done: a SIGSEGV leaves the shadow alone.
          api.ownStore(base + page * 4096 + (w & 1023) * 4, idx, api.lastWritten(idx) + 1);
        }
        stats.blocks++;
      } catch (e) {
        segv(e);
        stats.segv++;
      }
    };
    const finishPiece = () => {
      try {
        // the hash check: own words spread over the piece, read back
        const stride = c.verify > 0 ? Math.max(1, Math.floor(pieceWords / c.verify)) : pieceWords;
        for (let w = rng.below(stride); w < pieceWords; w += stride) {
          const page = piece * c.piece + (w >> 10);
          api.ownLoad(base + page * 4096 + (w & 1023) * 4, api.wordIndex(0, page, w & 1023), 0, page, w & 1023);
        }
        stats.checks++;
      } catch (e) {
        segv(e);
        stats.segv++;
      }
      const first = piece * c.piece;
      // msync of a range another thread has unmapped just now covers the hole and what is mapped
      api.msync(base + first * 4096, c.piece, rng.below(10000) < c.sync);
      stats.msyncs++;
      if (rng.below(10000) < c.remap) {
        const cs = Math.floor(first / c.chunk) * c.chunk;
        const n = Math.min(c.chunk, c.pages - cs);
        api.munmap(base + cs * 4096, n);
        api.mmap(0, cs, n, { write: true, shared: true, fixed: base + cs * 4096 });
        stats.remaps++;
      }
      stats.pieces++;
      piece = api.cpu + nW * rng.below(mine);
      written = 0;
    };

    while (api.running()) {
      if (written < c.blocks) {
        writeBlock();
        written++;
      } else finishPiece();
      api.op();
    }
    return stats;
  },
};
export default rtorrent;
