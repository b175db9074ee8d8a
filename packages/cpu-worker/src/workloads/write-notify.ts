/**
 * write-notify: the write-notify fault benchmark (will-it-scale page_fault3 style, but every fault is a
 * write-notify fault). Each CPU maps its own file shared once and writes every page (not-present
 * faults, which are not counted); then it repeats: msync(MS_SYNC) of the whole mapping — writeback
 * runs clear_page_dirty_for_io, whose page_mkclean write-protects and cleans every PTE — then one store
 * per page, each of which takes a write-notify fault (do_wp_page reuses the page and dirties it).
 *
 * One op is one such store. The result gives the stores after a clean (`faults`), the msync rounds and
 * the milliseconds of the measured loop (`ms`, from the first msync to the end; api.now(): host time, or simulated time in timed mode), so that a
 * benchmark can compute faults per second without the set-up. Param: `pages` (file size, default 256).
 */
import type { Workload } from '../workload.js';

const pagesOf = (p: Readonly<Record<string, unknown>>) => Number(p.pages ?? 256);

const writeNotify: Workload = {
  name: 'write-notify',
  description: 'map a file shared once; repeat: msync(MS_SYNC) it, then write one word per page (each write a write-notify fault)',
  oracle: 'owned-words',
  params: { pages: { default: 256, description: 'file size (pages)' } },
  files: (o) => Array.from({ length: o.cpus }, () => ({ pages: pagesOf(o.params), accountDirty: true, mmapHookChangesProt: false })),
  run(api) {
    const pages = pagesOf(api.params);
    const file = api.cpu;
    const base = api.mmap(file, 0, pages, { write: true, shared: true });
    const first = api.wordIndex(file, 0, 0);
    for (let p = 0; p < pages; p++) api.ownStore(base + p * 4096, first + p * 1024, api.lastWritten(first + p * 1024) + 1);
    let faults = 0;
    let rounds = 0;
    const t0 = api.now();
    while (api.running()) {
      api.msync(base, pages, true);
      rounds++;
      for (let p = 0; p < pages && api.running(); p++) {
        const w = first + p * 1024;
        api.ownStore(base + p * 4096, w, api.lastWritten(w) + 1);
        api.op();
        faults++;
      }
    }
    return { faults, rounds, ms: api.now() - t0 };
  },
};
export default writeNotify;
