/**
 * @smpsim/harness — the smpsim command line and its programmatic API.
 *
 * ```ts
 * import { runMachine } from '@smpsim/harness';
 * const s = await runMachine({ cpus: 4, workload: 'dirty-share', ops: 100_000, seed: 7 });
 * console.log(s.ok, s.stats.faults.writeNotify);
 * ```
 */
export { runMachine, buildConfig, reproduceCommand, CpuWorkerPool, DEFAULT_RUN, type RunOptions, type RunSummary } from './run.js';
export { runBench, formatBench, type BenchResult, type BenchPoint } from './bench.js';
export { formatSummary } from './report.js';
export { main } from './cli.js';
export { UsageError } from './parse.js';
