/**
 * mixed-io: a file written through both interfaces at once. The CPUs pair up (CPU 2k with CPU 2k+1,
 * each pair on a file of its own): the patcher of a pair walks the file's pages, and for each maps
 * the one page shared, reads it (a read fault: on a file without dirty accounting the PTE comes back
 * writable and clean, and the page stays clean), checks and updates its record in the page (stores
 * the CPU makes dirty in the PTE alone), then munmaps it; the appender of the pair pwrite(2)s the
 * page's header word at the same time. At the end of each pass over the file the patcher fsyncs it
 * (the durability contract checks that every word written before it is on the backing store) and
 * truncates it to 0 pages and back, so the next pass finds pages without buffers again.
 *
 * So zap_pte_range's set_page_dirty — the D bit of the patcher's PTE moved to a clean page that has
 * no buffers yet, without the page lock — meets write(2)'s create_empty_buffers under the page lock
 * on the same page: the `create_empty_buffers` vs `__set_page_dirty_buffers` race (a8e7d49a). Pages
 * have no buffers after a read only where readpage attaches none (ext3's, `--daemon
 * readpageBuffers=false`), and the two meet inside the window mostly with a wide perturbation; the
 * portfolio draws both for this workload.
 *
 * Ownership: the header word (word 0, the first block) of every page of a pair's file belongs to its
 * appender, the record (`record` words from word 512, the third block of 1 KiB blocks) to its
 * patcher. CPUs past the first 8 pairs, and the last of an odd count, run both roles alone on a
 * file of their own, one after the other.
 * The two of a pair step through the pages together: the patcher publishes the page it is about to
 * unmap, the appender writes it after a random stretch of host-time work of up to `spin` loop steps
 * (so that the write lands anywhere in and around the munmap; no simulated time, no preemption
 * point) and reports it done; the patcher truncates only when its appender is done with the pass.
 *
 * One op: one page of a pass, for either role. Params: `pages` (per pair's file, default 32),
 * `record` (8), `spin` (20 000), `writenotify` (false: with dirty accounting the read fault maps the
 * page read-only and the store's fault dirties it, so zap never newly dirties it).
 */
import type { CpuApi } from '../api.js';
import type { Workload } from '../workload.js';
import { boolParam, intParam, STOPPED, waitPast } from './threads.js';

interface Conf {
  pages: number;
  record: number;
  spin: number;
  writenotify: boolean;
}

function confOf(p: Readonly<Record<string, unknown>>): Conf {
  return {
    pages: intParam(p, 'pages', 32, 1, 65536),
    record: intParam(p, 'record', 8, 1, 256),
    spin: intParam(p, 'spin', 20000, 0, 1 << 24),
    writenotify: boolParam(p, 'writenotify', false),
  };
}

const RECORD_WORD = 512;
const HEADER_WORD = 0;
/** The word the patcher reads first (a read fault): in neither role's part of the page. */
const PROBE_WORD = 1020;

/**
 * Pairs that step together through shared word k (the workload's 8), a hand-off word (threads.ts):
 * 2r+1 while the patcher's page of round r waits for the appender, 2r+2 once the appender has written
 * it. The CPUs past the pairs run both roles alone, each on its own file.
 */
const MAX_PAIRS = 8;
const pairsOf = (cpus: number) => Math.min(cpus >> 1, MAX_PAIRS);
/** The files: one per pair, then one per CPU past the pairs. */
const filesOf = (cpus: number) => pairsOf(cpus) + (cpus - 2 * pairsOf(cpus));

const mixedIo: Workload = {
  name: 'mixed-io',
  description: 'pairs of CPUs write a file through both interfaces: one patches records through one-page mappings (read, store, munmap), the other pwrites the same pages',
  oracle: 'owned-words',
  params: {
    pages: { default: 32, description: "pages of each pair's file (a pass over them, then fsync and truncate)" },
    record: { default: 8, description: 'words of the record the patcher checks and updates in each page' },
    spin: { default: 20000, description: "largest random number of host-time loop steps before the appender's pwrite (where in the munmap it lands)" },
    writenotify: { default: false, description: 'the files account dirty pages (then zap never newly dirties a page)' },
  },
  // a page's round is a mmap, a read fault, a munmap with its shootdown and a pwrite, handed between
  // two CPUs: 20 000 of them at 4 CPUs on 2 cores is most of a minute
  defaultOps: 3000,
  files: (o) => {
    const c = confOf(o.params);
    return Array.from({ length: filesOf(o.cpus) }, () => ({ pages: c.pages, accountDirty: c.writenotify, mmapHookChangesProt: false }));
  },
  run(api: CpuApi) {
    const c = confOf(api.params);
    const pairs = pairsOf(api.cpus);
    const solo = api.cpu >= 2 * pairs;
    const pair = api.cpu >> 1;
    const file = solo ? pairs + (api.cpu - 2 * pairs) : pair;
    const stats = { pages: 0, passes: 0 };
    const patch = (page: number, before?: () => void): void => {
      const addr = api.mmap(file, page, 1, { write: true, shared: true });
      api.load(addr + PROBE_WORD * 4);
      for (let k = 0; k < c.record; k++) {
        const w = RECORD_WORD + k;
        const idx = api.wordIndex(file, page, w);
        api.ownLoad(addr + w * 4, idx, file, page, w);
        api.ownStore(addr + w * 4, idx, api.lastWritten(idx) + 1);
      }
      before?.();
      api.munmap(addr, 1);
    };
    const append = (page: number): void => {
      const idx = api.wordIndex(file, page, HEADER_WORD);
      api.ownPwrite(file, page, HEADER_WORD, idx, api.lastWritten(idx) + 1);
    };
    /** The page of round r; a new pass first fsyncs the file and truncates it to 0 and back. */
    const pageOf = (r: number): number => {
      const page = r % c.pages;
      if (page === 0 && r > 0) {
        api.fsync(file);
        api.ownFtruncate(file, 0);
        api.ownFtruncate(file, c.pages);
        stats.passes++;
      }
      return page;
    };

    if (solo) {
      for (let r = 0; api.running(); r++) {
        const page = pageOf(r);
        patch(page);
        append(page);
        stats.pages++;
        api.op();
      }
      return { role: 'both', ...stats };
    }

    /** Host-time work before the appender's write (no preemption point: it moves where the write lands). */
    let busy = 0;
    const work = (n: number): void => {
      for (let i = 0; i < n; i++) busy = (busy + i) | 0;
    };
    let r = 0;
    // STOPPED on every way out (a violation, a stop of the machine too), so the partner's wait ends
    try {
      if ((api.cpu & 1) === 0) {
        // the patcher
        while (api.running()) {
          // (a new pass: the appender has written every page of the last, and waits for this one)
          patch(pageOf(r), () => api.shared.add(pair, 1));
          const w = waitPast(api, pair, 2 * r + 1);
          if (w.step < 2 * r + 2) break;
          r++;
          stats.pages++;
          api.op();
          if (w.stopped) break;
        }
        return { role: 'patcher', ...stats };
      }
      // the appender
      while (api.running()) {
        const w = waitPast(api, pair, 2 * r);
        if (w.stopped) break;
        work(c.spin > 0 ? api.rng.below(c.spin + 1) : 0);
        append(r % c.pages);
        api.shared.add(pair, 1);
        r++;
        stats.pages++;
        api.op();
      }
      return { role: 'appender', ...stats, busy };
    } finally {
      api.shared.add(pair, STOPPED);
    }
  },
};
export default mixedIo;
