/**
 * Seeded fsx-style traces for `smpsim difftest --random N --seed S`: one file of 4-16 pages, up to
 * three mappings (shared or private, rw or r, some MADV_RANDOM), and a weighted mix of stores, loads,
 * mprotect, msync, fsync, pread, pwrite, stat and io. Every trace ends with fsync and stat. pwrite
 * and ftruncate (shrinking or growing the file up to its first size) are in the mix.
 */
import { Rng } from '@smpsim/core';
import { UsageError } from '../parse.js';
import { parseTrace, type Trace, TRACE_VERSION } from './trace.js';

export const DEFAULT_WEIGHTS: Readonly<Record<string, number>> = {
  store: 40,
  load: 15,
  map: 6,
  unmap: 3,
  mprotect: 6,
  msync: 8,
  fsync: 4,
  pread: 6,
  stat: 8,
  io: 3,
  pwrite: 6,
  ftruncate: 3,
};

/** 'store=50,load=10' (the others keep their defaults). */
export function parseWeights(spec: string | undefined): Record<string, number> {
  const w: Record<string, number> = { ...DEFAULT_WEIGHTS };
  if (!spec) return w;
  for (const part of spec.split(',')) {
    const [k, v] = part.split('=');
    if (!k || !(k in DEFAULT_WEIGHTS) || v === undefined || !/^\d+$/.test(v)) throw new UsageError(`--weights: expected OP=N,... with OP one of ${Object.keys(DEFAULT_WEIGHTS).join(', ')}, got '${part}'`);
    w[k] = Number(v);
  }
  if (Object.values(w).every((x) => x === 0)) throw new UsageError('--weights: every weight is 0');
  return w;
}

/** Random trace `index` of the campaign with base seed `seed`, `ops` ops long. */
export function randomTrace(seed: number, index: number, ops: number, weights: Readonly<Record<string, number>>): Trace {
  const rng = new Rng(seed, index);
  const pages = 4 + rng.below(13);
  const lines = [`version ${TRACE_VERSION}`, `# random trace ${index} of --seed ${seed}`, `file ${pages}`];
  const maps = new Map<number, { pages: number; write: boolean }>();
  let value = 1;
  const names = Object.keys(weights).filter((k) => weights[k]! > 0);
  const total = names.reduce((s, k) => s + weights[k]!, 0);
  const pick = (): string => {
    let r = rng.below(total);
    for (const k of names) if ((r -= weights[k]!) < 0) return k;
    return names[0]!;
  };
  const slotOf = (): [number, { pages: number; write: boolean }] | null => {
    if (maps.size === 0) return null;
    const all = [...maps.entries()];
    return all[rng.below(all.length)]!;
  };
  const mapOne = () => {
    const slot = [0, 1, 2].find((s) => !maps.has(s));
    if (slot === undefined) return;
    const pgoff = rng.below(pages);
    const n = 1 + rng.below(pages - pgoff);
    const write = rng.below(4) !== 0;
    const shared = rng.below(5) !== 0;
    maps.set(slot, { pages: n, write });
    lines.push(`map ${slot} ${pgoff} ${n} ${write ? 'rw' : 'r'} ${shared ? 'shared' : 'private'}${rng.below(2) ? ' random' : ''}`);
  };
  for (let i = 0; i < ops; i++) {
    const op = pick();
    const m = slotOf();
    if ((op === 'store' || op === 'load' || op === 'mprotect' || op === 'msync' || op === 'unmap') && !m) {
      mapOne();
      continue;
    }
    switch (op) {
      case 'map':
        mapOne();
        break;
      case 'unmap':
        maps.delete(m![0]);
        lines.push(`unmap ${m![0]}`);
        break;
      case 'store':
        lines.push(`store ${m![0]} ${rng.below(m![1].pages)} ${rng.below(1024)} ${value++}`);
        break;
      case 'load':
        lines.push(`load ${m![0]} ${rng.below(m![1].pages)} ${rng.below(1024)}`);
        break;
      case 'mprotect': {
        const p = rng.below(m![1].pages);
        // a read-only mapping cannot be made writable (EACCES on both): keep within what it allows
        lines.push(`mprotect ${m![0]} ${p} ${1 + rng.below(m![1].pages - p)} ${m![1].write && rng.below(2) ? 'rw' : 'r'}`);
        break;
      }
      case 'msync': {
        const p = rng.below(m![1].pages);
        lines.push(`msync ${m![0]} ${p} ${1 + rng.below(m![1].pages - p)} ${rng.below(3) ? 'sync' : 'async'}`);
        break;
      }
      case 'fsync':
      case 'io':
        lines.push(op);
        break;
      case 'stat':
        lines.push('stat');
        break;
      case 'pread':
        lines.push(`pread ${rng.below(pages)} ${rng.below(1024)}`);
        break;
      case 'pwrite':
        lines.push(`pwrite ${rng.below(pages)} ${rng.below(1024)} ${value++}`);
        break;
      case 'ftruncate':
        lines.push(`ftruncate ${rng.below(pages + 1)}`);
        break;
    }
  }
  lines.push('fsync', 'stat');
  return parseTrace(lines.join('\n') + '\n', `random:${seed}:${index}`);
}
