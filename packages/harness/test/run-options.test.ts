/**
 * The run-option table drives every place a run option appears: the flags (and their defaults), the
 * reproduce line, the options of a schedule string, the configuration file. Each test below goes
 * round one of them and checks that every row of the table takes part, so that a new row without
 * its part in one of them fails here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_KERNEL, DEFAULT_KERNEL_PRESET, defaultConfig, MAX_PCT_DEPTH, SchedState } from '@smpsim/core';
import { file } from '@smpsim/core/testing';
import {
  buildConfig,
  counterOf,
  DEFAULT_RUN,
  parseConfigText,
  parseScheduleString,
  reproduceCommand,
  reproduceLine,
  RUN_OPTIONS,
  type RunKey,
  type RunOptions,
  runMachine,
  runOptionsFromArgs,
} from '@smpsim/harness';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/harness/bin/smpsim.js');
const dir = mkdtempSync(join(tmpdir(), 'smpsim-options-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
const keys = Object.keys(RUN_OPTIONS) as RunKey[];
const without = (o: RunOptions, ...drop: Array<keyof RunOptions>) => Object.fromEntries(Object.entries(o).filter(([k]) => !drop.includes(k as keyof RunOptions)));

test('the defaults are core\'s, and the flags left out give DEFAULT_RUN', () => {
  const c = defaultConfig();
  for (const k of ['cpus', 'procs', 'tlb', 'seed', 'watchdogMs', 'perturb'] as const) assert.equal(DEFAULT_RUN[k], c[k], k);
  // --memory left out: the workload's own, else core's (resolved when the machine is built)
  assert.is(DEFAULT_RUN.memoryBytes, 0);
  assert.is(buildConfig(DEFAULT_RUN, [file(4)]).memoryBytes, c.memoryBytes);
  assert.is(buildConfig(DEFAULT_RUN, [file(4)], 4 << 20).memoryBytes, 4 << 20);
  assert.is(buildConfig({ ...DEFAULT_RUN, memoryBytes: 8 << 20 }, [file(4)], 4 << 20).memoryBytes, 8 << 20, '--memory wins');
  for (const k of ['flushCeiling', 'lockdep', 'lockStat'] as const) assert.is(DEFAULT_RUN[k], DEFAULT_KERNEL[k], k);
  assert.is(DEFAULT_RUN.kernel, DEFAULT_KERNEL_PRESET);
  // what --help shows as each default reads back as that default
  assert.equal(without(runOptionsFromArgs([]), 'cwd'), without(DEFAULT_RUN, 'cwd'));
});

test('--tlb-flush is --flush-protocol under the name of the I/O issue; both with different values: an error', () => {
  assert.is(runOptionsFromArgs(['--tlb-flush', 'linux-2.6.20']).flushProtocol, 'linux-2.6.20');
  assert.is(runOptionsFromArgs(['--tlb-flush', 'modern', '--flush-protocol', 'modern']).flushProtocol, 'modern');
  assert.throws(() => runOptionsFromArgs(['--tlb-flush', 'modern', '--flush-protocol', 'linux-2.6.20']), /--flush-protocol and --tlb-flush are one option/);
  assert.throws(() => runOptionsFromArgs(['--tlb-flush', 'x']), /Allowed choices are modern, linux-2.6.20/);
});

test('--pct-depth takes exactly the depths the scheduler state holds (core MAX_PCT_DEPTH)', () => {
  const state = (pctDepth: number) => SchedState.create({ cpus: 2, policy: 'pct', seed: 1, switchProb: 0.01, pctDepth, pctSteps: 10, logCapacity: 16, deadlockSteps: 10, waitLimitSteps: 100 });
  state(MAX_PCT_DEPTH);
  assert.throws(() => state(MAX_PCT_DEPTH + 1));
  assert.is(runOptionsFromArgs(['--pct-depth', String(MAX_PCT_DEPTH)]).pctDepth, MAX_PCT_DEPTH);
  assert.throws(() => runOptionsFromArgs(['--pct-depth', String(MAX_PCT_DEPTH + 1)]), /--pct-depth must be from 1 to 64, got 65/);
});

/** Flag sets that together give every row of the reproduce line a value other than its default. */
const FLAG_SETS: string[][] = [
  ['--cpus', '3', '--procs', '3', '--workload', 'tlb-hit', '--duration', '250ms', '--seed', '9', '--memory', '32M', '--tlb', '8x2', '--param', 'pages=4', '--param', 'x=y',
    '--bug', 'no-remote-flush', '--bug', 'flush-after-set', '--kernel', 'linux-2.6.19', '--lockdep', 'off', '--lock-stat', '--watchdog', '7s', '--perturb', '0.25',
    '--check-every', '5000', '--flush-ceiling', '8', '--flush-protocol', 'linux-2.6.20', '--arch', 'i386', '--msync-scope', 'file', '--faithful', '--no-daemons', '--daemon', 'journalPeriod=1000', '--daemon', 'stripBuffers=false', '--cost', 'ipiSend=900',
    '--host-threads', '2', '--token-slice', '300'],
  ['--cpus', '2', '--ops', '500', '--mode', 'deterministic', '--sched', 'random', '--switch-prob', '0.2', '--deadlock-steps', '77', '--cost', 'tlbHit=2'],
  ['--cpus', '2', '--ops', '500', '--mode', 'deterministic', '--sched', 'pct', '--pct-depth', '5', '--pct-steps', '99'],
  ['--cpus', '2', '--ops', '500', '--mode', 'timed', '--quantum', '5000', '--costs', 'core2-2007'],
];

