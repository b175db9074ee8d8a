/** `--config FILE` on a command: the file's values fill every flag the command line did not give. */
import type { Command } from 'commander';
import { type ConfigCommand, type ConfigValues, loadConfigFile, RUN_FLAG_VALUES, RUN_LISTS, RUN_NEGATED } from '../config-file.js';
import { camel } from '../run-option-row.js';

/** Config values -> the string / string[] / boolean values commander holds for the same flags. */
function flagValues(v: ConfigValues, command: ConfigCommand, cmd: Command): Record<string, unknown> {
  const negated = new Map(RUN_NEGATED);
  const lists = new Set(RUN_LISTS);
  for (const o of cmd.options) {
    if (o.negate) negated.set(camel(o.long!.replace(/^--/, '')), o.attributeName());
    if (Array.isArray(o.defaultValue)) lists.add(o.attributeName());
  }
  const out: Record<string, unknown> = {};
  for (const [k, given] of Object.entries(v)) {
    if (negated.has(k)) {
      out[negated.get(k)!] = !given;
      continue;
    }
    // by name, whichever command has the flag: bench's switch --lockdep too, which then holds 'on' or
    // 'off' (both true), as it always has
    const val = RUN_FLAG_VALUES.get(k)?.(given) ?? given;
    if (k === 'cpus' && command === 'bench' && Array.isArray(val)) out.cpus = val.join(',');
    else if (lists.has(k)) out[k] = (Array.isArray(val) ? val : [val]).map(String);
    else out[k] = typeof val === 'number' ? String(val) : val;
  }
  return out;
}

/**
 * Adds `--config FILE` to a command: before its action runs, the file's values fill every option the
 * command line did not give (commander's value source 'cli' wins; the file's values get source 'config').
 */
export function addConfigOption(cmd: Command, command: ConfigCommand): Command {
  cmd.option('--config <file>', 'read options from a JSON or YAML file (command-line flags override it)');
  cmd.hook('preAction', (_self, action) => {
    const path = action.opts().config as string | undefined;
    if (path === undefined) return;
    const values = flagValues(loadConfigFile(path, command, action), command, action);
    for (const [k, val] of Object.entries(values)) {
      if (action.getOptionValueSource(k) === 'cli') continue;
      action.setOptionValueWithSource(k, val, 'config');
    }
  });
  return cmd;
}
