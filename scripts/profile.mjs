#!/usr/bin/env node
/**
 * Profiles one simulation: `pnpm profile -- [profile options] <smpsim run args>`.
 *
 *   --profile-tool flame|cpu-prof|both   (default both)
 *   --profile-out DIR                     (default .clinic/<date-time> in the repository, which git ignores)
 *   --profile-top N                       (functions listed per thread, default 15)
 *
 * `flame` runs the simulation under `clinic flame` (NO_INSIGHT=1, so clinic 13 does not wait for an
 * answer to its analytics question, which with no terminal it would do silently) and prints where the
 * HTML flame graph went. clinic flame samples the main thread only, and the simulated CPUs run in
 * worker threads, so its graph shows the harness (start-up, comlink, waiting), not the simulation.
 * `cpu-prof` runs the simulation with `node --cpu-prof`, which writes one .cpuprofile per thread —
 * the main thread and every CPU worker — and prints each thread's functions with the most self time.
 * `both` does one, then the other. Where clinic cannot run, the script says exactly why and falls
 * back to cpu-prof.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTop, profilesIn, topFunctions } from './cpuprofile-top.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SMPSIM = join(ROOT, 'packages/harness/bin/smpsim.js');
const CLINIC = join(ROOT, 'node_modules/.bin/clinic');

function usage(msg) {
  if (msg) process.stderr.write(`profile: ${msg}\n`);
  process.stderr.write('usage: pnpm profile -- [--profile-tool flame|cpu-prof|both] [--profile-out DIR] [--profile-top N] <smpsim run args>\n');
  process.exit(2);
}

const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
let tool = 'both';
let out = join(ROOT, '.clinic', new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, ''));
let top = 15;
const runArgs = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--profile-tool') tool = argv[++i];
  else if (a === '--profile-out') out = argv[++i];
  else if (a === '--profile-top') top = Number(argv[++i]);
  else if (a === '--') continue;
  else runArgs.push(a);
}
if (!['flame', 'cpu-prof', 'both'].includes(tool)) usage(`--profile-tool must be flame, cpu-prof or both, got '${tool}'`);
if (!(top > 0)) usage('--profile-top must be a positive number');
if (!existsSync(SMPSIM) || !existsSync(join(ROOT, 'packages/harness/dist/index.js'))) usage('smpsim is not built: run `npx pnpm@12.4.2 build` first');
mkdirSync(out, { recursive: true });

/** Runs a command, passing its output through; resolves with its exit status and the output. */
function run(cmd, args, env, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const take = (stream, to) =>
      stream.on('data', (d) => {
        text += d;
        to.write(d);
      });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: -1, text: text + String(e.message), error: e, timedOut });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status: status ?? -1, signal, text, timedOut });
    });
  });
}

/** Host time the run may take: its --duration (or 3 s) plus generous set-up and analysis time. */
function budgetMs() {
  const i = runArgs.indexOf('--duration');
  const d = i >= 0 ? /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(runArgs[i + 1] ?? '') : null;
  const ms = d ? Number(d[1]) * (d[2] === 'ms' ? 1 : d[2] === 'm' ? 60_000 : 1000) : 3000;
  return ms + 300_000;
}

async function flame() {
  const major = Number(process.versions.node.split('.')[0]);
  if (!existsSync(CLINIC)) return { ok: false, why: `clinic is not installed at ${relative(ROOT, CLINIC)} (it is a root devDependency: run \`npx pnpm@12.4.2 install\`)` };
  const dest = join(out, 'flame');
  mkdirSync(dest, { recursive: true });
  console.log(`profile: clinic flame (main thread only) -> ${relative(ROOT, dest) || dest}`);
  const r = await run(CLINIC, ['flame', '--open=false', '--dest', dest, '--', process.execPath, SMPSIM, 'run', ...runArgs], { NO_INSIGHT: '1' }, budgetMs());
  const html = readdirSync(dest).find((f) => f.endsWith('.clinic-flame.html'));
  if (r.timedOut) return { ok: false, why: `clinic flame did not finish within ${budgetMs() / 1000} s and was stopped (with NO_INSIGHT unset it waits for an answer to its analytics question; it is set here)` };
  if (r.error) return { ok: false, why: `clinic could not start: ${r.error.message}` };
  if (r.status !== 0 && !html) {
    const last = r.text.trim().split('\n').slice(-3).join(' / ');
    return { ok: false, why: `clinic flame exited with status ${r.status}${r.signal ? ` (${r.signal})` : ''} on Node ${process.versions.node}${major > 20 ? ' (clinic 13 was made for Node up to 20)' : ''}: ${last}` };
  }
  if (!html) return { ok: false, why: `clinic flame finished but wrote no HTML report in ${dest}` };
  console.log(`\nprofile: clinic flame report: ${join(dest, html)}`);
  console.log('profile: note: clinic flame samples the main thread only; the simulated CPUs run in worker threads (see the cpu-prof profiles for them)');
  return { ok: true };
}

async function cpuProf() {
  const dest = join(out, 'cpuprofile');
  mkdirSync(dest, { recursive: true });
  console.log(`profile: node --cpu-prof (every thread) -> ${relative(ROOT, dest) || dest}`);
  const r = await run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dest, SMPSIM, 'run', ...runArgs], {}, budgetMs());
  if (r.error || r.timedOut) {
    console.log(`profile: node --cpu-prof failed: ${r.timedOut ? 'timed out' : r.error.message}`);
    return false;
  }
  const files = profilesIn(dest);
  if (files.length === 0) {
    console.log(`profile: node --cpu-prof wrote no profile in ${dest}`);
    return false;
  }
  console.log(`\nprofile: ${files.length} CPU profile(s), one per thread (open in Chrome DevTools > Performance > Load profile, or speedscope):`);
  for (const f of files) console.log('\n' + formatTop(topFunctions(f, top)));
  return true;
}

let ok = true;
if (tool === 'flame' || tool === 'both') {
  const f = await flame();
  if (!f.ok) {
    console.log(`\nprofile: clinic flame could not run: ${f.why}`);
    console.log('profile: falling back to node --cpu-prof');
    if (tool === 'flame') ok = await cpuProf();
  }
}
if (tool === 'cpu-prof' || tool === 'both') ok = (await cpuProf()) && ok;
console.log(`\nprofile: output in ${out}`);
process.exitCode = ok ? 0 : 1;