test('flags -> RunOptions -> reproduce line -> the same RunOptions, for every row of the line', () => {
  const varied = new Set<RunKey>();
  for (const args of FLAG_SETS) {
    const o = runOptionsFromArgs(args);
    const line = reproduceLine(o);
    assert.ok(line.startsWith('npx smpsim run '), line);
    const again = runOptionsFromArgs(line.split(' ').slice(3));
    assert.is(reproduceLine(again), line);
    // what the line leaves out on purpose: the other policy's settings, perturbation in deterministic mode
    const ignored: Array<keyof RunOptions> = o.mode === 'deterministic' ? ['perturb', o.sched === 'pct' ? 'switchProb' : 'pctDepth'] : o.mode === 'timed' ? ['perturb'] : [];
    assert.equal(without(again, ...ignored), without(o, ...ignored), line);
    for (const k of keys) if (JSON.stringify(o[k]) !== JSON.stringify(DEFAULT_RUN[k])) varied.add(k);
  }
  const inLine = keys.filter((k) => 'reproduce' in RUN_OPTIONS[k]);
  assert.equal(inLine.filter((k) => !varied.has(k)), [], 'rows of the reproduce line no flag set above varies');
  // a row left out of the line is a decision: the trace file is the only one (a new row must decide)
  assert.equal(keys.filter((k) => !inLine.includes(k)), ['trace']);
  // the former name
  assert.is(reproduceCommand(DEFAULT_RUN), reproduceLine(DEFAULT_RUN));
});

