/**
 * page-fault3 (will-it-scale tests/page_fault3.c): each CPU maps its own file shared, writes one word
 * per page, unmaps, and repeats. With write notification every page write faults (no fault-around
 * for write faults, as on the Linux of the seed). One op is one page written. Param: `pages`
 * (file size, default 256).
 */
import type { Workload } from '../workload.js';

const pagesOf = (p: Readonly<Record<string, unknown>>) => Number(p.pages ?? 256);

const pageFault3: Workload = {
  name: 'page-fault3',
  description: "will-it-scale page_fault3: map a file shared, write one word per page, unmap, repeat",
  oracle: 'owned-words',
  params: { pages: { default: 256, description: 'file size (pages)' } },
  files: (o) => Array.from({ length: o.cpus }, () => ({ pages: pagesOf(o.params), accountDirty: true, mmapHookChangesProt: false })),
  run(api) {
    const pages = pagesOf(api.params);
    const file = api.cpu;
    let rounds = 0;
    while (api.running()) {
      const base = api.mmap(file, 0, pages, { write: true, shared: true });
      for (let p = 0; p < pages && api.running(); p++) {
        const w = api.wordIndex(file, p, 0);
        api.ownStore(base + p * 4096, w, api.lastWritten(w) + 1);
        api.op();
      }
      api.munmap(base, pages);
      rounds++;
    }
    return { rounds };
  },
};
export default pageFault3;
