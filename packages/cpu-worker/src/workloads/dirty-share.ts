/**
 * dirty-share: the stress workload of the seed's mechanism. The CPUs of one or more processes map
 * the same file(s) shared; every 32-bit word has one owner CPU (word % cpus) which writes increasing
 * sequence numbers and checks, on every read of its own words, that it sees the last one. A seeded
 * random mix of stores and loads over many pages runs beside msync calls, munmap/remap and mprotect
 * cycles of the CPU's own mapping, while the kernel threads (background flusher, journal commit,
 * reclaim) run concurrently.
 *
 * One op is one step of the mix. Params (per ten thousand, unless said): `files` (2), `pages` (256 per
 * file), `store` (6000), `load` (3900), `msync` (40), `remap` (20), `truncate` (2: ftruncate of the
 * file to drop its tail — the last eighth of its pages — and back to its size), `mprotect` (38; the
 * rest of the mix), `hot` (8000: ops that go to the hot eighth of the pages; the cold rest is written rarely,
 * so a page the kernel wrongly cleaned is often evicted before a new write heals it), `syscalls` (0:
 * owned stores and loads done with pwrite/pread instead, mixing write(2) with mmap), `writenotify`: `mixed` (default: even-numbered files account dirty pages and get write
 * notification, odd ones do not, so dirty state lives in PTE D bits there), `true` or `false`.
 *
 * Truncation keeps the owned-word oracle exact as a program sharing a file would: the tails are
 * guarded by a user-space reader-writer lock (shared word TAIL_LOCK), taken without waiting. An
 * access, write(2) or msync that touches a tail page holds it for reading (and is skipped while a CPU
 * truncates); a truncating CPU takes it for writing only when no CPU is in a tail (else it skips the
 * op), so nobody stores into a tail while the kernel drops it, and the owners'
 * words there read 0 afterwards (CpuApi.ownFtruncate). What the kernel does meanwhile on the rest of
 * the file — faults (truncate_count retries), munmap/remap and mprotect of windows that reach into
 * the tail, the flusher, journal and reclaim on the same pages — is not held off. A stale TLB entry
 * left by truncate's unmap_mapping_range would store into a freed page: the owner's next load finds it
 * missing.
 */
import type { CpuApi } from '../api.js';
import type { Workload } from '../workload.js';
import { ownedPerPage } from './threads.js';

interface Mix {
  files: number;
  pages: number;
  store: number;
  load: number;
  msync: number;
  remap: number;
  truncate: number;
  hot: number;
  syscalls: number;
}

function mixOf(p: Readonly<Record<string, unknown>>): Mix {
  return {
    files: Number(p.files ?? 2),
    pages: Number(p.pages ?? 256),
    store: Number(p.store ?? 6000),
    load: Number(p.load ?? 3900),
    msync: Number(p.msync ?? 40),
    remap: Number(p.remap ?? 20),
    truncate: Number(p.truncate ?? 2),
    hot: Number(p.hot ?? 8000),
    syscalls: Number(p.syscalls ?? 0),
  };
}

/** Shared word counting the CPUs that have mapped their files. */
const START_BARRIER = 0;
/** Shared word of the tails' reader-writer lock: readers in the low bits, TAIL_WRITER per truncating CPU. */
const TAIL_LOCK = 1;
const TAIL_WRITER = 1 << 24;

