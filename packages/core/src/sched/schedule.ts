/**
 * Schedule strings: a run of deterministic mode as one line of text, versioned, that replays it.
 *
 *   smpsim1:<base64url of deflate-raw(payload)>
 *
 * payload (all integers as unsigned LEB128 varints):
 *   json length, json            the run's options (what the harness needs to rebuild the machine)
 *   n                            number of decisions
 *   n x (step delta, cpu)        the decision list, run-length encoded: each switch as the number of
 *                                steps since the previous one, and the CPU that runs from then on
 *
 * A new layout gets a new prefix (smpsim2:, ...); an unknown prefix is refused with a clear message.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Decision } from './state.js';

export const SCHEDULE_PREFIX = 'smpsim1:';

export interface Schedule {
  /** The run's options, as the harness writes them. */
  readonly options: Record<string, unknown>;
  /** Every switch of CPUs, in step order; the entry at step 0 names the first CPU. */
  readonly decisions: readonly Decision[];
}

/** A string that is not a schedule this version can read. */
export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

function putVarint(out: number[], v: number): void {
  if (!(Number.isInteger(v) && v >= 0)) throw new ScheduleError(`cannot encode ${v} as a varint`);
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.b.length) throw new ScheduleError('schedule string is cut short');
      const x = this.b[this.pos++]!;
      v += (x & 0x7f) * mul;
      if (!(x & 0x80)) return v;
      mul *= 0x80;
      if (mul > 2 ** 56) throw new ScheduleError('schedule string holds a malformed number');
    }
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.b.length) throw new ScheduleError('schedule string is cut short');
    const r = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}

export function encodeSchedule(s: Schedule): string {
  const out: number[] = [];
  const json = Buffer.from(JSON.stringify(s.options), 'utf8');
  putVarint(out, json.length);
  const head = Buffer.from(out);
  const rest: number[] = [];
  putVarint(rest, s.decisions.length);
  let prev = 0;
  for (const d of s.decisions) {
    if (d.step < prev) throw new ScheduleError('decisions must be in step order');
    putVarint(rest, d.step - prev);
    putVarint(rest, d.cpu);
    prev = d.step;
  }
  const payload = Buffer.concat([head, json, Buffer.from(rest)]);
  return SCHEDULE_PREFIX + deflateRawSync(payload, { level: 9 }).toString('base64url');
}

export function decodeSchedule(text: string): Schedule {
  const t = text.trim();
  const m = /^smpsim(\d+):/.exec(t);
  if (!m) throw new ScheduleError(`not a schedule string (it starts with '${SCHEDULE_PREFIX}')`);
  if (m[0] !== SCHEDULE_PREFIX) throw new ScheduleError(`schedule string version ${m[1]} is not supported by this smpsim (it reads ${SCHEDULE_PREFIX.slice(0, -1)})`);
  const body = t.slice(SCHEDULE_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) throw new ScheduleError('schedule string holds characters outside base64url');
  let payload: Uint8Array;
  try {
    payload = inflateRawSync(Buffer.from(body, 'base64url'));
  } catch {
    throw new ScheduleError('schedule string is damaged (it does not decompress)');
  }
  const r = new Reader(payload);
  const jlen = r.varint();
  let options: Record<string, unknown>;
  try {
    options = JSON.parse(Buffer.from(r.bytes(jlen)).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ScheduleError) throw e;
    throw new ScheduleError('schedule string is damaged (its options are not JSON)');
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ScheduleError('schedule string is damaged (no options)');
  const n = r.varint();
  const decisions: Decision[] = [];
  let step = 0;
  for (let k = 0; k < n; k++) {
    step += r.varint();
    decisions.push({ step, cpu: r.varint() });
  }
  return { options, decisions };
}
