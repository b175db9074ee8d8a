/**
 * @smpsim/harness — the smpsim command line and its programmatic API.
 *
 * ```ts
 * import { runMachine } from '@smpsim/harness';
 * const s = await runMachine({ cpus: 4, workload: 'dirty-share', ops: 100_000, seed: 7 });
 * console.log(s.ok, s.stats.faults.writeNotify);
 * ```
 *
 * Everything below but `runOptionsFromArgs` (run flags as a command line writes them) and `main` (the
 * command line itself) works without commander.
 */
import { reproduceLine, replayLine } from './command-lines.js';

// one run: its options (one table, run-options.ts), the machine, the summary, its command lines
export { DEFAULT_RUN, DEFAULT_DET_OPS, RUN_OPTIONS, type RunOptions, type RunKey, type RunMode, type SchedName } from './run-options.js';
export { runOptionsFromArgs } from './commands/flags.js';
export { runMachine, buildConfig, CpuWorkerPool } from './run.js';
export { deterministicPart, counterOf, type RunSummary } from './summary.js';
export { reproduceLine, replayLine, campaignLine } from './command-lines.js';
/** The former names of reproduceLine and replayLine. */
export const reproduceCommand = reproduceLine;
export const replayCommand = replayLine;
export { formatSummary, formatLockStat } from './report.js';
export { UsageError } from './parse.js';
export { loadConfigFile, parseConfigText, ConfigFileError, type ConfigCommand, type ConfigValues } from './config-file.js';
// deterministic mode: schedule strings, replay, shrinking
export { parseScheduleString, type DetInfo } from './schedule-options.js';
export { replaySchedule, type ReplayResult } from './replay.js';
export { shrinkSchedule, formatShrink, type ShrinkOptions, type ShrinkResult } from './shrink.js';
// campaigns and the tables built on them
export { runCampaign, tuneForStress, STRESS_DEFAULTS, parseShard, defaultJobs, DEFAULT_STRESS_OPS, DEFAULT_STRESS_RUNS, type CampaignOptions } from './campaign.js';
export { CampaignProgress, fmtSecs } from './progress.js';
export { mergeRecords } from './merge.js';
export { readRecords, summarizeRecords, formatCampaign, findingsOf, type CampaignSummary, type Finding, type RunRecord } from './records.js';
export { Portfolio, PORTFOLIO, PORTFOLIO_DRAWS, DRAWN_KEYS, portfolioWeights, formatDrawn, type PortfolioRow, type PortfolioWeights, type Draw, type Drawn } from './portfolio.js';
export { violationSignature, runSignatures, stripNumbers, type SignedViolation } from './signature.js';
export { runExploration, formatExploration, type ExploreCell, type ExploreResult, type ExploreOptions, type Strategy } from './explore.js';
export { runCatalogue, formatCatalogue, type CatalogueRow, type CatalogueResult } from './catalogue.js';
// benchmarks
export { runBench } from './bench/measure.js';
export { formatBench, formatBenchCsv } from './bench/format.js';
export { BENCH_SUITES } from './bench/suites.js';
export type { LinePoint } from './bench/plot.js';
/** An SVG line plot of any series (experiments); vega is loaded on first use, not with the API. */
export async function linePlotSvg(o: Parameters<typeof import('./bench/plot.js').linePlotSvg>[0]): Promise<string> {
  return (await import('./bench/plot.js')).linePlotSvg(o);
}
export type { BenchResult, BenchPoint, BenchOptions, ModeResult, LatencyStats, BenchSuite, BenchMode } from './bench/result.js';
// differential testing against the host kernel
export { parseTrace, formatTrace, TRACE_VERSION, type Trace, type TraceLine, type TraceOp } from './difftest/trace.js';
export { runTraceSim, type OpResult, type SimOptions } from './difftest/sim.js';
export { compareRuns, unexplained, type OpComparison, type CompareContext, type Verdict } from './difftest/compare.js';
export { hostRunner, runTraceHost, type HostInfo } from './difftest/host.js';
export { randomTrace, DEFAULT_WEIGHTS, parseWeights } from './difftest/random.js';
export { runDifftest, loadTraces, SHIPPED_TRACES, type TraceReport, type DifftestOptions } from './difftest/run.js';
export { RACE_WORKLOADS, raceRunner, runRaceHost, runRaceSim, compareRace, bugsInForce, type RaceWorkload, type RaceOptions, type HostRaceOutcome, type SimRaceOutcome, type RaceVerdict } from './difftest/race.js';
// the command line
export { main } from './cli.js';
