/**
 * Timed mode's cache-line model (hw/coherence.ts), in one thread: what a read and a write cost
 * depending on who wrote the line last and who read it since, within and across sockets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CacheLines, CTR, CTR_COUNT, LINE_ENTRIES, LINE_FIELDS, lockLine, memLine, metaLine } from '@smpsim/core';

const LOCAL = 100;
const REMOTE = 400;

function rig(cpus: number, perSocket: number) {
  const lines = new CacheLines(new Int32Array(LINE_ENTRIES * LINE_FIELDS), LOCAL, REMOTE, perSocket);
  const stats = new Float64Array(cpus * CTR_COUNT);
  const cpu = Array.from({ length: cpus }, (_, id) => ({ id, ctr: stats.subarray(id * CTR_COUNT, (id + 1) * CTR_COUNT) }));
  const cycles = (c: number) => cpu[c]!.ctr[CTR.cycles]!;
  return { lines, cpu, cycles };
}

test('a line written by another CPU costs a transfer, local or remote by socket; a line of its own costs nothing', () => {
  const { lines, cpu, cycles } = rig(64, 8);
  const k = lockLine(1234);
  lines.write(cpu[0]!, k); // first touch: nothing to transfer
  assert.is(cycles(0), 0);
  lines.write(cpu[0]!, k);
  assert.is(cycles(0), 0, 'rewriting its own line');
  lines.write(cpu[3]!, k);
  assert.is(cycles(3), LOCAL, 'same socket (CPUs 0..7)');
  lines.write(cpu[40]!, k);
  assert.is(cycles(40), REMOTE, 'another socket, across the 32-bit word of the sharer mask');
  lines.read(cpu[41]!, k);
  assert.is(cycles(41), LOCAL, 'reading a line CPU 40 modified, same socket');
  lines.read(cpu[41]!, k);
  assert.is(cycles(41), LOCAL, 'a second read hits its shared copy');
  lines.read(cpu[2]!, k);
  assert.is(cycles(2), REMOTE);
  // a write invalidates the copies: the farthest (CPU 2 on socket 0, seen from CPU 41) decides
  lines.write(cpu[41]!, k);
  assert.is(cycles(41), LOCAL + REMOTE);
  lines.write(cpu[41]!, k);
  assert.is(cycles(41), LOCAL + REMOTE, 'owned again: free');
});

test('the key spaces of locks, per-CPU lines and page-table lines do not meet', () => {
  const keys = new Set([lockLine(0), lockLine(16), metaLine(0), metaLine(16), memLine(0), memLine(16)]);
  assert.is(keys.size, 6);
  assert.is(metaLine(3), metaLine(15), 'one 64-byte line');
  assert.is(memLine(0), memLine(15));
  assert.is.not(lockLine(3), lockLine(4), 'a lock is a line of its own');
});

test.run();
