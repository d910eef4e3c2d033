/**
 * Two Sluice replicas with the same configuration in front of the same three sample model
 * servers, on loopback: the same sticky keys land on the same backends through either
 * replica, and one real Prometheus scrapes both while every dashboard query aggregates the
 * two replicas correctly (a panel never shows one replica where it claims to show the fleet).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startModelServer, startSluice, stopAll, waitFor, waitReady, type ModelServer, type SluiceProc } from '../helpers/processes.js';
import {
  dashboardQueries,
  loadDashboards,
  loadRuleFile,
  parseLabelValues,
  PROMETHEUS_DIR,
  recordingRuleNames,
  ROOT,
  sluiceMetricNames,
  substituteVariables,
} from '../stack/dashboard-queries.js';
import { composeModelServers, loopbackPrometheusConfig, loopbackSluiceConfig, startPrometheus, type PrometheusProcess } from '../stack/local-stack.js';
import { SLUICE_METRICS } from '../stack/metric-contract.js';
import { PrometheusApi, type Sample } from '../stack/prometheus-api.js';

const built = existsSync(join(ROOT, 'dist/cli.js')) && existsSync(join(ROOT, 'dist/model-server/main.js'));
const STICKY_HEADER = 'X-Session-Id';
// Longer than two prefix blocks (balancing.prefix.block_chars, 256 by default), so that the
// prefix-aware routing of config/compose.yaml looks its blocks up.
const SYSTEM_PROMPT = 'You answer questions about rivers, mills and the valleys they run through. '.repeat(8);
const KEYS_PER_MODEL = 8;
// Panels that are legitimately empty while all is well.
const MAY_BE_EMPTY = new Set(['Firing alerts']);
const GRAFANA_BUILTINS = { __rate_interval: '1m', __interval: '15s', __range: '5m', datasource: 'prometheus', job: '.+', model: '.+' };
/**
 * Gauges that count a replica's own work or state (its connections in flight, its own prefix
 * index, the request bodies it holds): the fleet's value is the sum over replicas. Every
 * other gauge describes an endpoint, a model or the build, a fact each replica reports alike,
 * so summing it over replicas counts the same thing twice.
 */
const PER_REPLICA_GAUGES = new Set(['sluice_endpoint_active_connections', 'sluice_prefix_index_blocks', 'sluice_request_bodies_held_bytes']);
const SHARED_FACT_GAUGES = new Set(SLUICE_METRICS.filter((m) => m.type === 'gauge' && !PER_REPLICA_GAUGES.has(m.name)).map((m) => m.name));

/** How the value over both replicas must relate to each replica's own value. */
type Relation = 'sum' | 'between';

const RECORDING_RULES = new Map(
  loadRuleFile('rules.yml')
    .groups.flatMap((g) => g.rules)
    .filter((r) => r.record)
    .map((r) => [r.record!, r.expr]),
);

/** The expression with recording rules replaced by their definitions. */
function expandRules(expr: string, depth = 0): string {
  if (depth > 5) throw new Error(`recording rules nest too deep in ${expr}`);
  let out = expr;
  for (const name of recordingRuleNames(expr)) {
    const definition = RECORDING_RULES.get(name);
    if (definition) out = out.replaceAll(name, `(${expandRules(definition, depth + 1)})`);
  }
  return out;
}

/**
 * Additive quantities (request, token and check rates, connections in flight) add up over
 * replicas. Ratios and quantiles of the merged traffic lie between the replicas' own, and so
 * does any fair aggregation (max, min, avg) of a fact every replica reports.
 */
