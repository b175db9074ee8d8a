/**
 * db-checkpoint: a multithreaded database, its writer threads and its checkpointer threads. In each
 * process, thread 0 maps the database file shared (ONE mapping per process, published to the other
 * threads through a shared word); writer threads store rows of their own words across that mapping
 * while checkpointer threads of the same process, range by range, msync(MS_SYNC) it, mprotect it
 * read-only and back, and munmap it and map it again (MAP_FIXED, same address). So writers keep
 * writable TLB entries for the very pages another CPU of their mm is unmapping, write-protecting or
 * cleaning: the stale-TLB windows of munmap (zap_pte_range then the flush), mprotect
 * (change_pte_range then the flush) and page_mkclean meet a writer, with the flusher, journal and
 * reclaim threads running. With --procs P every process has its own mapping of the same file and its
 * own threads, so the pages are also shared across address spaces.
 *
 * Ownership (the owned-word oracle): word k of every page belongs to writer k mod W (the W writers
 * of all processes, in CPU order), so every page is written by every writer. A writer's store into a
 * range that is unmapped or read-only just then gets SIGSEGV: the CPU raises it before the store
 * reaches memory, so ownStore (store, then record in the shadow) records exactly the stores that
 * happened; the writer drops the rest of that row and goes on. A store through a stale TLB entry
 * after munmap started did happen and is recorded, so if writeback then cleans the page under it the
 * loss shows: the eviction check (a clean page evicted while it differs from the backing store), the
 * writer's own checked reads after a refault, or the end-of-run comparison of the backing store with
 * the shadow.
 *
 * Roles: in a process of T threads, threads 0 .. checkpointers-1 are checkpointers and the rest are
 * writers; a process with a single thread (e.g. 3 CPUs in 2 processes) runs both roles, one
 * checkpoint step every `soloEvery` rows. Checkpointers of a process split its ranges between them
 * (range r belongs to checkpointer r mod checkpointers), so no two of them change one range at once.
 *
 * Every msync(MS_SYNC) is checked by the CPU API's durability contract (api.ts): the backing store
 * must then hold what the owners had written before it started.
 *
 * One op: a row (`row` own words of one page, written or, `load` per 10 000, read and checked) for a
 * writer; one checkpoint step on one range for a checkpointer. Needs 2 CPUs.
 */
import type { CpuApi } from '../api.js';
import type { Workload, WorkloadOptions } from '../workload.js';
import { boolParam, intParam, oneFile, ownedPerPage, segv, sharedMapping, threadOf, threadsOf, WRITENOTIFY_PARAM } from './threads.js';

interface Conf {
  pages: number;
  range: number;
  checkpointers: number;
  msync: number;
  mprotect: number;
  remap: number;
  hold: number;
  row: number;
  load: number;
  hot: number;
  soloEvery: number;
  writenotify: boolean;
}

function confOf(p: Readonly<Record<string, unknown>>): Conf {
  const c: Conf = {
    pages: intParam(p, 'pages', 64, 1, 65536),
    range: intParam(p, 'range', 4, 1, 65536),
    checkpointers: intParam(p, 'checkpointers', 1, 1, 64),
    msync: intParam(p, 'msync', 4000, 0, 10000),
    mprotect: intParam(p, 'mprotect', 3000, 0, 10000),
    remap: intParam(p, 'remap', 3000, 0, 10000),
    hold: intParam(p, 'hold', 64, 0, 1 << 20),
    row: intParam(p, 'row', 8, 1, 1024),
    load: intParam(p, 'load', 2000, 0, 10000),
    hot: intParam(p, 'hot', 8000, 0, 10000),
    soloEvery: intParam(p, 'soloEvery', 16, 1, 1 << 20),
    writenotify: boolParam(p, 'writenotify', true),
  };
  if (c.msync + c.mprotect + c.remap === 0) throw new Error('params msync, mprotect and remap are all 0: a checkpointer would have nothing to do');
  if (c.range > c.pages) throw new Error(`param range (${c.range}) is larger than the file (pages=${c.pages})`);
  return c;
}

/** Shared word p: the first VPN of process p's mapping. */
const MAX_PROCS = 8;

type Role = 'writer' | 'checkpointer' | 'both';

function roleOf(cpu: number, cpus: number, procs: number, checkpointers: number): Role {
  const t = threadsOf(cpus, procs, cpu % procs);
  if (t === 1) return 'both';
  return threadOf(cpu, procs) < checkpointers ? 'checkpointer' : 'writer';
}

function check(o: WorkloadOptions, c: Conf): void {
  if (o.cpus < 2) throw new Error('db-checkpoint needs at least 2 CPUs (a writer and a checkpointer)');
  if (o.procs > MAX_PROCS) throw new Error(`db-checkpoint runs at most ${MAX_PROCS} processes, got --procs ${o.procs}`);
  for (let p = 0; p < o.procs; p++) {
    const t = threadsOf(o.cpus, o.procs, p);
    if (t > 1 && t <= c.checkpointers) {
      throw new Error(`process ${p} has ${t} CPUs: checkpointers=${c.checkpointers} leaves it no writer (give it at least ${c.checkpointers + 1} CPUs, or fewer checkpointers)`);
    }
  }
}

