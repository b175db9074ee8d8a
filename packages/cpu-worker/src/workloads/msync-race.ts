/**
 * msync-race: the central race of the seed's mechanism, checked through msync's contract. CPUs 1..n-1
 * keep writing their own words of page 0 through their writable TLB entries; CPU 0 keeps running
 * msync(MS_SYNC) on page 0 — page_mkclean with a synced shootdown, then writepage — and after each
 * msync returns checks that the backing store holds, for every writer, at least the value it had
 * written before that msync started. A write that went through a stale writable entry, or a page
 * left clean under a writable PTE, shows up as a missing value. One op of CPU 0 is one msync; the
 * writers run until CPU 0 is done. Needs at least 2 CPUs.
 */
import { lostWriteDetails, lostWriteMessage } from '@smpsim/core';
import type { Workload } from '../workload.js';

/** Shared word 0: CPU 0 sets it when its msyncs are over. */
const DONE = 0;

const msyncRace: Workload = {
  name: 'msync-race',
  description: 'writers vs msync(MS_SYNC) on one page; checks that msync wrote what was written before it',
  oracle: 'owned-words',
  params: {},
  files: (o) => {
    if (o.cpus < 2) throw new Error('msync-race needs at least 2 CPUs');
    return [{ pages: 2, accountDirty: true, mmapHookChangesProt: false }];
  },
  run(api) {
    const base = api.mmap(0, 0, 2, { write: true, shared: true });
    if (api.cpu !== 0) {
      const idx = api.wordIndex(0, 0, api.cpu);
      while (api.shared.load(DONE) === 0 && !api.timeUp) {
        api.ownStore(base + api.cpu * 4, idx, api.lastWritten(idx) + 1);
      }
      return null;
    }
    // CPU 0 writes only page 1, so nothing but the writers dirties page 0.
    const own = api.wordIndex(0, 1, 0);
    // Its own check beside the CPU API's durability contract: that one skips kernels without write
    // notification (2.6.18), where this one holds too (msync harvests this mm's PTE dirty bits).
    const before = new Int32Array(api.cpus);
    try {
      while (api.running()) {
        for (let c = 1; c < api.cpus; c++) before[c] = api.ownerLastWritten(api.wordIndex(0, 0, c));
        api.msync(base, 1, true);
        for (let c = 1; c < api.cpus; c++) {
          const onDisk = api.backingStore(api.wordIndex(0, 0, c));
          if (onDisk < before[c]!) {
            const at = { file: 0, page: 0, word: c };
            api.violation('lost-write', lostWriteMessage(at, `after msync(MS_SYNC) returned the backing store holds ${onDisk}, but cpu${c} had written ${before[c]} before the msync started`), lostWriteDetails(at, before[c]!, onDisk, 'msync'));
          }
        }
        api.ownStore(base + 4096, own, api.lastWritten(own) + 1);
        // let the writers run a little
        for (let i = 0; i < 2000; i++) api.load(base + 4096 + 8);
        api.op();
      }
    } finally {
      api.shared.store(DONE, 1);
    }
    return { msyncs: api.done };
  },
};
export default msyncRace;
