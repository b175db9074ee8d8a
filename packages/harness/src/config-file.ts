/**
 * Configuration files (`--config FILE`, JSON or YAML) for `run`, `stress` and `bench`. A file sets the
 * same things as the long flags, under the same names (camelCase or kebab-case); flags given on the
 * command line override it. Every field is checked by a zod schema, and an error names the file and
 * the field: `config file x.yaml: cpus: expected an integer from 1 to 32`.
 *
 * ```yaml
 * # campaign.yaml — smpsim stress --config campaign.yaml
 * cpus: 2
 * workload: dirty-share
 * ops: 10000
 * bug: [no-remote-flush]
 * param: { files: 2, pages: 16 }
 * runs: 200
 * keep-going: true
 * out: results.jsonl
 * ```
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { BUG_IDS, KERNEL_PRESETS } from '@smpsim/core';
import { parseDuration, parseSize, parseTlb, UsageError } from './parse.js';

/** A config file that cannot be read, parsed or validated (exit status 2, like any bad input). */
export class ConfigFileError extends UsageError {}

/** Which command a file configures: each accepts its own flags and no others. */
export type ConfigCommand = 'run' | 'stress' | 'bench';

const fits = (f: (v: string) => unknown) => (v: string) => {
  try {
    f(v);
    return true;
  } catch {
    return false;
  }
};

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const msg = max === Number.MAX_SAFE_INTEGER ? `expected an integer ≥ ${min}` : `expected an integer from ${min} to ${max}`;
  return z.int({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
};
const bool = z.boolean({ error: 'expected true or false' });
/** A duration: a string like 500ms, 20s, 2m, or a number of seconds. */
const DURATION = 'expected a duration like 500ms, 20s or 2m (a number means seconds)';
const duration = z.union([z.number({ error: DURATION }).positive({ error: DURATION }), z.string({ error: DURATION }).refine(fits((v) => parseDuration(v, 'duration')), { error: DURATION })], {
  error: DURATION,
});
const stringList = z.union([z.string(), z.array(z.string())], { error: 'expected a string or a list of strings' });

const SIZE = 'expected a size like 64M or 1G, or a number of bytes';

/** Flag values as the file may write them; `flag()` turns each into the string commander would hold. */
const RUN_FIELDS = {
  cpus: int(1, 32),
  procs: int(1, 32),
  workload: z.string({ error: 'expected a workload name or module path' }).min(1),
  ops: int(1),
  duration,
  seed: int(0, 2 ** 31 - 1),
  memory: z.union([int(4096), z.string({ error: SIZE }).refine(fits((v) => parseSize(v, 'memory')), { error: SIZE })], { error: SIZE }),
  tlb: z.string({ error: 'expected SETSxWAYS or L1SETSxWAYS,L2SETSxWAYS' }).refine(fits(parseTlb), { error: 'expected SETSxWAYS or L1SETSxWAYS,L2SETSxWAYS (e.g. 16x4,128x12)' }),
  param: z.union([z.array(z.string().regex(/^[^=]+=/)), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))], {
    error: 'expected a map of key: value or a list of "key=value"',
  }),
  bug: z.union([z.enum(BUG_IDS), z.array(z.enum(BUG_IDS))], { error: `expected a bug id or a list of them (${BUG_IDS.join(', ')})` }),
  kernel: z.enum(Object.keys(KERNEL_PRESETS) as [string, ...string[]], { error: `expected one of ${Object.keys(KERNEL_PRESETS).join(', ')}` }),
  lockdep: z.union([z.enum(['on', 'off']), z.boolean()], { error: 'expected on, off, true or false' }),
  watchdog: duration,
  perturb: z.number({ error: 'expected a probability from 0 to 1' }).min(0, { error: 'expected a probability from 0 to 1' }).max(1, { error: 'expected a probability from 0 to 1' }),
  checkEvery: int(0),
  flushCeiling: int(1),
  daemons: bool,
  noDaemons: bool,
  json: bool,
};

const shard = z.string({ error: 'expected K/N, e.g. 2/8' }).refine((v) => {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  return !!m && Number(m[1]) >= 1 && Number(m[1]) <= Number(m[2]);
}, { error: 'expected K/N with 1 ≤ K ≤ N, e.g. 2/8' });

const STRESS_FIELDS = {
  ...RUN_FIELDS,
  runs: int(1),
  time: duration,
  jobs: int(1, 1024),
  keepGoing: bool,
  out: z.string({ error: 'expected a file path' }).min(1),
  resume: bool,
  shard,
};

const BENCH_FIELDS = {
  cpus: z.union([int(1, 32), z.array(int(1, 32)).min(1), z.string().regex(/^\d+(,\d+)*$/)], { error: 'expected a CPU count or a list of them, e.g. [1, 2, 4]' }),
  time: duration,
  json: bool,
};