function relationOf(expr: string): Relation {
  const expanded = expandRules(expr);
  if (/histogram_quantile|\//.test(expanded)) return 'between';
  const metrics = [...sluiceMetricNames(expanded)];
  return metrics.length > 0 && metrics.every((m) => SHARED_FACT_GAUGES.has(m)) ? 'between' : 'sum';
}

const keyOf = (metric: Record<string, string>) =>
  JSON.stringify(Object.entries(metric).filter(([k]) => k !== '__name__').sort(([a], [b]) => a.localeCompare(b)));
const valuesOf = (samples: Sample[]) => new Map(samples.map((s) => [keyOf(s.metric), Number(s.value![1])]));
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** What is wrong with `both` (the query over both replicas) given each replica's answer. */
function aggregationProblems(relation: Relation, both: Sample[], first: Sample[], second: Sample[]): string[] {
  const problems: string[] = [];
  if (both.some((s) => 'instance' in s.metric)) {
    // One series per replica: nothing is merged, both replicas must be there as they are.
    const expected = new Map([...valuesOf(first), ...valuesOf(second)]);
    const got = valuesOf(both);
    for (const [key, value] of expected) if (!(got.has(key) && (close(got.get(key)!, value) || (Number.isNaN(value) && Number.isNaN(got.get(key)!))))) problems.push(`series ${key}: ${got.get(key)} instead of ${value}`);
    if (got.size !== expected.size) problems.push(`${got.size} series instead of ${expected.size}`);
    return problems;
  }
  const [all, a, b] = [valuesOf(both), valuesOf(first), valuesOf(second)];
  for (const key of new Set([...all.keys(), ...a.keys(), ...b.keys()])) {
    const value = all.get(key);
    const own = [a.get(key), b.get(key)].filter((v): v is number => v !== undefined);
    if (value === undefined) {
      problems.push(`series ${key} of one replica is missing over both`);
      continue;
    }
    if (relation === 'sum') {
      const expected = own.reduce((x, y) => x + y, 0);
      if (!close(value, expected)) problems.push(`series ${key}: ${value} over both replicas, but they add up to ${expected} (${own.join(' + ')})`);
      continue;
    }
    const numbers = own.filter((v) => !Number.isNaN(v));
    if (Number.isNaN(value)) {
      if (numbers.length > 0) problems.push(`series ${key}: NaN over both replicas, ${numbers.join(' and ')} on each`);
      continue;
    }
    const [low, high] = [Math.min(...numbers), Math.max(...numbers)];
    if (numbers.length === 0 || value < low - 1e-9 * Math.abs(low) || value > high + 1e-9 * Math.abs(high)) {
      problems.push(`series ${key}: ${value} over both replicas, outside the replicas' own [${own.join(', ')}]`);
    }
  }
  return problems;
}

describe.skipIf(!built)('two Sluice replicas with the same configuration', () => {
  let workDir: string | undefined;
  let servers: ModelServer[] = [];
  let replicas: SluiceProc[] = [];
  let prometheus: PrometheusProcess | undefined;
  let api: PrometheusApi;
  let models: string[] = [];
  const sent = new Map<string, number>();

  const instanceOf = (replica: SluiceProc) => new URL(replica.url).host;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-replicas-'));
    workDir = dir;
    servers = await Promise.all(composeModelServers().map((s) => startModelServer(s.id, s.models, { ENGINE: 'sim', TOKEN_DELAY: '5ms' })));
    const urls = Object.fromEntries(servers.map((s) => [s.id, s.url]));
    // One configuration for both; only the listening port differs, as two pods' would not.
    // Sticky decisions agree while both replicas see the same endpoints with the same effective
    // weights: no slow start (the replicas start at different times), and checks lenient
    // enough that a loaded machine does not make one replica see an endpoint flap.
    const config = (port: number) => {
      const parsed = parseYaml(loopbackSluiceConfig(port, urls)) as { balancing?: Record<string, unknown>; health?: Record<string, unknown>; proxy?: Record<string, unknown>; endpoints: Array<Record<string, unknown>> };
      parsed.balancing = { ...parsed.balancing, sticky: { key: `header:${STICKY_HEADER}` } };
      parsed.health = { ...parsed.health, slow_start: '0s', degraded_latency: '10s' };
      // The test reads which endpoint answered from the opt-in route headers.
      parsed.proxy = { ...parsed.proxy, expose_route_headers: true };
      for (const endpoint of parsed.endpoints) endpoint.check_timeout = '5s';
      return stringifyYaml(parsed);
    };
    replicas = await Promise.all([startSluice(config, {}, false), startSluice(config, {}, false)]);
    models = [...new Set(servers.flatMap((s) => s.models))].sort();
    // Generous: the start of a process is slow on a loaded machine.
    await Promise.all(replicas.map((r) => waitReady(r.url, servers.length, models, 90_000))).catch((err: Error) => {
      throw new Error(`${err.message}\n${replicas.map((r) => r.proc.output().split('\n').slice(-15).join('\n')).join('\n---\n')}`);
    });

    const promPort = await freePort();
    writeFileSync(join(dir, 'rules.yml'), readFileSync(join(PROMETHEUS_DIR, 'rules.yml')));
    writeFileSync(join(dir, 'alerts.yml'), readFileSync(join(PROMETHEUS_DIR, 'alerts.yml')));
    const configPath = join(dir, 'prometheus.yml');
    const host = (url: string) => new URL(url).host;
    writeFileSync(
      configPath,
      loopbackPrometheusConfig(
        { sluice: replicas.map((r) => host(r.url)), 'model-servers': servers.map((s) => host(s.url)), prometheus: [`127.0.0.1:${promPort}`] },
        [join(dir, 'rules.yml'), join(dir, 'alerts.yml')],
      ),
    );
    mkdirSync(join(dir, 'data'));
    prometheus = startPrometheus(configPath, join(dir, 'data'), promPort);
    api = new PrometheusApi(prometheus.url);
    await waitFor(async () => (await fetch(`${prometheus!.url}/-/ready`)).ok, 30_000, 'prometheus ready').catch((err: Error) => {
      throw new Error(`${err.message}\n${prometheus!.output()}`);
    });
    // Traffic only once both replicas have been scraped, so that counters rise between samples.
    await waitFor(async () => (await api.scalar('count(up{job="sluice"} == 1)')) === 2, 30_000, 'first scrape of both replicas');
  }, 240_000);

  afterAll(async () => {
    await stopAll();
    await prometheus?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function chat(replica: SluiceProc, model: string, options: { key?: string; stream?: boolean } = {}): Promise<{ status: number; endpoint: string | null; server: string | null }> {
    const res = await fetch(`${replica.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(options.key ? { [STICKY_HEADER]: options.key } : {}) },
      body: JSON.stringify({ model, stream: options.stream ?? false, max_tokens: 6, messages: [{ role: 'system', content: SYSTEM_PROMPT }, { role: 'user', content: 'tell me about the river' }], ...(options.stream ? { stream_options: { include_usage: true } } : {}) }),
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    sent.set(instanceOf(replica), (sent.get(instanceOf(replica)) ?? 0) + 1);
    return { status: res.status, endpoint: res.headers.get('x-sluice-endpoint'), server: res.headers.get('x-server-id') };
  }

  it('send the same sticky keys to the same backends through either replica', async () => {
    const owners = new Map<string, Set<string>>();
    for (const model of models) {
      for (let k = 0; k < KEYS_PER_MODEL; k++) {
        const key = `conversation-${model}-${k}`;
        // One at a time: nothing in flight, so the bounded load never moves a key.
        const answers = [];
        for (const replica of [replicas[0]!, replicas[1]!, replicas[1]!, replicas[0]!]) answers.push(await chat(replica, model, { key }));
        for (const a of answers) expect(a.status).toBe(200);
        // The backend that answered says so itself, and it is the endpoint Sluice names.
        expect(new Set(answers.map((a) => `${a.endpoint} ${a.server}`)), key).toEqual(new Set([`${answers[0]!.server} ${answers[0]!.server}`]));
        const set = owners.get(model) ?? new Set<string>();
        set.add(answers[0]!.server!);
        owners.set(model, set);
      }
    }
    // Keys spread over the backends of each model: stickiness, not one favourite backend.
    for (const model of models) {
      expect(owners.get(model)!.size, model).toBe(servers.filter((s) => s.models.includes(model)).length);
    }
  }, 240_000);

  it('lets one Prometheus scrape both, and every dashboard query aggregates them', async () => {
    const [first, second] = [replicas[0]!, replicas[1]!];
    // Twice as much traffic through the first replica, so that a sum differs from either one
    // and from twice either one.
    for (let round = 0; round < 4; round++) {
      const calls = models.flatMap((m) => [
        chat(first, m),
        chat(first, m, { stream: true }),
        chat(first, m, { key: `round-${round}` }),
        chat(first, m, { stream: true, key: `round-${round}` }),
        chat(second, m),
        chat(second, m, { stream: true }),
      ]);
      const answers = await Promise.all(calls);
      expect(answers.every((a) => a.status === 200), JSON.stringify(answers)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1200));
    }
    expect((await chat(first, 'no-such-model')).status).toBe(404);

    for (const replica of replicas) {
      const instance = instanceOf(replica);
      // Every chat names a model; the model lists read while waiting for readiness (model "none") are counted too, apart.
      await waitFor(async () => (await api.scalar(`sum(sluice_requests_total{instance="${instance}", model!="none"})`)) === sent.get(instance), 30_000, `requests of ${instance} scraped`);
    }
    await waitFor(async () => (await api.scalar('count(count by (instance) (sluice:endpoint_requests:rate5m))')) === 2, 30_000, 'recording rules for both replicas');
    // Well behind the last scrape and rule evaluation, so the three evaluations see the same data.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const time = Date.now() / 1000 - 2;

    const [a, b] = replicas.map(instanceOf) as [string, string];
    const escape = (instance: string) => instance.replaceAll('.', '\\\\.');
    const evaluate = async (expr: string, instance: string) => {
      const answer = await api.query(substituteVariables(expr, { ...GRAFANA_BUILTINS, instance, endpoint: '.+' }), time);
      if ('error' in answer) throw new Error(`${answer.error}\n  ${expr}`);
      return answer.result;
    };
    const check = async (expr: string) => {
      const results = [await evaluate(expr, '.+'), await evaluate(expr, escape(a)), await evaluate(expr, escape(b))] as const;
      const problems = aggregationProblems(relationOf(expr), ...results);
      if (process.env.DEBUG_REPLICAS) console.log(expr, relationOf(expr), JSON.stringify(results), problems);
      return problems;
    };

    // The check has teeth: counting a shared fact once per replica, or showing the busiest
    // replica's rate instead of the sum, are both caught.
    expect(await check('sum(sluice_endpoint_up{job=~"$job", instance=~"$instance"})')).not.toEqual([]);
    expect(await check('max(rate(sluice_requests_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))')).not.toEqual([]);

    const problems: string[] = [];
    const checked: string[] = [];
    for (const { file, dashboard } of loadDashboards()) {
      for (const { kind, owner, expr } of dashboardQueries(dashboard)) {
        const where = `${file} ${kind} "${owner}"`;
        if (kind === 'variable' && owner === 'job') continue; // lists jobs, above the replicas
        if (kind === 'variable') {
          const lv = parseLabelValues(substituteVariables(expr, { ...GRAFANA_BUILTINS, instance: '.+' }))!;
          const answer = await api.labelValues(lv.selector, lv.label);
          if ('error' in answer) problems.push(`${where}: ${answer.error}`);
          else if (owner === 'instance') expect(answer.values, where).toEqual([a, b].sort());
          else if (answer.values.length === 0) problems.push(`${where}: no values`);
          continue;
        }
        if (!expr.includes('$instance')) {
          // Fleet-wide by construction (Prometheus' own ALERTS); never a Sluice series.
          expect([...sluiceMetricNames(expr), ...recordingRuleNames(expr)], where).toEqual([]);
          continue;
        }
        const both = await evaluate(expr, '.+');
        if (both.length === 0 && kind === 'panel' && !MAY_BE_EMPTY.has(owner)) problems.push(`${where}: no series`);
        // A ratio of nothing (0/0) is a series with no data to show.
        else if (kind === 'panel' && !MAY_BE_EMPTY.has(owner) && both.every((x) => Number.isNaN(Number(x.value?.[1])))) problems.push(`${where}: only NaN`);
        problems.push(...(await check(expr)).map((p) => `${where} (${relationOf(expr)}): ${p}\n  ${expr}`));
        checked.push(where);
      }
    }
    expect(checked.length).toBeGreaterThan(40);
    expect(problems).toEqual([]);
  }, 240_000);
});
