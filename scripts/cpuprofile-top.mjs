#!/usr/bin/env node
/**
 * Where the time went in V8 CPU profiles (.cpuprofile, as `node --cpu-prof` writes them, one per
 * thread): the functions with the most self time, with their share of the thread's samples.
 *
 *   node scripts/cpuprofile-top.mjs [--top N] FILE.cpuprofile|DIR ...
 *
 * Also imported by scripts/profile.mjs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Self time per function of one profile, most first. */
export function topFunctions(file, top = 15) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // timeDeltas[i] is the time before sample i; attribute it to the sampled node.
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas?.[i] ?? 0;
    const n = byId.get(p.samples[i]);
    if (!n) continue;
    const f = n.callFrame;
    let where = f.url ? f.url.replace(/^file:\/\//, '') : '';
    if (where.startsWith(ROOT)) where = relative(ROOT, where);
    const key = `${f.functionName || '(anonymous)'}${where ? ` ${where}:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { file, totalMs: total / 1000, rows: rows.map(([fn, us]) => ({ fn, ms: us / 1000, pct: total ? (100 * us) / total : 0 })) };
}

/** The thread a profile belongs to, from Node's file name CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile. */
export function threadOf(file) {
  const m = /\.(\d+)\.(\d+)\.(\d+)\.cpuprofile$/.exec(basename(file));
  if (!m) return 'thread ?';
  return m[2] === '0' ? `main thread (pid ${m[1]})` : `worker thread ${m[2]} (pid ${m[1]})`;
}

export function formatTop(t) {
  const lines = [`${threadOf(t.file)}: ${t.file} (${t.totalMs.toFixed(0)} ms sampled)`, '   self ms   share  function'];
  for (const r of t.rows) lines.push(`${r.ms.toFixed(1).padStart(10)}  ${r.pct.toFixed(1).padStart(5)}%  ${r.fn}`);
  return lines.join('\n');
}

export function profilesIn(pathOrDir) {
  if (statSync(pathOrDir).isDirectory()) {
    return readdirSync(pathOrDir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .map((f) => join(pathOrDir, f));
  }
  return [pathOrDir];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  let top = 15;
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--top') top = Number(args[++i]);
    else files.push(...profilesIn(args[i]));
  }
  if (files.length === 0) {
    process.stderr.write('usage: node scripts/cpuprofile-top.mjs [--top N] FILE.cpuprofile|DIR ...\n');
    process.exit(2);
  }
  for (const f of files) process.stdout.write(formatTop(topFunctions(f, top)) + '\n\n');
}
