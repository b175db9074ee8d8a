/**
 * SVG plots of bench results, drawn by Vega-Lite and rendered headless by Vega (no browser, no
 * canvas): throughput over all CPUs against the number of simulated CPUs, one line per mode with the
 * linear-scaling line (the one-CPU result times the CPUs, dashed) and, where the native baseline ran,
 * a second chart of the ratio smpsim per CPU / native per task; for `shootdown`, flush latency
 * percentiles against CPUs. The region where simulated CPUs outnumber host cores is shaded.
 */
import { writeFile } from 'node:fs/promises';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { BenchResult } from './result.js';

interface Row {
  cpus: number;
  series: string;
  value: number;
  dashed: boolean;
}

function rows(b: BenchResult): { data: Row[]; yTitle: string; log: boolean } {
  const data: Row[] = [];
  if (b.suite === 'shootdown') {
    for (const p of b.points) {
      const l = p.threads?.latency;
      if (!l) continue;
      data.push({ cpus: p.cpus, series: 'p50', value: l.p50Ns / 1000, dashed: false });
      data.push({ cpus: p.cpus, series: 'p99', value: l.p99Ns / 1000, dashed: false });
      // the host's own round between as many processes (the native baseline), dashed
      if (p.baseline && p.baseline.total > 0) data.push({ cpus: p.cpus, series: 'native round (mean)', value: 1e6 / p.baseline.total, dashed: true });
    }
    const vals = data.map((d) => d.value).filter((v) => v > 0);
    return { data, yTitle: `flush latency (µs, ${b.timeBase === 'simulated' ? 'simulated' : 'host'} time)`, log: vals.length > 0 && Math.max(...vals) / Math.min(...vals) > 50 };
  }
  const first = b.points[0];
  const one = first ? (first[b.primary]?.total ?? 0) / first.cpus : 0;
  for (const p of b.points) {
    for (const m of b.modes) {
      const r = p[m];
      if (r) data.push({ cpus: p.cpus, series: `smpsim ${m}`, value: r.total, dashed: false });
    }
    data.push({ cpus: p.cpus, series: `linear (${b.primary})`, value: one * p.cpus, dashed: true });
  }
  const vals = data.map((d) => d.value).filter((v) => v > 0);
  return { data, yTitle: `${b.unit} over all CPUs${b.timeBase === 'simulated' ? ' (simulated time)' : ''}`, log: vals.length > 0 && Math.max(...vals) / Math.min(...vals) > 50 };
}

type Layer = NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']>[number];

/** The shaded region (and its label) where simulated CPUs outnumber host cores. */
function oversubscribed(b: BenchResult, minCpus: number, maxCpus: number, withLabel: boolean): Layer[] {
  // simulated time does not depend on the host's cores
  if (maxCpus <= b.hostCores || b.timeBase === 'simulated') return [];
  const from = Math.max(minCpus, b.hostCores);
  const label = `simulated CPUs > ${b.hostCores} host cores`;
  const out: Layer[] = [
    {
      data: { values: [{ from, to: maxCpus }] },
      mark: { type: 'rect', color: '#f4ddd3', opacity: 0.6 },
      encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
    },
  ];
  if (withLabel) {
    out.push({
      data: { values: [{ at: from, label }] },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, y: 0, color: '#a0522d' },
      encoding: { x: { field: 'at', type: 'quantitative' }, text: { field: 'label' } },
    });
  }
  return out;
}

/**
 * The Vega-Lite specification of the plot: the throughput (or latency) chart and, where the native
 * baseline ran, a second chart of the ratio smpsim per CPU / native per task.
 */
