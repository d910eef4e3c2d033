/** The benchmark's outputs: a Markdown table and a chart (SVG and PNG) of TTFT p90 against offered rate. */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Row {
  /** A Sluice strategy, or `nginx least_conn`. */
  readonly target: string;
  readonly regime: 'pressure' | 'no-pressure';
  /** Offered requests per second. */
  readonly rate: number;
  readonly requests: number;
  readonly failed: number;
  readonly ttftMs: { readonly p50: number; readonly p90: number; readonly p99: number };
  /** The client-measured TTFT of every completed request, in arrival order, ms rounded to 0.1 ms. */
  readonly ttftSamplesMs: readonly number[];
  readonly e2eMs: { readonly p50: number; readonly p90: number };
  readonly outputTokensPerSecond: number;
  /** Backends' prefix-cache hits / queries over the step (counter deltas). */
  readonly prefixCacheHitRate: number;
}

const fmt = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

export function markdownTable(rows: readonly Row[]): string {
  const head = '| regime | target | rate (req/s) | requests | failed | TTFT p50 (ms) | TTFT p90 (ms) | TTFT p99 (ms) | e2e p50 (ms) | e2e p90 (ms) | output tok/s | prefix-cache hit rate |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => `| ${r.regime} | ${r.target} | ${r.rate} | ${r.requests} | ${r.failed} | ${fmt(r.ttftMs.p50)} | ${fmt(r.ttftMs.p90)} | ${fmt(r.ttftMs.p99)} | ${fmt(r.e2eMs.p50)} | ${fmt(r.e2eMs.p90)} | ${fmt(r.outputTokensPerSecond, 1)} | ${Number.isFinite(r.prefixCacheHitRate) ? `${(r.prefixCacheHitRate * 100).toFixed(1)}%` : '–'} |`);
  return `${head}\n${lines.join('\n')}\n`;
}

export async function chartSvg(rows: readonly Row[]): Promise<string> {
  const values = rows.filter((r) => Number.isFinite(r.ttftMs.p90)).map((r) => ({ regime: r.regime === 'pressure' ? 'with cache pressure' : 'without cache pressure', target: r.target, rate: r.rate, ttftP90: r.ttftMs.p90 }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Routing benchmark: TTFT p90 against offered rate',
    data: { values },
    facet: { column: { field: 'regime', type: 'nominal', title: null, sort: ['with cache pressure', 'without cache pressure'] } },
    spec: {
      width: 340,
      height: 260,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'rate', type: 'quantitative', title: 'offered rate (requests/s)', axis: { format: '~g' } },
        y: { field: 'ttftP90', type: 'quantitative', title: 'TTFT p90 (ms, log scale)', scale: { type: 'log' } },
        color: { field: 'target', type: 'nominal', title: 'strategy' },
      },
    },
    resolve: { scale: { y: 'independent' } },
    config: { font: 'DejaVu Sans', background: 'white' },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