test('run options -> schedule string -> the same run options, for every row a schedule carries', async () => {
  const o = runOptionsFromArgs([
    ...['--cpus', '2', '--procs', '2', '--workload', 'tlb-hit', '--ops', '30', '--seed', '9', '--memory', '32M', '--tlb', '8x2', '--param', 'pages=4'],
    ...['--bug', 'flush-after-set', '--kernel', 'linux-2.6.19', '--lockdep', 'off', '--lock-stat', '--check-every', '100000', '--no-daemons', '--daemon', 'journalPeriod=9'],
    ...['--flush-ceiling', '8', '--flush-protocol', 'linux-2.6.20', '--arch', 'i386', '--msync-scope', 'file', '--faithful', '--cost', 'ipiSend=900', '--mode', 'deterministic', '--sched', 'pct', '--switch-prob', '0.2', '--pct-depth', '4', '--pct-steps', '500', '--deadlock-steps', '800', '--costs', 'core2-2007'],
  ]);
  const s = await runMachine(o);
  const { run, traceHash } = parseScheduleString(s.schedule!.string!);
  assert.is(traceHash, s.traceHash);
  const carried = keys.filter((k) => 'schedule' in RUN_OPTIONS[k]);
  // host time, host-time perturbation and the mode do not decide a deterministic run (nor timed mode's
  // quantum, nor free mode's run tokens); the trace is output
  assert.equal(keys.filter((k) => !carried.includes(k)), ['durationMs', 'watchdogMs', 'perturb', 'mode', 'quantum', 'hostThreads', 'tokenSliceUs', 'trace']);
  for (const k of carried) {
    assert.equal(run[k], o[k], k);
    assert.is.not(JSON.stringify(o[k]), JSON.stringify(DEFAULT_RUN[k]), `${k}: give it a value other than the default above`);
  }
  assert.is(run.mode, 'deterministic');
});

test('a configuration file may set every run option, and the run is the one the same flags give', () => {
  const trace = join(dir, 't.json');
  // every row (the type makes a new row fail to compile here): its line in a file, the same as flags
  const given: Record<RunKey, [string, string[]]> = {
    cpus: ['cpus: 2', ['--cpus', '2']],
    procs: ['procs: 2', ['--procs', '2']],
    workload: ['workload: tlb-hit', ['--workload', 'tlb-hit']],
    ops: ['ops: 40', ['--ops', '40']],
    durationMs: ['duration: 300ms', ['--duration', '300ms']],
    seed: ['seed: 9', ['--seed', '9']],
    memoryBytes: ['memory: 32M', ['--memory', '32M']],
    tlb: ['tlb: 8x2', ['--tlb', '8x2']],
    params: ['param: {pages: 4}', ['--param', 'pages=4']],
    bugs: ['bug: [flush-after-set]', ['--bug', 'flush-after-set']],
    kernel: ['kernel: linux-2.6.19', ['--kernel', 'linux-2.6.19']],
    lockdep: ['lockdep: false', ['--lockdep', 'off']],
    lockStat: ['lock-stat: true', ['--lock-stat']],
    watchdogMs: ['watchdog: 7s', ['--watchdog', '7s']],
    perturb: ['perturb: 0.1', ['--perturb', '0.1']],
    checkEvery: ['check-every: 100000', ['--check-every', '100000']],
    flushCeiling: ['flushCeiling: 8', ['--flush-ceiling', '8']],
    flushProtocol: ['flush-protocol: linux-2.6.20', ['--flush-protocol', 'linux-2.6.20']],
    arch: ['arch: i386', ['--arch', 'i386']],
    msyncScope: ['msync-scope: file', ['--msync-scope', 'file']],
    faithful: ['faithful: true', ['--faithful']],
    daemons: ['no-daemons: true', ['--no-daemons']],
    daemonConfig: ['daemon: [journalPeriod=9]', ['--daemon', 'journalPeriod=9']],
    mode: ['mode: deterministic', ['--mode', 'deterministic']],
    sched: ['sched: pct', ['--sched', 'pct']],
    switchProb: ['switch-prob: 0.2', ['--switch-prob', '0.2']],
    pctDepth: ['pct-depth: 4', ['--pct-depth', '4']],
    pctSteps: ['pct-steps: 500', ['--pct-steps', '500']],
    deadlockSteps: ['deadlock-steps: 800', ['--deadlock-steps', '800']],
    costs: ['cost: [ipiSend=900]', ['--cost', 'ipiSend=900']],
    costPreset: ['costs: core2-2007', ['--costs', 'core2-2007']],
    quantum: ['quantum: 5000', ['--quantum', '5000']],
    hostThreads: ['host-threads: 1', ['--host-threads', '1']],
    tokenSliceUs: ['token-slice: 300', ['--token-slice', '300']],
    trace: [`trace: ${JSON.stringify(trace)}`, ['--trace', trace]],
  };
  // deterministic mode refuses a duration and ignores perturbation and run tokens: those in a free run of their own
  const free: RunKey[] = ['durationMs', 'perturb', 'hostThreads', 'tokenSliceUs'];
  const runWith = (ks: RunKey[], extra: string[] = []) => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, [...ks.map((k) => given[k][0]), ...extra, 'json: true'].join('\n') + '\n');
    const r = cli('run', '--config', file);
    assert.is(r.status, 0, r.stderr);
    return { s: JSON.parse(r.stdout), o: runOptionsFromArgs(ks.flatMap((k) => given[k][1])) };
  };
  const det = runWith(keys.filter((k) => !free.includes(k)));
  assert.is(det.s.reproduce, reproduceLine(det.o));
  const { run } = parseScheduleString(det.s.schedule.string);
  for (const k of keys.filter((x) => 'schedule' in RUN_OPTIONS[x])) assert.equal(run[k], det.o[k], k);
  assert.ok(JSON.parse(readFileSync(trace, 'utf8')).traceEvents.length > 0, 'the trace was written');
  const f = runWith(free, ['cpus: 1']);
  assert.match(f.s.reproduce, / --duration 300ms .*--perturb 0.1/);
  assert.is(f.s.reproduce, reproduceLine({ ...f.o, cpus: 1 }));
  // programmatically (no command to ask), the fields the table gives a schema are checked as well
  const typed = keys.filter((k) => 'file' in RUN_OPTIONS[k]).map((k) => given[k][0]);
  assert.equal(Object.keys(parseConfigText(typed.join('\n'), 'x.yaml', 'run')).length, typed.length);
  assert.throws(() => parseConfigText('cpus: 65', 'c.yaml', 'run'), /^config file c\.yaml: cpus: expected an integer from 1 to 64$/);
});