const dirtyShare: Workload = {
  name: 'dirty-share',
  description: 'CPUs of P processes share files; owned words, stores/loads, msync, munmap/remap, mprotect',
  oracle: 'owned-words',
  params: {
    files: { default: 2, description: 'files the CPUs share' },
    pages: { default: 256, description: 'pages per file' },
    store: { default: 6000, description: 'stores per 10 000 ops' },
    load: { default: 3900, description: 'loads per 10 000 ops' },
    msync: { default: 40, description: 'msync(MS_SYNC) calls per 10 000 ops' },
    remap: { default: 20, description: 'munmap + MAP_FIXED remaps per 10 000 ops' },
    truncate: { default: 2, description: 'ftruncate of a file to drop its tail (the last eighth of its pages) and back, per 10 000 ops (the rest of the mix is mprotect)' },
    hot: { default: 8000, description: 'ops per 10 000 that go to the hot eighth of the pages' },
    writenotify: { default: 'mixed', description: 'mixed (even files account dirty pages, odd ones do not), true or false' },
    syscalls: { default: 0, description: 'owned stores and loads per 10 000 done with pwrite/pread instead of through the mapping' },
  },
  files: (o) => {
    const m = mixOf(o.params);
    const wn = String(o.params.writenotify ?? 'mixed');
    if (!['mixed', 'true', 'false'].includes(wn)) throw new Error(`param writenotify must be mixed, true or false, got '${wn}'`);
    return Array.from({ length: m.files }, (_, i) => ({ pages: m.pages, accountDirty: wn === 'true' || (wn === 'mixed' && i % 2 === 0), mmapHookChangesProt: false }));
  },
  // Its files are half of memory by default (4 MiB for the default 2 x 256 pages): as on a loaded
  // machine, get_dirty_limits then allows a quarter of memory dirty (half the unmapped share), so
  // writers throttle when half the files' pages are dirty at once, and reclaim works near its
  // watermark. In 64 MiB a 2 MiB working set would never reach 2.6.20's limits.
  memoryBytes: (o) => {
    const m = mixOf(o.params);
    const mib = 1024 * 1024;
    return Math.max(4 * mib, Math.ceil((2 * m.files * m.pages * 4096) / mib) * mib);
  },
  run(api: CpuApi) {
    const m = mixOf(api.params);
    const cpus = api.cpus;
    const me = api.cpu;
    const ownPerPage = ownedPerPage(me, cpus); // words k = me + cpus*j of each page
    const bases = new Float64Array(m.files);
    // Per file and page: is this CPU's mapping of it writable now (mprotect cycles)?
    const writable = new Uint8Array(m.files * m.pages).fill(1);
    for (let f = 0; f < m.files; f++) bases[f] = api.mmap(f, 0, m.pages, { write: true, shared: true });
    // Start barrier: no CPU remaps before every CPU has mapped its files. A remap is munmap, then
    // mmap(MAP_FIXED) at the same address; CPUs of one process share the address space, so a CPU still
    // placing its first mappings could be given that hole and then lose it to the MAP_FIXED (a real
    // user-space race, which the owned-word oracle would blame on the kernel).
    let arrived = api.shared.add(START_BARRIER, 1) + 1;
    while (arrived < cpus) arrived = api.shared.waitWhile(START_BARRIER, arrived);
    const cStore = m.store;
    const cLoad = cStore + m.load;
    const cMsync = cLoad + m.msync;
    const cRemap = cMsync + m.remap;
    const cTruncate = cRemap + m.truncate;
    const rng = api.rng;
    const hotPages = Math.max(1, m.pages >> 3);
    const window = Math.min(16, m.pages);
    // the tail a truncate drops: the last eighth (none for a one-page file)
    const tailStart = m.pages - (m.pages > 1 ? Math.max(1, m.pages >> 3) : 0);
    const shared = api.shared;
    // (neither side waits: an op that finds the other side in skips itself, so no CPU spins for a
    // CPU the host has not scheduled)
    const readTail = (): boolean => {
      if (shared.add(TAIL_LOCK, 1) < TAIL_WRITER) return true;
      shared.add(TAIL_LOCK, -1); // a truncate is dropping the tails
      return false;
    };
    let sum = 0;
    while (api.running()) {
      const r = rng.below(10000);
      const f = m.files === 1 ? 0 : rng.below(m.files);
      const page = rng.below(10000) < m.hot ? rng.below(hotPages) : rng.below(m.pages);
      const base = bases[f]!;
      if (r < cLoad) {
        const tail = page >= tailStart;
        if (tail && !readTail()) {
          api.op();
          continue;
        }
        if (r < cStore && writable[f * m.pages + page]) {
          const word = me + cpus * rng.below(ownPerPage);
          const idx = api.wordIndex(f, page, word);
          // (the draw only when syscalls are on: the random sequence of older runs stays as it was)
          if (m.syscalls > 0 && rng.below(10000) < m.syscalls) api.ownPwrite(f, page, word, idx, api.lastWritten(idx) + 1);
          else api.ownStore(base + page * 4096 + word * 4, idx, api.lastWritten(idx) + 1);
        } else if (rng.below(2) === 0) {
          const word = me + cpus * rng.below(ownPerPage);
          if (m.syscalls > 0 && rng.below(10000) < m.syscalls) api.ownPread(f, page, word, api.wordIndex(f, page, word));
          else api.ownLoad(base + page * 4096 + word * 4, api.wordIndex(f, page, word), f, page, word);
        } else {
          sum = (sum + api.load(base + page * 4096 + rng.below(1024) * 4)) | 0;
        }
        if (tail) shared.add(TAIL_LOCK, -1);
      } else if (r >= cRemap && r < cTruncate) {
        if (tailStart < m.pages) {
          if (shared.add(TAIL_LOCK, TAIL_WRITER) === 0) {
            // nobody in a tail: they are this CPU's; drop file f's and grow it back
            try {
              api.ownFtruncate(f, tailStart);
              api.ownFtruncate(f, m.pages);
            } finally {
              shared.add(TAIL_LOCK, -TAIL_WRITER);
            }
          } else shared.add(TAIL_LOCK, -TAIL_WRITER); // a CPU is in a tail, or truncating: skip
        }
      } else {
        // A window of pages of this CPU's own mapping of the file.
        const n = 1 + rng.below(window);
        const a = Math.min(page, m.pages - n);
        if (r < cMsync) {
          // (msync's durability contract would see a truncate of the tail meanwhile as a lost write)
          const tail = a + n > tailStart;
          if (!tail || readTail()) {
            api.msync(base + a * 4096, n, true);
            if (tail) shared.add(TAIL_LOCK, -1);
          }
        } else if (r < cRemap) {
          api.munmap(base + a * 4096, n);
          api.mmap(f, a, n, { write: true, shared: true, fixed: base + a * 4096 });
          writable.fill(1, f * m.pages + a, f * m.pages + a + n);
        } else {
          const w = rng.below(2);
          api.mprotect(base + a * 4096, n, w === 1);
          writable.fill(w, f * m.pages + a, f * m.pages + a + n);
        }
      }
      api.op();
    }
    return { checksum: sum };
  },
};
export default dirtyShare;
