/**
 * The deterministic scheduler's shared state: one SharedArrayBuffer that every CPU worker attaches to.
 * Exactly one CPU runs at a time, and whichever runs continues the same sequence, so everything the
 * scheduler remembers lives here: whose turn it is, the step counter, the RNG, the policy's state
 * (PCT priorities and change points, the replay cursor), which CPUs are blocked and on what, the
 * decision log, and the trace hash.
 *
 * ```
 *  Int32 words                                         Float64 slots (from byte F_BYTE)
 *  +------+------+--------+------+--------+-------+    +------+-------+---------+-------+------+-----------+---------+----------+
 *  | turn | cpus | policy | hash | log    | rng x4|    | step | epoch | allBlkd | clock | swP  | pct k ... | per-CPU | pct      |
 *  +------+------+--------+------+--------+-------+    +------+-------+---------+-------+------+-----------+---------+----------+
 *  | pct, replay, switches | blocked (CpuMask)    |    | change points | decision log (step, cpu) | replay input (step, cpu) |
 *  +----------------------------------------------+    +---------------+--------------------------+--------------------------+
 *  | per-CPU: wake, watch addr/value x2, priority |
 *  +----------------------------------------------+
 * ```
 *
 * Handles are integers (CPU ids, meta indices); nothing here is an object reference, so the same
 * bytes mean the same thing in every thread.
 */
import { MASK_WORDS, MAX_CPUS, MAX_PCT_DEPTH } from '../config.js';
import { LINE_ENTRIES, LINE_FIELDS } from '../hw/coherence.js';
import { Rng } from '../random.js';

