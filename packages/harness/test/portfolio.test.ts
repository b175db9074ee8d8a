/**
 * Portfolio campaigns (portfolio.ts) and findings grouped by signature (signature.ts). The draws are
 * checked without running anything (hundreds of them); the campaigns are short and bounded in runs.
 * Every assertion about a draw names the seed that drew it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, root } from './cli.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveSeed } from '@smpsim/core';
import { loadWorkload, resolveWorkload, type Workload, workloadFiles } from '@smpsim/cpu-worker';
import {
  type CampaignSummary,
  DEFAULT_RUN,
  findingsOf,
  formatCampaign,
  parseConfigText,
  Portfolio,
  PORTFOLIO,
  PORTFOLIO_DRAWS,
  portfolioWeights,
  runCampaign,
  runMachine,
  runOptionsFromArgs,
  type RunKey,
  type RunOptions,
  type RunRecord,
  type RunSummary,
  UsageError,
  violationSignature,
} from '@smpsim/harness';

const dir = mkdtempSync(join(tmpdir(), 'smpsim-portfolio-'));
const DRAWS = 150;

/** A campaign's options as runCampaign has them: the defaults, 20 000 ops, and `given` (the user's flags). */
const make = (given: Partial<RunOptions>, weights?: string) =>
  Portfolio.create({ ...DEFAULT_RUN, ops: 20_000, durationMs: 0, ...given, params: { ...(given.params ?? {}) } }, new Set(Object.keys(given) as RunKey[]), portfolioWeights(weights));

/** `--portfolio` weights that leave only `names` (weight 1, or `w`) in the portfolio. */
const only = (names: string[], w = 1) => Object.keys(PORTFOLIO).map((n) => `${n}=${names.includes(n) ? w : 0}`).join(',');

const workloads = new Map<string, Workload>();
test.before(async () => {
  for (const name of Object.keys(PORTFOLIO)) workloads.set(name, await loadWorkload(await resolveWorkload(name, root)));
});

test('the same campaign seed draws the same configurations; the draws cover the weighted table', async () => {
  const [a, b] = await Promise.all([make({ seed: 11 }), make({ seed: 11 })]);
  const seen = { workload: new Set<unknown>(), cpus: new Set<unknown>(), procs: new Set<unknown>(), perturb: new Set<unknown>() };
  for (let i = 0; i < DRAWS; i++) {
    const seed = deriveSeed(11, i);
    const x = a.draw(seed);
    assert.equal(x, b.draw(seed), `seed ${seed}`);
    assert.equal(x, a.draw(seed), `seed ${seed}: drawn twice`);
    assert.is(x.run.seed, seed);
    assert.is(x.drawn.workload, x.run.workload, `seed ${seed}`);
    for (const k of Object.keys(seen) as Array<keyof typeof seen>) seen[k].add(x.run[k]);
  }
  const weighted = Object.entries(PORTFOLIO).filter(([, r]) => r.weight > 0).map(([n]) => n);
  assert.equal([...seen.workload].sort(), [...weighted].sort());
  assert.equal([...seen.cpus].sort(), [...PORTFOLIO_DRAWS.cpus].sort());
  assert.equal([...seen.procs].sort(), [...PORTFOLIO_DRAWS.procs].sort());
  assert.equal([...seen.perturb].sort(), [...PORTFOLIO_DRAWS.perturb].sort());
  // another campaign seed, other draws
  const c = await make({ seed: 12 });
  const differ = Array.from({ length: 20 }, (_, i) => JSON.stringify(c.draw(deriveSeed(12, i)).drawn) !== JSON.stringify(a.draw(deriveSeed(11, i)).drawn));
  assert.ok(differ.some(Boolean));
});

