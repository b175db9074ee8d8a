/**
 * Per-CPU event tracing: page faults, flush requests and acknowledgements, lock acquisitions and
 * releases, writeback, the disk's submissions and completions and (in deterministic mode) schedule
 * switches.
 *
 * Two consumers, either or both:
 * - the trace hash of deterministic mode: every event is folded, in execution order, into the FNV-1a
 *   hash in the scheduler's shared state (one CPU runs at a time, so the order is well defined);
 * - `--trace FILE.json`: events recorded in the Chrome trace-event format that Perfetto and
 *   chrome://tracing open (`ph` B/E for faults and flush waits, X for lock holds and running slices,
 *   i for instants), with host microseconds as timestamps in free mode and the logical clock
 *   (simulated cycles) in deterministic mode.
 *
 * A CPU without a tracer pays one null check per slow-path event; the TLB-hit path has none.
 */
import { type CpuMask, maskList } from './cpumask.js';
import { HELD_MAX } from './machine/layout.js';
import { LOCK_CLASS_NAMES, SITE_NAMES } from './kernel/locking/lockorder.js';
import { I_TURN, type SchedState, TURN_FREE } from './sched/state.js';

/** One event of the Chrome trace-event format. */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'B' | 'E' | 'X' | 'i' | 'M';
  ts: number;
  pid: number;
  tid: number;
  dur?: number;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

/** Event codes folded into the trace hash. */
export const enum Ev {
  Fault = 1,
  LockAcquire = 2,
  LockRelease = 3,
  FlushRequest = 4,
  FlushAck = 5,
  Writeback = 6,
  FlushDone = 7,
  IoSubmit = 8,
  IoComplete = 9,
}

/** Events a CPU keeps at most (the rest are counted in `dropped`). */
export const TRACE_MAX_EVENTS = 2_000_000;

export interface TracerOptions {
  /** Record events for a trace file. */
  readonly record: boolean;
  /** Deterministic mode: fold events into this state's trace hash. */
  readonly sched: SchedState | null;
  /** Timestamps: the logical clock in deterministic mode; host microseconds otherwise. */
  readonly clock: () => number;
}

const hostMicros = () => (performance.timeOrigin + performance.now()) * 1000;

export class Tracer {
  /** Recorded events (null when only hashing). */
  readonly events: TraceEvent[] | null;
  dropped = 0;
  private readonly sched: SchedState | null;
  /** Words of a CPU mask the machine uses (1 up to 32 CPUs, as the hash has always folded). */
  private readonly hashMaskWords: number;
  private readonly clock: () => number;
  private readonly lockStart = new Float64Array(HELD_MAX);
  private runStart = -1;

  constructor(
    /** The CPU whose events this records. */
    readonly cpu: number,
    o: TracerOptions,
  ) {
    this.events = o.record ? [] : null;
    this.sched = o.sched;
    this.hashMaskWords = o.sched !== null ? Math.ceil(o.sched.cpus / 32) : 1;
    this.clock = o.clock;
  }

  /** The host clock for free mode. */
  static readonly hostClock = hostMicros;

  private fold3(a: number, b: number, c: number): void {
    const s = this.sched!;
    // Once the machine stopped, the CPUs unwind concurrently (finally blocks release locks): the
    // hash covers the scheduled execution only.
    if (Atomics.load(s.i, I_TURN) === TURN_FREE) return;
    s.fold(a | (this.cpu << 8));
    s.fold(b | 0);
    s.fold(c | 0);
  }

  /** Folds one more word of the event just folded by fold3. */
  private fold1(w: number): void {
    const s = this.sched!;
    if (Atomics.load(s.i, I_TURN) === TURN_FREE) return;
    s.fold(w | 0);
  }

  private push(e: TraceEvent): void {
    if (this.events!.length >= TRACE_MAX_EVENTS) {
      this.dropped++;
      return;
    }
    this.events!.push(e);
  }

  private ev(name: string, cat: string, ph: TraceEvent['ph'], args?: Record<string, unknown>): void {
    const e: TraceEvent = { name, cat, ph, ts: this.clock(), pid: 1, tid: this.cpu };
    if (ph === 'i') e.s = 't';
    if (args) e.args = args;
    this.push(e);
  }

  fault(addr: number, errcode: number): void {
    if (this.sched) this.fold3(Ev.Fault, (addr / 4096) | 0, errcode);
    if (this.events) this.ev('page fault', 'fault', 'B', { addr: '0x' + addr.toString(16), errcode: '0x' + errcode.toString(16) });
  }

  faultEnd(): void {
    if (this.events) this.ev('page fault', 'fault', 'E');
  }

  /** A lock taken; `depth` is its slot on the held-lock stack. */
  lockAcquired(idx: number, cls: number, site: number, depth: number, contended: boolean): void {
    if (this.sched) this.fold3(Ev.LockAcquire, idx, cls);
    if (this.events && depth < HELD_MAX) {
      this.lockStart[depth] = this.clock();
      if (contended) this.ev(`contended ${LOCK_CLASS_NAMES[cls]}`, 'lock', 'i', { lock: idx, site: SITE_NAMES[site] });
    }
  }

