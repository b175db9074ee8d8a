/**
 * Test helpers (the package's public `testing` entry): a machine whose CPUs all live in the calling
 * thread. While one CPU waits for flush acknowledgements it services the others' IPIs itself, so
 * kernel paths run to completion without workers. Real concurrency is tested with workers.
 */
import { type MachineConfig, defaultConfig, type FileSpec } from './config.js';
import { Cpu } from './hw/cpu.js';
import { bootCpu } from './kernel/kernel.js';
import { Machine } from './machine/machine.js';

export interface TestMachine {
  readonly m: Machine;
  readonly cpus: Cpu[];
}

/** A machine of `cpus` CPUs (CPU c in process c % procs), booted without kernel threads. */
export function testMachine(overrides: Partial<MachineConfig> = {}, opts: { daemons?: boolean } = {}): TestMachine {
  const config = defaultConfig({ cpus: 2, ...overrides });
  const m = Machine.create(config);
  const cpus = Array.from({ length: config.cpus }, (_, i) => new Cpu(m, i));
  for (const c of cpus) {
    c.peers = cpus;
    bootCpu(c, c.id % config.procs, opts.daemons ?? false);
  }
  return { m, cpus };
}

export const file = (pages: number, o: Partial<FileSpec> = {}): FileSpec => ({ pages, accountDirty: true, mmapHookChangesProt: false, ...o });
