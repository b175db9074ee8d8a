/** `smpsim run`: one simulated machine; exit 1 if it finds a violation. */
import type { Command } from 'commander';
import { UsageError } from '../parse.js';
import { formatLockStat, formatSummary } from '../report.js';
import { runMachine } from '../run.js';
import { runOptionsFrom } from '../run-flags.js';
import { printScheduleOf, subcommand } from './common.js';
import { addConfigOption } from './config-option.js';
import { addRunOptions } from './flags.js';

export function registerRun(p: Command): Command {
  const cmd = addRunOptions(subcommand(p, 'run').description('run one simulated machine'));
  addConfigOption(cmd, 'run');
  return cmd.action(async (flags) => {
    const o = runOptionsFrom(flags);
    if (o.procs > o.cpus) throw new UsageError(`--procs (${o.procs}) cannot exceed --cpus (${o.cpus})`);
    const s = await runMachine(o);
    if (flags.json) process.stdout.write(JSON.stringify(s) + '\n');
    else {
      process.stdout.write(formatSummary(s) + '\n');
      if (o.lockStat) process.stdout.write('\n' + formatLockStat(s.stats.locks) + '\n');
    }
    printScheduleOf(s, { json: !!flags.json, out: flags.scheduleOut });
    process.exitCode = s.ok ? 0 : 1;
  });
}
