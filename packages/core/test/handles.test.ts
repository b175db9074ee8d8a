/**
 * Branded handles (src/handles.ts): a swapped frame number, page index, mm or lock word is a compile
 * error, and a handle costs nothing at run time. The `@ts-expect-error` lines are the test: the build
 * fails if one of them stops being an error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type FileId, type LockIdx, MAP_SHARED, type MmId, type PgOff, type Pfn, PROT_READ, PROT_WRITE, sysMmap, type Vpn } from '@smpsim/core';
import { file, kfilemap, kmm, pte as P } from '@smpsim/core/testing';
import { small, vpnOf } from './helpers.js';

test('handles are plain numbers at run time, made where the kernel makes them', () => {
  const { m, cpus } = small({ files: [file(2)] });
  const a = cpus[0]!;
  const addr = sysMmap(a, 0, 0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr, 7);
  const mm = 0 as MmId;
  const pte = kmm.pteOffset(m, mm, vpnOf(addr) as Vpn);
  assert.ok(pte !== -1);
  const pfn: Pfn = P.ptePfn(Atomics.load(m.mem, pte));
  assert.is(typeof pfn, 'number');
  assert.is(kmm.pageMapping(m, pfn), 0);
  assert.is(kmm.pageIndex(m, pfn), 0);
  const file0 = kmm.pageMapping(m, pfn);
  assert.ok(file0 !== -1);
  assert.is(kfilemap.slotPage(m.meta[kfilemap.slotOf(m, file0, kmm.pageIndex(m, pfn))]!), pfn);
  const lock: LockIdx = kmm.pteLockOf(m, pte);
  assert.is(typeof lock, 'number');
});

test('a swapped handle does not compile', () => {
  const { m } = small({ files: [file(2)] });
  const pfn = 5 as Pfn;
  const index = 0 as PgOff;
  const f = 0 as FileId;
  const mm = 0 as MmId;
  const vpn = 1 as Vpn;
  const typeErrors = () => {
    // @ts-expect-error a page index is not a frame
    kmm.pageFlags(m, index);
    // @ts-expect-error a frame is not a page index
    kfilemap.slotOf(m, f, pfn);
    // @ts-expect-error (mm, vpn) swapped
    kmm.pteOffset(m, vpn, mm);
    // @ts-expect-error a frame is not a PTE's word
    kmm.pteLockOf(m, pfn);
    // @ts-expect-error a plain number is not a file until the kernel checked it
    kfilemap.treeLock(m, 0);
  };
  assert.type(typeErrors, 'function');
});

test.run();
