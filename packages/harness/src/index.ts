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
export { formatSummary, formatLockStat } from './report.js';
export { main } from './cli.js';
export { UsageError } from './parse.js';
export { runCampaign, parseShard, defaultJobs, DEFAULT_STRESS_OPS, DEFAULT_STRESS_RUNS, type CampaignOptions } from './stress.js';
export { mergeRecords } from './merge.js';
export { readRecords, summarizeRecords, formatCampaign, type CampaignSummary, type RunRecord } from './records.js';
export { loadConfigFile, parseConfigText, ConfigFileError, type ConfigCommand, type ConfigValues } from './config-file.js';
export { runCatalogue, formatCatalogue, type CatalogueRow, type CatalogueResult } from './catalogue.js';
export { deterministicPart, parseScheduleString, replayCommand, DEFAULT_DET_OPS, type DetInfo, type RunMode, type SchedName } from './det.js';
export { replaySchedule, type ReplayResult } from './replay.js';
export { shrinkSchedule, formatShrink, type ShrinkOptions, type ShrinkResult } from './shrink.js';
export { runExploration, formatExploration, type ExploreCell, type ExploreResult, type ExploreOptions, type Strategy } from './explore.js';
