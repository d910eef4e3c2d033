/**
 * No panel or rule on a metric Sluice does not export: every `sluice_*` name, label and
 * closed-set label value used in dashboards/ and prometheus/ must be in the metric contract,
 * and every recording rule used must be defined.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_DIR, loadRuleFile, PROMETHEUS_DIR, recordingRuleNames, selectorLabels, sluiceMetricNames } from './dashboard-queries.js';
import { metricContract, SLUICE_METRIC_NAMES, TARGET_LABELS } from './metric-contract.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(json|ya?ml)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

const files = [...filesUnder(DASHBOARD_DIR), ...filesUnder(PROMETHEUS_DIR)];
// JSON escapes quotes inside expressions; unescape so selectors read as PromQL.
const read = (file: string) => readFileSync(file, 'utf8').replaceAll('\\"', '"');

describe('metric contract', () => {
  it('finds the dashboards and rule files', () => {
    const names = files.map((f) => f.slice(f.lastIndexOf('/') + 1));
    expect(names).toEqual(expect.arrayContaining(['sluice-overview.json', 'sluice-endpoint.json', 'alerts.yml', 'rules.yml', 'slo.yml', 'alerts.test.yml', 'slo.test.yml']));
  });

  it.each(files.map((f) => [f.replace(/.*\/(dashboards|prometheus)\//, '$1/'), f]))('%s uses only exported metric names', (_, file) => {
    const unknown = [...sluiceMetricNames(read(file))].filter((name) => !SLUICE_METRIC_NAMES.has(name));
    expect(unknown).toEqual([]);
  });

  it.each(files.map((f) => [f.replace(/.*\/(dashboards|prometheus)\//, '$1/'), f]))('%s uses only existing labels and label values', (_, file) => {
    for (const { metric, labels } of selectorLabels(read(file))) {
      const family = metric.replace(/_(bucket|count|sum)$/, '');
      const contract = metricContract(metric) ?? metricContract(family);
      if (!contract) continue; // reported by the metric-name check
      const allowed = new Set<string>([...contract.labels, ...TARGET_LABELS, ...(metric.endsWith('_bucket') ? ['le'] : [])]);
      for (const label of labels) expect(allowed.has(label), `${metric}{${label}}`).toBe(true);
    }
    for (const m of read(file).matchAll(/(?<![\w:])(sluice_[a-z0-9_]+)\s*\{([^}]*)\}/g)) {
      const contract = metricContract(m[1]!) ?? metricContract(m[1]!.replace(/_(bucket|count|sum)$/, ''));
      if (!contract) continue;
      for (const [, label, value] of m[2]!.matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) {
        const closed = contract.values?.[label!];
        if (closed) expect(closed, `${m[1]}{${label}="${value}"}`).toContain(value);
      }
    }
  });

  it('defines every recording rule that dashboards and alerts use', () => {
    const defined = new Set(['rules.yml', 'slo.yml'].flatMap((file) => loadRuleFile(file).groups.flatMap((g) => g.rules.map((r) => r.record))));
    for (const file of files) {
      for (const name of recordingRuleNames(read(file))) expect(defined.has(name), `${file}: ${name}`).toBe(true);
    }
  });

  it('detects a metric outside the contract (the check is not vacuous)', () => {
    expect([...sluiceMetricNames('sum(rate(sluice_request_total[5m])) + sluice_request_duration_seconds_bucket')]).toEqual(['sluice_request_total', 'sluice_request_duration_seconds']);
    expect(SLUICE_METRIC_NAMES.has('sluice_request_total')).toBe(false);
  });
});
