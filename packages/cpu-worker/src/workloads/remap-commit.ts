/**
 * remap-commit: a multithreaded store that updates records in place through one shared mapping of its
 * file, remaps the file page by page (a compactor: munmap, then mmap MAP_FIXED at the same address, as
 * a store does after moving data or growing its file) and commits (fsync) while its writers keep
 * storing. In each process (CPU c runs a thread of process c mod P):
 * - thread 0, the compactor, takes the pages in turn: round r's page is r mod `pages`. It announces the
 *   round, lets the writers store into the page for `lead` loads, then munmaps the page and maps it
 *   again, and waits for the round's commit;
 * - thread 1, the committer (with three threads or more), waits for the munmap to begin, does a
 *   random number of loads from other pages (up to `spin`: they move where the commit lands, and as
 *   user-mode work they let the kernel threads this CPU hosts run in and around the munmap) and
 *   fsyncs the file. With two threads the one writer commits as well; a process of one thread does
 *   everything in turn (`soloEvery` rows into a page, then its remap and a commit);
 * - the other threads, the writers, store rows of their own words into the round's page.
 * So the commit's writeback (clear_page_dirty_for_io, page_mkclean, writepage) lands anywhere in and
 * around zap_pte_range's window on a page whose writers hold writable TLB entries for it, and the
 * writers' stores go on through it: the races of that window (1cf35d47712d's deferred flush,
 * 5df397dec7c4's early page_remove_rmap, the order of set_page_dirty and the flush on a mapping
 * without dirty accounting) meet a store almost every round instead of in a few runs of a hundred.
 * After its round a page stays untouched for `pages` - 1 rounds, so a store lost in it is not
 * healed by the next one before reclaim or the end of the run looks at it.
 *
 * Ownership: word k of every page belongs to writer k mod W (the W writing CPUs of all processes, in
 * CPU order). A store into the page while it is unmapped gets SIGSEGV before it reaches memory, and
 * ownStore records only stores that happened; a store through a stale TLB entry did happen and is
 * recorded. Every fsync is checked by the durability contract (api.ts).
 *
 * One op: a round, for every role (a writer counts the rounds it wrote in, so it lasts as long as its
 * compactor; a process of one thread writes `soloEvery` rows, remaps and commits). Params: `pages`
 * (16), `row` (8), `lead` (64), `spin` (256), `soloEvery` (16), `writenotify` (true). Needs 2 CPUs;
 * at most 4 processes.
 */
import type { CpuApi } from '../api.js';
import type { Workload, WorkloadOptions } from '../workload.js';
import { boolParam, intParam, oneFile, ownedPerPage, segv, sharedMapping, STOPPED, threadOf, threadsOf, waitPast, WRITENOTIFY_PARAM } from './threads.js';

interface Conf {
  pages: number;
  row: number;
  lead: number;
  spin: number;
  soloEvery: number;
  writenotify: boolean;
}

function confOf(p: Readonly<Record<string, unknown>>): Conf {
  return {
    pages: intParam(p, 'pages', 16, 1, 65536),
    row: intParam(p, 'row', 8, 1, 1024),
    lead: intParam(p, 'lead', 64, 0, 1 << 20),
    spin: intParam(p, 'spin', 256, 0, 1 << 24),
    soloEvery: intParam(p, 'soloEvery', 16, 1, 1 << 20),
    writenotify: boolParam(p, 'writenotify', true),
  };
}

/**
 * Shared words: p, the first VPN of process p's mapping; STEP + p, process p's round, a hand-off word
 * (threads.ts) of its compactor and committer: 2r while round r's page is announced, 2r+1 once its
 * munmap begins, 2r+2 when its commit is done (the next round).
 */
const MAX_PROCS = 4;
const STEP = 4;

type Role = 'compactor' | 'committer' | 'writer' | 'writer-committer' | 'solo';

function roleOf(cpu: number, cpus: number, procs: number): Role {
  const t = threadsOf(cpus, procs, cpu % procs);
  const k = threadOf(cpu, procs);
  if (t === 1) return 'solo';
  if (k === 0) return 'compactor';
  if (k === 1) return t === 2 ? 'writer-committer' : 'committer';
  return 'writer';
}

function check(o: WorkloadOptions): void {
  if (o.cpus < 2) throw new Error('remap-commit needs at least 2 CPUs (a compactor and a writer)');
  if (o.procs > MAX_PROCS) throw new Error(`remap-commit runs at most ${MAX_PROCS} processes, got --procs ${o.procs}`);
}