/** Scheduling policies (one module each: random.ts, pct.ts, replay.ts). */
export const POLICY_NAMES = ['random', 'pct', 'replay'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** TURN when no CPU is scheduled any more: the machine stopped and every CPU runs free to unwind. */
export const TURN_FREE = -1;

// ---- Int32 header ----
export const I_TURN = 0; // the CPU that runs now (TURN_FREE after the stop)
export const I_CPUS = 1;
export const I_POLICY = 2; // index into POLICY_NAMES
export const I_HASH = 3; // FNV-1a (32 bits) over the ordered event sequence
export const I_TIMED = 4; // 1: timed mode (sched/timed.ts), whose CPUs are chosen by their clocks
export const I_LOG_N = 5; // decisions logged (those the replay default would not make)
export const I_LOG_CAP = 6;
export const I_LOG_OVERFLOW = 7; // 1 if the log was full: the run cannot be replayed from its log
export const I_RNG = 8; // xoshiro128** state, 4 words
export const I_PCT_DEPTH = 12; // d (d - 1 change points)
export const I_REPLAY_N = 13; // entries in the replay input
export const I_REPLAY_POS = 14; // next replay entry
export const I_DEADLOCK = 15; // 1 once the logical watchdog fired
export const I_PCT_CHANGES = 16; // change points reached so far
export const I_SWITCHES = 17; // decisions that switched CPUs (logged or implied)
export const I_NBLOCKED = 18; // timed mode: CPUs with PC_BLOCKED set
export const I_LINES = 19; // timed mode: entries of the cache-line table at the end of the buffer (hw/coherence.ts)
export const I_PROXIED = 20; // timed mode: IPIs taken by proxy (TimedWaiter.proxyInterrupts)
export const I_IPI_WAITING = 22; // timed mode: CPUs with an IPI sent and not yet taken (a finite PF_IPI_AT)
/** CPUs whose last decision point was a failed re-check of a wait: a CpuMask, MASK_WORDS words. */
export const I_BLOCKED = 23;
export const I_PER_CPU = Math.max(32, I_BLOCKED + MASK_WORDS);
/** Per-CPU words: wake counter (futex word), two watched meta words and their values, PCT priority. */
export const PC_WAKE = 0;
export const PC_W1_ADDR = 1;
export const PC_W1_VAL = 2;
export const PC_W2_ADDR = 3;
export const PC_W2_VAL = 4;
export const PC_PRIO = 5;
export const PC_BLOCKED = 6; // timed mode: 1 while the CPU is blocked in a wait
export const PC_PROXIED = 7; // timed mode: interrupts another CPU took for this one while it did not run
export const PC_STRIDE = 8;
const I_WORDS = I_PER_CPU + MAX_CPUS * PC_STRIDE;

// ---- Float64 slots ----
const F_BYTE = Math.ceil((I_WORDS * 4) / 8) * 8;
export const F_STEP = 0; // decision points so far (the logical step counter)
export const F_EPOCH = 1; // non-blocking decision points so far
export const F_ALL_BLOCKED = 2; // consecutive decision points at which every CPU was blocked
export const F_CLOCK = 3; // global logical clock: simulated cycles of all CPUs, in execution order
export const F_SWITCH_P = 4; // random: probability of a switch at a decision point
export const F_PCT_K = 5; // pct: the estimated length of a run in steps
export const F_DEADLOCK_STEPS = 6; // all-blocked steps before the logical watchdog fires
export const F_WAIT_LIMIT = 7; // steps one wait may last before the logical watchdog fires
export const F_MAX_STEPS = 8; // steps a run may take at most (beyond: a hang, e.g. a livelock)
export const F_QUANTUM = 9; // timed: simulated cycles a CPU may run ahead of the slowest runnable one
export const F_IPI_LATENCY = 10; // timed: simulated cycles from an IPI's send to its arrival
export const F_END_CYCLES = 11; // timed: a CPU's workload stops when its clock reaches this (Infinity: ops only)
export const F_PER_CPU = 16;
/**
 * Per-CPU slots: cycles already folded into the clock, step at which the current wait began, and (timed
 * mode) the simulated time at which the earliest pending IPI arrives (Infinity: none).
 */
export const PF_CYCLES_SEEN = 0;
export const PF_WAIT_START = 1;
export const PF_IPI_AT = 2;
export const PF_STRIDE = 4;
export const F_PCT_POINTS = F_PER_CPU + MAX_CPUS * PF_STRIDE;
const F_FIXED = F_PCT_POINTS + MAX_PCT_DEPTH;

/**
 * One scheduling decision: at `step`, `cpu` runs next. Only decisions that differ from the replay
 * default (the running CPU goes on unless it is blocked; then the next enabled CPU in cyclic order)
 * are logged, so a decision list holds the preemptions and the non-default hand-overs.
 */
export interface Decision {
  readonly step: number;
  readonly cpu: number;
}

export interface SchedOptions {
  readonly cpus: number;
  readonly policy: PolicyName;
  /** Seed of the scheduler's RNG (the run's seed). */
  readonly seed: number;
  /** random: probability of switching CPUs at a decision point. */
  readonly switchProb: number;
  /** pct: the bug depth d (d - 1 priority change points). */
  readonly pctDepth: number;
  /** pct: the expected number of steps of a run (change points are drawn from 1..k). */
  readonly pctSteps: number;
  /** replay: the decisions to follow. */
  readonly replay?: readonly Decision[];
  /** Capacity of the decision log. */
  readonly logCapacity: number;
  /** Consecutive all-blocked decision points before the logical watchdog reports a deadlock. */
  readonly deadlockSteps: number;
  /** Steps a single wait may last before the logical watchdog reports a deadlock. */
  readonly waitLimitSteps: number;
  /** Steps a run may take at most; beyond, it is reported as a hang (default: no limit). */
  readonly maxSteps?: number;
  /** Timed mode (sched/timed.ts): the policy is then unused; CPUs run in the order of their clocks. */
  readonly timed?: { readonly quantum: number; readonly ipiLatency: number; readonly endCycles: number };
}

/** The scheduler's RNG stream (the CPUs' workload RNGs use streams 1000 + cpu). */
const SCHED_STREAM = 77;

export class SchedState {
  readonly i: Int32Array;
  readonly f: Float64Array;
  readonly cpus: number;
  /** Timed mode's cache-line table (hw/coherence.ts); empty in deterministic mode. */
  readonly lines: Int32Array;
  private readonly logBase: number;
  private readonly replayBase: number;

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.i = new Int32Array(buffer, 0, I_WORDS);
    const nLines = this.i[I_LINES]! * LINE_FIELDS;
    this.f = new Float64Array(buffer, F_BYTE, (buffer.byteLength - F_BYTE - nLines * 4) / 8);
    this.lines = new Int32Array(buffer, buffer.byteLength - nLines * 4, nLines);
    this.cpus = this.i[I_CPUS]!;
    this.logBase = F_FIXED;
    this.replayBase = F_FIXED + 2 * this.i[I_LOG_CAP]!;
  }

  /**
   * Allocates the state of a new execution (main thread). The policy initialises its part separately.
   * `spare`: the buffer of an earlier execution that no thread runs on any more; if it is large enough
   * it is used again (see Machine.create for why). Its fixed part is cleared; the decision log and the
   * replay input are not: nothing reads them beyond I_LOG_N and I_REPLAY_N entries, which start at 0
   * and the replay input written here.
   */
  static create(o: SchedOptions, spare?: SharedArrayBuffer | null): SchedState {
    if (!(o.cpus >= 1 && o.cpus <= MAX_CPUS)) throw new RangeError(`cpus must be 1..${MAX_CPUS}`);
    if (!(o.pctDepth >= 1 && o.pctDepth <= MAX_PCT_DEPTH)) throw new RangeError(`pct depth must be 1..${MAX_PCT_DEPTH}`);
    const replay = o.replay ?? [];
    const lines = o.timed ? LINE_ENTRIES : 0;
    const bytes = F_BYTE + (F_FIXED + 2 * o.logCapacity + 2 * replay.length) * 8 + lines * LINE_FIELDS * 4;
    let buffer: SharedArrayBuffer;
    if (spare && spare.byteLength >= bytes) {
      buffer = spare;
      new Uint8Array(buffer, 0, F_BYTE + F_FIXED * 8).fill(0);
      // timed mode's cache-line table is the end of the buffer (see the constructor): cleared too
      if (lines) new Uint8Array(buffer, buffer.byteLength - lines * LINE_FIELDS * 4).fill(0);
    } else buffer = new SharedArrayBuffer(bytes);
    const i = new Int32Array(buffer, 0, I_WORDS);
    i[I_LINES] = lines;
    i[I_CPUS] = o.cpus;
    i[I_POLICY] = POLICY_NAMES.indexOf(o.policy);
    i[I_HASH] = 0x811c9dc5 | 0;
    i[I_LOG_CAP] = o.logCapacity;
    i[I_PCT_DEPTH] = o.pctDepth;
    i[I_REPLAY_N] = replay.length;
    const r = new Rng(o.seed, SCHED_STREAM);
    for (let k = 0; k < 4; k++) i[I_RNG + k] = r.nextU32() | 0;
    i[I_RNG + 3] = i[I_RNG + 3]! | 1;
    for (let c = 0; c < MAX_CPUS; c++) {
      i[I_PER_CPU + c * PC_STRIDE + PC_W1_ADDR] = -1;
      i[I_PER_CPU + c * PC_STRIDE + PC_W2_ADDR] = -1;
    }
    const s = new SchedState(buffer);
    s.f[F_SWITCH_P] = o.switchProb;
    s.f[F_PCT_K] = o.pctSteps;
    s.f[F_DEADLOCK_STEPS] = o.deadlockSteps;
    s.f[F_WAIT_LIMIT] = o.waitLimitSteps;
    s.f[F_MAX_STEPS] = o.maxSteps ?? Infinity;
    if (o.timed) {
      i[I_TIMED] = 1;
      s.f[F_QUANTUM] = o.timed.quantum;
      s.f[F_IPI_LATENCY] = o.timed.ipiLatency;
      s.f[F_END_CYCLES] = o.timed.endCycles;
    }
    for (let c = 0; c < o.cpus; c++) s.f[s.pf(c) + PF_IPI_AT] = Infinity;
    replay.forEach((d, k) => {
      s.f[s.replayBase + 2 * k] = d.step;
      s.f[s.replayBase + 2 * k + 1] = d.cpu;
    });
    return s;
  }

  static attach(buffer: SharedArrayBuffer): SchedState {
    return new SchedState(buffer);
  }

  /** Timed mode: CPUs are scheduled by their simulated clocks (sched/timed.ts). */
  get timed(): boolean {
    return this.i[I_TIMED] === 1;
  }

  get policy(): PolicyName {
    return POLICY_NAMES[this.i[I_POLICY]!]!;
  }

  get step(): number {
    return this.f[F_STEP]!;
  }

  /** The CPU whose turn it is (TURN_FREE once the machine stopped). */
  get turn(): number {
    return Atomics.load(this.i, I_TURN);
  }

  /** Index of CPU c's per-CPU words in `i`. */
  pc(c: number): number {
    return I_PER_CPU + c * PC_STRIDE;
  }

  /** Index of CPU c's per-CPU slots in `f`. */
  pf(c: number): number {
    return F_PER_CPU + c * PF_STRIDE;
  }

  /** The next value of the scheduler's RNG (xoshiro128**, the same generator as Rng, in shared memory). */
  nextU32(): number {
    const s = this.i;
    const a = s[I_RNG]!;
    const b = s[I_RNG + 1]!;
    const c = s[I_RNG + 2]!;
    const d = s[I_RNG + 3]!;
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    const c2 = c ^ a;
    const d2 = d ^ b;
    const b2 = b ^ c2;
    const a2 = a ^ d2;
    s[I_RNG] = a2;
    s[I_RNG + 1] = b2;
    s[I_RNG + 2] = c2 ^ t;
    s[I_RNG + 3] = rotl(d2, 11);
    return r;
  }

  /** Uniform integer in [0, n) from the scheduler's RNG. */
  below(n: number): number {
    return Math.floor((this.nextU32() / 4294967296) * n);
  }

  /** Appends a decision to the log (the running CPU only). */
  log(step: number, cpu: number): void {
    const n = this.i[I_LOG_N]!;
    if (n >= this.i[I_LOG_CAP]!) {
      this.i[I_LOG_OVERFLOW] = 1;
      return;
    }
    this.f[this.logBase + 2 * n] = step;
    this.f[this.logBase + 2 * n + 1] = cpu;
    this.i[I_LOG_N] = n + 1;
  }

  /** The decisions logged so far. */
  decisions(): Decision[] {
    const n = this.i[I_LOG_N]!;
    const out: Decision[] = [];
    for (let k = 0; k < n; k++) out.push({ step: this.f[this.logBase + 2 * k]!, cpu: this.f[this.logBase + 2 * k + 1]! });
    return out;
  }

  /** Decisions that switched CPUs, logged or implied by the default. */
  get switches(): number {
    return this.i[I_SWITCHES]!;
  }

  /** Timed mode: IPIs a running CPU took on behalf of a CPU that did not run. */
  get proxied(): number {
    return this.i[I_PROXIED]!;
  }

  get logOverflow(): boolean {
    return this.i[I_LOG_OVERFLOW] !== 0;
  }

  /** Replay input entry k: [step, cpu]. */
  replayStep(k: number): number {
    return this.f[this.replayBase + 2 * k]!;
  }

  replayCpu(k: number): number {
    return this.f[this.replayBase + 2 * k + 1]!;
  }

  /** PCT's change points (steps), in the order drawn. */
  pctChangePoints(): number[] {
    const d = this.i[I_PCT_DEPTH]!;
    return Array.from({ length: Math.max(0, d - 1) }, (_, j) => this.f[F_PCT_POINTS + j]!);
  }

  /** The trace hash as 8 hex digits. */
  get hash(): string {
    return (this.i[I_HASH]! >>> 0).toString(16).padStart(8, '0');
  }

  /** Folds one 32-bit word into the trace hash (FNV-1a over its four bytes). */
  fold(w: number): void {
    let h = this.i[I_HASH]!;
    h = Math.imul(h ^ (w & 0xff), 0x01000193);
    h = Math.imul(h ^ ((w >>> 8) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((w >>> 16) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((w >>> 24) & 0xff), 0x01000193);
    this.i[I_HASH] = h;
  }
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
