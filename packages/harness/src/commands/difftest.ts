/**
 * `smpsim difftest`: differential testing against the host kernel (difftest/): the same trace of
 * single-threaded operations on one file run on the host (a real file in --dir) and on smpsim (one
 * CPU, kernel threads off), every difference either explained or reported. Exit 1 if any is not.
 */
import type { Command } from 'commander';
import { KERNEL_PRESETS, type KernelPreset, MSYNC_SCOPES, type MsyncScope, DEFAULT_KERNEL_PRESET } from '@smpsim/core';
import type { OpComparison } from '../difftest/compare.js';
import { checkHostDir, defaultHostDir, hostRunner } from '../difftest/host.js';
import { parseWeights } from '../difftest/random.js';
import { loadTraces, randomTraces, runDifftest, SHIPPED_TRACES, type TraceReport } from '../difftest/run.js';
import { parseIntStrict, UsageError } from '../parse.js';
import { collect, subcommand } from './common.js';

type Flags = { trace: string[]; random?: string; seed: string; ops: string; weights?: string; dir?: string; kernel: string; msyncScope?: string; json?: boolean; verbose?: boolean };

export function registerDifftest(p: Command): Command {
  return subcommand(p, 'difftest')
    .description('run traces on the host kernel and on smpsim and compare them op by op (exit 1 on an unexplained difference)')
    .option('--trace <path>', 'a trace file, or a directory of *.trace files (repeatable; default: the traces shipped with smpsim)', collect, [])
    .option('--random <n>', 'N seeded random traces (fsx-style) instead')
    .option('--seed <s>', 'base seed of --random', '1')
    .option('--ops <n>', 'ops per random trace', '40')
    .option('--weights <spec>', "random op weights, e.g. 'store=50,pread=0'")
    .option('--dir <d>', 'directory for the host\'s test file, on a disk file system (not tmpfs) (default: the OS temporary directory, else the current one)')
    .option('--kernel <preset>', `smpsim's kernel: ${Object.keys(KERNEL_PRESETS).join(' | ')}`, DEFAULT_KERNEL_PRESET)
    .option('--msync-scope <s>', `smpsim's msync(MS_SYNC) scope: ${MSYNC_SCOPES.join(' | ')} (default: the kernel preset's)`)
    .option('--json', 'print one JSON object')
    .option('--verbose', 'also list the explained differences, and stack traces for errors')
    .action((f: Flags) => {
      if (!(f.kernel in KERNEL_PRESETS)) throw new UsageError(`--kernel must be one of ${Object.keys(KERNEL_PRESETS).join(', ')}, got '${f.kernel}'`);
      if (f.msyncScope !== undefined && !(MSYNC_SCOPES as readonly string[]).includes(f.msyncScope)) throw new UsageError(`--msync-scope must be one of ${MSYNC_SCOPES.join(', ')}, got '${f.msyncScope}'`);
      if (f.random !== undefined && f.trace.length) throw new UsageError('--trace and --random are exclusive');
      const traces =
        f.random !== undefined
          ? randomTraces(parseIntStrict(f.random, '--random', 1), parseIntStrict(f.seed, '--seed', 0), parseIntStrict(f.ops, '--ops', 1), parseWeights(f.weights))
          : loadTraces(f.trace.length ? f.trace : [SHIPPED_TRACES]);
      const dir = f.dir ?? defaultHostDir();
      checkHostDir(dir);
      const runner = hostRunner();
      if (!runner.available) throw new UsageError(`difftest needs the host runner: ${runner.reason}`);
      const { host, reports } = runDifftest(traces, { runner: runner.path, dir, kernel: f.kernel as KernelPreset, ...(f.msyncScope ? { msyncScope: f.msyncScope as MsyncScope } : {}) }, f.json ? undefined : (r) => process.stdout.write(formatReport(r, !!f.verbose)));
      const failed = reports.filter((r) => r.differs > 0).length;
      const classes: Record<string, number> = {};
      for (const r of reports) for (const [k, n] of Object.entries(r.classes)) classes[k] = (classes[k] ?? 0) + n;
      const ops = reports.reduce((s, r) => s + r.ops, 0);
      const same = reports.reduce((s, r) => s + r.same, 0);
      if (f.json) process.stdout.write(JSON.stringify({ ok: failed === 0, ops, same, classes, host, kernel: f.kernel, msyncScope: f.msyncScope ?? KERNEL_PRESETS[f.kernel as KernelPreset].msyncScope, compiler: runner.compiler, dir, reports }) + '\n');
      else {
        process.stdout.write(`host: Linux ${host?.kernel}, file system ${host?.fs} in ${dir}, cachestat ${host?.cachestat ? 'yes' : 'no (dirty counts not compared)'}; smpsim: ${f.kernel}\n`);
        process.stdout.write(`${ops} ops: ${same} the same on both machines; differences by class: ${Object.entries(classes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}\n`);
        process.stdout.write(`${reports.length} trace(s): ${reports.length - failed} agree (differences all explained), ${failed} differ\n`);
      }
      process.exitCode = failed ? 1 : 0;
    });
}

const side = (o: OpComparison['host']): string =>
  `${JSON.stringify(o.result)} faults ${o.faults}${o.cached !== undefined ? ` cached ${o.cached} dirty ${o.dirty} wb ${o.writeback}` : ''}${o.dirtied !== undefined ? ` dirtied ${o.dirtied}` : ''}`;

function formatReport(r: TraceReport, verbose: boolean): string {
  const lines = [`${r.trace}: ${r.ops} ops, ${r.same} same, ${r.explained} explained, ${r.differs} differ`];
  for (const c of r.notes) {
    if (c.verdict === 'explained' && !verbose) continue;
    lines.push(`  ${c.verdict === 'differs' ? 'DIFFERS' : 'explained'} line ${c.line}: ${c.text}  — ${c.why}`);
    if (c.verdict === 'differs') lines.push(`    host:   ${side(c.host)}`, `    smpsim: ${side(c.sim)}`);
  }
  if (r.shrunk) {
    lines.push('  shortest trace that still differs:');
    for (const t of r.shrunk.text.trimEnd().split('\n')) lines.push(`    ${t}`);
    for (const c of r.shrunk.comparisons.filter((x) => x.verdict === 'differs')) lines.push(`    line ${c.line} (${c.text}): host ${side(c.host)} | smpsim ${side(c.sim)}`);
  }
  return lines.join('\n') + '\n';
}
