/**
 * Every run option, declared once. A row of RUN_OPTIONS is one flag of `smpsim run` (and of stress and
 * explore): its RunOptions field (the row's key), flag, help, default (core's where core has one),
 * parser with its range, configuration-file field, place in the line that repeats a run, and place in
 * the options of a schedule string (run-option-row.ts says what each means). Derived from the table:
 * - DEFAULT_RUN (here), runOptionsFrom (flags -> RunOptions) and RawRunFlags (run-flags.ts);
 * - the commander options (commands/flags.ts);
 * - the configuration-file fields of run, stress and explore (config-file.ts);
 * - the reproduce line (command-lines.ts);
 * - the schedule string's options and their checks when read back, and the refusals of deterministic
 *   mode (schedule-options.ts).
 *
 * A new flag is a new row (and its RunOptions field). The `at` ranks keep today's order of the
 * reproduce line and of the schedule string's options, which users and tests compare character for
 * character; a new row takes a rank after the others.
 */
import { isAbsolute, resolve } from 'node:path';
import {
  BUG_IDS,
  type BugId,
  type CostModel,
  type DaemonConfig,
  DEFAULT_KERNEL,
  DEFAULT_KERNEL_PRESET,
  defaultConfig,
  type Decision,
  KERNEL_PRESETS,
  type KernelPreset,
  type Machine,
  type MachineConfig,
  MAX_CPUS,
  MAX_PCT_DEPTH,
  COST_PRESETS,
  FLUSH_PROTOCOLS,
  type FlushProtocol,
  ARCHES,
  type Arch,
  MSYNC_SCOPES,
  type MsyncScope,
  DEFAULT_TOKEN_SLICE_US,
} from '@smpsim/core';
import { BUILTIN_WORKLOADS } from '@smpsim/cpu-worker';
import { bool, duration, int, keyValues, nonEmpty, oneOf, oneOrList, onOff, probability, size, tlbGeometry } from './config-fields.js';
import { formatDuration, formatSize, formatTlb, parseCosts, parseDaemons, parseDuration, parseIntStrict, parseParam, parseProbability, parseSize, parseTlb, UsageError } from './parse.js';
import type { AnyRow, RunOptionRow } from './run-option-row.js';

export type RunMode = 'free' | 'deterministic' | 'timed';
export type SchedName = 'random' | 'pct';
export const RUN_MODES: readonly RunMode[] = ['free', 'deterministic', 'timed'];
export const SCHED_NAMES: readonly SchedName[] = ['random', 'pct'];

