/**
 * `smpsim difftest --race` (src/difftest/race.ts): a race workload's contract on the host with real
 * threads and on smpsim as a campaign, outcomes compared. The host twin of msync-race keeps the
 * contract on this machine's kernel; smpsim's fixed kernel agrees; with fault-dirty-race (a
 * deterministic reproducer: the run of seed 1 under the random scheduler) smpsim breaks it and the
 * difference is explained by the switch; every comparison rule on outcomes built from real ones.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareRace, raceRunner, runRaceHost, runRaceSim, type HostRaceOutcome, type RaceOptions } from '@smpsim/harness';

const CLI = fileURLToPath(new URL('../bin/smpsim.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'difftest', ...args], { encoding: 'utf8', timeout: 120_000 });
const dir = mkdtempSync(join(tmpdir(), 'difftest-race-'));
const onDisk = Number(statfsSync(tmpdir()).type) !== 0x01021994;
const runner = raceRunner();
const skip = (): boolean => {
  if (runner.available && onDisk) return false;
  console.log(`  (skipped: ${runner.available ? `${tmpdir()} is tmpfs` : runner.reason})`);
  return true;
};

const SIM: RaceOptions = { workload: 'msync-race', cpus: 2, timeMs: 0, runs: 1, ops: 2_000, kernel: 'linux-2.6.20+fixes', bugs: [], seed: 1, mode: 'deterministic', sched: 'random', perturb: 0 };
let host: HostRaceOutcome | null = null;

test('the host keeps msync-race\'s contract; without the msync the check fires where the disk can be read directly', () => {
  if (skip()) return;
  host = runRaceHost(runner.available ? runner.path : '', 'msync-race', dir, 2, 1_000);
  assert.is(host.workload, 'msync-race');
  assert.is(host.writers, 2);
  assert.ok(host.checks > 10, `checks ${host.checks}`);
  assert.ok(host.stores > host.checks, `stores ${host.stores}`);
  assert.is(host.lost, 0, JSON.stringify(host.first));
  // With the block device the observation reads the disk itself, so skipping msync must show stale
  // words. Reading the file with O_DIRECT (no access to the device, as in this sandbox) writes dirty
  // cached pages back first, so an msync left out is not seen: say so rather than assert it.
  const planted = runRaceHost(runner.available ? runner.path : '', 'msync-race', dir, 2, 300, false);
  if (planted.observation === 'block-device') assert.ok(planted.lost > 0, JSON.stringify(planted));
  else console.log(`  (planted host violation not checked: ${planted.device} is read with O_DIRECT, the block device could not be opened)`);
});

test('smpsim\'s fixed kernel agrees with the host; fault-dirty-race breaks the contract and is the explanation', async () => {
  if (skip() || !host) return;
  const fixed = await runRaceSim(SIM);
  assert.is(fixed.violation, null, fixed.violation?.message);
  assert.is(fixed.runs, 1);
  assert.ok(fixed.checks >= 2_000, `checks ${fixed.checks}`);
  assert.equal(compareRace('msync-race', host, fixed).verdict, 'agree');

  const buggy = await runRaceSim({ ...SIM, bugs: ['fault-dirty-race'] });
  assert.ok(buggy.violation, 'seed 1 under the random scheduler reproduces fault-dirty-race in msync-race');
  assert.is(buggy.violation!.kind, 'lost-write');
  assert.match(buggy.violation!.reproduce, /--workload msync-race .*--bug fault-dirty-race --mode deterministic --sched random/);
  const v = compareRace('msync-race', host, buggy);
  assert.is(v.verdict, 'explained');
  assert.is(v.cls, 'planted-bug');
  assert.match(v.why, /fault-dirty-race \(fixed in 2\.6\.22\)/);

  // the same violation with no switch in force, or with one that expects something else, is unexplained
  assert.is(compareRace('msync-race', host, { ...buggy, bugs: [] }).cls, 'sim-violates');
  assert.is(compareRace('msync-race', host, { ...buggy, bugs: ['mkclean-under-private-lock'] }).cls, 'sim-violates');
  // and so is another kind of violation under a switch that expects a lost write
  assert.is(compareRace('msync-race', host, { ...buggy, violation: { ...buggy.violation!, kind: 'invariant' } }).cls, 'sim-violates');
  // the host breaking the contract is never explained
  const broken: HostRaceOutcome = { ...host, lost: 1, first: { check: 3, writer: 1, before: 10, onDisk: 9 } };
  assert.is(compareRace('msync-race', broken, fixed).cls, 'host-violates');
});

test('difftest --race on the command line: exit 0 when the outcomes agree; bad input exit 2 with one line', () => {
  if (skip()) return;
  const r = cli('--race', 'msync-race', '--dir', dir, '--cpus', '2', '--time', '1s', '--mode', 'deterministic', '--runs', '1', '--json');
  assert.is(r.status, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; verdict: string; host: HostRaceOutcome; sim: { runs: number } };
  assert.ok(out.ok);
  assert.is(out.verdict, 'agree');
  assert.is(out.sim.runs, 1);
  for (const [args, re] of [
    [['--race', 'page-fault3'], /--race must be one of msync-race/],
    [['--race', 'msync-race', '--cpus', '1'], /--cpus must be/],
    [['--race', 'msync-race', '--bug', 'nope'], /unknown bug 'nope'/],
    [['--race', 'msync-race', '--mode', 'timed'], /--mode must be free or deterministic/],
    [['--race', 'msync-race', '--random', '3'], /leave out --trace and --random/],
    [['--cpus', '3'], /--cpus goes with --race/],
  ] as Array<[string[], RegExp]>) {
    const b = cli(...args);
    assert.is(b.status, 2, `${args.join(' ')}: ${b.stdout}${b.stderr}`);
    assert.match(b.stderr, re);
    assert.is(b.stderr.trim().split('\n').length, 1, b.stderr);
  }
});

test.run();
