/**
 * What a row of the run-option table (run-options.ts) declares, and the small readings of a row the
 * derivations share: the flag's long name, commander's name for its value, a value as a command line
 * writes it, the default --help shows.
 */
import type { z } from 'zod';
import type { RunKey, RunOptions } from './run-options.js';

/** One run option. `K` is its RunOptions field. */
interface Row<K extends RunKey> {
  /** As commander reads it: `--cpus <n>`, a switch `--lock-stat`, a negated switch `--no-daemons`. */
  readonly flag: `--${string}`;
  /** A second name of the flag (a value flag's): the same option, refused if both are given with different values. */
  readonly alias?: `--${string}`;
  readonly description: string;
  /** The value when the flag is not given (undefined: the field is absent). */
  readonly default: RunOptions[K];
  readonly choices?: readonly string[];
  /** The default --help shows and commander hands to `parse` (default: `text(default)`); false: none. */
  readonly shown?: string | false;
  /** A flag not given, without a default shown: its value from the others (computed after them). */
  readonly absent?: (o: RunOptions) => RunOptions[K];
  /** The value as a command line writes it (default: String). */
  readonly text?: (v: RunOptions[K]) => string;
  /** Its field in a configuration file, and the flag value a file's value stands for (default: itself). */
  readonly file?: { readonly schema: z.ZodType; readonly flagValue?: (v: unknown) => unknown };
  /** In the reproduce line (omitted: never). */
  readonly reproduce?: {
    /** Its place in the line. */
    readonly at: number;
    /** Whether the line has it (default: when the value is not the default). */
    readonly when?: (o: RunOptions) => boolean;
    /** What follows the flag, once per repetition; '' for a switch (default: [text(value)]). */
    readonly args?: (o: RunOptions) => string[];
  };
  /** In the options of a schedule string, under the RunOptions name (omitted: never). */
  readonly schedule?: {
    readonly at: number;
    /** Reading a string: 'required' fields refuse a value that is not `valid`, 'optional' ones ignore it; 'map' fields are objects ({} when absent). */
    readonly read: 'required' | 'optional' | 'map';
    readonly valid?: (v: unknown) => boolean;
    /** The value written (default: the option's value); undefined: left out. */
    readonly write?: (o: RunOptions) => unknown;
  };
  /** Why deterministic mode refuses a value (programmatic options, which no `parse` checked); undefined: accepted. */
  readonly refusedInDet?: (v: RunOptions[K]) => string | undefined;
}

/** The flag takes a value (`--cpus <n>`); `parse` reads it. */
type ValueRow<K extends RunKey> = Row<K> & { readonly list?: undefined; readonly toggle?: undefined; readonly parse: (raw: string) => RunOptions[K] };
/** Repeatable (`--bug a --bug b`): commander collects the values, `parse` reads the list. */
type ListRow<K extends RunKey> = Row<K> & { readonly list: true; readonly toggle?: undefined; readonly parse: (raw: readonly string[]) => RunOptions[K] };
/** A switch without a value (`--lock-stat`, `--no-daemons`). */
type ToggleRow<K extends RunKey> = Row<K> & { readonly toggle: true; readonly list?: undefined; readonly parse: (raw: boolean) => RunOptions[K] };
export type RunOptionRow<K extends RunKey = RunKey> = ValueRow<K> | ListRow<K> | ToggleRow<K>;

/** A row with its types erased, for the derivations that walk the whole table. */
export type AnyRow = Omit<Row<RunKey>, 'default' | 'text' | 'absent' | 'refusedInDet'> & {
  readonly default: unknown;
  readonly list?: true;
  readonly toggle?: true;
  readonly parse: (raw: never) => unknown;
  readonly text?: (v: never) => string;
  readonly absent?: (o: RunOptions) => unknown;
  readonly refusedInDet?: (v: never) => string | undefined;
};

/** `--check-every <cycles>` -> '--check-every'; `--no-daemons` -> '--no-daemons'. */
export const longFlag = (row: AnyRow): string => row.flag.split(' ')[0]!;
/** `--check-every <cycles>` -> 'checkEvery', `--no-daemons` -> 'daemons': commander's name for the value. */
export const attributeName = (row: AnyRow): string => camel(longFlag(row).replace(/^--(no-)?/, ''));
/** Commander's name for the value of the row's alias (undefined: none). */
export const aliasAttributeName = (row: AnyRow): string | undefined => (row.alias ? camel(row.alias.replace(/^--/, '')) : undefined);
export const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
/** A value as a command line writes it. */
export const flagText = (row: AnyRow, v: unknown): string => (row.text ? (row.text as (x: unknown) => string)(v) : String(v));
/** The default commander holds (and --help shows) for a value flag; undefined for none. */
export function shownDefault(row: AnyRow): string | undefined {
  if (row.list || row.toggle || row.shown === false || row.default === undefined) return undefined;
  return row.shown ?? flagText(row, row.default);
}

