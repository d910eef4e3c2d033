// Builders for Grafana dashboard JSON (schema v1, version 42), used by dashboards.mjs.
// Every panel and target uses the `datasource` variable, never a fixed datasource uid, so
// the dashboards work both when provisioned from files and when imported through the UI.

export const SCHEMA_VERSION = 42;
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** `metric{job=~"$job", instance=~"$instance", ...}`: every selector filters on job and instance. */
export function sel(metric, ...matchers) {
  return `${metric}{${['job=~"$job"', 'instance=~"$instance"', ...matchers].join(', ')}}`;
}

/** `rate(selector[$__rate_interval])`. */
export function rate(metric, ...matchers) {
  return `rate(${sel(metric, ...matchers)}[$__rate_interval])`;
}

/** `histogram_quantile(q, sum by (<by>, le) (rate(<histogram>_bucket{...}[$__rate_interval])))`. */
export function quantile(q, histogram, by, ...matchers) {
  const groups = [...by, 'le'].join(', ');
  return `histogram_quantile(${q}, sum by (${groups}) (${rate(`${histogram}_bucket`, ...matchers)}))`;
}

export function target(expr, legendFormat, extra = {}) {
  return { datasource: DATASOURCE, editorMode: 'code', expr, legendFormat, range: true, instant: false, ...extra };
}

export function instantTable(expr) {
  return target(expr, '__auto', { range: false, instant: true, format: 'table' });
}

/** p50, p95 and p99 of a histogram; the first target carries the exemplars (trace links). */
export function quantileTargets(histogram, by, matchers) {
  const suffix = by.length > 0 ? ` ${by.map((l) => `{{${l}}}`).join(' ')}` : '';
  return [0.5, 0.95, 0.99].map((q, i) =>
    target(quantile(q, histogram, by, ...matchers), `p${Math.round(q * 100)}${suffix}`, i === 0 ? { exemplar: true } : {}),
  );
}

const THRESHOLDS_NEUTRAL = { mode: 'absolute', steps: [{ color: 'green', value: null }] };

/** Appended to the description of every panel that reads a recording rule (sluice:<what>:<aggregation>). */
export const RECORDING_RULES_NOTE = 'Needs the recording rules of prometheus/rules.yml loaded in Prometheus; empty without them.';

function base(type, { title, description: text, unit, targets, w = 12, h = 8, decimals, min, max, thresholds, mappings, links }) {
  if (!title || !text || !unit) throw new Error(`panel needs title, description and unit: ${title}`);
  const usesRecordingRules = targets.some((t) => /(?<![\w:])sluice:[a-z0-9_]+:[a-z0-9_]+/.test(t.expr ?? ''));
  const description = usesRecordingRules ? `${text} ${RECORDING_RULES_NOTE}` : text;
  const defaults = { unit, color: { mode: 'palette-classic' }, thresholds: thresholds ?? THRESHOLDS_NEUTRAL, mappings: mappings ?? [] };
  if (decimals !== undefined) defaults.decimals = decimals;
  if (min !== undefined) defaults.min = min;
  if (max !== undefined) defaults.max = max;
  if (links) defaults.links = links;
  return {
    type,
    title,
    description,
    datasource: DATASOURCE,
    gridPos: { w, h },
    fieldConfig: { defaults, overrides: [] },
    targets: targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), ...t })),
  };
}

