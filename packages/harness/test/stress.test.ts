import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli } from './cli.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveSeed } from '@smpsim/core';
import { type CampaignSummary, fmtSecs, mergeRecords, parseConfigText, runCampaign, type RunRecord } from '@smpsim/harness';

const dir = mkdtempSync(join(tmpdir(), 'smpsim-stress-'));
const clobber = fileURLToPath(new URL('./fixtures/clobber.js', import.meta.url));
const lines = (f: string): RunRecord[] =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RunRecord);

// The fixture fails exactly the runs whose seed is a multiple of 3: pick a base seed whose first six
// runs mix ok and failing ones, with the first failure neither first nor last.
const FAIL_MOD = 3;
const fails = (base: number, i: number) => deriveSeed(base, i) % FAIL_MOD === 0;
let BASE = 1;
for (let b = 1; b < 1000; b++) {
  const f = [0, 1, 2, 3, 4, 5].filter((i) => fails(b, i));
  if (f.length >= 2 && f[0]! >= 1 && f[0]! <= 3) {
    BASE = b;
    break;
  }
}
const FIRST_FAIL = [0, 1, 2, 3, 4, 5].find((i) => fails(BASE, i))!;
const N_FAIL = [0, 1, 2, 3, 4, 5].filter((i) => fails(BASE, i)).length;
const fixture = { cpus: 2, workload: clobber, ops: 2000, seed: BASE, params: { failMod: FAIL_MOD } };

const totals = (s: CampaignSummary) => ({ runs: s.runs, ok: s.ok, failed: s.failed, violations: s.violations, first: s.firstViolation, seeds: s.seeds });

test('a campaign of dirty-share writes one JSONL line per run, with the derived seed and ok', async () => {
  const out = join(dir, 'dirty.jsonl');
  const seen: number[] = [];
  const s = await runCampaign({ run: { cpus: 2, ops: 2000, seed: 5 }, runs: 6, jobs: 1, keepGoing: true, out, onRun: (r) => seen.push(r.index) });
  const recs = lines(out);
  assert.is(recs.length, 6);
  assert.equal(recs.map((r) => r.index).sort(), [0, 1, 2, 3, 4, 5]);
  for (const r of recs) {
    assert.is(r.seed, deriveSeed(5, r.index));
    assert.type(r.ok, 'boolean');
    assert.ok(Array.isArray(r.violations));
    assert.ok(r.reproduce.startsWith('npx smpsim run --cpus 2 --workload dirty-share --ops 2000'));
    assert.ok(r.reproduce.includes(`--seed ${r.seed}`));
    assert.ok(r.hostMs > 0);
    assert.ok(r.stats && r.stats.ops === 4000);
  }
  assert.is(s.runs, 6);
  assert.is(s.ok + s.failed, 6);
  assert.equal(s.seeds, [0, 1, 2, 3, 4, 5].map((i) => deriveSeed(5, i)));
  assert.is(seen.length, 6);
});

let whole: CampaignSummary;

test('with --keep-going every run is recorded and violations are summed by kind', async () => {
  const out = join(dir, 'whole.jsonl');
  whole = await runCampaign({ run: fixture, runs: 6, jobs: 2, keepGoing: true, out });
  const recs = lines(out);
  assert.is(recs.length, 6);
  for (const r of recs) {
    assert.is(r.ok, !fails(BASE, r.index), `run ${r.index}`);
    if (!r.ok) assert.is(r.violations[0]!.kind, 'lost-write');
  }
  assert.is(whole.failed, N_FAIL);
  assert.equal(whole.violations, { 'lost-write': N_FAIL });
  assert.is(whole.firstViolation!.index, FIRST_FAIL);
  assert.ok(whole.firstViolation!.reproduce.includes(`--seed ${deriveSeed(BASE, FIRST_FAIL)}`));
  assert.ok(whole.firstViolation!.reproduce.includes(`--param failMod=${FAIL_MOD}`));
  assert.is(whole.stopped, 'complete');
});

test('without --keep-going the campaign stops at the first violation', async () => {
  const s = await runCampaign({ run: fixture, runs: 6, jobs: 1 });
  assert.is(s.stopped, 'violation');
  assert.is(s.runs, FIRST_FAIL + 1);
  assert.is(s.failed, 1);
  assert.is(s.firstViolation!.index, FIRST_FAIL);
});

