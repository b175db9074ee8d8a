/**
 * Flags -> RunOptions: the values commander holds for the run flags, each read by its row's parser
 * (run-options.ts). Knows nothing of commander itself: a flag left out takes its default.
 */
import { aliasAttributeName, attributeName, type AnyRow, longFlag } from './run-option-row.js';
import { DEFAULT_RUN, RUN_OPTION_ROWS, RUN_OPTIONS, type RunKey, type RunOptions } from './run-options.js';
import { UsageError } from './parse.js';

// Type-level names of the raw flag values, derived from the rows' flags: '--check-every <c>' -> checkEvery.
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
type LongName<F extends string> = F extends `--no-${infer N}` ? N : F extends `--${infer N} ${string}` ? N : F extends `--${infer N}` ? N : never;
type RawValue<R> = R extends { list: true } ? readonly string[] : R extends { toggle: true } ? boolean : string;
type Table = typeof RUN_OPTIONS;

/**
 * The values commander holds for the run flags (a flag left out takes its default), plus the command
 * flags runOptionsFrom checks. Keys as commander names them: `checkEvery`, `daemons`, `bug`.
 */
export type RawRunFlags = { [K in RunKey as Camel<LongName<Table[K]['flag']>>]?: RawValue<Table[K]> } & { scheduleOut?: string; json?: boolean; verbose?: boolean };

/** The flags among `keys` that were given, parsed (a partial RunOptions). */
export function runOptionsGiven(f: Readonly<Record<string, unknown>>, keys: readonly RunKey[]): Partial<RunOptions> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const row = RUN_OPTIONS[key] as AnyRow;
    const alias = aliasAttributeName(row);
    const [main, other] = [f[attributeName(row)], alias === undefined ? undefined : f[alias]];
    if (main !== undefined && other !== undefined && main !== other) throw new UsageError(`${longFlag(row)} and ${row.alias} are one option: given '${String(main)}' and '${String(other)}'`);
    const raw = main ?? other;
    if (raw !== undefined) out[key] = (row.parse as (raw: unknown) => unknown)(raw);
  }
  return out as Partial<RunOptions>;
}

/** Flags -> RunOptions, with every value checked (UsageError with one line otherwise). */
export function runOptionsFrom(f: RawRunFlags): RunOptions {
  const deterministic = f.mode === 'deterministic';
  if (deterministic && f.duration !== undefined) throw new UsageError('deterministic mode counts --ops, never host time: use --ops N instead of --duration');
  if (!deterministic && f.scheduleOut !== undefined) throw new UsageError('--schedule-out needs --mode deterministic');
  const raw = f as Readonly<Record<string, unknown>>;
  const o = { ...structuredClone({ ...DEFAULT_RUN, cwd: undefined }), ...runOptionsGiven(raw, RUN_OPTION_ROWS.map(([k]) => k)), cwd: process.cwd() } as RunOptions;
  for (const [key, row] of RUN_OPTION_ROWS) {
    if (row.absent && raw[attributeName(row)] === undefined) (o as unknown as Record<string, unknown>)[key] = row.absent(o);
  }
  return o;
}
