/**
 * mprotect-race: mprotect rewriting PTEs while other CPUs of the same process write through them.
 * All CPUs share one mapping of a file whose backing does not account dirty pages, so the dirty state
 * lives only in the PTE D bits. CPU 0 keeps toggling PROT_EXEC on the whole mapping (each toggle runs
 * change_pte_range over every PTE: clear-then-set, and the writers' next writes never fault); the
 * other CPUs sweep the pages writing one owned word per page and checking it on the next sweep, while
 * CPU 0 also drops clean pages from the cache and fsyncs the file. A D bit lost between change_pte_range's read and write
 * leaves a written page clean: it is evicted, refaults from the stale backing store, and the owner's
 * next read sees the old value. One op is one PTE rewritten by mprotect (CPU 0) or one page (the
 * others).
 * With `writenotify=true` the file accounts dirty pages, so the mapping write-notifies: mprotect keeps
 * clean pages read-only (dirty_accountable), and the flusher's page_mkclean meets change_pte_range's
 * clear-then-set window (the 479db0bf race, bug mkclean-unlocked-check).
 * Params: `pages` (16), `writenotify` (false).
 */
import type { Workload } from '../workload.js';

const pagesOf = (p: Readonly<Record<string, unknown>>) => Number(p.pages ?? 16);
const writenotifyOf = (p: Readonly<Record<string, unknown>>) => p.writenotify === true || p.writenotify === 'true';
/** Shared words: the mapping's first VPN, published by CPU 0; CPU 0 sets DONE when its mprotects are over. */
const BASE = 0;
const DONE = 1;

const mprotectRace: Workload = {
  name: 'mprotect-race',
  description: 'mprotect (PROT_EXEC toggles) vs writers on a shared mapping (without write notification unless writenotify=true)',
  oracle: 'owned-words',
  params: {
    pages: { default: 16, description: 'pages of the shared mapping' },
    writenotify: { default: false, description: 'the file accounts dirty pages, so the mapping write-notifies' },
  },
  files: (o) => {
    if (o.cpus < 2) throw new Error('mprotect-race needs at least 2 CPUs');
    if (o.procs !== 1) throw new Error('mprotect-race runs in one process (--procs 1)');
    const wn = o.params.writenotify;
    if (wn !== undefined && wn !== true && wn !== false && wn !== 'true' && wn !== 'false') throw new Error(`mprotect-race: writenotify must be true or false, got '${String(wn)}'`);
    return [{ pages: pagesOf(o.params), accountDirty: writenotifyOf(o.params), mmapHookChangesProt: false }];
  },
  run(api) {
    const pages = pagesOf(api.params);
    if (api.cpu === 0) api.shared.store(BASE, api.mmap(0, 0, pages, { write: true, shared: true }) / 4096);
    const base = (api.cpu === 0 ? api.shared.load(BASE) : api.shared.waitWhile(BASE, 0)) * 4096;
    if (api.cpu === 0) {
      let exec = false;
      try {
        while (api.running()) {
          exec = !exec;
          api.mprotect(base, pages, true, exec);
          if ((api.done / pages) % 2 === 1) {
            // Reclaim: unmapping moves D bits into the pages (dirty: kept) and evicts clean ones;
            // fsync then cleans the dirty ones, so the next pass evicts them and they refault clean.
            api.dropCaches();
            api.fsync(0);
          }
          api.done += pages;
        }
      } finally {
        api.shared.store(DONE, 1);
      }
      return { mprotects: api.done };
    }
    const word = api.cpu; // word k of each page belongs to CPU k
    let p = 0;
    while (api.shared.load(DONE) === 0 && !api.timeUp) {
      const idx = api.wordIndex(0, p, word);
      const addr = base + p * 4096 + word * 4;
      api.ownLoad(addr, idx, 0, p, word);
      // Reads keep the PTE present and clean for a while (a refaulted page), then the write sets D.
      for (let i = 0; i < 8000; i++) api.load(addr);
      api.ownStore(addr, idx, api.lastWritten(idx) + 1);
      p = (p + 1) % pages;
      api.op();
    }
    return { writes: api.done };
  },
};
export default mprotectRace;
