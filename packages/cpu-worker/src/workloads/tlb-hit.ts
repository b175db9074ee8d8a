/**
 * tlb-hit: each CPU maps its own small file and loops over it, alternating loads and stores, so
 * nearly every access hits the L1 TLB. One op is one access. Params: `pages` (working set, default 8).
 */
import type { CpuApi } from '../api.js';
import type { Workload } from '../workload.js';

const pagesOf = (p: Readonly<Record<string, unknown>>) => Number(p.pages ?? 8);

/**
 * The TLB-hit loop: alternating loads and stores every 64 bytes over [base, base + span), counting
 * one op per access, while the CPU should run. Returns the accesses made and a checksum.
 */
export function tlbHitLoop(api: CpuApi, base: number, span: number): { accesses: number; checksum: number } {
  const c = api.c;
  let off = 0;
  let sum = 0;
  let n = 0;
  while (api.running()) {
    for (let i = 0; i < 1024; i++) {
      const a = base + off;
      sum = (sum + c.load(a)) | 0;
      c.store(a + 4, sum);
      off += 64;
      if (off >= span) off = 0;
    }
    api.done += 2048;
    n += 2048;
  }
  return { accesses: n, checksum: sum };
}

const tlbHit: Workload = {
  name: 'tlb-hit',
  description: 'each CPU loops loads and stores over its own small working set (TLB hits)',
  oracle: 'none',
  params: { pages: { default: 8, description: 'working set (pages)' } },
  files: (o) => Array.from({ length: o.cpus }, () => ({ pages: pagesOf(o.params), accountDirty: true, mmapHookChangesProt: false })),
  run(api) {
    const pages = pagesOf(api.params);
    const base = api.mmap(api.cpu, 0, pages, { write: true, shared: true });
    for (let p = 0; p < pages; p++) api.store(base + p * 4096, 1); // fault everything in, writable and dirty
    return { checksum: tlbHitLoop(api, base, pages * 4096).checksum };
  },
};
export default tlbHit;
