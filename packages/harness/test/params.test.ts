/**
 * Workload parameters: a built-in workload declares its parameters, and `--param` refuses a key it
 * does not have (exit status 2, one line naming the workload's parameters) instead of running with
 * the key silently ignored; a user's workload module that declares none gets what it is given.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILTIN_WORKLOADS, loadWorkload, resolveWorkload } from '@smpsim/cpu-worker';
import { runMachine } from '@smpsim/harness';

const bin = fileURLToPath(new URL('../bin/smpsim.js', import.meta.url));
const fx = (n: string) => fileURLToPath(new URL(`./fixtures/${n}.js`, import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

test('every built-in workload declares its parameters, each with a default and a description', async () => {
  for (const name of Object.keys(BUILTIN_WORKLOADS)) {
    const w = await loadWorkload(await resolveWorkload(name, process.cwd()));
    assert.ok(w.params, `${name} declares its parameters`);
    for (const [k, p] of Object.entries(w.params!)) assert.ok(p.description.length > 0 && p.default !== undefined, `${name}.${k}`);
  }
});

test('--param with a key the workload does not have: exit 2, one line naming its parameters', () => {
  const r = cli('run', '--workload', 'dirty-share', '--ops', '100', '--param', 'nope=1');
  assert.is(r.status, 2, r.stderr);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, "workload dirty-share has no parameter 'nope' (its parameters: files, pages, store, load, msync, remap, truncate, hot, writenotify, syscalls)");
});

test('declared parameters are accepted, and a module that declares none gets any', async () => {
  const s = await runMachine({ workload: 'tlb-hit', cpus: 1, ops: 4096, params: { pages: 4 }, daemons: false });
  assert.ok(s.ok, JSON.stringify(s.violations));
  const u = await runMachine({ workload: fx('clobber'), cpus: 2, ops: 200, params: { anything: 1 } });
  assert.is(u.config.workload, 'clobber');
});

test.run();