const remapCommit: Workload = {
  name: 'remap-commit',
  description: "threads of a process share one mapping: writers store into the page a compactor munmaps and maps again while a committer fsyncs the file",
  oracle: 'owned-words',
  params: {
    pages: { default: 16, description: 'pages of the file (the compactor remaps them one per round, in turn)' },
    row: { default: 8, description: 'own words a writer stores per op, into the round\'s page' },
    lead: { default: 64, description: 'loads the compactor does between announcing a page and unmapping it (the writers fault it in)' },
    spin: { default: 256, description: 'largest random number of loads the committer does before a commit (where in the munmap it lands)' },
    soloEvery: { default: 16, description: 'rows a process with one thread writes into a page before it remaps it and commits' },
    writenotify: WRITENOTIFY_PARAM,
  },
  // a round is a munmap and a mmap with their shootdowns and an fsync, handed between two CPUs
  defaultOps: 3000,
  files: (o) => {
    const c = confOf(o.params);
    check(o);
    return oneFile(c);
  },
  run(api: CpuApi) {
    const c = confOf(api.params);
    const procs = api.procs;
    const roles: Role[] = Array.from({ length: api.cpus }, (_, cpu) => roleOf(cpu, api.cpus, procs));
    const writers: number[] = [];
    roles.forEach((r, cpu) => (r === 'writer' || r === 'writer-committer' || r === 'solo') && writers.push(cpu));
    const role = roles[api.cpu]!;
    const proc = api.proc;
    const step = STEP + proc;
    const base = sharedMapping(api, proc, () => api.mmap(0, 0, c.pages, { write: true, shared: true }));
    const rng = api.rng;
    const stats = { rows: 0, segv: 0, rounds: 0, commits: 0 };
    const pageOf = (round: number) => round % c.pages;
    const remap = (page: number) => {
      const addr = base + page * 4096;
      api.munmap(addr, 1);
      api.mmap(0, page, 1, { write: true, shared: true, fixed: addr });
    };
    /** Loads of the pages after `page` (not the round's: its mapping may be gone just then). */
    const around = (page: number, n: number) => {
      for (let i = 0; i < n; i++) api.load(base + ((page + 1 + (i % Math.max(1, c.pages - 1))) % c.pages) * 4096 + ((i * 67) & 1023) * 4);
    };
    const commit = (page: number) => {
      if (c.spin > 0) around(page, rng.below(c.spin + 1));
      api.fsync(0);
      stats.commits++;
    };

    // ---- writer
    const nW = writers.length;
    const wi = writers.indexOf(api.cpu);
    const ownPerPage = ownedPerPage(wi, nW); // words wi + nW*j
    const writeRow = (page: number) => {
      const j0 = rng.below(ownPerPage);
      try {
        for (let k = 0; k < c.row; k++) {
          const word = wi + nW * ((j0 + k) % ownPerPage);
          const idx = api.wordIndex(0, page, word);
          // ownStore records the value only once the store is done: a SIGSEGV leaves the shadow alone.
          api.ownStore(base + page * 4096 + word * 4, idx, api.lastWritten(idx) + 1);
        }
        stats.rows++;
      } catch (e) {
        segv(e);
        stats.segv++;
      }
    };

    if (role === 'solo') {
      for (let r = 0; api.running(); r++) {
        const page = pageOf(r);
        for (let n = 0; n < c.soloEvery; n++) writeRow(page);
        remap(page);
        commit(page);
        stats.rounds++;
        api.op();
      }
      return { role, ...stats };
    }

    if (role === 'writer') {
      // rows into the round's page; an op is a round written in, so writers last as long as the compactor
      for (let last = 0; api.running(); ) {
        const v = api.shared.load(step);
        if (v >= STOPPED) break;
        const r = Math.floor(v / 2);
        writeRow(pageOf(r));
        if (r !== last) {
          last = r;
          api.op();
        }
      }
      return { role, ...stats };
    }

    // STOPPED on every way out (a violation, a stop of the machine too), so the partner's wait ends
    try {
      if (role === 'compactor') {
        let alone = false;
        for (let r = 0; api.running(); r++) {
          const page = pageOf(r);
          around(page, c.lead);
          api.shared.add(step, 1); // 2r+1: the munmap begins
          remap(page);
          if (!alone) {
            alone = waitPast(api, step, 2 * r + 1).stopped;
          } else {
            api.shared.add(step, 1); // no committer: the round ends here
          }
          stats.rounds++;
          api.op();
        }
        return { role, ...stats };
      }
      if (role === 'committer') {
        for (let r = 0; api.running(); r++) {
          if (waitPast(api, step, 2 * r).stopped) break;
          commit(pageOf(r));
          api.shared.add(step, 1); // 2r+2
          api.op();
        }
        return { role, ...stats };
      }
      // the writer that commits: rows into the round's page, the commit when its munmap begins
      while (api.running()) {
        const v = api.shared.load(step);
        if (v >= STOPPED) break;
        const r = Math.floor(v / 2);
        if (v % 2 === 1) {
          commit(pageOf(r));
          api.shared.add(step, 1); // 2r+2
          api.op();
        }
        writeRow(pageOf(r));
      }
      return { role, ...stats };
    } finally {
      api.shared.add(step, STOPPED);
    }
  },
};
export default remapCommit;
