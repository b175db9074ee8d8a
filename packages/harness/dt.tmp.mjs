import { readFileSync } from 'node:fs';
import { parseTrace } from './dist/difftest/trace.js';
import { runTraceSim } from './dist/difftest/sim.js';
const t = parseTrace(readFileSync(process.argv[2], 'utf8'), process.argv[2]);
for (const r of runTraceSim(t, { kernel: process.argv[3] ?? 'linux-2.6.20+fixes' })) console.log(JSON.stringify(r));