  /** The lock in slot `i` of a stack of `depth` released (the slots above move down). */
  lockReleased(idx: number, cls: number, site: number, i: number, depth: number): void {
    if (this.sched) this.fold3(Ev.LockRelease, idx, cls);
    if (this.events) {
      const start = this.lockStart[i]!;
      const e: TraceEvent = { name: LOCK_CLASS_NAMES[cls] ?? `class ${cls}`, cat: 'lock', ph: 'X', ts: start, dur: Math.max(0, this.clock() - start), pid: 1, tid: this.cpu, args: { lock: idx, site: SITE_NAMES[site] } };
      this.push(e);
      for (let j = i; j < depth - 1 && j + 1 < HELD_MAX; j++) this.lockStart[j] = this.lockStart[j + 1]!;
    }
  }

  flushRequest(mm: number, start: number, end: number, all: boolean, targets: CpuMask): void {
    if (this.sched) {
      this.fold3(Ev.FlushRequest, all ? -1 : start, targets[0]!);
      for (let w = 1; w < this.hashMaskWords; w++) this.fold1(targets[w]!);
    }
    if (this.events) this.ev('TLB shootdown', 'flush', 'B', { mm, start, end, all, targets: targetList(targets) });
  }

  flushDone(): void {
    if (this.sched) this.fold3(Ev.FlushDone, 0, 0);
    if (this.events) this.ev('TLB shootdown', 'flush', 'E');
  }

  flushAck(src: number): void {
    if (this.sched) this.fold3(Ev.FlushAck, src, 0);
    if (this.events) this.ev('flush ack', 'flush', 'i', { to: `cpu${src}` });
  }

  writeback(file: number, index: number, pfn: number): void {
    if (this.sched) this.fold3(Ev.Writeback, file, index);
    if (this.events) this.ev('writeback', 'writeback', 'i', { file, index, pfn });
  }

  /** submit_bh(WRITE) of block `block` of file page `index` onto this CPU's disk queue (`depth` then in flight). */
  ioSubmit(file: number, index: number, block: number, depth: number): void {
    if (this.sched) {
      this.fold3(Ev.IoSubmit, file, index);
      this.fold1(block);
    }
    if (this.events) this.ev('I/O submit', 'io', 'i', { file, index, block, inFlight: depth });
  }

  /** end_buffer_async_write of that block, in this CPU's disk interrupt. */
  ioComplete(file: number, index: number, block: number): void {
    if (this.sched) {
      this.fold3(Ev.IoComplete, file, index);
      this.fold1(block);
    }
    if (this.events) this.ev('I/O complete', 'io', 'i', { file, index, block });
  }

  /** Deterministic mode: this CPU starts running. */
  schedIn(): void {
    if (this.events) this.runStart = this.clock();
  }

  /** Deterministic mode: this CPU hands over to `next` at `step`. */
  schedOut(next: number, step: number): void {
    if (!this.events) return;
    const now = this.clock();
    if (this.runStart >= 0) this.push({ name: 'running', cat: 'sched', ph: 'X', ts: this.runStart, dur: Math.max(0, now - this.runStart), pid: 1, tid: this.cpu });
    this.push({ name: 'switch', cat: 'sched', ph: 'i', s: 't', ts: now, pid: 1, tid: this.cpu, args: { to: `cpu${next}`, step } });
    this.runStart = -1;
  }

  /** End of the run: closes the running slice. */
  finish(): void {
    if (this.events && this.runStart >= 0) {
      const now = this.clock();
      this.push({ name: 'running', cat: 'sched', ph: 'X', ts: this.runStart, dur: Math.max(0, now - this.runStart), pid: 1, tid: this.cpu });
      this.runStart = -1;
    }
  }
}

function targetList(mask: CpuMask): string {
  return maskList(mask)
    .map((c) => `cpu${c}`)
    .join(',');
}

/**
 * A whole trace file from the CPUs' events: metadata naming the process and one thread per CPU, the
 * events sorted by time, and timestamps made relative to the first event (host time only).
 */
export function chromeTrace(perCpu: TraceEvent[][], o: { cpus: number; deterministic: boolean; title: string }): { traceEvents: TraceEvent[]; displayTimeUnit: string; otherData: Record<string, unknown> } {
  const events = perCpu.flat();
  let t0 = 0;
  if (!o.deterministic && events.length) {
    t0 = Infinity;
    for (const e of events) if (e.ts < t0) t0 = e.ts;
  }
  for (const e of events) e.ts = Math.round((e.ts - t0) * 1000) / 1000;
  events.sort((a, b) => a.ts - b.ts);
  const meta: TraceEvent[] = [{ name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: 1, tid: 0, args: { name: o.title } }];
  for (let c = 0; c < o.cpus; c++) {
    meta.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: 1, tid: c, args: { name: `cpu${c}` } });
    meta.push({ name: 'thread_sort_index', cat: '__metadata', ph: 'M', ts: 0, pid: 1, tid: c, args: { sort_index: c } });
  }
  return {
    traceEvents: [...meta, ...events],
    displayTimeUnit: 'ns',
    otherData: { clock: o.deterministic ? 'simulated cycles (shown as microseconds)' : 'host microseconds' },
  };
}