const FIELDS: Record<ConfigCommand, Record<string, z.ZodType>> = { run: RUN_FIELDS, stress: STRESS_FIELDS, bench: BENCH_FIELDS };

/**
 * The schema of a command's file: the fields above, plus, when the command is given, every other
 * option it declares (so options added to the command later are accepted too: a flag without a value
 * takes true/false, a repeatable one a list, any other a string or number). Nothing else is accepted.
 */
function schemaFor(command: ConfigCommand, cmd?: Command) {
  const known = FIELDS[command];
  if (!cmd) return z.strictObject(known).partial();
  const shape: Record<string, z.ZodType> = {};
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    if (key === 'config' || key === 'verbose' || key === 'help' || key === 'version') continue;
    shape[key] =
      known[key] ??
      (opt.required || opt.optional
        ? Array.isArray(opt.defaultValue)
          ? stringList
          : z.union([z.string(), z.number()], { error: 'expected a string or a number' })
        : bool);
    if (opt.negate) shape[camel(opt.long!.replace(/^--/, ''))] = bool;
  }
  return z.strictObject(shape).partial();
}

/** Aliases a file may use besides the flag names. */
const ALIASES: Record<string, string> = { params: 'param', bugs: 'bug' };

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The validated contents of a config file, keyed by commander's attribute names (camelCase). */
export type ConfigValues = Record<string, unknown>;

/**
 * Reads, parses (JSON or YAML by extension; YAML otherwise, which also reads JSON) and validates a
 * config file for `command`. Throws ConfigFileError with one line naming the file and the field.
 */
export function loadConfigFile(path: string, command: ConfigCommand, cmd?: Command): ConfigValues {
  const where = `config file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigFileError(`${where}: cannot read it${code === 'ENOENT' ? ' (no such file)' : code ? ` (${code})` : ''}`);
  }
  return parseConfigText(text, path, command, cmd);
}

/** As loadConfigFile, for text already read; `name` names it in errors and picks JSON for `.json`. */
export function parseConfigText(text: string, name: string, command: ConfigCommand, cmd?: Command): ConfigValues {
  const where = `config file ${name}`;
  let data: unknown;
  try {
    data = /\.json$/i.test(name) ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    if (e instanceof YAMLParseError) throw new ConfigFileError(`${where}: not valid YAML: ${firstLine(e.message).replace(/:$/, '')}`);
    throw new ConfigFileError(`${where}: not valid JSON: ${firstLine((e as Error).message)}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigFileError(`${where}: expected a map of option names to values`);

  const normalized: Record<string, unknown> = {};
  const spelledAs: Record<string, string> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    const c = ALIASES[camel(k)] ?? camel(k);
    if (c in spelledAs) throw new ConfigFileError(`${where}: '${k}' and '${spelledAs[c]}' set the same option`);
    spelledAs[c] = k;
    normalized[c] = v;
  }
  const r = schemaFor(command, cmd).safeParse(normalized);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `'${spelledAs[k] ?? k}'`).join(', ');
      throw new ConfigFileError(`${where}: unknown option${issue.keys.length > 1 ? 's' : ''} ${keys} for smpsim ${command}`);
    }
    const field = issue.path.length ? issue.path.map((p, i) => (i === 0 ? spelledAs[String(p)] ?? String(p) : typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '(top level)';
    throw new ConfigFileError(`${where}: ${field}: ${issue.message}`);
  }
  if ('daemons' in r.data && 'noDaemons' in r.data && r.data.daemons === r.data.noDaemons) {
    throw new ConfigFileError(`${where}: 'daemons' and 'no-daemons' contradict each other`);
  }
  return r.data as ConfigValues;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

/** Config values -> the string / string[] / boolean values commander holds for the same flags. */
function flagValues(v: ConfigValues, command: ConfigCommand, cmd?: Command): Record<string, unknown> {
  const negated = new Map<string, string>([['noDaemons', 'daemons']]);
  const lists = new Set<string>(['param', 'bug']);
  for (const o of cmd?.options ?? []) {
    if (o.negate) negated.set(camel(o.long!.replace(/^--/, '')), o.attributeName());
    if (Array.isArray(o.defaultValue)) lists.add(o.attributeName());
  }
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (negated.has(k)) out[negated.get(k)!] = !val;
    else if (k === 'param' && !Array.isArray(val)) out.param = Object.entries(val as Record<string, unknown>).map(([pk, pv]) => `${pk}=${pv}`);
    else if (k === 'lockdep' && typeof val === 'boolean') out.lockdep = val ? 'on' : 'off';
    else if (k === 'cpus' && command === 'bench' && Array.isArray(val)) out.cpus = val.join(',');
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