export interface RunOptions {
  cpus: number;
  procs: number;
  workload: string;
  /** Operations per CPU; 0 with a duration: run until the duration has passed. */
  ops: number;
  durationMs: number;
  seed: number;
  memoryBytes: number;
  tlb: MachineConfig['tlb'];
  params: Record<string, string | number | boolean>;
  bugs: BugId[];
  kernel: KernelPreset;
  lockdep: boolean;
  /** Per-class lock statistics (stats.locks). */
  lockStat: boolean;
  watchdogMs: number;
  perturb: number;
  checkEvery: number;
  daemons: boolean;
  daemonConfig: Partial<DaemonConfig>;
  flushCeiling: number;
  /** The shootdown protocol: 'modern' or 2.6.20's (kernel/smp.ts); '': the kernel preset's. */
  flushProtocol: FlushProtocol | '';
  /** Whose 2.6.20 flush protocol (sender slots): x86_64 or i386. */
  arch: Arch;
  /** msync(MS_SYNC)'s scope: the range or the whole file; '': the kernel preset's. */
  msyncScope: MsyncScope | '';
  /** The stress amplifiers off and reclaim aging on (core FAITHFUL_DAEMONS), under `daemonConfig`. */
  faithful: boolean;
  /**
   * 'free' (the default): the CPUs run in parallel. 'deterministic': the same CPU workers, one at a
   * time under a seeded scheduler; same options, same run (needs `ops`; see schedule-options.ts).
   */
  mode: RunMode;
  /** Deterministic mode's scheduling policy: a random walk or PCT. */
  sched: SchedName;
  /** random: probability of a switch at each decision point. */
  switchProb: number;
  /** pct: the bug depth d (d - 1 priority change points). */
  pctDepth: number;
  /** pct: expected decision points of a run (0: ops x cpus x 2). */
  pctSteps: number;
  /** Deterministic mode's watchdog: consecutive scheduling steps with every CPU blocked. */
  deadlockSteps: number;
  /** Cost-model overrides, in simulated cycles (`--cost key=value`). */
  costs: Partial<CostModel>;
  /**
   * The cost preset the overrides apply to (`--costs NAME`): a cited preset of costs.ts, or 'default'
   * (per-operation costs only); '' chooses by mode: modern-x86 in timed mode, 'default' otherwise.
   */
  costPreset: string;
  /** Timed mode: simulated cycles a CPU may run ahead of the slowest runnable one before the scheduler decides again. */
  quantum: number;
  /**
   * Free mode: at most this many simulated CPUs execute at once (run tokens, core's sched/tokens.ts);
   * 0: as many as the host has cores. Nothing changes when the machine has no more CPUs than this.
   */
  hostThreads: number;
  /** Free mode with run tokens: host µs a CPU runs before it hands its token to a parked one. */
  tokenSliceUs: number;
  /** Deterministic mode: follow these decisions instead of the policy (`smpsim replay`). */
  replay?: readonly Decision[];
  /** Write the run's events to this file, in the Chrome trace-event format (Perfetto). */
  trace?: string;
  /** Directory relative paths (workload modules) are resolved against. */
  cwd: string;
  /**
   * Called with the stopped machine after the final sync and before the end-of-run backing-store
   * comparison (programmatic use: inspection between phases, fault injection in tests).
   */
  beforeFinalCheck?: (m: Machine) => void;
}

/** The RunOptions fields a flag sets: all but those only programs set. */
export type RunKey = Exclude<keyof RunOptions, 'cwd' | 'replay' | 'beforeFinalCheck'>;

/** Ops per CPU of a deterministic run that gives neither --ops nor --duration. */
export const DEFAULT_DET_OPS = 20_000;
/** Host time of a free run that gives neither --ops nor --duration. */
const DEFAULT_DURATION_MS = 3000;
/** Decision points per op assumed by the PCT step estimate (measured on dirty-share: about 2). */
export const PCT_STEPS_PER_OP = 2;
/** The largest seed a command line takes. */
export const MAX_SEED = 2 ** 31 - 1;
/** The random walk's default switch probability per decision point. */
const DEFAULT_SWITCH_PROB = 0.01;
/** PCT's default bug depth. */
const DEFAULT_PCT_DEPTH = 3;
/** Consecutive all-blocked scheduling steps that are a deadlock. */
const DEFAULT_DEADLOCK_STEPS = 1000;

const CORE = defaultConfig();
const always = () => true;
const det = (o: RunOptions) => o.mode === 'deterministic';
const timed = (o: RunOptions) => o.mode === 'timed';
/**
 * Timed mode's default quantum in simulated cycles (about 7 µs at 3 GHz, the order of a write-notify
 * fault with its share of the msync that re-arms it). Waits are charged exactly whatever the quantum
 * (a release hands over to its waiter); the quantum bounds how far a CPU runs ahead of the others
 * between interactions. Measured on write-notify threads at 8 CPUs: 1000, 5000 and 20000 give faults
 * per CPU within 0.2% of each other.
 */
