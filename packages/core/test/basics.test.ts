import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAP_SHARED, PROT_READ, PROT_WRITE, sysMmap, sysMsync, MS_SYNC, checkInvariants } from '@smpsim/core';
import { testMachine, file } from '@smpsim/core/testing';

test('a shared write faults in, msync writes it to the backing store', () => {
  const { m, cpus } = testMachine({ files: [file(4)] });
  const [a, b] = cpus as [typeof cpus[0], typeof cpus[0]];
  const addr = sysMmap(a, 0, 0, 4, PROT_READ | PROT_WRITE, MAP_SHARED);
  a.store(addr + 8, 42);
  assert.is(b.load(addr + 8), 42);
  sysMsync(a, addr, 4, MS_SYNC);
  assert.is(m.disk[2], 42);
  assert.equal(checkInvariants(m), []);
});

test.run();
