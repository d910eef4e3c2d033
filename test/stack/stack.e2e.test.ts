/**
 * End to end on loopback: three sample model servers, Sluice (config from config/compose.yaml),
 * and a real Prometheus running the shipped prometheus.yml and rules with targets rewritten.
 * After some traffic, every dashboard query must evaluate (and show data where traffic
 * implies data), every metric the dashboards and rules name must be exported, and killing a
 * model server must fire SluiceEndpointUnhealthy.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { freePort, postFault, startModelServer, startSluice, stopAll, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';
import { dashboardQueries, loadDashboards, loadRuleFile, parseLabelValues, PROMETHEUS_DIR, ROOT, sluiceMetricNames, substituteVariables } from './dashboard-queries.js';
import { parseExposition } from '../helpers/exposition.js';
import { composeModelServers, loopbackPrometheusConfig, loopbackSluiceConfig, shortenedAlertRules, startPrometheus, type PrometheusProcess } from './local-stack.js';
import { SLUICE_METRICS } from './metric-contract.js';
import { PrometheusApi } from './prometheus-api.js';

const built = existsSync(join(ROOT, 'dist/cli.js')) && existsSync(join(ROOT, 'dist/model-server/main.js'));

// Panels that are legitimately empty while all is well.
const MAY_BE_EMPTY = new Set(['Firing alerts']);
// What Grafana would put in the variables; `.+` is the variables' "All" value.
const GRAFANA_BUILTINS = { __rate_interval: '30s', __interval: '15s', __range: '5m' };

describe.skipIf(!built)('the observability stack on loopback', () => {
  let workDir: string | undefined;
  let servers: ModelServer[] = [];
  let sluice: SluiceProc;
  let prometheus: PrometheusProcess | undefined;
  let api: PrometheusApi;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let requestsSent = 0;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-stack-'));
    workDir = dir;
    otlp = await startOtlpReceiver();
    // A quarter of the compose token delays: quick, and the slow server stays slower.
    servers = await Promise.all(
      // ENGINE=sim: the servers also export vLLM's engine metrics, for the Backend load row.
      composeModelServers().map((s) => startModelServer(s.id, s.models, { ENGINE: 'sim', TOKEN_DELAY: `${Math.ceil(Number.parseInt(s.tokenDelay, 10) / 4)}ms` })),
    );
    sluice = await startSluice((port) => loopbackSluiceConfig(port, Object.fromEntries(servers.map((s) => [s.id, s.url]))), {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });

    const promPort = await freePort();
    const host = (url: string) => new URL(url).host;
    writeFileSync(join(dir, 'rules.yml'), readFileSync(join(PROMETHEUS_DIR, 'rules.yml')));
    writeFileSync(join(dir, 'alerts.yml'), shortenedAlertRules('2s'));
    writeFileSync(join(dir, 'slo.yml'), readFileSync(join(PROMETHEUS_DIR, 'slo.yml')));
    const configPath = join(dir, 'prometheus.yml');
    writeFileSync(
      configPath,
      loopbackPrometheusConfig(
        { sluice: [host(sluice.url)], 'model-servers': servers.map((s) => host(s.url)), prometheus: [`127.0.0.1:${promPort}`] },
        [join(dir, 'rules.yml'), join(dir, 'alerts.yml'), join(dir, 'slo.yml')],
      ),
    );
    mkdirSync(join(dir, 'data'));
    prometheus = startPrometheus(configPath, join(dir, 'data'), promPort);
    api = new PrometheusApi(prometheus.url);
    await waitFor(async () => (await fetch(`${prometheus!.url}/-/ready`)).ok, 20_000, 'prometheus ready').catch((err: Error) => {
      throw new Error(`${err.message}\n${prometheus!.output()}`);
    });
    // Traffic only once Sluice has been scraped, so that counters rise between samples.
    await waitFor(async () => (await api.scalar('up{job="sluice"}')) === 1, 20_000, 'first scrape of sluice');

    await driveTraffic();
    // Scraped, and the recording rules and rates have at least two samples to work with.
    await waitFor(async () => ((await api.scalar(`sum(sluice_requests_total{job="sluice"})`)) ?? 0) >= requestsSent, 20_000, 'requests scraped');
    await waitFor(async () => ((await api.scalar('sum(sluice:endpoint_requests:rate5m)')) ?? 0) > 0, 20_000, 'recording rules evaluated');
    await waitFor(async () => ((await api.scalar('sum(rate(sluice_tokens_total[30s]))')) ?? 0) > 0, 20_000, 'token rates');
  }, 90_000);

  afterAll(async () => {
    await stopAll();
    await prometheus?.stop();
    await otlp?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function chat(model: string, stream: boolean): Promise<number> {
    const res = await fetch(`${sluice.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, max_tokens: 12, messages: [{ role: 'user', content: 'tell me about the river' }], ...(stream ? { stream_options: { include_usage: true } } : {}) }),
      signal: AbortSignal.timeout(20_000),
    });
    await res.arrayBuffer();
    requestsSent += 1;
    return res.status;
  }

  async function driveTraffic(): Promise<void> {
    const listed = (await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    const models = listed.data.map((m) => m.id);
    expect(models.sort()).toEqual([...new Set(servers.flatMap((s) => s.models))].sort());
    // Rounds spread over a few scrape intervals (1s), so rates see the counters rise.
    for (let round = 0; round < 4; round++) {
      const statuses = await Promise.all(models.flatMap((m) => [chat(m, false), chat(m, true)]));
      expect(statuses.every((s) => s === 200), String(statuses)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1200));
    }
    expect(await chat('no-such-model', false)).toBe(404);
    await streamLeftBeforeFirstToken(models[0]!);
    await runLoadGenerator();
  }

  /** A stream whose client stops waiting before its first token (every server stalls it): sluice_first_token_missed_total. */
  async function streamLeftBeforeFirstToken(model: string): Promise<void> {
    const fault = (spec: Parameters<typeof postFault>[1]) => Promise.all(servers.map((srv) => postFault(srv.url, spec)));
    await fault({ mode: 'stall', delay_ms: 5000 });
    try {
      const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'x' }] });
      await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(500) })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
      requestsSent += 1;
    } finally {
      await fault({ mode: 'none' });
    }
  }

  /** The compose stack's load generator, bounded, must finish its requests with 200s. */
  async function runLoadGenerator(): Promise<void> {
    const child = spawn(process.execPath, ['scripts/stack/loadgen.mjs'], {
      cwd: ROOT,
      env: { ...process.env, SLUICE_URL: sluice.url, RATE: '20', MAX_REQUESTS: '10', UNKNOWN_RATIO: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code, output).toBe(0);
    const finished = output.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; sent?: number; statuses?: Record<string, number> }).find((l) => l.msg === 'loadgen finished');
    expect(finished).toMatchObject({ sent: 10, statuses: { '200': 10 } });
    requestsSent += 10;
  }

  it('scrapes every job of prometheus.yml', async () => {
    const describeTargets = async () => (await api.targets()).map((t) => `${t.labels.job} ${t.labels.instance} ${t.health} ${t.lastError}`);
    await waitFor(async () => (await api.targets()).every((t) => t.health === 'up'), 10_000, `all targets up: ${(await describeTargets()).join('; ')}`).catch(async () => {
      expect(await describeTargets()).toEqual([]);
    });
    const jobs = (await api.targets()).map((t) => t.labels.job).sort();
    expect(jobs).toEqual(['model-servers', 'model-servers', 'model-servers', 'prometheus', 'sluice']);
  });

  it('exports every metric of the contract, with its type and labels, and every metric the stack uses', async () => {
    // Scraped after Prometheus' OpenMetrics scrapes, so the classic format must still hold up.
    const byName = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
    // The compose configuration reads the engines' load but sets no rate limits.
    for (const contract of SLUICE_METRICS.filter((m) => m.requires !== 'rate_limits')) {
      const family = byName.get(contract.name);
      expect(family, `${contract.name} exported`).toBeDefined();
      expect(family!.type, contract.name).toBe(contract.type);
      expect(family!.samples.length, `${contract.name} has series`).toBeGreaterThan(0);
      for (const sample of family!.samples) {
        const labels = Object.keys(sample.labels).filter((l) => !(contract.type === 'histogram' && l === 'le'));
        expect(labels.sort(), sample.name).toEqual([...contract.labels].sort());
        for (const [label, allowed] of Object.entries(contract.values ?? {})) expect(allowed, `${sample.name}{${label}}`).toContain(sample.labels[label]);
      }
      if (contract.buckets) {
        const bounds = new Set(family!.samples.filter((x) => x.name.endsWith('_bucket')).map((x) => x.labels.le));
        expect([...bounds].sort(), contract.name).toEqual([...contract.buckets.map(String), '+Inf'].sort());
      }
    }
    const files = [
      ...readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).map((f) => join(ROOT, 'dashboards', f)),
      ...readdirSync(PROMETHEUS_DIR).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(PROMETHEUS_DIR, f)),
    ];
    const used = new Set(files.flatMap((f) => [...sluiceMetricNames(readFileSync(f, 'utf8'))]));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !byName.has(name))).toEqual([]);
  });

  it('stores every metric of the contract in Prometheus', async () => {
    const names = await api.labelValues('{job="sluice"}', '__name__');
    if ('error' in names) throw new Error(names.error);
    const expected = SLUICE_METRICS.filter((m) => m.requires !== 'rate_limits').flatMap((m) => (m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_count`, `${m.name}_sum`] : [m.name]));
    expect(expected.filter((name) => !names.values.includes(name))).toEqual([]);
  });

  it('evaluates every query of every dashboard, with data wherever traffic implies data', async () => {
    const problems: string[] = [];
    let checked = 0;
    // The endpoint detail shows one endpoint; pick one that answered requests (prefix-aware
    // routing sends a model's requests with the same prompt to the same endpoint, so not all did).
    const answered = await api.query('topk(1, sum by (endpoint) (sluice_requests_total{job="sluice", endpoint!="none"}))');
    if ('error' in answered) throw new Error(answered.error);
    const busiest = answered.result[0]!.metric.endpoint!;
    for (const { file, dashboard } of loadDashboards()) {
      const endpoint = dashboard.uid === 'sluice-endpoint' ? busiest : '.+';
      const values = { ...GRAFANA_BUILTINS, datasource: 'prometheus', job: '.+', instance: '.+', endpoint, model: '.+' };
      for (const { kind, owner, expr } of dashboardQueries(dashboard)) {
        const promql = substituteVariables(expr, values);
        checked += 1;
        if (kind === 'variable') {
          const lv = parseLabelValues(promql);
          if (!lv) {
            problems.push(`${file} variable ${owner}: not a label_values() query`);
            continue;
          }
          const answer = await api.labelValues(lv.selector, lv.label);
          if ('error' in answer) problems.push(`${file} variable ${owner}: ${answer.error}`);
          else if (answer.values.length === 0) problems.push(`${file} variable ${owner}: no values`);
          continue;
        }
        const answer = await api.query(promql);
        if ('error' in answer) problems.push(`${file} ${kind} "${owner}": ${answer.error}\n  ${promql}`);
        else if (kind === 'panel' && !MAY_BE_EMPTY.has(owner) && answer.result.length === 0) problems.push(`${file} panel "${owner}": no series\n  ${promql}`);
        // A ratio of nothing (0/0) is a series with no data to show.
        else if (kind === 'panel' && !MAY_BE_EMPTY.has(owner) && answer.result.every((s) => Number.isNaN(Number(s.value?.[1])))) problems.push(`${file} panel "${owner}": only NaN\n  ${promql}`);
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(problems).toEqual([]);
  });

  it('evaluates the objectives\' SLIs and the time-to-first-token rules on real traffic', async () => {
    // All requests succeeded quickly, apart from one 404 (a client error): both SLIs are 0.
    await waitFor(async () => (await api.scalar('sluice:slo_request_errors:ratio_rate5m{job="sluice"}')) !== undefined, 20_000, 'availability SLI');
    expect(await api.scalar('sluice:slo_request_errors:ratio_rate5m{job="sluice"}')).toBe(0);
    await waitFor(async () => (await api.scalar('sluice:slo_time_to_first_token_slow:ratio_rate5m{job="sluice"}')) !== undefined, 20_000, 'time-to-first-token SLI');
    expect(await api.scalar('sluice:slo_time_to_first_token_slow:ratio_rate5m{job="sluice"}')).toBe(0);
    const p95 = await api.scalar('max(histogram_quantile(0.95, sum without (instance) (sluice:time_to_first_token_seconds_bucket:rate5m{job="sluice"})))');
    expect(p95).toBeGreaterThan(0);
    expect(p95).toBeLessThan(5);
    // And no objective is burning.
    expect((await api.alerts()).filter((a) => /BudgetBurn$/.test(a.labels.alertname ?? ''))).toEqual([]);
  });

  it('routes prompts that share a prefix where it was sent before (prefix-aware, as config/compose.yaml)', async () => {
    // The same prompts again and again, and the load generator's shared system prompt.
    expect(await api.scalar('sum(sluice_prefix_index_lookups_total{job="sluice", result="hit"})')).toBeGreaterThan(0);
    expect(await api.scalar('sum(sluice_route_decisions_total{job="sluice", reason="prefix_match"})')).toBeGreaterThan(0);
    expect(await api.scalar('max(sluice_prefix_index_blocks{job="sluice"})')).toBeGreaterThan(0);
  });

  it('stores exemplars that link request latency to exported traces', async () => {
    let traceIds: string[] = [];
    await waitFor(
      async () => {
        const series = await api.exemplars('sluice_request_duration_seconds_bucket', 300);
        traceIds = series.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id ?? ''));
        return traceIds.length > 0;
      },
      15_000,
      'exemplars in Prometheus',
    );
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    await waitFor(() => otlp.spans.some((s) => traceIds.includes(s.traceId)), 15_000, 'an exemplar trace among the exported spans');
  });

  it('fires SluiceEndpointUnhealthy when a model server dies', async () => {
    const victim = servers.at(-1)!;
    const unhealthyAlert = async (state: string) =>
      (await api.alerts()).some((a) => a.labels.alertname === 'SluiceEndpointUnhealthy' && a.labels.endpoint === victim.id && a.state === state);
    expect(await unhealthyAlert('firing')).toBe(false);
    expect(await unhealthyAlert('pending')).toBe(false);
    // The shipped rule still says `for: 1m`; the loopback copy was generated from it.
    expect(loadRuleFile('alerts.yml').groups.flatMap((g) => g.rules).find((r) => r.alert === 'SluiceEndpointUnhealthy')?.for).toBe('1m');

    await victim.proc.stop('SIGKILL');
    await waitFor(() => unhealthyAlert('firing'), 60_000, `SluiceEndpointUnhealthy firing for ${victim.id}`);
    const alert = (await api.alerts()).find((a) => a.labels.alertname === 'SluiceEndpointUnhealthy' && a.state === 'firing')!;
    expect(alert.labels).toMatchObject({ severity: 'warning', job: 'sluice', endpoint: victim.id });
    expect(alert.annotations.description).toContain(victim.id);
  }, 90_000);
});