const dbCheckpoint: Workload = {
  name: 'db-checkpoint',
  description: 'threads of a process share one mapping: writers store rows while checkpointers msync, mprotect and munmap/remap ranges of it',
  oracle: 'owned-words',
  params: {
    pages: { default: 64, description: 'pages of the database file (one shared mapping of all of it per process)' },
    range: { default: 4, description: 'pages per checkpoint range (the unit a checkpointer msyncs, mprotects or remaps)' },
    checkpointers: { default: 1, description: 'checkpointer threads per process (the other threads write; a one-thread process does both)' },
    msync: { default: 4000, description: 'weight of msync(MS_SYNC) of a range among checkpoint steps' },
    mprotect: { default: 3000, description: 'weight of mprotect(PROT_READ) of a range, then back to read-write' },
    remap: { default: 3000, description: 'weight of munmap of a range, then mmap(MAP_FIXED) at the same address' },
    hold: { default: 64, description: 'loads a checkpointer does while its range is read-only or unmapped' },
    row: { default: 8, description: 'own words a writer stores (or checks) per op, in one page' },
    load: { default: 2000, description: 'rows per 10 000 that are read back and checked instead of written' },
    hot: { default: 8000, description: 'ops per 10 000 that go to the hot eighth of the pages (the rest stay cold long enough to be evicted)' },
    soloEvery: { default: 16, description: 'a process with one thread runs one checkpoint step every this many rows' },
    writenotify: WRITENOTIFY_PARAM,
  },
  files: (o) => {
    const c = confOf(o.params);
    check(o, c);
    return oneFile(c);
  },
  run(api: CpuApi) {
    const c = confOf(api.params);
    const procs = api.procs;
    const roles: Role[] = Array.from({ length: api.cpus }, (_, cpu) => roleOf(cpu, api.cpus, procs, c.checkpointers));
    const writers: number[] = [];
    roles.forEach((r, cpu) => r !== 'checkpointer' && writers.push(cpu));
    const role = roles[api.cpu]!;
    const base = sharedMapping(api, api.proc, () => api.mmap(0, 0, c.pages, { write: true, shared: true }));
    const rng = api.rng;
    const hotPages = Math.max(1, c.pages >> 3);
    const pickPage = () => (rng.below(10000) < c.hot ? rng.below(hotPages) : rng.below(c.pages));
    const ranges = Math.ceil(c.pages / c.range);
    const stats = { rows: 0, checks: 0, segv: 0, msyncs: 0, mprotects: 0, remaps: 0 };

    // ---- writer
    const nW = writers.length;
    const wi = writers.indexOf(api.cpu);
    const ownPerPage = ownedPerPage(wi, nW); // words wi + nW*j
    const writeRow = () => {
      const page = pickPage();
      const read = rng.below(10000) < c.load;
      const j0 = rng.below(ownPerPage);
      try {
        for (let k = 0; k < c.row; k++) {
          const word = wi + nW * ((j0 + k) % ownPerPage);
          const idx = api.wordIndex(0, page, word);
          const addr = base + page * 4096 + word * 4;
          // ownStore records the value only once the store is done: a SIGSEGV leaves the shadow alone.
          if (read) api.ownLoad(addr, idx, 0, page, word);
          else api.ownStore(addr, idx, api.lastWritten(idx) + 1);
        }
        if (read) stats.checks++;
        else stats.rows++;
      } catch (e) {
        segv(e);
        stats.segv++;
      }
    };

    // ---- checkpointer
    const myCk = role === 'both' ? 0 : threadOf(api.cpu, procs);
    const nCk = role === 'both' ? 1 : c.checkpointers;
    const total = c.msync + c.mprotect + c.remap;
    /** Loads while a range is read-only (in it) or unmapped (elsewhere: another checkpointer's range may be unmapped too). */
    const hold = (a: number, n: number, inside: boolean) => {
      for (let i = 0; i < c.hold; i++) {
        const page = inside ? a + (i % n) : (a + n + (i % (c.pages - n || 1))) % c.pages;
        try {
          api.load(base + page * 4096 + ((i * 67) & 1023) * 4);
        } catch (e) {
          segv(e);
        }
      }
    };
    const checkpointStep = () => {
      // a range of this checkpointer's share, chosen with the writers' hot/cold skew
      let r = Math.floor(pickPage() / c.range);
      r -= ((r - myCk) % nCk + nCk) % nCk;
      if (r < 0) r += nCk;
      if (r >= ranges) return;
      const a = r * c.range;
      const n = Math.min(c.range, c.pages - a);
      const addr = base + a * 4096;
      const x = rng.below(total);
      if (x < c.msync) {
        api.msync(addr, n, true);
        stats.msyncs++;
      } else if (x < c.msync + c.mprotect) {
        api.mprotect(addr, n, false);
        hold(a, n, true);
        api.mprotect(addr, n, true);
        stats.mprotects++;
      } else {
        api.munmap(addr, n);
        hold(a, n, false);
        api.mmap(0, a, n, { write: true, shared: true, fixed: addr });
        stats.remaps++;
      }
    };

    while (api.running()) {
      if (role === 'writer') writeRow();
      else if (role === 'checkpointer') checkpointStep();
      else if (api.done % c.soloEvery === c.soloEvery - 1) checkpointStep();
      else writeRow();
      api.op();
    }
    return { role, ...stats };
  },
};
export default dbCheckpoint;
