/** `smpsim bugs`: the historical bug switches (core's BUG_CATALOGUE). */
import type { Command } from 'commander';
import { BUG_CATALOGUE, BUG_IDS, DEFAULT_KERNEL_PRESET, releasedKernelsWith } from '@smpsim/core';
import { subcommand } from './common.js';

export function registerBugs(p: Command): Command {
  return subcommand(p, 'bugs')
    .description(`list the historical bug switches: which released kernels contain each, and the fix that ${DEFAULT_KERNEL_PRESET} (the default) applies`)
    .option('--json', 'print JSON')
    .action((flags) => {
      if (flags.json) {
        process.stdout.write(JSON.stringify(BUG_IDS.map((id) => ({ id, ...BUG_CATALOGUE[id], inKernels: releasedKernelsWith(id) }))) + '\n');
        return;
      }
      for (const id of BUG_IDS) {
        const b = BUG_CATALOGUE[id];
        const kernels = releasedKernelsWith(id);
        process.stdout.write(
          `${id}${b.harmful ? '' : ' (control)'}\n  restores: ${b.restores}\n  fixed by: ${b.fixedBy}${b.fixedIn ? ` (${b.fixedIn})` : ''}\n` +
            `  in released kernels: ${kernels.length ? kernels.join(', ') : 'none'}\n  expected: ${b.expected}\n`,
        );
      }
    });
}
