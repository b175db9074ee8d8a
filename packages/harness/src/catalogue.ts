/**
 * `smpsim catalogue`: the bug catalogue as a research table. For each bug switch (and the correct
 * kernel), several stress campaigns of a fixed host-time budget, each tuned as `smpsim stress` tunes
 * it; the table gives the fraction of campaigns that found a violation, the kinds found, and the
 * median host time to detection. Campaign c of a bug uses base seed `--seed` + c.
 */
import type { Command } from 'commander';
import { BUG_CATALOGUE, BUG_IDS, type BugId } from '@smpsim/core';
import { parseDuration, parseIntStrict, UsageError } from './parse.js';
import { DEFAULT_RUN } from './run.js';
import { DEFAULT_STRESS_OPS, runCampaign, tuneForStress } from './stress.js';

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

const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

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

export function catalogueCommand(p: Command): void {
  p.command('catalogue')
    .description('stress every bug switch (and the correct kernel) and tabulate detection rates and times')
    .option('--campaigns <n>', 'campaigns per bug', '3')
    .option('--time <T>', 'host time of each campaign', '60s')
    .option('--bug <id>', "bugs to include (repeatable; 'none' is the correct kernel); default all", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--seed <s>', 'base seed', '1')
    .option('--json', 'print JSON')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .action(async (flags) => {
      const chosen: string[] = flags.bug.length ? flags.bug : [...BUG_IDS, 'none'];
      for (const b of chosen) if (b !== 'none' && !(BUG_IDS as readonly string[]).includes(b)) throw new UsageError(`unknown bug '${b}'`);
      const campaigns = parseIntStrict(flags.campaigns, '--campaigns', 1, 1000);
      const timeMs = parseDuration(flags.time, '--time');
      if (!flags.json) process.stdout.write(formatCatalogue({ timePerCampaignMs: timeMs, campaignsPerBug: campaigns, rows: [] }) + '\n');
      const res = await runCatalogue({
        bugs: chosen as Array<BugId | 'none'>,
        campaigns,
        timeMs,
        seed: parseIntStrict(flags.seed, '--seed', 0, 2 ** 31 - 1),
        onRow: (r) => {
          if (!flags.json) process.stdout.write(formatCatalogueRow(r) + '\n');
        },
      });
      if (flags.json) process.stdout.write(JSON.stringify(res) + '\n');
    });
}
