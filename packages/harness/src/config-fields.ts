/**
 * The zod schemas a configuration file's fields are checked with, each with the one-line message
 * an error shows after the file and field name (`config file c.yaml: cpus: expected an integer from
 * 1 to 64`). The run options' fields are declared with their rows in run-options.ts; config-file.ts
 * assembles each command's schema.
 */
import { z } from 'zod';
import { parseDuration, parseSize, parseTlb } from './parse.js';

/** True when `f` accepts the string (a parser used as a predicate). */
export const fits = (f: (v: string) => unknown) => (v: string) => {
  try {
    f(v);
    return true;
  } catch {
    return false;
  }
};

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const msg = max === Number.MAX_SAFE_INTEGER ? `expected an integer ≥ ${min}` : `expected an integer from ${min} to ${max}`;
  return z.int({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
};

export const bool = z.boolean({ error: 'expected true or false' });

/** A duration: a string like 500ms, 20s, 2m, or a number of seconds. */
const DURATION = 'expected a duration like 500ms, 20s or 2m (a number means seconds)';
export const duration = z.union([z.number({ error: DURATION }).positive({ error: DURATION }), z.string({ error: DURATION }).refine(fits((v) => parseDuration(v, 'duration')), { error: DURATION })], {
  error: DURATION,
});

export const stringList = z.union([z.string(), z.array(z.string())], { error: 'expected a string or a list of strings' });

/** A probability from 0 to 1. */
const PROBABILITY = 'expected a probability from 0 to 1';
export const probability = z.number({ error: PROBABILITY }).min(0, { error: PROBABILITY }).max(1, { error: PROBABILITY });

const SIZE = 'expected a size like 64M or 1G, or a number of bytes';
/** A size: 64M, 1G, or a number of bytes. */
export const size = z.union([int(4096), z.string({ error: SIZE }).refine(fits((v) => parseSize(v, 'memory')), { error: SIZE })], { error: SIZE });

const TLB = 'expected SETSxWAYS or L1SETSxWAYS,L2SETSxWAYS';
/** TLB levels as --tlb takes them. */
export const tlbGeometry = z.string({ error: TLB }).refine(fits(parseTlb), { error: `${TLB} (e.g. 16x4,128x12)` });

/** Key-value settings: a map, or a list of "key=value". */
export const keyValues = z.union([z.array(z.string().regex(/^[^=]+=/)), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))], { error: 'expected a map of key: value or a list of "key=value"' });

/** A non-empty string. */
export const nonEmpty = (error: string) => z.string({ error }).min(1);
/** One of `values`. */
export const oneOf = (values: readonly string[], error: string) => z.enum(values as [string, ...string[]], { error });
/** One of `values`, or a list of them. */
export const oneOrList = (values: readonly string[], error: string) => {
  const one = z.enum(values as [string, ...string[]]);
  return z.union([one, z.array(one)], { error });
};
/** A switch written on or off, or true or false. */
export const onOff = z.union([z.enum(['on', 'off']), z.boolean()], { error: 'expected on, off, true or false' });
