/** Lint of the Grafana dashboards: what reviewers of community dashboards expect. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardQueries, DASHBOARD_DIR, loadDashboards, panelsOf, recordingRuleNames, ROOT, selectorLabels } from './dashboard-queries.js';

const dashboards = loadDashboards();
const DATASOURCE_VARIABLE = '${datasource}';
// Grafana's built-in annotation source; not a datasource a user has to provide.
const BUILT_IN_UID = '-- Grafana --';

describe('dashboards/', () => {
  it('holds the overview and the endpoint detail, generated from scripts/stack and up to date', () => {
    expect(dashboards.map((d) => d.file)).toEqual(['sluice-endpoint.json', 'sluice-overview.json']);
    const out = mkdtempSync(join(tmpdir(), 'sluice-dashboards-'));
    try {
      const result = spawnSync(process.execPath, ['scripts/stack/dashboards.mjs', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      expect(result.status, result.stderr).toBe(0);
      for (const file of readdirSync(out)) {
        expect(readFileSync(join(DASHBOARD_DIR, file), 'utf8'), `${file} is stale: run node scripts/stack/dashboards.mjs`).toBe(readFileSync(join(out, file), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('has stable unique uids and the current schema version', () => {
    const uids = dashboards.map((d) => d.dashboard.uid);
    expect(uids).toEqual(['sluice-endpoint', 'sluice-overview']);
    for (const { dashboard } of dashboards) {
      expect(dashboard.schemaVersion).toBe(42);
      expect(dashboard.title).toMatch(/^Sluice /);
    }
  });

  describe.each(dashboards)('$file', ({ dashboard, text }) => {
    const variables = dashboard.templating?.list ?? [];
    const panels = panelsOf(dashboard);
    const queries = dashboardQueries(dashboard);

    it('has a datasource variable and job, instance, endpoint and model variables', () => {
      expect(variables[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
      for (const name of ['job', 'instance']) {
        expect(variables.find((v) => v.name === name), name).toMatchObject({ type: 'query', multi: true, includeAll: true, allValue: '.+', refresh: 2 });
      }
      expect(variables.map((v) => v.name)).toEqual(['datasource', 'job', 'instance', 'endpoint', 'model']);
      for (const v of variables.slice(1)) expect(v.datasource?.uid, v.name).toBe(DATASOURCE_VARIABLE);
    });

    it('uses no datasource uid other than the datasource variable', () => {
      const uids = [...text.matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]);
      const datasourceUids = uids.filter((uid) => uid !== dashboard.uid);
      expect(new Set(datasourceUids)).toEqual(new Set([DATASOURCE_VARIABLE, BUILT_IN_UID]));
      expect(text).not.toContain('${DS_');
      expect(text).not.toContain('__inputs');
      for (const panel of panels) {
        expect(panel.datasource?.uid, panel.title).toBe(DATASOURCE_VARIABLE);
        for (const t of panel.targets ?? []) expect(t.datasource?.uid, panel.title).toBe(DATASOURCE_VARIABLE);
      }
    });

    it('gives every panel a title, a description and a unit', () => {
      expect(panels.length).toBeGreaterThan(10);
      for (const panel of panels) {
        expect(panel.title, JSON.stringify(panel).slice(0, 80)).toMatch(/\S/);
        expect(panel.description, panel.title).toMatch(/\S/);
        expect(panel.fieldConfig?.defaults?.unit, panel.title).toMatch(/\S/);
        expect((panel.targets ?? []).length, panel.title).toBeGreaterThan(0);
      }
    });

    it('writes every rate range as $__rate_interval and uses counters only inside rate or increase', () => {
      for (const { owner, expr } of queries) {
        for (const m of expr.matchAll(/\b(rate|irate)\((.*?)\[([^\]]+)\]/gs)) expect(m[3], `${owner}: ${m[0]}`).toBe('$__rate_interval');
        const counters = [...expr.matchAll(/[a-z_:]+_total\b/g)].length;
        const wrapped = [...expr.matchAll(/\b(rate|irate|increase)\(\s*[a-z_:]+_total\b/g)].length;
        expect(wrapped, `${owner}: counters outside rate/increase in ${expr}`).toBe(counters);
      }
    });

    it('filters every Sluice selector on job and instance', () => {
      for (const { owner, kind, expr } of queries) {
        for (const { metric, labels } of selectorLabels(expr)) {
          // The job variable lists jobs, so its own query cannot filter on them.
          if (kind === 'variable' && owner === 'job') continue;
          expect(labels, `${owner}: ${metric}`).toEqual(expect.arrayContaining(kind === 'variable' && owner === 'instance' ? ['job'] : ['job', 'instance']));
        }
        for (const m of expr.matchAll(/(?<![\w:])sluice[_:][a-z0-9_:]*[a-z0-9](?![\w:]|\s*\{)/g)) {
          const before = expr.slice(0, m.index);
          // A bare metric name (no selector) would ignore the variables; only label_values(metric, label) may.
          expect(/label_values\($/.test(before), `${owner}: bare ${m[0]}`).toBe(true);
        }
      }
    });

    it('applies the endpoint and model selection to every panel about client requests (counts, errors, latency, tokens)', () => {
      // The series of client requests, raw or recorded, all carry endpoint and model (the
      // recording rules that aggregate model away cannot honour a model selection: not these).
      const perRequest = /^(sluice_requests_total|sluice_request_duration_seconds_\w+|sluice_time_to_first_\w+|sluice_tokens_total|sluice:(endpoint_)?requests?(_errors)?:\w+)$/;
      for (const panel of panels) {
        for (const t of panel.targets ?? []) {
          for (const m of (t.expr ?? '').matchAll(/(?<![\w:])(sluice[_:][a-z0-9_:]*[a-z0-9])\s*\{([^}]*)\}/g)) {
            if (!perRequest.test(m[1]!)) continue;
            const labels = [...m[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]);
            expect(labels, `${panel.title}: ${m[0]}`).toEqual(expect.arrayContaining(['endpoint', 'model']));
          }
        }
      }
    });

    it('links latency to traces: histogram-quantile panels carry exemplars, heatmaps use pre-bucketed data', () => {
      for (const panel of panels) {
        const exprs = (panel.targets ?? []).map((t) => t.expr ?? '').join('\n');
        if (/histogram_quantile\([^,]+, sum by \([^)]*\) \(rate\(sluice_(request_duration|time_to_first_byte|time_to_first_token)_seconds_bucket/.test(exprs)) {
          expect(panel.targets!.some((t) => t.exemplar === true), panel.title).toBe(true);
        }
        if (panel.type === 'heatmap') {
          expect(panel.options?.calculate, panel.title).toBe(false);
          for (const t of panel.targets ?? []) expect(t.format, panel.title).toBe('heatmap');
        }
      }
    });

    it('takes quantiles of the selected replicas\' requests together, from their summed buckets', () => {
      for (const { owner, expr } of queries) {
        const quantiles = [...expr.matchAll(/histogram_quantile\([^,]+,\s*sum by \(([^)]*)\)/g)];
        expect(quantiles.length, `${owner}: ${expr}`).toBe([...expr.matchAll(/histogram_quantile\(/g)].length);
        for (const [, by] of quantiles) expect(by!.split(/,\s*/), `${owner}: ${expr}`).not.toContain('instance');
      }
    });

    it('is read-only (provisioned from files) and says which panels need the recording rules', () => {
      expect(dashboard.editable).toBe(false);
      for (const panel of panels) {
        const exprs = (panel.targets ?? []).map((t) => t.expr ?? '').join('\n');
        if (recordingRuleNames(exprs).size > 0) expect(panel.description, panel.title).toContain('Needs the recording rules of prometheus/rules.yml');
      }
    });

    it('shows endpoint state and breaker state as state timelines', () => {
      const timelines = panels.filter((p) => p.type === 'state-timeline').map((p) => (p.targets ?? []).map((t) => t.expr).join(' '));
      expect(timelines.some((e) => e.includes('sluice_endpoint_state{'))).toBe(true);
      expect(timelines.some((e) => e.includes('sluice_endpoint_circuit_state{'))).toBe(true);
    });
  });

  it('the overview covers traffic, errors, latency, tokens, endpoints, models and alerts', () => {
    const overview = dashboards.find((d) => d.dashboard.uid === 'sluice-overview')!.dashboard;
    const exprs = panelsOf(overview).map((p) => `${p.title}: ${(p.targets ?? []).map((t) => t.expr).join(' ')}`);
    const has = (pattern: RegExp) => expect(exprs.some((e) => pattern.test(e)), String(pattern)).toBe(true);
    has(/sum by \(model\) \(rate\(sluice_requests_total/);
    has(/sum by \(endpoint\) \(rate\(sluice_requests_total/);
    has(/code=~"5\.\."/);
    for (const q of ['0.5', '0.95', '0.99']) {
      has(new RegExp(`histogram_quantile\\(${q}, .*sluice_request_duration_seconds_bucket`));
      has(new RegExp(`histogram_quantile\\(${q}, .*sluice_time_to_first_token_seconds_bucket`));
    }
    has(/sluice_tokens_total\{[^}]*type="output"/);
    has(/sluice_endpoint_active_connections/);
    has(/sluice_health_check_duration_seconds_bucket/);
    has(/sluice_endpoint_failures_total/);
    has(/sluice_retries_total/);
    has(/sluice_models_available_endpoints/);
    has(/ALERTS\{alertstate="firing"/);
  });

  it('the overview has a row on Sluice\'s own process, from prom-client\'s default metrics', () => {
    const overview = dashboards.find((d) => d.dashboard.uid === 'sluice-overview')!.dashboard;
    const all = overview.panels ?? [];
    const start = all.findIndex((p) => p.type === 'row' && p.title === 'Sluice process');
    expect(start).toBeGreaterThan(0);
    const exprs = all.slice(start + 1).filter((p) => p.type !== 'row').flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).join('\n');
    for (const metric of ['nodejs_eventloop_lag_p99_seconds{', 'rate(process_cpu_seconds_total{', 'process_resident_memory_bytes{', 'rate(nodejs_gc_duration_seconds_sum{']) expect(exprs).toContain(metric);
    for (const m of exprs.matchAll(/(?:process|nodejs)_[a-z_]+\{([^}]*)\}/g)) expect(m[1]).toMatch(/job=~"\$job", instance=~"\$instance"/);
  });

  it('the overview has a Backend load row on the servers\' vLLM metrics, named by Sluice endpoint', () => {
    const overview = dashboards.find((d) => d.dashboard.uid === 'sluice-overview')!.dashboard;
    const all = overview.panels ?? [];
    const start = all.findIndex((p) => p.type === 'row' && p.title === 'Backend load');
    expect(start).toBeGreaterThan(0);
    const end = all.findIndex((p, i) => i > start && p.type === 'row');
    const panels = all.slice(start + 1, end);
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    for (const metric of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:prefix_cache_hits_total', 'vllm:prefix_cache_queries_total', 'vllm:time_to_first_token_seconds_bucket']) {
      expect(exprs.some((e) => e.includes(metric)), metric).toBe(true);
    }
    for (const expr of exprs) expect(expr).toMatch(/group_left \(endpoint\)[\s\S]*sluice_endpoint_info\{job=~"\$job", instance=~"\$instance", endpoint=~"\$endpoint"\}/);
  });

  it('the overview has a Routing row: decisions by reason, the prefix index, and the endpoints\' load data', () => {
    const overview = dashboards.find((d) => d.dashboard.uid === 'sluice-overview')!.dashboard;
    const all = overview.panels ?? [];
    const start = all.findIndex((p) => p.type === 'row' && p.title === 'Routing');
    expect(start).toBeGreaterThan(0);
    const end = all.findIndex((p, i) => i > start && p.type === 'row');
    const exprs = all.slice(start + 1, end).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    for (const metric of ['sluice_route_decisions_total{', 'sluice_prefix_index_lookups_total{', 'sluice_prefix_index_blocks{', 'sluice_endpoint_load_stale{', 'sluice_load_scrapes_total{']) {
      expect(exprs.some((e) => e.includes(metric)), metric).toBe(true);
    }
  });

  it('the endpoint detail is about one endpoint at a time', () => {
    const detail = dashboards.find((d) => d.dashboard.uid === 'sluice-endpoint')!.dashboard;
    expect(detail.templating!.list!.find((v) => v.name === 'endpoint')).toMatchObject({ multi: false, includeAll: false });
    for (const { owner, expr } of dashboardQueries(detail)) {
      if (expr.includes('sluice_endpoint_') && !owner.startsWith('endpoint')) expect(expr, owner).toContain('endpoint=~"$endpoint"');
    }
  });
});
