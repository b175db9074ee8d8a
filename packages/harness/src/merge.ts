/**
 * Merging campaign files (`smpsim merge a.jsonl b.jsonl …`): one summary of a campaign whose runs were spread over shards
 * (`stress --shard K/N`) or several invocations. The files must hold runs of one campaign; a run index
 * that appears twice counts once (it must have the same seed). The totals are those of the unsharded
 * campaign: runs, ok, violations by kind, the first violation, the seeds in run order.
 */
import { existsSync } from 'node:fs';
import { UsageError } from './parse.js';
import { type CampaignSummary, readRecords, type RunRecord, summarizeRecords } from './records.js';

export function mergeRecords(files: string[]): CampaignSummary {
  if (files.length === 0) throw new UsageError('merge needs at least one JSONL file');
  const byIndex = new Map<number, RunRecord>();
  let campaign: string | null = null;
  let baseSeed = 0;
  for (const f of files) {
    if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
    const recs = readRecords(f);
    for (const r of recs) {
      if (campaign === null) {
        campaign = r.campaign;
        baseSeed = r.base;
      } else if (r.campaign !== campaign) {
        throw new UsageError(`${f} holds runs of another campaign (${r.campaign}, not ${campaign})`);
      }
      const prev = byIndex.get(r.index);
      if (prev && prev.seed !== r.seed) throw new UsageError(`${f}: run ${r.index} has seed ${r.seed} here and ${prev.seed} elsewhere`);
      if (!prev) byIndex.set(r.index, r);
    }
  }
  const records = [...byIndex.values()];
  // Host time: from the earliest run's start to the latest run's end, across all files.
  const start = Math.min(...records.map((r) => r.finishedAt - r.hostMs));
  const end = Math.max(...records.map((r) => r.finishedAt));
  const hostMs = records.length ? Math.max(0, end - start) : 0;
  return summarizeRecords(records, { campaign: campaign ?? '', baseSeed, shard: null, resumed: 0, executed: records.length, hostMs, stopped: 'merged' });
}
