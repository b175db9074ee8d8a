/**
 * `smpsim catalogue`: the bug catalogue as a research table. For each bug switch (and the correct
 * kernel), several stress campaigns of a fixed host-time budget, each tuned as `smpsim stress` tunes
 * it; the table gives the fraction of campaigns that found a violation, the kinds found, and the
 * median host time to detection. Campaign c of a bug uses base seed `--seed` + c.
 */
import { BUG_CATALOGUE, type BugId } from '@smpsim/core';
import { DEFAULT_STRESS_OPS, runCampaign, tuneForStress } from './campaign.js';
import { median } from './median.js';
import { DEFAULT_RUN } from './run-options.js';

export interface CatalogueRow {
  bug: string;
  expected: string;
  harmful: boolean;
  campaigns: number;
  found: number;
  kinds: Record<string, number>;
  /** Host ms from the campaign's start to its first violation, per finding campaign. */
  detectMs: number[];
  medianDetectMs: number | null;
  /** The command of one campaign (stress flags) */
  command: string;
}

export interface CatalogueResult {
  timePerCampaignMs: number;
  campaignsPerBug: number;
  rows: CatalogueRow[];
}

/** Runs the catalogue; `bugs` may include 'none' (the correct kernel). */
export async function runCatalogue(o: { bugs: Array<BugId | 'none'>; campaigns: number; timeMs: number; seed: number; onRow?: (r: CatalogueRow) => void }): Promise<CatalogueResult> {
  const rows: CatalogueRow[] = [];
  for (const b of o.bugs) {
    const bugs = b === 'none' ? [] : [b];
    const run = tuneForStress({ ...DEFAULT_RUN, ops: DEFAULT_STRESS_OPS, durationMs: 0, bugs }, () => undefined);
    const row: CatalogueRow = {
      bug: b,
      expected: b === 'none' ? 'nothing (the correct kernel)' : BUG_CATALOGUE[b].expected,
      harmful: b !== 'none' && BUG_CATALOGUE[b].harmful,
      campaigns: 0,
      found: 0,
      kinds: {},
      detectMs: [],
      medianDetectMs: null,
      command: '',
    };
    for (let c = 0; c < o.campaigns; c++) {
      const s = await runCampaign({ run: { ...run, seed: o.seed + c }, timeMs: o.timeMs });
      row.command = s.campaign.replace(/ --seed \d+/, ` --seed ${o.seed}`) + ` --time ${Math.round(o.timeMs / 1000)}s`;
      row.campaigns++;
      if (s.failed > 0) {
        row.found++;
        row.detectMs.push(s.hostMs);
        const k = s.firstViolation?.kind ?? 'unknown';
        row.kinds[k] = (row.kinds[k] ?? 0) + 1;
      }
    }
    row.medianDetectMs = median(row.detectMs);
    rows.push(row);
    o.onRow?.(row);
  }
  return { timePerCampaignMs: o.timeMs, campaignsPerBug: o.campaigns, rows };
}

export function formatCatalogueRow(r: CatalogueRow): string {
  const kinds = Object.entries(r.kinds).map(([k, n]) => `${k}×${n}`).join(', ') || '-';
  const med = r.medianDetectMs === null ? '-' : `${(r.medianDetectMs / 1000).toFixed(1)} s`;
  return `| \`${r.bug}\` | ${r.harmful ? 'harmful' : r.bug === 'none' ? 'correct kernel' : 'control'} | ${r.found}/${r.campaigns} | ${kinds} | ${med} |`;
}

export function formatCatalogue(c: CatalogueResult): string {
  return [
    `| bug | class | campaigns that found it (${Math.round(c.timePerCampaignMs / 1000)} s each) | first violation | median time to detection |`,
    '| --- | --- | --- | --- | --- |',
    ...c.rows.map(formatCatalogueRow),
  ].join('\n');
}
