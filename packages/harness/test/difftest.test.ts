/**
 * Differential testing against the host kernel (src/difftest/): the trace format's checks, the smpsim
 * runner against the worked example of FIDELITY-REVIEW.md C4 (its predicted smpsim column), every
 * comparison rule on synthetic host results, and `smpsim difftest` end to end on this machine's kernel.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareRuns, DEFAULT_WEIGHTS, hostRunner, type OpResult, parseTrace, randomTrace, runTraceSim, SHIPPED_TRACES } from '@smpsim/harness';

const CLI = fileURLToPath(new URL('../bin/smpsim.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'difftest', ...args], { encoding: 'utf8', timeout: 120_000 });
const dir = mkdtempSync(join(tmpdir(), 'difftest-test-'));
const onDisk = Number(statfsSync(tmpdir()).type) !== 0x01021994;
const runner = hostRunner();

const trace = (body: string) => parseTrace(`version 1\n${body}\n`, 't');

test('the trace format: version first, then file; every bad line named by file and line', () => {
  const bad: Array<[string, RegExp]> = [
    ['file 4', /t:1: the first line must be 'version 1'/],
    ['version 2\nfile 4', /t:1: unsupported trace version/],
    ['version 1\nmap 0 0 1 rw shared', /t:2: the first op after 'version' must be 'file PAGES'/],
    ['version 1\nfile 4\nfile 4', /t:3: 'file' may appear once/],
    ['version 1\nfile 4\nfrob 1', /t:3: unknown op 'frob'/],
    ['version 1\nfile 4\nstore 0 0 0 1', /t:3: slot 0 is not mapped/],
    ['version 1\nfile 4\nmap 0 0 2 rw shared\nstore 0 2 0 1', /t:4: pages 2..2 are outside slot 0's 2 pages/],
    ['version 1\nfile 4\nmap 0 0 2 rw shared\nload 0 0 1024', /t:4: WORD must be from 0 to 1023/],
    ['version 1\nfile 4\nmap 0 0 2 rx shared', /t:3: protection must be rw or r/],
    ['version 1\nfile 4\nmap 0 0 2 rw shared\nmap 0 0 2 rw shared', /t:4: slot 0 is already mapped/],
    ['# only a comment', /empty trace/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseTrace(text, 't'), re, text);
  const t = trace('file 4   # four pages\n\n# a comment\nmap 3 1 2 r private random\nload 3 1 5\nstat 0 2\nio');
  assert.equal(
    t.lines.map((l) => [l.line, l.op]),
    [
      [2, 'file'],
      [5, 'map'],
      [6, 'load'],
      [7, 'stat'],
      [8, 'io'],
    ],
  );
});

test('the smpsim runner on the worked example gives the column FIDELITY-REVIEW.md C4 predicts for it', () => {
  const t = parseTrace(readFileSync(join(SHIPPED_TRACES, 'worked-example.trace'), 'utf8'), 'worked-example');
  const r = runTraceSim(t, { kernel: 'linux-2.6.20+fixes' });
  const at = (text: string, n = 0) => r.filter((x, i) => t.lines[i]!.text.startsWith(text))[n]!;
  const stats = r.filter((x) => x.op === 'stat').map((x) => [x.cached, x.dirty]);
  assert.equal(stats, [
    [2, 2],
    [2, 1], // msync of page 0 only (the range)
    [3, 0],
    [6, 4], // zap moved the D bits into the pages at munmap
    [6, 0],
  ]);
  assert.equal([at('store 0 0 0 11').faults, at('store 0 0 0 11').reads], [1, 1], 'cold store: one fault, one page read');
  assert.is(at('store 0 0 0 13').faults, 1, 'msync write-protected page 0: refault');
  assert.is(at('store 0 1 1 22').faults, 0, 'page 1 outside the msync range: still writable');
  assert.is(at('store 0 0 3 15').result, 'segv');
  assert.is(at('store 0 0 3 15', 1).faults, 0, 'mprotect(rw) of a dirty page kept it writable');
  assert.equal([at('pread 0 0').result, at('pread 2 0').result], [13, 32]);
  assert.is(at('load 1 1 0').faults, 1, 'no fault-around in smpsim');
  // 2.6.20's msync syncs the whole file: page 1 is cleaned too, and its next store refaults
  const old = runTraceSim(t, { kernel: 'linux-2.6.20' });
  const i = t.lines.findIndex((l) => l.text.startsWith('store 0 1 1 22'));
  assert.is(old[i]!.faults, 1);
});

const ok = (line: number, op: string, o: Partial<OpResult> = {}): OpResult => ({ line, op, result: 'ok', faults: 0, reads: 0, ...o });

test('comparison rules: what must agree differs, what cannot is explained, and nothing after an unmodelled op fails', () => {
  const t = trace('file 4\nmap 0 0 4 rw shared\nload 0 1 0\nstore 0 0 0 1\nmsync 0 0 1 sync\nstat\nload 0 0 0');
  const base = (): OpResult[] => [ok(2, 'file'), ok(3, 'map'), ok(4, 'load', { result: 0, faults: 1 }), ok(5, 'store', { faults: 1 }), ok(6, 'msync'), ok(7, 'stat', { cached: 2, dirty: 0, writeback: 0 }), ok(8, 'load', { result: 1 })];
  const ctx = { msyncScope: 'range' as const, cachestat: true };
  const verdicts = (host: OpResult[], sim: OpResult[], c = ctx) => compareRuns(t, host, sim, c).map((x) => `${x.verdict}${x.why ? `: ${x.why}` : ''}`);
  assert.ok(verdicts(base(), base()).every((v) => v === 'same'));
  const h = base();
  h[2]!.faults = 0; // fault-around mapped it
  h[5]!.cached = 4; // readahead
  assert.equal(verdicts(h, base()).filter((v) => v !== 'same'), ['explained: faults: host 0, smpsim 1 (host fault-around mapped the page on an earlier read fault)', 'explained: cached: host 4, smpsim 2 (host readahead and fault-around cache more)']);
  const d = base();
  d[3]!.faults = 0;
  d[5]!.dirty = 1;
  d[6]!.result = 7;
  const v = verdicts(d, base());
  assert.match(v[3]!, /^differs: faults: host 0, smpsim 1/);
  assert.match(v[5]!, /^differs: dirty pages: host 1, smpsim 0/);
  assert.match(v[6]!, /^differs: result: host 7, smpsim 1/);
  const wb = base();
  wb[5]!.writeback = 1;
  assert.match(verdicts(wb, base())[5]!, /^differs: pages under writeback right after a sync/);
  // an op smpsim does not model: explained, and so is every difference after it
  const t2 = trace('file 4\npwrite 0 0 5\npread 0 0');
  const v2 = compareRuns(t2, [ok(2, 'file'), ok(3, 'pwrite'), ok(4, 'pread', { result: 5 })], [ok(2, 'file'), ok(3, 'pwrite', { result: 'unsupported' }), ok(4, 'pread', { result: 0 })], ctx);
  assert.equal(
    v2.map((x) => x.verdict),
    ['same', 'explained', 'explained'],
  );
  assert.match(v2[2]!.why!, /after line 3, an op smpsim does not model yet/);
});

test('comparison rules of the eras: 2.6.20\'s whole-file msync, and mprotect write-protecting a copied private page', () => {
  const t = trace('file 4\nmap 0 0 4 rw shared\nstore 0 1 0 1\nmsync 0 0 1 sync\nstore 0 1 0 2\nstat');
  const host = [ok(2, 'file'), ok(3, 'map'), ok(4, 'store', { faults: 1 }), ok(5, 'msync'), ok(6, 'store'), ok(7, 'stat', { cached: 1, dirty: 1, writeback: 0 })];
  const sim = [ok(2, 'file'), ok(3, 'map'), ok(4, 'store', { faults: 1 }), ok(5, 'msync'), ok(6, 'store', { faults: 1 }), ok(7, 'stat', { cached: 1, dirty: 1, writeback: 0 })];
  assert.is(compareRuns(t, host, sim, { msyncScope: 'file', cachestat: true })[4]!.verdict, 'explained');
  assert.is(compareRuns(t, host, sim, { msyncScope: 'range', cachestat: true })[4]!.verdict, 'differs', 'with the range scope the same refault is a fidelity bug');
  const p = trace('file 4\nmap 0 0 2 rw private\nstore 0 0 0 1\nmprotect 0 0 2 rw\nstore 0 0 1 2\nstore 0 1 0 3');
  const ph = [ok(2, 'file'), ok(3, 'map'), ok(4, 'store', { faults: 1 }), ok(5, 'mprotect'), ok(6, 'store'), ok(7, 'store', { faults: 1 })];
  const ps = [ok(2, 'file'), ok(3, 'map'), ok(4, 'store', { faults: 1 }), ok(5, 'mprotect'), ok(6, 'store', { faults: 1 }), ok(7, 'store', { faults: 2 })];
  const pv = compareRuns(p, ph, ps, { msyncScope: 'range', cachestat: true });
  assert.is(pv[4]!.verdict, 'explained', 'the copied page 0');
  assert.is(pv[5]!.verdict, 'differs', 'page 1 was never copied: no era explains a second fault');
});

test('random traces are seeded, valid, and end with fsync and stat', () => {
  const a = randomTrace(5, 3, 30, DEFAULT_WEIGHTS);
  const b = randomTrace(5, 3, 30, DEFAULT_WEIGHTS);
  assert.equal(a.lines.map((l) => l.text), b.lines.map((l) => l.text));
  assert.is.not(randomTrace(5, 4, 30, DEFAULT_WEIGHTS).lines.map((l) => l.text).join('\n'), a.lines.map((l) => l.text).join('\n'));
  assert.equal(a.lines.slice(-2).map((l) => l.op), ['fsync', 'stat']);
  const mix = new Set<string>(randomTrace(5, 3, 400, DEFAULT_WEIGHTS).lines.map((l) => l.op));
  for (const op of ['store', 'load', 'map', 'unmap', 'mprotect', 'msync', 'fsync', 'pread', 'pwrite', 'ftruncate', 'stat', 'io']) assert.ok(mix.has(op), op);
});

test('smpsim difftest on this machine\'s kernel: the shipped traces and 40 random ones agree, every difference explained', () => {
  if (!runner.available || !onDisk) {
    console.log(`  (skipped: ${runner.available ? `${tmpdir()} is tmpfs` : runner.reason})`);
    return;
  }
  const shipped = cli('--dir', dir, '--json');
  assert.is(shipped.status, 0, shipped.stdout + shipped.stderr);
  const j = JSON.parse(shipped.stdout) as { ok: boolean; host: { kernel: string }; reports: Array<{ trace: string; differs: number; explained: number }> };
  assert.ok(j.ok);
  assert.ok(j.reports.length >= 5);
  assert.ok(j.reports.some((r) => r.trace.endsWith('worked-example.trace') && r.explained >= 1), 'fault-around on the host is explained, not dropped');
  const rnd = cli('--dir', dir, '--random', '40', '--seed', '1');
  assert.is(rnd.status, 0, rnd.stdout + rnd.stderr);
  assert.match(rnd.stdout, /40 trace\(s\): 40 agree/);
});

test('smpsim difftest reports a real difference, with the shortest trace that still shows it: 2.6.18 has no write notification', () => {
  if (!runner.available || !onDisk) return;
  const r = cli('--dir', dir, '--trace', join(SHIPPED_TRACES, 'ltp-msync04.trace'), '--kernel', 'linux-2.6.18');
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /DIFFERS line \d+: stat 0 1 {2}— dirty pages: host 1, smpsim 0/);
  assert.match(r.stdout, /shortest trace that still differs:\n {4}version 1\n {4}file 4\n {4}map 0 0 4 rw shared\n {4}store 0 0 0 1\n {4}stat 0 1\n/);
});

test('bad input: exit 2 and one line (a bad trace, a tmpfs directory, --trace with --random)', () => {
  const bad = join(dir, 'bad.trace');
  writeFileSync(bad, 'version 1\nfile 4\nstore 0 0 0 1\n');
  for (const [args, re] of [
    [['--trace', bad, '--dir', dir], /bad\.trace:3: slot 0 is not mapped/],
    [['--trace', join(dir, 'nope.trace')], /--trace .*nope\.trace: no such file or directory/],
    [['--random', '2', '--trace', bad], /--trace and --random are exclusive/],
    [['--kernel', 'linux-9'], /--kernel must be one of/],
  ] as Array<[string[], RegExp]>) {
    const r = cli(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  try {
    if (Number(statfsSync('/dev/shm').type) === 0x01021994) {
      const r = cli('--dir', '/dev/shm');
      assert.is(r.status, 2);
      assert.match(r.stderr, /tmpfs, which does not account dirty pages/);
    }
  } catch {
    // no /dev/shm here
  }
});

test.run();