test('--resume runs only the indices not yet in the file (a cut-off last line is dropped)', async () => {
  const out = join(dir, 'resume.jsonl');
  const full = readFileSync(join(dir, 'whole.jsonl'), 'utf8').split('\n');
  writeFileSync(out, full.slice(0, 4).join('\n') + '\n' + full[4]!.slice(0, 30));
  const before = lines(join(dir, 'whole.jsonl')).slice(0, 4).map((r) => r.index);
  const ran: number[] = [];
  const s = await runCampaign({ run: fixture, runs: 6, jobs: 1, keepGoing: true, out, resume: true, onRun: (r) => ran.push(r.index) });
  assert.equal(ran.sort(), [0, 1, 2, 3, 4, 5].filter((i) => !before.includes(i)));
  assert.is(s.resumed, 4);
  assert.equal(totals(s), totals(whole));
  const recs = lines(out);
  assert.is(recs.length, 6);
  assert.equal(recs.map((r) => r.index).sort(), [0, 1, 2, 3, 4, 5]);
});

test('two shards have disjoint seeds whose union is the whole campaign, and merge gives its totals', async () => {
  const a = join(dir, 'a.jsonl');
  const b = join(dir, 'b.jsonl');
  const sa = await runCampaign({ run: fixture, runs: 6, jobs: 1, keepGoing: true, out: a, shard: '1/2' });
  const sb = await runCampaign({ run: fixture, runs: 6, jobs: 1, keepGoing: true, out: b, shard: { index: 2, count: 2 } });
  assert.equal(lines(a).map((r) => r.index).sort(), [0, 2, 4]);
  assert.equal(lines(b).map((r) => r.index).sort(), [1, 3, 5]);
  assert.is(sa.shard, '1/2');
  const A = new Set(sa.seeds);
  assert.ok(sb.seeds.every((x) => !A.has(x)));
  assert.equal([...sa.seeds, ...sb.seeds].sort(), [...whole.seeds].sort());
  const m = mergeRecords([a, b]);
  assert.equal(totals(m), totals(whole));
  assert.is(m.stopped, 'merged');
  // A file given twice counts once.
  assert.equal(totals(mergeRecords([a, b, a])), totals(whole));
});

