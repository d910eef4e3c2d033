#!/usr/bin/env node
// Generates Sluice's SLO rules (prometheus/slo.yml) and keeps every alert's runbook_url in
// prometheus/alerts.yml and slo.yml absolute, built from one base. The SLO targets live here only.
//   node scripts/stack/rules.mjs                                rewrite prometheus/slo.yml and alerts.yml
//   node scripts/stack/rules.mjs --runbook-base URL             runbooks elsewhere (a fork, an internal wiki)
//   node scripts/stack/rules.mjs --out DIR                      write them somewhere else (the tests compare)
// RUNBOOK_URL_BASE works like --runbook-base. Each alert links to `<base>#<alert name in lower case>`
// (as kubernetes-mixin's runbookURLPattern does), the anchors of docs/runbooks.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

export const DEFAULT_RUNBOOK_BASE = 'https://github.com/sluice-lb/sluice/blob/main/docs/runbooks.md';

/**
 * A selector for one bucket bound that matches how either Prometheus stores it. Sluice exports
 * whole-number bounds as `le="5"`; Prometheus 3 normalises them to `le="5.0"` on ingestion (its
 * migration guide, "le and quantile label values"), Prometheus 2 keeps `le="5"`. A plain
 * `le="5"` selects nothing on Prometheus 3, so whole numbers match both spellings.
 */
export function leMatcher(bound) {
  const text = String(bound);
  return Number.isInteger(bound) ? `le=~"${text}(\\\\.0)?"` : `le="${text}"`;
}

/**
 * The service level objectives, measured on what clients see, per Sluice job (all its replicas)
 * and per Kubernetes namespace (two deployments with the same Service name stay apart; absent
 * outside Kubernetes).
 * The SLI is the ratio of bad events: `errors` / `total`, or 1 - `good` / `total` (rate arguments),
 * among the events `of` names.
 */
export const SLOS = [
  {
    alert: 'SluiceErrorBudgetBurn',
    sli: 'request_errors',
    objective: 0.995,
    of: 'requests',
    what: 'answered with a 5xx status (by a backend or by Sluice itself)',
    errors: 'sluice_requests_total{code=~"5.."}',
    total: 'sluice_requests_total',
  },
  {
    alert: 'SluiceTimeToFirstTokenBudgetBurn',
    sli: 'time_to_first_token_slow',
    objective: 0.99,
    // A bucket boundary of sluice_time_to_first_token_seconds.
    thresholdSeconds: 5,
    // Streamed responses only: one that is not streamed (stream="false") has its first token at
    // the end of its body, the whole generation, however soon generation started.
    // A stream that ended before its first token (cut, or its client gone while it waited) has no
    // time to first token: it is a bad event of its own (sluice_first_token_missed_total).
    of: 'streamed responses',
    what: 'slower than 5s to their first token or ended without one',
    good: `sluice_time_to_first_token_seconds_bucket{stream="true", ${leMatcher(5)}}`,
    total: 'sluice_time_to_first_token_seconds_count{stream="true"}',
    missed: 'sluice_first_token_missed_total',
  },
];

/**
 * Multiwindow, multi-burn-rate alerting (Google SRE workbook, ch. 5; Sloth; kubernetes-mixin):
 * a burn rate of 14.4 over 1h spends 2% of a 30-day budget, 6 over 6h spends 5%: both page.
 * The short window makes the alert stop soon after the burn does.
 */
export const BURN_WINDOWS = [
  { long: '1h', short: '5m', factor: 14.4, severity: 'critical', for: '2m' },
  { long: '6h', short: '30m', factor: 6, severity: 'critical', for: '15m' },
  { long: '1d', short: '2h', factor: 3, severity: 'warning', for: '1h' },
  { long: '3d', short: '6h', factor: 1, severity: 'warning', for: '3h' },
];

const SECONDS = { m: 60, h: 3600, d: 86400 };
const seconds = (d) => Number(d.slice(0, -1)) * SECONDS[d.at(-1)];
const WINDOWS = [...new Set(BURN_WINDOWS.flatMap((w) => [w.short, w.long]))].sort((a, b) => seconds(a) - seconds(b));

