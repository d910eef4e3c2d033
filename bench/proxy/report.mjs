// The proxy benchmark's report: Markdown tables (ratios to nginx and to direct from the same
// run) and the HDR-style percentile plot as SVG (vega-lite + vega) and PNG (resvg).
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';

const num = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ms = (v) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(3) : v.toFixed(1));
const signedMs = (v) => (v === null || v === undefined ? '–' : `${v >= 0 ? '+' : '−'}${ms(Math.abs(v))}`);
const ratio = (a, b) => (a === null || a === undefined || !b ? '–' : `${(a / b).toFixed(2)}×`);
const us = (v) => (typeof v === 'number' ? v.toFixed(0) : '–');
const mb = (bytes) => (bytes === null || bytes === undefined ? '–' : (bytes / 2 ** 20).toFixed(0));
const table = (head, body) => [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');

function labelOf(results, id) {
  return results.rows.find((r) => r.id === id)?.label ?? id;
}

function byRow(list) {
  return Object.fromEntries((list ?? []).map((r) => [r.row, r]));
}

function throughputTable(results) {
  const rows = byRow(results.throughput);
  const nginx = rows.nginx?.rps;
  const direct = rows.direct?.rps;
  return table(
    ['Row', 'req/s', '× nginx', '× direct', 'p99 (ms, closed loop)', 'CPU µs per request', 'errors'],
    results.throughput.map((r) => (r.error ? [labelOf(results, r.row), `failed: ${r.error}`, '', '', '', '', ''] : [labelOf(results, r.row), num(r.rps), ratio(r.rps, nginx), ratio(r.rps, direct), ms(r.p99), us(r.cpuUsPerRequest), num(r.errors)])),
  );
}

/** Sluice against the bare middleware side by side (see sluiceAgainstBareMiddleware in run.mjs), when measured. */
function sideBySideNote(results) {
  const p = results.throughputSideBySide;
  if (!p) return '';
  if (p.error) return `Sluice against ${labelOf(results, 'hpm')} side by side: failed: ${p.error}`;
  const processes = p.processes === 1 ? 'one process of each' : `${p.processes} processes of each`;
  return `Sluice against ${labelOf(results, 'hpm')}, side by side: ${processes}, fresh, alive at once and measured in turn (${p.rounds} rounds of one ${p.sliceS} s slice each, the order reversed every other round, after ${p.warmupS} s of warm-up each): CPU per request ${us(p.sluice.cpuUsPerRequest)} µs against ${us(p.hpm.cpuUsPerRequest)} µs, that is ${p.cpuRatio.toFixed(2)}× in throughput terms (round by round: ${p.roundCpuRatios.map((v) => `${v.toFixed(2)}×`).join(', ')}); req/s ${num(p.sluice.rps)} against ${num(p.hpm.rps)} (${p.rpsRatio.toFixed(2)}×).${p.twoWorkers ? ` Sluice with two workers (not pinned), in the same rounds: ${num(p.twoWorkers.rps)} req/s, ${p.workersRatio.toFixed(2)}× one process.` : ''}`;
}

/** The throughput target: by the side-by-side CPU per request when it ran, else by this run's req/s. */
function throughputTarget(results) {
  const what = 'throughput ≥ 0.8 × bare http-proxy-middleware';
  const p = results.throughputSideBySide;
  if (p?.cpuRatio) return [what, `${p.cpuRatio.toFixed(2)}× by CPU per request, side by side (rounds: ${Math.min(...p.roundCpuRatios).toFixed(2)}× to ${Math.max(...p.roundCpuRatios).toFixed(2)}×; req/s: ${p.rpsRatio.toFixed(2)}×)`, p.cpuRatio >= 0.8];
  const tp = byRow(results.throughput);
  if (tp.sluice?.rps && tp.hpm?.rps) return [what, ratio(tp.sluice.rps, tp.hpm.rps), tp.sluice.rps / tp.hpm.rps >= 0.8];
  return undefined;
}

function telemetryTable(results) {
  const t = results.telemetry;
  const nginx = byRow(results.throughput).nginx?.rps;
  return table(
    ['Sluice', 'req/s', '× telemetry off', 'CPU µs per request', 'telemetry off ÷ this (CPU)', '× nginx'],
    [
      ['access log off, no tracing', num(t.off?.rps), '1.00×', us(t.off?.cpuUsPerRequest), '1.00×', ratio(t.off?.rps, nginx)],
      ['access log on, tracing to a local OTLP receiver', num(t.on?.rps), ratio(t.on?.rps, t.off?.rps), us(t.on?.cpuUsPerRequest), t.cpuRatio ? `${t.cpuRatio.toFixed(2)}×` : '–', ratio(t.on?.rps, nginx)],
      ...(t.sampled ? [[`access log on, ${Math.round((t.sampledRatio ?? 0) * 100)}% of traces sampled`, num(t.sampled?.rps), ratio(t.sampled?.rps, t.off?.rps), us(t.sampled?.cpuUsPerRequest), t.sampledCpuRatio ? `${t.sampledCpuRatio.toFixed(2)}×` : '–', ratio(t.sampled?.rps, nginx)]] : []),
    ],
  ) + `\n\n${t.processes > 1 ? `${num(t.processes)} fresh processes of each setting, pooled` : 'One process of each'}, alive side by side and measured in turn: ${num(t.rounds)} rounds of one ${num(t.sliceS)} s slice each, the order reversed every other round, after ${num(t.warmupS)} s of warm-up each; CPU per request over the whole measured window (work deferred past a slice, such as a batch of spans exported later, included). The receiver got ${num(t.sink?.exports)} exports (${mb(t.sink?.bytes)} MB); the access logs have ${num(t.accessLogLines)} lines.` + profiledNote(t);
}

/** Telemetry's share of one process's CPU, by CPU profile (see attribution.mjs), when measured. */
function profiledNote(t) {
  const share = (p) => (typeof p?.share === 'number' ? `${(p.share * 100).toFixed(1)}%` : '–');
  if (!t.profiled) return '';
  return `\n\nBy CPU profile of one process each (the share of its busy CPU in OpenTelemetry, the protobuf encoder, Sluice's tracing and access-log code and what they call; not the collections their allocations cause): ${share(t.profiled.on)} with every trace, ${share(t.profiled.sampled)} with ${Math.round((t.sampledRatio ?? 0) * 100)}% sampled. Unlike the ratios above, this does not compare processes.`;
}

/** Below this, an added latency is within what runs vary by (ms). */
const MEASURABLE_ADDED_MS = 0.1;

function latencyTable(results, rate) {
  const rows = byRow(results.latency);
  const at = (id) => rows[id]?.byRate?.[rate]?.latency;
  const direct = at('direct');
  const added = (l, key) => (l && direct ? l[key] - direct[key] : null);
  const nginxAdded = added(at('nginx'), 'p99');
  return table(
    ['Row', 'p50', 'p99', 'p99.9', '+p50', '+p99', '+p99.9', 'p99 × direct', '+p99 × nginx', 'failed'],
    results.latency.map((r) => {
      const run = r.byRate?.[rate];
      const l = run?.latency;
      if (!l) return [labelOf(results, r.row), r.error ? `failed: ${r.error}` : '–', '', '', '', '', '', '', '', ''];
      const add99 = added(l, 'p99');
      // A ratio to what nginx adds means something only when nginx adds something measurable.
      const byNginx = r.row === 'direct' || !(nginxAdded > MEASURABLE_ADDED_MS) ? '–' : ratio(add99, nginxAdded);
      return [labelOf(results, r.row), ms(l.p50), ms(l.p99), ms(l.p999), signedMs(added(l, 'p50')), signedMs(add99), signedMs(added(l, 'p999')), ratio(l.p99, direct?.p99), byNginx, `${num(run.failed)}/${num(run.sent)}`];
    }),
  );
}

function streamingTable(results) {
  const s = results.streaming;
  const rows = byRow(s.rows);
  const directP99 = rows.direct?.delay?.p99;
  return table(
    ['Row', 'chunks/s', '× nginx', '× direct', 'chunk delay p50', 'p99', '+p99 vs direct', 'p99 while streams start', 'chunks intact', 'reads per chunk'],
    s.rows.map((r) => {
      if (r.error) return [labelOf(results, r.row), `failed: ${r.error}`, '', '', '', '', '', '', '', ''];
      return [
        labelOf(results, r.row),
        num(r.chunksPerSecond),
        ratio(r.chunksPerSecond, rows.nginx?.chunksPerSecond),
        ratio(r.chunksPerSecond, rows.direct?.chunksPerSecond),
        ms(r.delay.p50),
        ms(r.delay.p99),
        signedMs(directP99 === undefined ? null : r.delay.p99 - directP99),
        ms(r.delayWhileStarting?.p99),
        `${num(r.events)}/${num(r.expectedEvents)}${r.events === r.expectedEvents && r.complete === r.streams ? ' ✓' : ' ✗'}`,
        r.readsPerEvent === null ? '–' : r.readsPerEvent.toFixed(2),
      ];
    }),
  );
}

function concurrentTable(results) {
  const c = results.concurrent;
  const rows = byRow(c.rows);
  return table(
    ['Row', 'streams complete', 'errors', 'incomplete', 'peak open', 'peak RSS (MB)', 'RSS × nginx'],
    c.rows.map((r) =>
      r.error
        ? [labelOf(results, r.row), `failed: ${r.error}`, '', '', '', '', '']
        : [labelOf(results, r.row), `${num(r.complete)}/${num(r.streams)}`, num(r.errors), num(r.incomplete), num(r.peakOpen), r.row === 'direct' ? '–' : mb(r.peakRssBytes), r.row === 'direct' ? '–' : ratio(r.peakRssBytes, rows.nginx?.peakRssBytes)],
    ),
  );
}

function failoverTable(results) {
  const f = results.failover;
  return table(
    ['Row', 'requests', 'failed', 'statuses', 'p99 (ms)'],
    f.rows.map((r) =>
      r.error
        ? [labelOf(results, r.row), `failed: ${r.error}`, '', '', '']
        : [labelOf(results, r.row), num(r.sent), num(r.failed), Object.entries(r.statuses).map(([k, v]) => `${k}: ${v}`).join(', ') + (r.errors ? `, errors: ${r.errors}` : ''), ms(r.latency?.p99)],
    ),
  );
}

/** Sluice's own time per request by its own metric, for each Sluice row and rate; '' when none was read. */
function ownTimeSection(results) {
  const rates = results.meta.params.latency.rates;
  const body = [];
  for (const r of results.latency) {
    for (const rate of rates) {
      const o = r.byRate?.[rate]?.ownTime;
      if (o) body.push([labelOf(results, r.row), num(rate), num(o.requests), ms(o.p50), ms(o.p99), o.within1ms === null ? '–' : `${(o.within1ms * 100).toFixed(1)}%`]);
    }
  }
  if (body.length === 0) return '';
  return [
    "## Sluice's own time per request, by its own clock (`sluice_overhead_seconds`)",
    '',
    table(['Row', 'req/s', 'requests', 'p50 (ms)', 'p99 (ms)', 'within 1 ms'], body),
    '',
    "From the request's arrival in Sluice to the upstream request written (less the client's upload of the body), plus from the backend's response headers to the client's: what LiteLLM and TensorZero publish for themselves. Read from Sluice's /metrics before and after each rate's slices (their unmeasured starts included); p50 and p99 are interpolated within the histogram's buckets (…, 0.5, 1, 2.5 ms, …) as Prometheus's histogram_quantile does. Time a request spends in the kernel or waiting for the process to be scheduled is not in it; the latency tables' added columns have it.",
  ].join('\n');
}

/** How the latency rows were measured: side by side, in slices. */
function latencyNote({ prewarm, rounds, rateWarmMs, sliceWarmupMs, sliceMs, connections }) {
  const warm = rateWarmMs ? `${num(rateWarmMs)} ms through each row at the rate, unmeasured, then ` : '';
  return `Every row alive at once and measured in turn, as in the throughput's side by side: each first served ${num(prewarm.ms / 1000, 1)} s at ${num(prewarm.rate)} req/s, unmeasured; then, rate by rate, ${warm}${rounds} rounds of one slice per row (${num(sliceMs)} ms measured after ${num(sliceWarmupMs)} ms unmeasured, ${connections} connections at most), the order reversed every other round, and each row's slices added up. The direct row's own percentiles are the floor: the load generator and the backend share one core.`;
}

/** The issue's targets, checked against this run: [what, this run's figure, met (null: the run cannot tell)]. */
export function targets(results, rate) {
  const out = [];
  const tp = throughputTarget(results);
  if (tp) out.push(tp);
  const w = results.throughputSideBySide;
  if (w?.workersRatio) out.push(['server.workers: 2 ≥ 0.8 × 2 × one process (req/s, side by side)', `${w.workersRatio.toFixed(2)}×`, w.workersRatio >= 1.6]);
  const lat = byRow(results.latency);
  const sl = lat.sluice?.byRate?.[rate]?.latency;
  const dl = lat.direct?.byRate?.[rate]?.latency;
  if (sl && dl) {
    // What the reference rows add in the same slices: what is within reach of a Node proxy here.
    const refs = [['bare middleware', lat.hpm], ['nginx', lat.nginx]].filter(([, r]) => r?.byRate?.[rate]?.latency);
    const refText = refs.map(([name, r]) => `${name} ${signedMs(r.byRate[rate].latency.p99 - dl.p99)}`);
    // A direct p99 above a proxy's is no floor: the load generator's own tail was larger than what
    // the proxies add, and a difference of p99s then says nothing either way.
    const floorAbove = refs.some(([, r]) => r.byRate[rate].latency.p99 < dl.p99);
    out.push([`added p99 at ${num(rate)} req/s < 1 ms`, `${signedMs(sl.p99 - dl.p99)} ms${refText.length ? ` (${refText.join(', ')}; direct p99 ${ms(dl.p99)})` : ''}${floorAbove ? '; direct p99 above a proxy\'s: no verdict' : ''}`, floorAbove ? null : sl.p99 - dl.p99 < 1]);
  }
  // The same target by Sluice's own clock, the way LiteLLM and TensorZero measure theirs. The
  // verdict reads the 1 ms bucket itself (p99 within 1 ms: at least 99% in it), not the
  // interpolated p99.
  const own = lat.sluice?.byRate?.[rate]?.ownTime;
  if (typeof own?.within1ms === 'number') out.push([`own time p99 at ${num(rate)} req/s ≤ 1 ms (sluice_overhead_seconds)`, `${ms(own.p99)} ms interpolated; ${(own.within1ms * 100).toFixed(1)}% of ${num(own.requests)} requests within 1 ms`, own.within1ms >= 0.99]);
  const st = byRow(results.streaming?.rows);
  if (st.sluice?.delay && st.direct?.delay) out.push(['added per-chunk delay p99 < 1 ms', `${signedMs(st.sluice.delay.p99 - st.direct.delay.p99)} ms`, st.sluice.delay.p99 - st.direct.delay.p99 < 1]);
  const cs = byRow(results.concurrent?.rows).sluice;
  if (cs && !cs.error) out.push([`${num(cs.streams)} concurrent streams: no errors, RSS < 300 MB`, `${cs.errors + cs.incomplete} errors, ${mb(cs.peakRssBytes)} MB`, cs.errors + cs.incomplete === 0 && cs.peakRssBytes < 300 * 2 ** 20]);
  const fo = byRow(results.failover?.rows).sluice;
  if (fo && typeof fo.failed === 'number') out.push(['failover: no failed requests', `${num(fo.failed)} failed`, fo.failed === 0]);
  const t = results.telemetry;
  // A cost below zero (telemetry on ran faster than off) says the processes differed more than telemetry costs.
  const pct = (v) => `${v < 0 ? '−' : v > 0 ? '+' : ''}${Math.abs(v * 100).toFixed(1)}%`;
  const cpuCost = (offOverOn) => (offOverOn ? pct(1 / offOverOn - 1) : '–');
  if (t?.ratio) out.push(['tracing and access logs cost < 15% of throughput', `${pct(1 - t.ratio)} (CPU per request: ${cpuCost(t.cpuRatio)})`, t.ratio > 0.85]);
  if (t?.sampledRatioRps) out.push([`the same with ${Math.round((t.sampledRatio ?? 0) * 100)}% of traces sampled`, `${pct(1 - t.sampledRatioRps)} (CPU per request: ${cpuCost(t.sampledCpuRatio)})`, t.sampledRatioRps > 0.85]);
  for (const [mode, what] of [['on', 'every trace'], ['sampled', `${Math.round((t?.sampledRatio ?? 0) * 100)}% sampled`]]) {
    const p = t?.profiled?.[mode];
    if (typeof p?.share === 'number') out.push([`tracing and access logs < 15% of one process's CPU, ${what} (CPU profile)`, `${(p.share * 100).toFixed(1)}%`, p.share < 0.15]);
  }
  return out;
}

export function renderMarkdown(results, plotRate) {
  const m = results.meta;
  const parts = [
    `# Proxy benchmark ${m.date.slice(0, 16).replace('T', ' ')} UTC${m.smoke ? ' (smoke: too short to mean anything)' : ''}`,
    '',
    `Commit ${m.commit ?? '?'}, ${m.cores} × ${m.cpu}, load average ${m.loadavgStart.map((l) => l.toFixed(2)).join(' ')} at start, ${(m.loadavgEnd ?? []).map((l) => l.toFixed(2)).join(' ')} at end. ` +
      (m.pinning ? `Proxy pinned to core ${m.pinning.proxy}, backend and load generator to core ${m.pinning.backendAndLoad}. ` : 'No pinning (taskset missing). ') +
      `Fixed-JSON backend: ${m.backend ?? '–'}; streaming and failover backends: Node (bench/proxy/backend.mjs). Node ${m.versions.node}, nginx ${m.versions.nginx ?? '–'}, HAProxy ${m.versions.haproxy ?? '–'}, wrk ${m.versions.wrk ?? '–'}.` +
      (m.skippedRows.length ? ` Skipped rows (tools missing): ${m.skippedRows.map((s) => `${s.row} (${s.missing.join(', ')})`).join(', ')}.` : ''),
    '',
  ];
  if (results.throughput) {
    parts.push(`## Throughput: small JSON POSTs, ${results.meta.params.throughput.connections} connections (wrk, ${results.meta.params.throughput.durationS} s after ${results.meta.params.throughput.warmupS} s of warm-up; direct, nginx and HAProxy ${results.meta.params.throughput.nativeWarmupS ?? results.meta.params.throughput.warmupS} s)`, '', throughputTable(results), '');
    if (results.throughputSideBySide) parts.push(sideBySideNote(results), '');
  }
  if (results.telemetry) parts.push('## Telemetry cost', '', telemetryTable(results), '');
  for (const rate of results.latency ? results.meta.params.latency.rates : []) {
    parts.push(`## Latency at ${num(rate)} req/s (open loop, ms, from the intended send time; + is added to direct)`, '', latencyTable(results, rate), '');
  }
  if (results.latency) parts.push(latencyNote(results.meta.params.latency), '');
  const own = results.latency ? ownTimeSection(results) : '';
  if (own) parts.push(own, '');
  const s = results.streaming;
  if (s) parts.push(`## Streaming: ${s.streams} streams × ${s.chunks} SSE chunks every ${s.intervalMs} ms (${num(s.offeredChunksPerSecond)} chunks/s offered), side by side in ${s.rounds} rounds`, '', `Chunk delay: arrival at the client minus the backend's send stamp, ms, every round's chunks together, counting those sent once every stream of a run had its first chunk; chunks sent before, while streams were still being set up and waited behind each proxy's per-request work, are counted apart (p99 while streams start). Reads per chunk below 1 means chunks were coalesced on the way. Every row alive at once, each given a ${s.warmupChunks}-chunk warm-up run, then in each round one run per row, in turn (the order reversed every other round).${s.rampPerBatch && s.rampPerBatch < s.streams ? ` Streams start ${s.rampPerBatch} every ${s.rampEveryMs} ms.` : ''}`, '', streamingTable(results), '');
  const c = results.concurrent;
  if (c) parts.push(`## ${num(c.streams)} concurrent streams held ${(c.holdMs / 1000).toFixed(1)} s`, '', concurrentTable(results), '');
  const f = results.failover;
  if (f) parts.push(`## Failover: one of three backends SIGKILLed ${(f.killAtMs / 1000).toFixed(1)} s into a ${(f.durationMs / 1000).toFixed(0)} s run at ${f.rate} req/s (backend answers in ${f.backendDelayMs} ms)`, '', failoverTable(results), '');
  const tg = targets(results, plotRate);
  if (tg.length) parts.push('## Targets (Sluice)', '', table(['Target', 'This run', 'Met'], tg.map(([what, got, ok]) => [what, got, ok === null ? 'no verdict' : ok ? 'yes' : 'no'])), '');
  if (results.latency) parts.push(`Latency distribution at ${num(plotRate)} req/s: see the .svg / .png next to this file.`, '');
  return parts.join('\n');
}

/** One line per row: latency against percentile on a log 1/(1-p) axis, at `rate` req/s. */
export async function renderPlot(results, rate) {
  const values = [];
  const order = [];
  for (const r of results.latency ?? []) {
    const curve = r.byRate?.[rate]?.latency?.curve;
    if (!curve?.length) continue;
    const label = labelOf(results, r.row);
    order.push(label);
    for (const p of curve) values.push({ row: label, x: p.x, percentile: p.percentile, ms: Math.max(p.ms, 0.001) });
  }
  const maxX = Math.max(10, ...values.map((v) => v.x));
  const ticks = [1, 2, 10, 100, 1000, 10000, 100000, 1000000].filter((t) => t <= maxX);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 720,
    height: 400,
    background: 'white',
    padding: 16,
    title: {
      text: `Latency by percentile at ${num(rate)} req/s`,
      subtitle: `open-loop load, latency from the intended send time; ${results.meta.date.slice(0, 10)}, commit ${results.meta.commit ?? '?'}${results.meta.smoke ? ' (smoke run)' : ''}`,
      anchor: 'start',
    },
    data: { values },
    mark: { type: 'line', strokeWidth: 2, interpolate: 'step-after' },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: 'percentile',
        scale: { type: 'log', domain: [1, maxX] },
        axis: { values: ticks, labelExpr: "format((1 - 1 / datum.value) * 100, '.6~r') + '%'", grid: true },
      },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' }, axis: { grid: true } },
      color: { field: 'row', type: 'nominal', sort: order, title: null, legend: { orient: 'top-left', labelFontSize: 12 } },
    },
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 12, titleFontSize: 13 }, title: { fontSize: 16, subtitleFontSize: 12 } },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  return { svg, png };
}