test('a draw is never a configuration its workload refuses, and the options given are never drawn', async () => {
  const cases: Array<{ given: Partial<RunOptions>; weights?: string }> = [
    { given: { seed: 2 } },
    { given: { seed: 3, cpus: 1 } },
    { given: { seed: 4, cpus: 3, procs: 2 } },
    { given: { seed: 5, perturb: 0.3, checkEvery: 0, daemonConfig: { reclaimBatch: 8 } } },
    { given: { seed: 6, params: { pages: 8 } } },
    { given: { seed: 7, ops: 1234 } },
    { given: { seed: 8, mode: 'deterministic' } },
    { given: { seed: 9 }, weights: only(['mprotect-race', 'msync-race']) },
  ];
  for (const { given, weights } of cases) {
    const p = await make(given, weights);
    const what = `${JSON.stringify(given)}${weights ? ` --portfolio ${weights}` : ''}`;
    for (let i = 0; i < DRAWS; i++) {
      const seed = deriveSeed(given.seed!, i);
      const { run, drawn } = p.draw(seed);
      const at = `${what}, seed ${seed}: ${JSON.stringify(drawn)}`;
      const w = workloads.get(run.workload)!;
      assert.ok(run.procs <= run.cpus, at);
      assert.not.throws(() => workloadFiles(w, { cpus: run.cpus, procs: run.procs, ops: run.ops, seed: run.seed, params: run.params }), at);
      if (run.workload === 'msync-race' || run.workload === 'mprotect-race') assert.ok(run.cpus >= 2, at);
      if (run.workload === 'mprotect-race') assert.is(run.procs, 1, at);
      for (const [k, v] of Object.entries(given)) {
        if (k === 'seed') continue;
        if (k === 'params') for (const [pk, pv] of Object.entries(v as object)) assert.is(run.params[pk], pv, at);
        else assert.equal(run[k as RunKey], v, at);
        assert.not.ok(k in drawn, at);
      }
      if (given.params) assert.ok(w.params && 'pages' in w.params, at);
      if (given.mode === 'deterministic') assert.not.ok('perturb' in drawn, at);
      if (given.ops) assert.not.ok('ops' in drawn, at);
      else assert.ok(PORTFOLIO[run.workload]!.ops.includes(run.ops), at);
    }
    if (given.cpus === 1) {
      for (const w of ['mprotect-race', 'msync-race']) assert.ok(p.excluded.some((x) => x.workload === w), JSON.stringify(p.excluded));
      for (const x of p.excluded) assert.match(x.why, /at least 2 CPUs/);
    }
    if (given.params) assert.ok(p.excluded.some((x) => x.workload === 'msync-race' && /no parameter 'pages'/.test(x.why)), JSON.stringify(p.excluded));
  }
});

test("a row's own draws replace the common ones for its runs only (db-checkpoint: two processes and wide perturbation more often)", async () => {
  const p = await make({ seed: 41 }, only(['db-checkpoint', 'dirty-share']));
  const own = PORTFOLIO['db-checkpoint']!.draws!;
  const count = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const seed = deriveSeed(41, i);
    const { run } = p.draw(seed);
    const at = `seed ${seed}: ${JSON.stringify(run.params)} cpus=${run.cpus} procs=${run.procs} perturb=${run.perturb}`;
    if (run.workload === 'db-checkpoint') {
      assert.ok(own.cpus!.includes(run.cpus) && own.procs!.includes(run.procs) && own.perturb!.includes(run.perturb), at);
      const k = `procs=${run.procs},perturb=${run.perturb}`;
      count.set(k, (count.get(k) ?? 0) + 1);
    } else assert.ok(PORTFOLIO_DRAWS.perturb.includes(run.perturb as never), at);
  }
  // a value listed twice is drawn about twice as often as one listed once
  const n = (procs: number) => [...count].filter(([k]) => k.startsWith(`procs=${procs},`)).reduce((a, [, c]) => a + c, 0);
  assert.ok(n(2) > n(3), `procs=2 drawn ${n(2)} times, procs=3 ${n(3)} times`);
});

test("a row's own kernel-thread draws: mixed-io's runs always have ext3's readpage (no buffers), the others the common draws", async () => {
  const p = await make({ seed: 43 }, only(['mixed-io', 'page-fault3']));
  const own = PORTFOLIO['mixed-io']!.draws!.daemonConfig!;
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const seed = deriveSeed(43, i);
    const { run, drawn } = p.draw(seed);
    const at = `seed ${seed}: ${JSON.stringify(drawn)}`;
    if (run.workload === 'mixed-io') {
      assert.is(run.daemonConfig.readpageBuffers, false, at);
      assert.ok(own.some((d) => JSON.stringify(d) === JSON.stringify(run.daemonConfig)), at);
    } else assert.ok(PORTFOLIO_DRAWS.daemonConfig.some((d) => JSON.stringify(d) === JSON.stringify(run.daemonConfig)), at);
    seen.add(run.workload);
  }
  assert.equal([...seen].sort(), ['mixed-io', 'page-fault3']);
});

test('the reproduce line of a drawn run names exactly its options', async () => {
  const p = await make({ seed: 21, bugs: ['no-remote-flush'] });
  for (let i = 0; i < DRAWS; i++) {
    const seed = deriveSeed(21, i);
    const { run } = p.draw(seed);
    const { reproduceLine } = await import('@smpsim/harness');
    const line = reproduceLine(run);
    const back = runOptionsFromArgs(line.split(' ').slice(3));
    assert.equal({ ...back, cwd: '' }, { ...run, cwd: '' }, `seed ${seed}: ${line}`);
  }
});

