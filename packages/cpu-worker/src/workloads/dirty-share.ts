/**
 * dirty-share: the stress workload of the seed's mechanism. The CPUs of one or more processes map
 * the same file(s) shared; every 32-bit word has one owner CPU (word % cpus) which writes increasing
 * sequence numbers and checks, on every read of its own words, that it sees the last one. A seeded
 * random mix of stores and loads over many pages runs beside msync calls, munmap/remap and mprotect
 * cycles of the CPU's own mapping, while the kernel threads (background flusher, journal commit,
 * reclaim) run concurrently.
 *
 * One op is one step of the mix. Params (per ten thousand, unless said): `files` (1), `pages` (64 per
 * file), `store` (6000), `load` (3900), `msync` (40), `remap` (20), `mprotect` (40; the rest of the
 * mix), `writenotify` (true: files account dirty pages).
 */
import type { CpuApi } from '../api.js';
import type { Workload } from '../workload.js';

interface Mix {
  files: number;
  pages: number;
  store: number;
  load: number;
  msync: number;
  remap: number;
}

function mixOf(p: Readonly<Record<string, unknown>>): Mix {
  return {
    files: Number(p.files ?? 1),
    pages: Number(p.pages ?? 64),
    store: Number(p.store ?? 6000),
    load: Number(p.load ?? 3900),
    msync: Number(p.msync ?? 40),
    remap: Number(p.remap ?? 20),
  };
}

const dirtyShare: Workload = {
  name: 'dirty-share',
  description: 'CPUs of P processes share files; owned words, stores/loads, msync, munmap/remap, mprotect',
  oracle: 'owned-words',
  files: (o) => {
    const m = mixOf(o.params);
    const acct = o.params.writenotify !== false && o.params.writenotify !== 'false';
    return Array.from({ length: m.files }, () => ({ pages: m.pages, accountDirty: acct, mmapHookChangesProt: false }));
  },
  run(api: CpuApi) {
    const m = mixOf(api.params);
    const cpus = api.cpus;
    const me = api.cpu;
    const ownPerPage = Math.floor((1024 - me - 1) / cpus) + 1; // words k = me + cpus*j of each page
    const bases = new Float64Array(m.files);
    const writable = new Uint8Array(m.files);
    for (let f = 0; f < m.files; f++) {
      bases[f] = api.mmap(f, 0, m.pages, { write: true, shared: true });
      writable[f] = 1;
    }
    const cStore = m.store;
    const cLoad = cStore + m.load;
    const cMsync = cLoad + m.msync;
    const cRemap = cMsync + m.remap;
    const rng = api.rng;
    let lost = 0;
    while (api.running()) {
      const r = rng.below(10000);
      const f = m.files === 1 ? 0 : rng.below(m.files);
      const page = rng.below(m.pages);
      if (r < cLoad) {
        if (r < cStore && writable[f]) {
          const word = me + cpus * rng.below(ownPerPage);
          const idx = api.wordIndex(f, page, word);
          api.ownStore(bases[f]! + page * 4096 + word * 4, idx, api.lastWritten(idx) + 1);
        } else if (rng.below(2) === 0) {
          const word = me + cpus * rng.below(ownPerPage);
          api.ownLoad(bases[f]! + page * 4096 + word * 4, api.wordIndex(f, page, word), f, page, word);
        } else {
          lost = (lost + api.load(bases[f]! + page * 4096 + rng.below(1024) * 4)) | 0;
        }
      } else if (r < cMsync) {
        const n = 1 + rng.below(Math.min(8, m.pages - page));
        api.msync(bases[f]! + page * 4096, n, true);
      } else if (r < cRemap) {
        api.munmap(bases[f]!, m.pages);
        bases[f] = api.mmap(f, 0, m.pages, { write: true, shared: true });
        writable[f] = 1;
      } else {
        writable[f] ^= 1;
        api.mprotect(bases[f]!, m.pages, writable[f] === 1);
      }
      api.op();
    }
    return { checksum: lost };
  },
};
export default dirtyShare;