test('config files: errors name the file and the field; kebab-case and camelCase both work', () => {
  const err = (text: string, name = 'x.yaml', cmd: 'run' | 'stress' = 'stress') => {
    try {
      parseConfigText(text, name, cmd);
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.is(err('cpus: 0\n'), 'config file x.yaml: cpus: expected an integer from 1 to 64');
  assert.is(err('cpus: two\n'), 'config file x.yaml: cpus: expected an integer from 1 to 64');
  assert.is(err('check-every: -1\n'), 'config file x.yaml: check-every: expected an integer ≥ 0');
  assert.is(err('duration: soon\n'), 'config file x.yaml: duration: expected a duration like 500ms, 20s or 2m (a number means seconds)');
  assert.match(err("bug: [no-remote-flush, nope]\n"), /^config file x\.yaml: bug: expected a bug id/);
  assert.is(err('cpuz: 2\n'), "config file x.yaml: unknown option 'cpuz' for smpsim stress");
  assert.is(err('runs: 2\n', 'x.yaml', 'run'), "config file x.yaml: unknown option 'runs' for smpsim run");
  assert.is(err('{"shard": "3/2"}', 'c.json'), 'config file c.json: shard: expected K/N with 1 ≤ K ≤ N, e.g. 2/8');
  assert.match(err('{"cpus": 2,}', 'c.json'), /^config file c\.json: not valid JSON: /);
  assert.match(err('cpus: [2\n'), /^config file x\.yaml: not valid YAML: .*line/);
  assert.is(err('keep-going: true\nkeepGoing: false\n'), "config file x.yaml: 'keepGoing' and 'keep-going' set the same option");
  assert.equal(parseConfigText('check-every: 100\nflushCeiling: 8\nkeep-going: true\nparam: {files: 2}\n', 'x.yaml', 'stress'), {
    checkEvery: 100,
    flushCeiling: 8,
    keepGoing: true,
    param: { files: 2 },
  });
});


test('the command line: bad input exits 2 with one line; a violation exits 1 with a reproducer; flags override the config file', async () => {
  const badYaml = join(dir, 'bad.yaml');
  writeFileSync(badYaml, 'cpus: 2\nops: [1\n');
  const badField = join(dir, 'field.yaml');
  writeFileSync(badField, 'cpus: 2\nperturb: 3\n');
  const cfg = join(dir, 'ok.yaml');
  // perturb and check-every as the programmatic campaign has them (the command would tune them)
  writeFileSync(cfg, `cpus: 4\nops: 2000\nworkload: ${JSON.stringify(clobber)}\nparam: {failMod: ${FAIL_MOD}}\nseed: ${BASE}\nruns: 6\njobs: 1\nkeep-going: true\nperturb: 0\ncheck-every: 0\n`);
  const bad = [
    ['stress', '--jobs', '0'],
    ['stress', '--shard', '3/2'],
    ['stress', '--runs', 'abc'],
    ['stress', '--config', badYaml],
    ['stress', '--config', badField],
    ['run', '--config', badField],
    ['merge', join(dir, 'missing.jsonl')],
  ];
  const [fromConfig, ...results] = await Promise.all([cli(['stress', '--config', cfg, '--cpus', '2', '--json']), ...bad.map((a) => cli(a))]);
  results.forEach((r, i) => {
    assert.is(r.code, 2, bad[i]!.join(' '));
    assert.is(r.stdout, '', bad[i]!.join(' '));
    assert.is(r.stderr.trimEnd().split('\n').length, 1, `${bad[i]!.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith('smpsim: '), r.stderr);
  });
  assert.match(results[3]!.stderr, /config file .*bad\.yaml: not valid YAML/);
  assert.match(results[4]!.stderr, /config file .*field\.yaml: perturb: expected a probability from 0 to 1/);
  // The file set 4 CPUs; the command line's --cpus 2 wins. Violations: exit 1 and a reproducer.
  assert.is(fromConfig.code, 1, fromConfig.stderr);
  const s = JSON.parse(fromConfig.stdout) as CampaignSummary;
  assert.ok(s.campaign.includes('--cpus 2 '), s.campaign);
  assert.equal(totals(s), totals(whole));
  assert.match(fromConfig.stderr, /reproduce: npx smpsim run --cpus 2 /);
});

test('a campaign line runs the same campaign again; msync-region campaigns take its own default length', async () => {
  // zap-deferred-flush's tuning would set processes, perturbation and the host scheduler: with --no-tune
  // and --perturb 0 given, the line must say so or running it again tunes a different campaign
  const first = await cli(['stress', '--workload', 'dirty-share', '--cpus', '2', '--ops', '300', '--runs', '1', '--jobs', '1', '--seed', '3', '--perturb', '0', '--bug', 'zap-deferred-flush', '--no-tune', '--json']);
  assert.ok(first.code === 0 || first.code === 1, first.stderr);
  const line = (JSON.parse(first.stdout) as CampaignSummary).campaign;
  assert.ok(line.includes(' --perturb 0') && line.endsWith(' --no-tune'), line);
  const again = await cli([...line.replace(/^npx smpsim /, '').split(' '), '--runs', '1', '--jobs', '1', '--json']);
  assert.ok(again.code === 0 || again.code === 1, again.stderr);
  assert.is((JSON.parse(again.stdout) as CampaignSummary).campaign, line);
  // the tuning says what it set (on stderr), also for a chosen workload; --no-tune: nothing
  const tuned = await cli(['stress', '--workload', 'dirty-share', '--cpus', '2', '--ops', '300', '--runs', '1', '--jobs', '1', '--bug', 'mkclean-unlocked-check', '--json']);
  assert.ok(tuned.code === 0 || tuned.code === 1, tuned.stderr);
  assert.match(tuned.stderr, /stress: the tuning of --bug mkclean-unlocked-check set perturb 0\.5 \(options left at their defaults; --no-tune for none\)/);
  assert.ok((JSON.parse(tuned.stdout) as CampaignSummary).campaign.includes(' --perturb 0.5 '));
  assert.not.match(first.stderr, /the tuning of/);
  // msync-region's op is an msync of its whole region: 200 of them, not stress's 20 000
  const region = await cli(['stress', '--workload', 'msync-region', '--cpus', '2', '--runs', '1', '--json']);
  assert.is(region.code, 0, region.stderr);
  const r = JSON.parse(region.stdout) as CampaignSummary;
  assert.ok(r.campaign.includes(' --ops 200 '), r.campaign);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the time left on the progress line rounds up to whole seconds before it splits them', () => {
  assert.equal([58.2, 59.6, 60, 119.5, 359.6, 3599.5, 3600, 7325].map(fmtSecs), ['59s', '1m00s', '1m00s', '2m00s', '6m00s', '1h00m', '1h00m', '2h02m']);
  assert.is(fmtSecs(Infinity), '?');
});

test.run();