function ratioExpr(slo, window) {
  const sum = (selector) => `sum by (namespace, job) (rate(${selector}[${window}]))`;
  // Events counted apart from the histogram (missed: bad, and part of the total). Each side is 0,
  // not missing, while only the other has series: a fleet whose every stream misses still burns.
  if (slo.missed) {
    const either = (selector, other) => `(${sum(selector)} or ${sum(other)} * 0)`;
    return `1 - (\n  ${either(slo.good, slo.missed)}\n  /\n  (${either(slo.total, slo.missed)} + ${either(slo.missed, slo.total)})\n)`;
  }
  const total = sum(slo.total);
  // 0, not missing, while there is traffic and no error series exists yet.
  if (slo.errors) return `(\n  ${sum(slo.errors)}\n  or\n  ${total} * 0\n)\n/\n${total}`;
  return `1 - (\n  ${sum(slo.good)}\n  /\n  ${total}\n)`;
}

const record = (slo, window) => `sluice:slo_${slo.sli}:ratio_rate${window}`;
const percent = (x) => `${Number((x * 100).toFixed(3))}%`;

function burnAlerts(slo, runbookBase) {
  const budget = Number((1 - slo.objective).toFixed(6));
  return BURN_WINDOWS.map((w) => {
    const threshold = Number((w.factor * budget).toFixed(6));
    return {
      alert: slo.alert,
      expr: `${record(slo, w.long)} > (${w.factor} * ${budget})\nand\n${record(slo, w.short)} > (${w.factor} * ${budget})`,
      for: w.for,
      labels: { severity: w.severity, long_window: w.long, short_window: w.short },
      annotations: {
        summary: `Sluice is spending its error budget (${percent(slo.objective)} objective) ${w.factor}x too fast.`,
        description: `{{ $value | humanizePercentage }} of the ${slo.of} of Sluice job {{ $labels.job }} were ${slo.what} over the last ${w.long} (and ${w.short}); the objective allows ${percent(budget)}, and above ${percent(threshold)} a 30-day budget is gone in ${Number((30 / w.factor).toFixed(1))} days.`,
        runbook_url: runbookUrl(runbookBase, slo.alert),
      },
    };
  });
}

export function runbookUrl(base, alert) {
  return `${base}#${alert.toLowerCase()}`;
}

/** prometheus/slo.yml: per-window SLI ratios and their burn-rate alerts. */
export function renderSloRules(runbookBase) {
  const groups = SLOS.flatMap((slo) => [
    {
      name: `sluice-slo-${slo.sli.replaceAll('_', '-')}`,
      rules: WINDOWS.map((window) => ({ record: record(slo, window), expr: ratioExpr(slo, window) })),
    },
    { name: `sluice-slo-${slo.sli.replaceAll('_', '-')}-alerts`, rules: burnAlerts(slo, runbookBase) },
  ]);
  const header = [
    '# GENERATED by scripts/stack/rules.mjs from its SLOS list: edit that, then run',
    '# `node scripts/stack/rules.mjs`. Service level objectives on what clients see, per Sluice job:',
    ...SLOS.map((s) => `#   ${s.alert}: at most ${percent(1 - s.objective)} of ${s.of} are ${s.what}.`),
    '# Each has SLI ratios recorded over several windows and multiwindow, multi-burn-rate alerts',
    '# (critical: 1h/5m at 14.4x and 6h/30m at 6x the budget; warning: 1d/2h at 3x and 3d/6h at 1x).',
    '',
  ].join('\n');
  return header + YAML.stringify({ groups }, { lineWidth: 0 });
}

/** alerts.yml with every runbook_url rebuilt from the base; comments and layout are kept. */
export function renderAlerts(alertsText, runbookBase) {
  const doc = YAML.parseDocument(alertsText);
  for (const group of doc.get('groups').items) {
    for (const rule of group.get('rules').items) {
      const alert = rule.get('alert');
      if (alert) rule.setIn(['annotations', 'runbook_url'], runbookUrl(runbookBase, alert));
    }
  }
  return doc.toString({ lineWidth: 0 });
}

export function renderRules(runbookBase = DEFAULT_RUNBOOK_BASE, prometheusDir = fileURLToPath(new URL('../../prometheus', import.meta.url))) {
  return {
    'slo.yml': renderSloRules(runbookBase),
    'alerts.yml': renderAlerts(readFileSync(join(prometheusDir, 'alerts.yml'), 'utf8'), runbookBase),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'runbook-base': { type: 'string' } } });
  const base = values['runbook-base'] || process.env.RUNBOOK_URL_BASE || DEFAULT_RUNBOOK_BASE;
  const outDir = values.out ?? fileURLToPath(new URL('../../prometheus', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  for (const [file, text] of Object.entries(renderRules(base))) writeFileSync(join(outDir, file), text);
}
