/**
 * msync-region (vm-scalability case-msync style): the CPUs share one file; each maps its own region of
 * it shared and repeats: write one word in every page of the region, then msync(MS_SYNC) the region.
 * From the second round on every store is a write-notify fault, and every msync writes back the whole
 * region (page_mkclean on each page, whose TLB shootdown reaches every CPU that runs the same mm).
 *
 * One op is one msync. The result gives the msyncs, the pages they wrote back (`pages` per msync) and
 * the host milliseconds of the loop (`ms`). Param: `pages` (region size per CPU, default 64).
 */
import type { Workload } from '../workload.js';

const pagesOf = (p: Readonly<Record<string, unknown>>) => Number(p.pages ?? 64);

const msyncRegion: Workload = {
  name: 'msync-region',
  description: 'one shared file; each CPU writes one word per page of its own region and msyncs the region (vm-scalability case-msync)',
  oracle: 'owned-words',
  params: { pages: { default: 64, description: 'region size per CPU (pages)' } },
  // an op writes and msyncs 64 pages: 20 000 of them on 4 CPUs is minutes of one run
  defaultOps: 200,
  files: (o) => [{ pages: pagesOf(o.params) * o.cpus, accountDirty: true, mmapHookChangesProt: false }],
  run(api) {
    const pages = pagesOf(api.params);
    const first = api.cpu * pages;
    const base = api.mmap(0, first, pages, { write: true, shared: true });
    const w0 = api.wordIndex(0, first, 0);
    let msyncs = 0;
    const t0 = api.now();
    while (api.running()) {
      for (let p = 0; p < pages; p++) {
        const w = w0 + p * 1024;
        api.ownStore(base + p * 4096, w, api.lastWritten(w) + 1);
      }
      api.msync(base, pages, true);
      api.op();
      msyncs++;
    }
    return { msyncs, pages: msyncs * pages, ms: api.now() - t0 };
  },
};
export default msyncRegion;