test('counterOf reads a summary\'s counters by their CTR names', async () => {
  const s = await runMachine({ cpus: 2, ops: 300, mode: 'deterministic' });
  assert.is(counterOf(s.stats, 'flushesElided'), s.stats.shootdowns.flushesElided);
  assert.is(counterOf(s.stats, 'faultsWriteNotify'), s.stats.faults.writeNotify);
  assert.is(counterOf(s.stats, 'mmaps'), s.stats.syscalls.mmap);
  assert.is(counterOf(s.stats, 'ops'), 600);
  assert.throws(() => counterOf(s.stats, 'threadId'), /no counter 'threadId'/);
});

test('smpsim --version prints the package version', () => {
  const r = cli('--version');
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), JSON.parse(readFileSync(join(root, 'packages/harness/package.json'), 'utf8')).version);
});

test('smpsim explore and its former name stress --catalogue give the same table', () => {
  const args = ['--bug', 'no-remote-flush', '--strategies', 'random', '--runs', '2', '--trials', '1', '--ops', '300', '--json'];
  const a = cli('explore', ...args);
  const b = cli('stress', '--catalogue', ...args);
  for (const [r, name] of [[a, 'explore'], [b, 'catalogue']] as const) {
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^${name}: no-remote-flush / random: `));
  }
  const table = (out: string) => {
    const r = JSON.parse(out);
    return { ...r, hostMs: 0, cells: r.cells.map((c: { hostMs: number }) => ({ ...c, hostMs: 0 })) };
  };
  assert.equal(table(a.stdout), table(b.stdout));
  const t = table(a.stdout);
  assert.is(t.cells.length, 1);
  assert.is(t.cells[0].bug, 'no-remote-flush');
  assert.ok(t.cells[0].schedules.length === 1);
  const help = cli('explore', '--help').stdout;
  for (const flag of ['--runs', '--trials', '--strategies', '--jobs', '--json', '--config', '--cpus', '--sched']) assert.ok(help.includes(flag), flag);
  const bad = cli('explore', '--strategies', 'nope');
  assert.is(bad.status, 2);
  assert.is(bad.stderr.trim(), "smpsim: --strategies: unknown strategy 'nope' (one of: random, pct, free)");
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
