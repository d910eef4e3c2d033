/**
 * Static checks of the observability stack: Prometheus config and rules (promtool), the
 * compose file (docker-compose config) and the Dockerfile. No Docker engine needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/index.js';
import { loadRuleFile, PROMETHEUS_DIR, ROOT, ruleFilesOfConfig } from './dashboard-queries.js';
import { runTool } from './tools.js';

const REQUIRED_ALERTS = [
  'SluiceDown',
  'SluiceNoRoutableEndpoints',
  'SluiceEndpointUnhealthy',
  'SluiceEndpointFlapping',
  'SluiceCircuitOpen',
  'SluiceHighErrorRatio',
  'SluiceHighLatencyP99',
  'SluiceSlowTimeToFirstByte',
  'SluiceHealthCheckSlow',
  'SluiceModelUnavailable',
  'SluiceHighRetryRate',
  'SluiceConfigReloadFailed',
];

const alertRules = () => loadRuleFile('alerts.yml').groups.flatMap((g) => g.rules.filter((r) => r.alert));

describe('prometheus/', () => {
  it('prometheus.yml passes promtool check config', () => {
    const result = runTool('promtool', ['check', 'config', 'prometheus.yml'], PROMETHEUS_DIR);
    expect(result.output).toContain('SUCCESS');
    expect(result.status, result.output).toBe(0);
  });

  it('loads rules.yml and alerts.yml, and both pass promtool check rules', () => {
    const files = ruleFilesOfConfig();
    expect(files).toEqual(expect.arrayContaining(['rules.yml', 'alerts.yml']));
    const result = runTool('promtool', ['check', 'rules', ...files], PROMETHEUS_DIR);
    expect(result.status, result.output).toBe(0);
  });

  it('alert unit tests pass (promtool test rules)', () => {
    const result = runTool('promtool', ['test', 'rules', 'alerts.test.yml'], PROMETHEUS_DIR);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('scrapes sluice, the three model servers and itself', () => {
    const config = parseYaml(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = Object.fromEntries(config.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((s) => s.targets)]));
    expect(targets).toEqual({
      sluice: ['sluice:8080'],
      'model-servers': ['model-server-1:8001', 'model-server-2:8002', 'model-server-3:8003'],
      prometheus: ['localhost:9090'],
    });
  });

  it('has every required alert, each documented, with a severity and a runbook section', () => {
    const rules = alertRules();
    const runbookSections = new Set([...readFileSync(join(ROOT, 'docs/runbooks.md'), 'utf8').matchAll(/^## (\w+)$/gm)].map((m) => m[1]!.toLowerCase()));
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
    for (const rule of rules) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations?.description, rule.alert).toContain('{{ $labels.');
      expect(rule.annotations?.runbook_url, rule.alert).toBe(`docs/runbooks.md#${rule.alert!.toLowerCase()}`);
      expect(runbookSections.has(rule.alert!.toLowerCase()), `${rule.alert} runbook section`).toBe(true);
    }
  });

  it('unit-tests every alert both firing and not firing', () => {
    const tests = parseYaml(readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    const evals = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of alertRules()) {
      const mine = evals.filter((e) => e.alertname === rule.alert);
      expect(mine.some((e) => (e.exp_alerts ?? []).length > 0), `${rule.alert} shown firing`).toBe(true);
      expect(mine.some((e) => (e.exp_alerts ?? []).length === 0), `${rule.alert} shown not firing`).toBe(true);
    }
  });

  it('names recording rules sluice:<what>:<aggregation> and keeps job and instance in every aggregation', () => {
    const rules = loadRuleFile('rules.yml').groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      expect(rule.record).toMatch(/^sluice:[a-z0-9_]+:[a-z0-9_]+$/);
      for (const by of rule.expr.matchAll(/\bby\s*\(([^)]*)\)/g)) expect(by[1], rule.record).toMatch(/^job, instance\b/);
    }
  });
});

interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }>;
}

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;

  it('passes docker-compose config (static validation)', () => {
    const result = runTool('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
    expect(result.status, result.output).toBe(0);
  });

  it('has the services of the stack, each with a health check and healthy dependencies', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'jaeger', 'loadgen', 'model-server-1', 'model-server-2', 'model-server-3', 'prometheus', 'sluice']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test?.[0], `${name} health check`).toBe('CMD');
      for (const [dependency, condition] of Object.entries(service.depends_on ?? {})) {
        expect(condition.condition, `${name} -> ${dependency}`).toBe('service_healthy');
      }
    }
    expect(Object.keys(services.sluice!.depends_on ?? {})).toEqual(expect.arrayContaining(['model-server-1', 'model-server-2', 'model-server-3']));
  });

  it('builds Sluice and the model servers from the Dockerfile, one model server slower', () => {
    const servers = ['model-server-1', 'model-server-2', 'model-server-3'].map((n) => services[n]!);
    for (const s of [services.sluice!, ...servers]) expect(s.build).toBeDefined();
    expect(servers.map((s) => s.environment?.SERVER_ID)).toEqual(['server-1', 'server-2', 'server-3']);
    const delays = servers.map((s) => Number.parseInt(s.environment?.TOKEN_DELAY ?? '', 10));
    expect(Math.max(...delays)).toBeGreaterThanOrEqual(2 * Math.min(...delays));
    for (const s of servers) expect(s.command).toEqual(['node', 'dist/model-server/main.js']);
  });

  it('points Sluice at the model servers where they listen, and the config is valid', () => {
    const mount = services.sluice!.volumes!.find((v) => v.endsWith(':/etc/sluice/sluice.yaml:ro'))!;
    const configFile = join(ROOT, mount.split(':')[0]!);
    const config = parseConfig(readFileSync(configFile, 'utf8'), configFile);
    const listening = ['model-server-1', 'model-server-2', 'model-server-3'].map((n) => `http://${n}:${services[n]!.environment!.PORT}`);
    expect(config.endpoints.map((e) => e.url.replace(/\/$/, ''))).toEqual(listening);
    expect(config.endpoints.map((e) => e.name)).toEqual(['server-1', 'server-2', 'server-3']);
    expect(config.server.host).toBe('0.0.0.0');
  });

  it('runs Prometheus with exemplar storage and Grafana with anonymous access and the overview as home', () => {
    expect(services.prometheus!.command).toContain('--enable-feature=exemplar-storage');
    expect(services.prometheus!.volumes).toContain('./prometheus:/etc/prometheus:ro');
    const grafana = services.grafana!;
    expect(grafana.environment?.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(grafana.volumes).toContain('./dashboards/provisioning:/etc/grafana/provisioning:ro');
    const dashboardsMount = grafana.volumes!.find((v) => v.startsWith('./dashboards:'))!;
    const containerDir = dashboardsMount.split(':')[1]!;
    const home = grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(home.startsWith(`${containerDir}/`)).toBe(true);
    expect(existsSync(join(ROOT, 'dashboards', home.slice(containerDir.length + 1)))).toBe(true);
    const provider = parseYaml(readFileSync(join(ROOT, 'dashboards/provisioning/dashboards/sluice.yaml'), 'utf8')) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(provider.providers[0]).toMatchObject({ type: 'file', options: { path: containerDir } });
  });

  it('sends traces to Jaeger over OTLP and publishes the documented ports', () => {
    expect(services.sluice!.environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    expect(services.jaeger!.image).toMatch(/^jaegertracing\/jaeger:2\./);
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    expect(published.sort()).toEqual(['16686:16686', '3000:3000', '4317:4317', '4318:4318', '8001:8001', '8002:8002', '8003:8003', '8080:8080', '9090:9090'].sort());
  });

  it('provisions Prometheus with exemplars linked to the trace datasource, at the scrape interval', () => {
    const ds = parseYaml(readFileSync(join(ROOT, 'dashboards/provisioning/datasources/datasources.yaml'), 'utf8')) as {
      datasources: Array<{ uid: string; type: string; url: string; jsonData?: { timeInterval?: string; exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid: string }> } }>;
    };
    const prometheus = ds.datasources.find((d) => d.type === 'prometheus')!;
    const traces = ds.datasources.find((d) => d.type === 'jaeger')!;
    expect(prometheus.url).toBe('http://prometheus:9090');
    expect(traces.url).toBe('http://jaeger:16686');
    expect(prometheus.jsonData?.exemplarTraceIdDestinations).toEqual([expect.objectContaining({ name: 'trace_id', datasourceUid: traces.uid })]);
    const promConfig = parseYaml(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as { global: { scrape_interval: string } };
    expect(prometheus.jsonData?.timeInterval).toBe(promConfig.global.scrape_interval);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('is multi-stage on a current Node LTS image, and the runtime runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/ARG NODE_IMAGE=node:(22|24)-slim/);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^EXPOSE 8080$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/internal\/health/m);
    expect(runtime).toMatch(/^CMD \["node", "dist\/cli\.js"/m);
  });

  it('keeps build context small and local artefacts out of the image', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git']) expect(ignored).toContain(entry);
    // What the build copies must not be ignored.
    for (const entry of ['src', 'config', 'package.json', 'tsconfig.json']) expect(ignored).not.toContain(entry);
  });
});