export function plotSpec(b: BenchResult): TopLevelSpec {
  const { data, yTitle, log } = rows(b);
  const maxCpus = Math.max(1, ...b.points.map((p) => p.cpus));
  const minCpus = Math.min(maxCpus, ...b.points.map((p) => p.cpus));
  const x = {
    field: 'cpus',
    type: 'quantitative' as const,
    title: 'simulated CPUs',
    scale: { domain: [minCpus === maxCpus ? 0 : minCpus, maxCpus], zero: false, nice: false },
    axis: { values: b.points.map((p) => p.cpus), format: 'd' },
  };
  const main: Layer[] = [
    ...oversubscribed(b, minCpus, maxCpus, true),
    {
      data: { values: data },
      mark: { type: 'line', point: true },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', title: yTitle, scale: log ? { type: 'log' } : { zero: true }, axis: { format: b.suite === 'shootdown' ? '~g' : '~s' } },
        color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 400 } },
        strokeDash: { field: 'dashed', type: 'nominal', legend: null, scale: { domain: [false, true], range: [[1, 0], [6, 4]] } },
        tooltip: [{ field: 'series' }, { field: 'cpus' }, { field: 'value', format: '.4s' }],
      },
    },
  ];
  const c = b.config;
  const setup =
    b.timeBase === 'simulated'
      ? `simulated time (timed mode): ${b.ops ? `${b.ops} ops per CPU` : `${b.timeMs} ms`} per run; costs ${c.costs?.preset ?? '-'} (${c.costs?.ghz ?? '-'} GHz); ${c.flushProtocol}${c.flushProtocol === 'linux-2.6.20' && c.arch === 'i386' ? ' (i386)' : ''} flush protocol${c.lockdep ? '' : '; lockdep off'}`
      : `host: ${b.hostCores} cores of ${b.host.cpu}, Node ${b.host.node}; ${b.timeMs} ms per run${c.lockdep ? '' : '; lockdep off'}`;
  const title = { text: `smpsim bench ${b.suite}`, subtitle: [b.title, setup] };
  const schema = 'https://vega.github.io/schema/vega-lite/v6.json';
  // (shootdown's native round is a series of its latency chart)
  const ratios = b.suite === 'shootdown' ? [] : b.points.filter((p) => p.ratio !== undefined).map((p) => ({ cpus: p.cpus, ratio: p.ratio! }));
  if (ratios.length === 0) return { $schema: schema, title, width: 520, height: 320, layer: main };
  const ratioChart: Layer[] = [
    ...oversubscribed(b, minCpus, maxCpus, false),
    {
      data: { values: ratios },
      mark: { type: 'line', point: true, color: '#2a7f62' },
      encoding: {
        x,
        y: { field: 'ratio', type: 'quantitative', title: 'smpsim / native', scale: { zero: true } },
        tooltip: [{ field: 'cpus' }, { field: 'ratio', format: '.3f' }],
      },
    },
  ];
  return {
    $schema: schema,
    title,
    vconcat: [
      { width: 520, height: 320, layer: main },
      { width: 520, height: 140, title: { text: `smpsim per CPU (${b.primary}) / native per task (${b.baseline?.available ? b.baseline.program : ''}, as many processes as CPUs)`, fontSize: 11 }, layer: ratioChart },
    ],
  };
}

/** Renders the plot to an SVG string. */
export async function plotSvg(b: BenchResult): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(plotSpec(b)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writePlot(b: BenchResult, file: string): Promise<void> {
  await writeFile(file, await plotSvg(b));
}

/** One point of a line plot (`linePlotSvg`). */
export interface LinePoint {
  x: number;
  series: string;
  value: number;
  dashed?: boolean;
}

/**
 * A line plot of any series against a numeric x (experiments: examples/), drawn by the same Vega-Lite
 * set-up as the bench plots; a log y scale when `log` is set.
 */
export async function linePlotSvg(o: { title: string; subtitle?: string[]; xTitle: string; yTitle: string; points: readonly LinePoint[]; log?: boolean }): Promise<string> {
  const xs = [...new Set(o.points.map((p) => p.x))].sort((a, b) => a - b);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) },
    width: 560,
    height: 340,
    data: { values: o.points.map((p) => ({ ...p, dashed: !!p.dashed })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: o.log ? { type: 'log', base: 2 } : { zero: false, nice: false }, axis: { values: xs, format: 'd' } },
      y: { field: 'value', type: 'quantitative', title: o.yTitle, scale: o.log ? { type: 'log' } : { zero: true }, axis: { format: '~s' } },
      color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 400, orient: 'bottom', columns: 2 } },
      strokeDash: { field: 'dashed', type: 'nominal', legend: null, scale: { domain: [false, true], range: [[1, 0], [6, 4]] } },
      tooltip: [{ field: 'series' }, { field: 'x' }, { field: 'value', format: '.4s' }],
    },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