export function timeseries(spec) {
  const panel = base('timeseries', { min: 0, ...spec });
  panel.fieldConfig.defaults.custom = {
    drawStyle: 'line',
    lineInterpolation: 'linear',
    lineWidth: 1,
    fillOpacity: spec.stack ? 60 : 10,
    gradientMode: 'none',
    showPoints: 'never',
    spanNulls: false,
    axisPlacement: 'auto',
    stacking: { mode: spec.stack ? 'normal' : 'none', group: 'A' },
  };
  panel.options = {
    legend: { showLegend: true, displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max', 'lastNotNull'] },
    tooltip: { mode: 'multi', sort: 'desc' },
  };
  return panel;
}

export function stat(spec) {
  const panel = base('stat', { w: 4, h: 4, ...spec });
  panel.fieldConfig.defaults.color = { mode: 'thresholds' };
  panel.options = {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    colorMode: spec.colorMode ?? 'value',
    graphMode: spec.graphMode ?? 'area',
    justifyMode: 'auto',
    textMode: 'auto',
    orientation: 'auto',
    wideLayout: true,
    showPercentChange: false,
  };
  return panel;
}

/** One row per series over time, for a numeric state code mapped to names and colours. */
export function stateTimeline(spec) {
  const panel = base('state-timeline', { w: 24, h: 7, unit: 'none', ...spec });
  panel.fieldConfig.defaults.color = { mode: 'thresholds' };
  panel.fieldConfig.defaults.custom = { fillOpacity: 80, lineWidth: 0, hideFrom: { legend: false, tooltip: false, viz: false } };
  panel.options = {
    showValue: 'never',
    mergeValues: true,
    alignValue: 'left',
    rowHeight: 0.85,
    legend: { showLegend: true, displayMode: 'list', placement: 'bottom' },
    tooltip: { mode: 'single', sort: 'none' },
  };
  return panel;
}

/** Value mappings from a state code to its name and colour: [[code, name, color], ...]. */
export function stateMappings(states) {
  const options = {};
  states.forEach(([code, text, color], index) => (options[String(code)] = { text, color, index }));
  return [{ type: 'value', options }];
}

export function heatmap(spec) {
  const panel = base('heatmap', { w: 12, h: 8, ...spec });
  panel.options = {
    calculate: false,
    cellGap: 1,
    color: { mode: 'scheme', scheme: 'Oranges', fill: 'dark-orange', scale: 'exponential', exponent: 0.5, steps: 64, reverse: false },
    exemplars: { color: 'rgba(255,0,255,0.7)' },
    filterValues: { le: 1e-9 },
    legend: { show: true },
    rowsFrame: { layout: 'auto' },
    tooltip: { mode: 'single', yHistogram: false, showColorScale: false },
    yAxis: { axisPlacement: 'left', unit: spec.yUnit, reverse: false },
    showValue: 'never',
  };
  return panel;
}

export function bargauge(spec) {
  const panel = base('bargauge', { w: 12, h: 8, ...spec });
  panel.fieldConfig.defaults.color = { mode: 'thresholds' };
  panel.options = {
    orientation: 'horizontal',
    displayMode: 'basic',
    valueMode: 'color',
    namePlacement: 'auto',
    showUnfilled: true,
    sizing: 'auto',
    minVizHeight: 16,
    minVizWidth: 8,
    maxVizHeight: 300,
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    legend: { showLegend: false, displayMode: 'list', placement: 'bottom' },
  };
  return panel;
}

/** An instant-query table; `hide` lists columns to drop, `rename` maps column names. */
export function table(spec) {
  const panel = base('table', { w: 12, h: 8, ...spec });
  panel.fieldConfig.defaults.custom = { align: 'auto', cellOptions: { type: 'auto' }, inspect: false };
  panel.options = { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false, fields: '' } };
  const excludeByName = Object.fromEntries((spec.hide ?? []).map((c) => [c, true]));
  panel.transformations = [{ id: 'organize', options: { excludeByName, indexByName: {}, renameByName: spec.rename ?? {} } }];
  return panel;
}

export function row(title) {
  return { type: 'row', title, collapsed: false, gridPos: { w: 24, h: 1 }, panels: [] };
}

/** Assigns ids and grid positions left to right, top to bottom, wrapping at 24 columns. */
export function layout(panels) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return panels.map((panel, index) => {
    const { w, h } = panel.gridPos;
    if (panel.type === 'row' || x + w > 24) {
      y += rowHeight;
      x = 0;
      rowHeight = 0;
    }
    const placed = { id: index + 1, ...panel, gridPos: { h, w, x, y } };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    if (panel.type === 'row') {
      y += h;
      x = 0;
      rowHeight = 0;
    }
    return placed;
  });
}

function queryVariable(name, label, query, { multi = true, includeAll = true } = {}) {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    definition: query,
    query: { query, refId: `${name}-variable` },
    refresh: 2,
    sort: 1,
    multi,
    includeAll,
    ...(includeAll ? { allValue: '.+' } : {}),
    current: {},
    options: [],
    regex: '',
    hide: 0,
  };
}

/** Variables: datasource, then job, instance, endpoint and model, each narrowed by the previous. */
export function variables({ endpointSingle = false } = {}) {
  return [
    { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, options: [], regex: '', refresh: 1, hide: 0, multi: false, includeAll: false },
    queryVariable('job', 'Job', 'label_values(sluice_build_info, job)'),
    queryVariable('instance', 'Instance', 'label_values(sluice_build_info{job=~"$job"}, instance)'),
    queryVariable('endpoint', 'Endpoint', 'label_values(sluice_endpoint_info{job=~"$job", instance=~"$instance"}, endpoint)', endpointSingle ? { multi: false, includeAll: false } : {}),
    queryVariable('model', 'Model', 'label_values(sluice_models_available_endpoints{job=~"$job", instance=~"$instance"}, model)'),
  ];
}

export function dashboard({ uid, title, description, panels, templating, annotations = [] }) {
  return {
    uid,
    title,
    description,
    tags: ['sluice'],
    // Provisioned from files: edits made in the UI would be lost on the next restart.
    editable: false,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    liveNow: false,
    refresh: '10s',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: { from: 'now-30m', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    weekStart: '',
    links: [{ title: 'Sluice dashboards', type: 'dashboards', tags: ['sluice'], asDropdown: false, includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' }],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        ...annotations,
      ],
    },
    templating: { list: templating },
    panels: layout(panels),
  };
}

/** A Prometheus-backed annotation: one marker per step where `expr` has a series. */
export function annotation(name, expr, titleFormat, iconColor) {
  return { name, datasource: DATASOURCE, enable: true, hide: false, iconColor, expr, step: '$__rate_interval', titleFormat, tagKeys: '', textFormat: '', useValueForTime: false };
}
