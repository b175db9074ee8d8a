/**
 * Configuration files (`--config FILE`, JSON or YAML) for `run`, `stress`, `explore` and `bench`. A
 * file sets the same things as the long flags, under the same names (camelCase or kebab-case); flags
 * given on the command line override it. Every field is checked by a zod schema, and an error names
 * the file and the field: `config file x.yaml: cpus: expected an integer from 1 to 64`. The run
 * options' fields come from the run-option table (run-options.ts); commands/config-option.ts adds
 * `--config` to a command.
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
import { MAX_CPUS } from '@smpsim/core';
import { MAX_JOBS } from './campaign.js';
import { bool, duration, int, stringList } from './config-fields.js';
import { UsageError } from './parse.js';
import { attributeName, camel, longFlag } from './run-option-row.js';
import { RUN_OPTION_ROWS } from './run-options.js';

/** A config file that cannot be read, parsed or validated (exit status 2, like any bad input). */
export class ConfigFileError extends UsageError {}

/** Which command a file configures: each accepts its own flags and no others. */
export type ConfigCommand = 'run' | 'stress' | 'explore' | 'bench';

/** The run options' fields (under commander's names: `checkEvery`, `daemons` and `noDaemons`), in table order. */
const RUN_FIELDS: Record<string, z.ZodType> = {};
for (const [, row] of RUN_OPTION_ROWS) {
  if (!row.file) continue;
  RUN_FIELDS[attributeName(row)] = row.file.schema;
  if (longFlag(row).startsWith('--no-')) RUN_FIELDS[camel(longFlag(row).slice(2))] = row.file.schema;
}
RUN_FIELDS.json = bool;

/** Config values -> flag values, for the run options whose file values differ from their flags' (a param map, lockdep true/false). */
export const RUN_FLAG_VALUES = new Map(RUN_OPTION_ROWS.filter(([, r]) => r.file?.flagValue).map(([, r]) => [attributeName(r), r.file!.flagValue!]));
/** Repeatable run flags and negated run switches, by commander's names. */
export const RUN_LISTS = new Set(RUN_OPTION_ROWS.filter(([, r]) => r.list).map(([, r]) => attributeName(r)));
export const RUN_NEGATED = new Map(RUN_OPTION_ROWS.filter(([, r]) => longFlag(r).startsWith('--no-')).map(([, r]) => [camel(longFlag(r).slice(2)), attributeName(r)]));

const shard = z.string({ error: 'expected K/N, e.g. 2/8' }).refine((v) => {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  return !!m && Number(m[1]) >= 1 && Number(m[1]) <= Number(m[2]);
}, { error: 'expected K/N with 1 ≤ K ≤ N, e.g. 2/8' });

const STRESS_FIELDS = {
  ...RUN_FIELDS,
  runs: int(1),
  time: duration,
  jobs: int(1, MAX_JOBS),
  keepGoing: bool,
  out: z.string({ error: 'expected a file path' }).min(1),
  resume: bool,
  shard,
  /** `--portfolio`: true (the table's weights), 'NAME=W,...', or a map of workload: weight (checked by portfolioWeights). */
  portfolio: z.union([z.literal(true), z.string().min(1), z.record(z.string(), z.number())], { error: 'expected true, "workload=weight,..." or a map of workload: weight' }),
  tune: bool,
};

/** `smpsim explore` (and its alias `stress --catalogue`): the run options and the campaign's size. */
const EXPLORE_FIELDS = {
  ...RUN_FIELDS,
  runs: int(1),
  jobs: int(1, MAX_JOBS),
};

const BENCH_FIELDS = {
  cpus: z.union([int(1, MAX_CPUS), z.array(int(1, MAX_CPUS)).min(1), z.string().regex(/^\d+(,\d+)*$/)], { error: 'expected a CPU count or a list of them, e.g. [1, 2, 4]' }),
  time: duration,
  json: bool,
};

const FIELDS: Record<ConfigCommand, Record<string, z.ZodType>> = { run: RUN_FIELDS, stress: STRESS_FIELDS, explore: EXPLORE_FIELDS, bench: BENCH_FIELDS };

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
