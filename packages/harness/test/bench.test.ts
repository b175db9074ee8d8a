import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus as hostCpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { type BenchResult, CpuWorkerPool, formatBench, runBench } from '@smpsim/harness';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/harness/bin/smpsim.js');
const dir = mkdtempSync(join(tmpdir(), 'smpsim-bench-'));
const hasCc = !spawnSync(process.env.CC || 'cc', ['--version']).error;
const TIME = 60;
const pool = new CpuWorkerPool();

test.after(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

function sanePoints(b: BenchResult, cpus: number[]): void {
  assert.ok(b.ok, JSON.stringify(b.points.map((p) => p.summary.violations)));
  assert.equal(
    b.points.map((p) => p.cpus),
    cpus,
  );
  assert.ok(b.hostCores >= 1);
  // who ran it: the host CPU's model as the kernel names it (with its family and model numbers where
  // /proc/cpuinfo gives them, as on x86 Linux), the Node.js and V8 versions
  assert.ok(b.host.cpu.startsWith(hostCpus()[0]?.model.trim() || 'unknown'), b.host.cpu);
  if (existsSync('/proc/cpuinfo') && /^cpu family\s*:/m.test(readFileSync('/proc/cpuinfo', 'utf8'))) assert.match(b.host.cpu, /\(family \d+, model \d+\)$/);
  assert.equal([b.host.node, b.host.v8], [process.versions.node, process.versions.v8]);
  for (const p of b.points) {
    assert.is(p.oversubscribed, p.cpus > b.hostCores);
    for (const m of b.modes) {
      const r = p[m]!;
      assert.ok(r, `${b.suite} ${m} at ${p.cpus} CPUs`);
      assert.ok(r.perCpu > 0 && Number.isFinite(r.perCpu), `${b.suite} ${m} perCpu ${r.perCpu}`);
      assert.ok(r.total >= r.perCpu * (b.suite === 'shootdown' ? 1 : p.cpus) * 0.999);
      if (b.timeBase === 'host') assert.ok(r.idlePct! >= 0 && r.idlePct! <= 100);
      else assert.is(r.idlePct, undefined, 'simulated time: no host figures');
      assert.is(r.procs, m === 'processes' ? p.cpus : 1);
    }
    assert.is(p.perCpu, p[b.primary]!.perCpu);
  }
  JSON.parse(JSON.stringify(b));
}

test('access: TLB-hit accesses per CPU in both modes, with the native loop as baseline', async () => {
  const b = await runBench('access', [1, 2], TIME, { pool, warmupMs: 0 });
  sanePoints(b, [1, 2]);
  assert.equal(b.modes, ['processes', 'threads']);
  for (const p of b.points) assert.ok(p.processes!.counters.accesses > 1000);
  if (hasCc) {
    assert.ok(b.baseline?.available, JSON.stringify(b.baseline));
    for (const p of b.points) {
      assert.ok(p.baseline && p.baseline.tasks === p.cpus && p.baseline.perTask > 0);
      assert.ok(p.ratio! > 0 && Math.abs(p.ratio! - p.perCpu / p.baseline.perTask) < 1e-9);
    }
  } else assert.is(b.baseline?.available, false);
  const table = formatBench(b);
  assert.match(table, /host: \d+ core/);
  assert.ok(table.includes(`core(s) of ${b.host.cpu}, Node ${process.versions.node} (V8 ${process.versions.v8})`), table);
  if (hasCc) assert.match(table, /smpsim\/native/);
});

test('faults: counts write-notify faults only', async () => {
  const b = await runBench('faults', [1, 2], TIME, { pool, warmupMs: 0, modes: ['processes'], params: { pages: 32 } });
  sanePoints(b, [1, 2]);
  for (const p of b.points) {
    const c = p.processes!.counters;
    assert.ok(c.faultsWriteNotify > 0);
    // The not-present faults are the first write of each page only, and are not counted.
    assert.is(c.faultsNotPresent, 32 * p.cpus);
    assert.ok(c.pagesCleaned > 0 && c.msyncs > 0);
  }
});

test('shootdown: synced single-page flush latency percentiles', async () => {
  const b = await runBench('shootdown', [1, 2], TIME, { pool, warmupMs: 0 });
  sanePoints(b, [1, 2]);
  assert.equal(b.modes, ['threads']);
  for (const p of b.points) {
    const l = p.threads!.latency!;
    assert.ok(l.samples > 0 && l.p50Ns > 0 && l.p50Ns <= l.p99Ns && l.p99Ns <= l.maxNs, JSON.stringify(l));
  }
  // With two CPUs every flush sends an IPI to the busy CPU and waits for it.
  const two = b.points[1]!.threads!;
  assert.ok(two.counters.ipisSent >= two.latency!.samples);
  assert.ok(two.extra.busyAccessesPerCpu! > 0);
  // the native round between processes (flush_ping.c): none at one CPU; at two, the initiator's rate
  assert.is(b.points[0]!.baseline, undefined, 'no native round at one CPU');
  if (hasCc) {
    assert.ok(b.baseline?.available, JSON.stringify(b.baseline));
    const p = b.points[1]!;
    assert.ok(p.baseline && p.baseline.tasks === 2 && p.baseline.total > 0 && p.baseline.ops > 0, JSON.stringify(p.baseline));
    assert.ok(p.ratio! > 0 && Math.abs(p.ratio! - p.perCpu / p.baseline.total) < 1e-9);
    // its rounds timed one by one: a median at most the 90th percentile, in 8 ns buckets
    const { roundP50Ns: r50, roundP90Ns: r90 } = p.baseline;
    assert.ok(r50 !== undefined && r90 !== undefined && r50 > 0 && r50 <= r90 && r50 % 8 === 0, JSON.stringify(p.baseline));
    assert.match(formatBench(b), /native p50 µs {2}mean µs/);
  } else assert.is(b.baseline?.available, false);
  try {
    await runBench('shootdown', [2], TIME, { pool, warmupMs: 0, modes: ['processes'] });
    assert.unreachable('processes mode must be refused');
  } catch (e) {
    assert.match((e as Error).message, /threads mode only/);
  }
});

test('msync: pages written back per CPU', async () => {
  const b = await runBench('msync', [1, 2], TIME, { pool, warmupMs: 0, params: { pages: 16 } });
  sanePoints(b, [1, 2]);
  for (const p of b.points) {
    assert.ok(p.processes!.extra.msyncsPerSec! > 0);
    assert.ok(p.processes!.counters.pagesWritten >= 16 * p.cpus);
  }
});

test('smpsim bench --json --plot: exit 0, JSON with the ratio, an SVG plot that parses', async () => {
  const svg = join(dir, 'f.svg');
  const { stdout } = await exec(process.execPath, [bin, 'bench', 'faults', '--cpus', '1,2', '--time', `${TIME}ms`, '--param', 'pages=32', '--plot', svg, '--json'], { cwd: root });
  const b = JSON.parse(stdout) as BenchResult;
  assert.is(b.suite, 'faults');
  assert.is(b.points.length, 2);
  if (hasCc) for (const p of b.points) assert.ok(typeof p.ratio === 'number' && p.ratio > 0);
  assert.ok(existsSync(svg));
  const text = readFileSync(svg, 'utf8');
  assert.is(XMLValidator.validate(text), true);
  const doc = new XMLParser({ ignoreAttributes: false }).parse(text) as { svg?: Record<string, unknown> };
  assert.ok(doc.svg, 'root element is <svg>');
  assert.match(text, /simulated CPUs/);
  assert.match(text, /linear/);
  assert.match(text, /<path/);
});

test('smpsim bench --csv: the will-it-scale columns', async () => {
  const { stdout, stderr } = await exec(process.execPath, [bin, 'bench', 'msync', '--cpus', '1,2', '--time', '50ms', '--mode', 'threads', '--param', 'pages=8', '--csv'], { cwd: root });
  const lines = stdout.trim().split('\n');
  assert.is(lines[0], 'tasks,processes,processes_idle,threads,threads_idle,linear');
  assert.is(lines[1], '0,0,100,0,100,0');
  assert.is(lines.length, 4);
  const [tasks, proc, procIdle, threads, threadsIdle, linear] = lines[2]!.split(',').map(Number);
  assert.is(tasks, 1);
  assert.is(proc, -1); // not run
  assert.is(procIdle, -1);
  assert.ok(threads! > 0 && threadsIdle! >= 0 && linear === threads);
  assert.match(stderr, /host: \d+ core/);
});

test('smpsim bench: bad input is exit status 2 with one line', async () => {
  const r = spawnSync(process.execPath, [bin, 'bench', 'nosuch'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown bench suite 'nosuch'/);
  const m = spawnSync(process.execPath, [bin, 'bench', 'access', '--mode', 'sideways'], { cwd: root, encoding: 'utf8' });
  assert.is(m.status, 2);
  assert.match(m.stderr, /--mode must be/);
});

test.run();