export const DEFAULT_QUANTUM = 20_000;
const COST_PRESET_NAMES = ['default', ...Object.keys(COST_PRESETS)];
const entries = (m: Record<string, unknown>) => Object.entries(m).map(([k, v]) => `${k}=${v}`);
const isInt = (min: number, max = Number.MAX_SAFE_INTEGER) => (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isBool = (v: unknown) => typeof v === 'boolean';
const isBugId = (b: unknown) => (BUG_IDS as readonly unknown[]).includes(b);
const PRESETS = Object.keys(KERNEL_PRESETS) as KernelPreset[];

/** The run options, in the order of `smpsim run --help`. */
export const RUN_OPTIONS = {
  cpus: {
    flag: '--cpus <n>',
    description: 'simulated CPUs',
    default: CORE.cpus,
    parse: (v) => parseIntStrict(v, '--cpus', 1, MAX_CPUS),
    file: { schema: int(1, MAX_CPUS) },
    reproduce: { at: 1, when: always },
    schedule: { at: 1, read: 'required', valid: isInt(1, MAX_CPUS) },
  },
  procs: {
    flag: '--procs <p>',
    description: 'processes the CPUs are divided into',
    default: CORE.procs,
    parse: (v) => parseIntStrict(v, '--procs', 1, MAX_CPUS),
    file: { schema: int(1, MAX_CPUS) },
    reproduce: { at: 2 },
    schedule: { at: 2, read: 'required', valid: isInt(1, MAX_CPUS) },
  },
  workload: {
    flag: '--workload <name|path>',
    description: `a built-in workload (${Object.keys(BUILTIN_WORKLOADS).join(', ')}) or the path of a workload module`,
    default: 'dirty-share',
    parse: (v) => v,
    file: { schema: nonEmpty('expected a workload name or module path') },
    reproduce: { at: 3, when: always },
    // a module path is made absolute, so that the string replays from any directory
    schedule: { at: 3, read: 'required', valid: (v) => typeof v === 'string', write: (o) => (BUILTIN_WORKLOADS[o.workload] || isAbsolute(o.workload) ? o.workload : resolve(o.cwd, o.workload)) },
  },
  ops: {
    flag: '--ops <n>',
    description: 'operations per CPU',
    default: 0,
    shown: false,
    parse: (v) => parseIntStrict(v, '--ops', 1),
    absent: (o) => (det(o) ? DEFAULT_DET_OPS : 0),
    file: { schema: int(1) },
    reproduce: { at: 4, when: (o) => !!o.ops },
    schedule: { at: 4, read: 'required', valid: isInt(1) },
  },
  durationMs: {
    flag: '--duration <T>',
    description: 'time to run (e.g. 3s, 500ms): host time; simulated time in timed mode',
    default: DEFAULT_DURATION_MS,
    shown: false,
    parse: (v) => parseDuration(v, '--duration'),
    absent: (o) => (o.ops ? 0 : DEFAULT_DURATION_MS),
    text: (ms) => `${ms}ms`,
    file: { schema: duration },
    reproduce: { at: 5, when: (o) => !o.ops },
  },
  seed: {
    flag: '--seed <s>',
    description: 'seed of every random choice',
    default: CORE.seed,
    parse: (v) => parseIntStrict(v, '--seed', 0, MAX_SEED),
    file: { schema: int(0, MAX_SEED) },
    reproduce: { at: 6, when: always },
    schedule: { at: 5, read: 'required', valid: isInt(0) },
  },
  memoryBytes: {
    flag: '--memory <size>',
    description: "physical memory (e.g. 64M); without it, the workload's own (dirty-share: twice its files) or 64M",
    // 0: not given (run.ts buildConfig resolves it: the workload's memoryBytes, else the machine's)
    default: 0,
    shown: false,
    parse: (v) => {
      const n = parseSize(v, '--memory');
      if (n === 0) throw new UsageError('--memory must be more than 0');
      return n;
    },
    file: { schema: size },
    reproduce: { at: 7 },
    schedule: { at: 6, read: 'required', valid: (v) => v === 0 || isInt(4096)(v) },
  },
  tlb: {
    flag: '--tlb <geometry>',
    description: 'L1 dTLB [,L2] as SETSxWAYS',
    default: CORE.tlb,
    parse: parseTlb,
    text: formatTlb,
    file: { schema: tlbGeometry },
    reproduce: { at: 8 },
    schedule: { at: 7, read: 'optional', valid: (v) => v !== undefined },
  },
  params: {
    flag: '--param <key=value>',
    description: 'workload parameter (repeatable)',
    default: {},
    list: true,
    parse: (list) => Object.fromEntries(list.map(parseParam)),
    file: { schema: keyValues, flagValue: (v) => (Array.isArray(v) ? v : entries(v as Record<string, unknown>)) },
    reproduce: { at: 26, args: (o) => entries(o.params) },
    schedule: { at: 8, read: 'map' },
  },
  bugs: {
    flag: '--bug <id>',
    description: 'restore a historical bug (repeatable; see smpsim bugs)',
    default: [],
    list: true,
    parse: (list) =>
      list.map((b) => {
        if (!isBugId(b)) throw new UsageError(`unknown bug '${b}' (one of: ${BUG_IDS.join(', ')})`);
        return b as BugId;
      }),
    file: { schema: oneOrList(BUG_IDS, `expected a bug id or a list of them (${BUG_IDS.join(', ')})`) },
    reproduce: { at: 10, args: (o) => [...o.bugs] },
    schedule: { at: 9, read: 'required', valid: (v) => Array.isArray(v) && v.every(isBugId) },
  },
  kernel: {
    flag: '--kernel <preset>',
    description: PRESETS.join(' | '),
    default: DEFAULT_KERNEL_PRESET,
    // checked by buildConfig, whose message lists the presets
    parse: (v) => v as KernelPreset,
    file: { schema: oneOf(PRESETS, `expected one of ${PRESETS.join(', ')}`) },
    reproduce: { at: 9 },
    schedule: { at: 10, read: 'required', valid: (v) => typeof v === 'string' && v in KERNEL_PRESETS },
  },
  lockdep: {
    flag: '--lockdep <on|off>',
    description: 'lock validator',
    default: DEFAULT_KERNEL.lockdep,
    choices: ['on', 'off'],
    text: (on) => (on ? 'on' : 'off'),
    parse: (v) => v === 'on',
    file: { schema: onOff, flagValue: (v) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : v) },
    reproduce: { at: 11 },
    schedule: { at: 11, read: 'optional', valid: isBool },
  },
  lockStat: {
    flag: '--lock-stat',
    description: 'per-class lock statistics, /proc/lock_stat style',
    default: DEFAULT_KERNEL.lockStat,
    toggle: true,
    parse: (v) => v === true,
    reproduce: { at: 12, when: (o) => !!o.lockStat, args: () => [''] },
    schedule: { at: 22, read: 'optional', valid: isBool, write: (o) => (o.lockStat ? true : undefined) },
  },
  watchdogMs: {
    flag: '--watchdog <T>',
    description: 'lock-spin / flush-wait threshold of the watchdog',
    default: CORE.watchdogMs,
    shown: formatDuration(CORE.watchdogMs),
    parse: (v) => parseDuration(v, '--watchdog'),
    text: (ms) => `${ms}ms`,
    file: { schema: duration },
    reproduce: { at: 13 },
  },
  perturb: {
    flag: '--perturb <p>',
    description: 'probability of a random delay at a preemption point',
    default: CORE.perturb,
    parse: (v) => parseProbability(v, '--perturb', false),
    file: { schema: probability },
    // deterministic mode has no host-time delays (buildConfig sets perturb 0)
    reproduce: { at: 14, when: (o) => !!o.perturb && !det(o) },
  },
  checkEvery: {
    flag: '--check-every <cycles>',
    description: 'stop-the-world invariant checks every N simulated cycles',
    default: 0,
    parse: (v) => parseIntStrict(v, '--check-every', 0),
    file: { schema: int(0) },
    reproduce: { at: 22, when: (o) => !!o.checkEvery },
    schedule: { at: 12, read: 'optional', valid: isInt(0) },
  },
  flushCeiling: {
    flag: '--flush-ceiling <pages>',
    description: 'ranges above this become full flushes',
    default: DEFAULT_KERNEL.flushCeiling,
    parse: (v) => parseIntStrict(v, '--flush-ceiling', 1),
    file: { schema: int(1) },
    reproduce: { at: 24 },
    schedule: { at: 15, read: 'optional', valid: isInt(1) },
  },
  flushProtocol: {
    flag: '--flush-protocol <p>',
    alias: '--tlb-flush',
    description: `TLB shootdown protocol: ${FLUSH_PROTOCOLS.join(' | ')} (2.6.20: ranges flush the whole mm; 8 sender slots, each under a lock, or one with --arch i386); default: the --kernel preset's (modern for linux-2.6.20+fixes, linux-2.6.20 for the released kernels)`,
    default: '',
    shown: false,
    choices: FLUSH_PROTOCOLS,
    parse: (v) => v as FlushProtocol,
    file: { schema: oneOf(FLUSH_PROTOCOLS, `expected one of ${FLUSH_PROTOCOLS.join(', ')}`) },
    reproduce: { at: 29, when: (o) => o.flushProtocol !== '' },
    schedule: { at: 24, read: 'optional', valid: (v) => (FLUSH_PROTOCOLS as readonly unknown[]).includes(v), write: (o) => o.flushProtocol || undefined },
  },
  arch: {
    flag: '--arch <a>',
    description: `whose 2.6.20 flush protocol: ${ARCHES.join(' | ')} (x86_64: 8 sender slots; i386: one sender at a time system-wide, tlbstate_lock); the page tables are x86-64's either way`,
    default: DEFAULT_KERNEL.arch,
    choices: ARCHES,
    parse: (v) => v as Arch,
    file: { schema: oneOf(ARCHES, `expected one of ${ARCHES.join(', ')}`) },
    reproduce: { at: 30 },
    schedule: { at: 25, read: 'optional', valid: (v) => (ARCHES as readonly unknown[]).includes(v), write: (o) => (o.arch !== DEFAULT_KERNEL.arch ? o.arch : undefined) },
  },
  faithful: {
    flag: '--faithful',
    description: 'turn the stress amplifiers off (--daemon stripBuffers, readpageBuffers, journalEveryPage =false; dirtyExpire=3000: the periodic flusher writes only files dirtied 30 s ago) and age pages in reclaim (aging=true): measure 2.6.20 rather than hunt races; --daemon settings still override it',
    default: false,
    toggle: true,
    parse: (v) => v === true,
    file: { schema: bool },
    reproduce: { at: 32, when: (o) => o.faithful, args: () => [''] },
    schedule: { at: 27, read: 'optional', valid: isBool, write: (o) => (o.faithful ? true : undefined) },
  },
  msyncScope: {
    flag: '--msync-scope <s>',
    description: `msync(MS_SYNC) writes back: ${MSYNC_SCOPES.join(' | ')} (range: 3.16 on; file: 2.6.20's do_fsync of the whole file for every shared VMA); default: the --kernel preset's (range for linux-2.6.20+fixes, file for the released kernels)`,
    default: '',
    shown: false,
    choices: MSYNC_SCOPES,
    parse: (v) => v as MsyncScope,
    file: { schema: oneOf(MSYNC_SCOPES, `expected one of ${MSYNC_SCOPES.join(', ')}`) },
    reproduce: { at: 31, when: (o) => o.msyncScope !== '' },
    schedule: { at: 26, read: 'optional', valid: (v) => (MSYNC_SCOPES as readonly unknown[]).includes(v), write: (o) => o.msyncScope || undefined },
  },
  daemons: {
    flag: '--no-daemons',
    description: 'do not run the flusher, journal and reclaim threads',
    default: true,
    toggle: true,
    parse: (v) => v !== false,
    file: { schema: bool },
    reproduce: { at: 23, when: (o) => !o.daemons, args: () => [''] },
    schedule: { at: 13, read: 'optional', valid: isBool },
  },
  daemonConfig: {
    flag: '--daemon <key=value>',
    description: 'kernel-thread setting, e.g. journalPeriod=100000 (repeatable; see DaemonConfig)',
    default: {},
    list: true,
    parse: parseDaemons,
    reproduce: { at: 25, args: (o) => entries(o.daemonConfig) },
    schedule: { at: 14, read: 'map' },
  },
  mode: {
    flag: '--mode <mode>',
    description: 'free: CPUs in parallel; deterministic: one at a time under a seeded scheduler (--ops only); timed: one at a time by simulated clocks',
    default: 'free',
    choices: RUN_MODES,
    parse: (v) => (v === 'deterministic' || v === 'timed' ? v : 'free'),
    reproduce: { at: 15, when: (o) => o.mode !== 'free' },
    // a schedule string is a deterministic run: runOptionsFromSchedule sets the mode
  },
  sched: {
    flag: '--sched <policy>',
    description: 'deterministic mode: random walk or PCT',
    default: 'random',
    choices: SCHED_NAMES,
    parse: (v) => (v === 'pct' ? 'pct' : 'random'),
    refusedInDet: (v) => (SCHED_NAMES.includes(v) ? undefined : `--sched must be one of ${SCHED_NAMES.join(', ')}, got '${v}'`),
    reproduce: { at: 16, when: det },
    schedule: { at: 17, read: 'optional', valid: (v) => (SCHED_NAMES as readonly unknown[]).includes(v) },
  },
  switchProb: {
    flag: '--switch-prob <p>',
    description: 'random: probability of a switch at each scheduling point',
    default: DEFAULT_SWITCH_PROB,
    parse: (v) => parseProbability(v, '--switch-prob', true),
    refusedInDet: (p) => (p > 0 && p <= 1 ? undefined : `--switch-prob must be a probability in (0, 1], got ${p}`),
    reproduce: { at: 17, when: (o) => det(o) && o.sched === 'random' && o.switchProb !== DEFAULT_SWITCH_PROB },
    schedule: { at: 18, read: 'optional', valid: (v) => typeof v === 'number' },
  },
  pctDepth: {
    flag: '--pct-depth <d>',
    description: 'pct: bug depth d (d-1 priority change points)',
    default: DEFAULT_PCT_DEPTH,
    parse: (v) => parseIntStrict(v, '--pct-depth', 1, MAX_PCT_DEPTH),
    refusedInDet: (d) => (isInt(1, MAX_PCT_DEPTH)(d) ? undefined : `--pct-depth must be an integer from 1 to ${MAX_PCT_DEPTH}, got ${d}`),
    reproduce: { at: 18, when: (o) => det(o) && o.sched === 'pct' && o.pctDepth !== DEFAULT_PCT_DEPTH },
    schedule: { at: 19, read: 'optional', valid: isInt(1, MAX_PCT_DEPTH) },
  },
  pctSteps: {
    flag: '--pct-steps <k>',
    description: `pct: expected scheduling steps of a run (default: ops x cpus x ${PCT_STEPS_PER_OP})`,
    default: 0,
    shown: false,
    parse: (v) => parseIntStrict(v, '--pct-steps', 1),
    reproduce: { at: 19, when: (o) => det(o) && o.sched === 'pct' && o.pctSteps > 0 },
    schedule: { at: 20, read: 'optional', valid: isInt(0) },
  },
  deadlockSteps: {
    flag: '--deadlock-steps <n>',
    description: 'deterministic watchdog: scheduling steps with every CPU blocked',
    default: DEFAULT_DEADLOCK_STEPS,
    parse: (v) => parseIntStrict(v, '--deadlock-steps', 1),
    reproduce: { at: 20, when: (o) => det(o) && o.deadlockSteps !== DEFAULT_DEADLOCK_STEPS },
    schedule: { at: 21, read: 'optional', valid: isInt(1) },
  },
  costs: {
    flag: '--cost <key=value>',
    description: 'cost-model override in simulated cycles, e.g. ipiSend=500 (repeatable)',
    default: {},
    list: true,
    parse: parseCosts,
    reproduce: { at: 21, args: (o) => entries(o.costs ?? {}) },
    schedule: { at: 16, read: 'map', write: (o) => o.costs ?? {} },
  },
  costPreset: {
    flag: '--costs <preset>',
    description: `cost preset: ${COST_PRESET_NAMES.join(' | ')} (default: modern-x86 in timed mode, default otherwise)`,
    default: '',
    shown: false,
    parse: (v) => {
      if (!COST_PRESET_NAMES.includes(v)) throw new UsageError(`--costs must be one of ${COST_PRESET_NAMES.join(', ')}, got '${v}'`);
      return v;
    },
    file: { schema: oneOf(COST_PRESET_NAMES, `expected one of ${COST_PRESET_NAMES.join(', ')}`) },
    reproduce: { at: 27, when: (o) => !!o.costPreset },
    schedule: { at: 23, read: 'optional', valid: (v) => typeof v === 'string' && COST_PRESET_NAMES.includes(v), write: (o) => o.costPreset || undefined },
  },
  quantum: {
    flag: '--quantum <cycles>',
    description: 'timed mode: cycles a CPU runs ahead of the slowest before the scheduler decides again',
    default: DEFAULT_QUANTUM,
    parse: (v) => parseIntStrict(v, '--quantum', 1),
    file: { schema: int(1) },
    reproduce: { at: 28, when: (o) => timed(o) && o.quantum !== DEFAULT_QUANTUM },
  },
  hostThreads: {
    flag: '--host-threads <k>',
    description: 'free mode: at most K simulated CPUs execute at once, the others parked (run tokens; 0: the host\'s cores; K >= --cpus: no tokens)',
    default: 0,
    parse: (v) => parseIntStrict(v, '--host-threads', 0, 1024),
    file: { schema: int(0, 1024) },
    reproduce: { at: 33, when: (o) => o.mode === 'free' && o.hostThreads !== 0 },
  },
  tokenSliceUs: {
    flag: '--token-slice <us>',
    description: 'free mode with run tokens: host µs a CPU runs before handing its token to a parked CPU',
    default: DEFAULT_TOKEN_SLICE_US,
    parse: (v) => parseIntStrict(v, '--token-slice', 1, 1_000_000),
    file: { schema: int(1, 1_000_000) },
    reproduce: { at: 34, when: (o) => o.mode === 'free' && o.tokenSliceUs !== DEFAULT_TOKEN_SLICE_US },
  },
  trace: {
    flag: '--trace <file.json>',
    description: "write the run's events as a Chrome trace (opens in Perfetto)",
    default: undefined,
    shown: false,
    parse: (v) => v,
  },
} satisfies { readonly [K in RunKey]: RunOptionRow<K> };

/** [key, row] in table order. */
export const RUN_OPTION_ROWS = Object.entries(RUN_OPTIONS) as ReadonlyArray<[RunKey, AnyRow]>;

/** The default run: every row's default (core's where core has one), in table order. */
export const DEFAULT_RUN: RunOptions = {
  ...(Object.fromEntries(RUN_OPTION_ROWS.filter(([, r]) => r.default !== undefined).map(([k, r]) => [k, r.default])) as Omit<RunOptions, 'cwd'>),
  cwd: process.cwd(),
};