test('weight overrides: a workload alone in the portfolio is drawn alone; a zero-weight row can be weighted', async () => {
  const alone = await make({ seed: 31 }, only(['mprotect-race'], 5));
  assert.equal(alone.workloads, [{ name: 'mprotect-race', weight: 5 }]);
  for (let i = 0; i < 40; i++) assert.is(alone.draw(deriveSeed(31, i)).run.workload, 'mprotect-race');
  const tlb = await make({ seed: 32 }, 'tlb-hit=2');
  assert.ok(tlb.workloads.some((w) => w.name === 'tlb-hit' && w.weight === 2));
  assert.is(portfolioWeights(' msync-race = 3 ,tlb-hit=0.5').text, 'msync-race=3,tlb-hit=0.5');
  assert.equal(portfolioWeights({ 'msync-race': 3 }).weights['msync-race'], 3);
  assert.is(portfolioWeights(true).text, '');
  const refused: Array<[string | Record<string, unknown>, RegExp]> = [
    ['nope=1', /no workload 'nope' in the portfolio/],
    ['dirty-share=-1', /weight of dirty-share must be a number ≥ 0, got '-1'/],
    ['dirty-share=x', /weight of dirty-share must be a number/],
    ['dirty-share', /must be WORKLOAD=WEIGHT/],
    ['dirty-share=1,dirty-share=2', /dirty-share is given twice/],
    [{ 'msync-race': 'many' }, /weight of msync-race must be a number/],
    [Object.fromEntries(Object.keys(PORTFOLIO).map((n) => [n, 0])), /every workload has weight 0/],
  ];
  for (const [spec, re] of refused) {
    assert.throws(() => portfolioWeights(spec), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), JSON.stringify(spec));
  }
  await make({ seed: 1, cpus: 1 }, only(['msync-race'])).then(
    () => assert.unreachable('msync-race alone on 1 CPU'),
    (e: Error) => assert.match(e.message, /no workload of the portfolio accepts this configuration: msync-race: .*needs at least 2 CPUs/),
  );
  assert.equal(parseConfigText('portfolio: {msync-race: 2}\n', 'c.yaml', 'stress'), { portfolio: { 'msync-race': 2 } });
  assert.throws(() => parseConfigText('portfolio: 3\n', 'c.yaml', 'stress'), /config file c\.yaml: portfolio: expected true/);
});


test('the command line refuses bad portfolio input with exit 2 and one line', async () => {
  const cfg = join(dir, 'bad-portfolio.yaml');
  writeFileSync(cfg, 'portfolio: {nope: 1}\n');
  const bad = [
    ['stress', '--portfolio', 'nope=1'],
    ['stress', '--portfolio', 'msync-race=1', '--workload', 'dirty-share'],
    ['stress', '--portfolio', '--tune', '--bug', 'no-remote-flush'],
    ['stress', '--portfolio', only(['msync-race']), '--cpus', '1'],
    ['stress', '--config', cfg],
  ];
  const results = await Promise.all(bad.map((a) => cli(a)));
  results.forEach((r, i) => {
    const what = bad[i]!.join(' ');
    assert.is(r.code, 2, `${what}: ${r.stderr}`);
    assert.is(r.stdout, '', what);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, `${what}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith('smpsim: '), r.stderr);
  });
});

const records = (f: string): RunRecord[] =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RunRecord);

test('--bug no-remote-flush --no-tune: a portfolio campaign whose findings group the runs by signature', async () => {
  const out = join(dir, 'nrf.jsonl');
  const r = await cli(['stress', '--bug', 'no-remote-flush', '--no-tune', '--runs', '8', '--jobs', '1', '--keep-going', '--seed', '3', '--out', out, '--json']);
  const s = JSON.parse(r.stdout) as CampaignSummary;
  const at = `campaign seed 3: ${s.campaign}`;
  assert.ok(s.campaign.startsWith('npx smpsim stress --portfolio '), at);
  assert.ok(s.portfolio && s.portfolio.drawn.includes('workload'), at);
  const recs = records(out);
  assert.is(recs.length, 8, at);
  for (const x of recs) {
    assert.ok(x.drawn && x.drawn.workload, `${at}, run ${x.index}`);
    assert.ok(x.reproduce.includes(`--workload ${x.drawn.workload as string}`) && x.reproduce.includes('--bug no-remote-flush'), x.reproduce);
  }
  // this bug breaks nearly every run: at least one of 8 fails
  assert.ok(s.failed >= 1, `${at}: no run failed`);
  assert.is(r.code, 1, at);
  assert.equal(s.findings, findingsOf(recs), at);
  const signatures = new Set(recs.flatMap((x) => x.violations.map((v) => v.signature!)));
  assert.equal(new Set(s.findings.map((f) => f.signature)), signatures, at);
  for (const f of s.findings) {
    assert.not.match(f.signature, /\d/, `${at}: ${f.signature}`);
    const withIt = recs.filter((x) => x.violations.some((v) => v.signature === f.signature)).sort((a, b) => a.index - b.index);
    assert.is(f.runs, withIt.length, `${at}: ${f.signature}`);
    assert.is(f.first.index, withIt[0]!.index, `${at}: ${f.signature}`);
    assert.is(f.first.reproduce, withIt[0]!.reproduce, `${at}: ${f.signature}`);
  }
  assert.match(formatCampaign(s), new RegExp(`${s.findings.length} distinct findings?`));
});

test('signatures: the same lockdep cycle from two seeds is one finding; records without details keep lockdep and deadlock signatures', async () => {
  const run = (seed: number) => runMachine({ ...DEFAULT_RUN, ops: 20_000, durationMs: 0, mode: 'deterministic', seed, bugs: ['mkclean-under-private-lock'] });
  const sums: RunSummary[] = [await run(1), await run(2)];
  const sigs = sums.map((s) => {
    const v = s.violations.find((x) => x.kind === 'lockdep');
    assert.ok(v, `seed ${s.seed}: no lockdep report (${s.violations.map((x) => x.kind).join(', ')})`);
    // what a JSONL record keeps (kind and message) signs the same
    assert.is(violationSignature({ kind: v!.kind, message: v!.message }), violationSignature(v!), `seed ${s.seed}`);
    return violationSignature(v!);
  });
  assert.is(sigs[0], sigs[1]);
  assert.match(sigs[0]!, /^lockdep: .*&mapping->i_mmap_lock at page_mkclean \(holding &mapping->private_lock from try_to_free_buffers\)$/);
  const watchdog = {
    kind: 'deadlock',
    message: 'watchdog: cpu1 has waited 5012 ms (threshold 5000 ms)\nwait-for cycle: cpu0 -> cpu1 -> cpu0\n\ncpu0 (irqs on): spinning on &mapping->private_lock\n  holds:\n    #0: (pte lock (ptlock_ptr(page))){lock@4242}, at: zap_pte_range\ncpu1 (irqs OFF): spinning on pte lock (ptlock_ptr(page))\n  holds:\n    #0: (&mapping->private_lock){lock@77}, at: try_to_free_buffers',
  };
  const sig = violationSignature(watchdog);
  assert.is(sig, violationSignature({ ...watchdog, message: watchdog.message.replace(/cpu1/g, 'cpu3').replace(/\d{3,}/g, '9') }));
  assert.is(sig, 'deadlock (wait-for cycle): spinning on &mapping->private_lock; spinning on pte lock (ptlock_ptr(page)); holding &mapping->private_lock at try_to_free_buffers, pte lock (ptlock_ptr(page)) at zap_pte_range');
  assert.is(violationSignature({ kind: 'lost-write', message: 'lost write at file 0 page 3 word 7: x', details: { when: 'msync', page: 3 } }), 'lost-write (msync)');
  assert.is(violationSignature({ kind: 'invariant', message: 'a\nb', details: { findings: [{ message: 'm', details: { invariant: 'refcount', pfn: 3 } }, { message: 'n', details: { invariant: 'mapcount' } }] } }), 'invariant: mapcount, refcount');
});

test('the reproducer of a drawn deterministic run, run as given, repeats its configuration and its trace', async () => {
  const sums = new Map<number, RunSummary>();
  const s = await runCampaign({
    run: { seed: 41, mode: 'deterministic', ops: 400, bugs: ['no-remote-flush'] },
    // workloads whose ops are cheap in deterministic mode
    portfolio: { weights: only(['dirty-share', 'page-fault3', 'write-notify']) },
    runs: 2,
    jobs: 1,
    keepGoing: true,
    onRun: (r, sum) => sum && sums.set(r.index, sum),
  });
  assert.is(s.runs, 2);
  const first = sums.get(0)!;
  const at = `campaign seed 41, run 0 (seed ${first.seed}): ${first.reproduce}`;
  const r = await cli([...first.reproduce.split(' ').slice(2), '--json']);
  assert.ok(r.code === 0 || r.code === 1, `${at}: ${r.stderr}`);
  const again = JSON.parse(r.stdout) as RunSummary;
  assert.equal({ ...again.config, hostCores: 0 }, { ...first.config, hostCores: 0 }, at);
  assert.is(again.traceHash, first.traceHash, at);
  assert.is(again.ok, first.ok, at);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
