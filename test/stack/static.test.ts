/**
 * Static checks of the observability stack: Prometheus config and rules (promtool), the
 * compose file (docker-compose config) and the Dockerfile. No Docker engine needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/index.js';
import { dashboardQueries, loadDashboards, loadRuleFile, PROMETHEUS_DIR, ROOT, ruleFilesOfConfig } from './dashboard-queries.js';
import { runTool } from './tools.js';
import { DEFAULT_RUNBOOK_BASE, renderRules, SLOS } from '../../scripts/stack/rules.mjs';

const REQUIRED_ALERTS = [
  'SluiceDown',
  'SluiceNoRoutableEndpoints',
  'SluiceEndpointUnhealthy',
  'SluiceEndpointFlapping',
  'SluiceCircuitOpen',
  'SluiceHighErrorRatio',
  'SluiceHighLatencyP99',
  'SluiceSlowTimeToFirstToken',
  'SluiceErrorBudgetBurn',
  'SluiceTimeToFirstTokenBudgetBurn',
  'SluiceHealthCheckSlow',
  'SluiceModelUnavailable',
  'SluiceHighRetryRate',
  'SluiceConfigReloadFailed',
  'SluiceFleetSaturated',
  'SluiceStoredResponseLookupsFailing',
];

const TEST_FILES = ['alerts.test.yml', 'slo.test.yml'];
const alertRules = () => ['alerts.yml', 'slo.yml'].flatMap((file) => loadRuleFile(file).groups.flatMap((g) => g.rules.filter((r) => r.alert)));

describe('prometheus/', () => {
  it('prometheus.yml passes promtool check config', () => {
    const result = runTool('promtool', ['check', 'config', 'prometheus.yml'], PROMETHEUS_DIR);
    expect(result.output).toContain('SUCCESS');
    expect(result.status, result.output).toBe(0);
  });

  it('loads rules.yml and alerts.yml, and both pass promtool check rules', () => {
    const files = ruleFilesOfConfig();
    expect(files).toEqual(expect.arrayContaining(['rules.yml', 'alerts.yml', 'slo.yml']));
    const result = runTool('promtool', ['check', 'rules', ...files], PROMETHEUS_DIR);
    expect(result.status, result.output).toBe(0);
  });

  it('alert unit tests pass (promtool test rules)', { timeout: 240_000 }, () => {
    const result = runTool('promtool', ['test', 'rules', ...TEST_FILES], PROMETHEUS_DIR, 240_000);
    expect(result.status, result.output).toBe(0);
    expect(result.output.match(/SUCCESS/g)).toHaveLength(TEST_FILES.length);
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
      expect(rule.annotations?.runbook_url, rule.alert).toBe(`${DEFAULT_RUNBOOK_BASE}#${rule.alert!.toLowerCase()}`);
      expect(new URL(rule.annotations!.runbook_url!).protocol, rule.alert).toBe('https:');
      expect(runbookSections.has(rule.alert!.toLowerCase()), `${rule.alert} runbook section`).toBe(true);
    }
  });

  it('fires once for all replicas: every alert but SluiceDown aggregates instance (and pod) away', () => {
    const rules = loadRuleFile('alerts.yml').groups.flatMap((g) => g.rules.filter((r) => r.alert));
    expect(rules.find((r) => r.alert === 'SluiceDown')!.expr).not.toMatch(/without \(instance/);
    for (const rule of rules.filter((r) => r.alert !== 'SluiceDown')) {
      expect(rule.expr, rule.alert).toMatch(/without \(instance, pod\b/);
      // Every selector's series is aggregated: no bare comparison keeps a replica's labels.
      expect(rule.expr, rule.alert).not.toMatch(/\bby \([^)]*\binstance\b/);
      expect(`${rule.annotations?.description}`, rule.alert).not.toContain('$labels.instance');
      // Quantiles of all replicas' observations together, never one replica's.
      for (const q of rule.expr.matchAll(/histogram_quantile\([^,]+,\s*(\w+ (?:by|without) \([^)]*\))/g)) expect(q[1], rule.alert).toBe('sum without (instance, pod)');
    }
  });

  it('slo.yml and the runbook links are generated by scripts/stack/rules.mjs and up to date', { timeout: 120_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-rules-'));
    try {
      const result = spawnSync(process.execPath, ['scripts/stack/rules.mjs', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 20_000, env: { ...process.env, RUNBOOK_URL_BASE: '' } });
      expect(result.status, result.stderr).toBe(0);
      for (const file of ['slo.yml', 'alerts.yml']) {
        expect(readFileSync(join(PROMETHEUS_DIR, file), 'utf8'), `${file} is stale: run node scripts/stack/rules.mjs`).toBe(readFileSync(join(out, file), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('builds every runbook link from one configurable base', () => {
    const rendered = renderRules('https://wiki.example.internal/sluice');
    const links = [...Object.values(rendered).join('\n').matchAll(/runbook_url: (\S+)/g)].map((m) => m[1]!);
    expect(links.length).toBe(alertRules().length);
    for (const link of links) expect(link).toMatch(/^https:\/\/wiki\.example\.internal\/sluice#sluice[a-z0-9]+$/);
  });

  it('burn-rate alerts: page on 1h/5m at 14.4x and 6h/30m at 6x the budget, one objective per SLO', () => {
    const slo = loadRuleFile('slo.yml').groups.flatMap((g) => g.rules);
    for (const { alert, objective } of SLOS) {
      const budget = Number((1 - objective).toFixed(6));
      const pages = slo.filter((r) => r.alert === alert && r.labels?.severity === 'critical').map((r) => r.expr.replace(/\s+/g, ' '));
      expect(pages.some((e) => e.includes(`ratio_rate1h > (14.4 * ${budget})`) && e.includes(`ratio_rate5m > (14.4 * ${budget})`)), alert).toBe(true);
      expect(pages.some((e) => e.includes(`ratio_rate6h > (6 * ${budget})`) && e.includes(`ratio_rate30m > (6 * ${budget})`)), alert).toBe(true);
    }
    for (const rule of slo.filter((r) => r.record)) {
      expect(rule.record).toMatch(/^sluice:slo_[a-z0-9_]+:ratio_rate\d+[mhd]$/);
      for (const by of rule.expr.matchAll(/\bby\s*\(([^)]*)\)/g)) expect(by[1], rule.record).toBe('namespace, job');
    }
  });

  it('selects a whole-number bucket bound in both spellings: Prometheus 3 stores le="5" as le="5.0"', () => {
    const rules = ['rules.yml', 'alerts.yml', 'slo.yml'].flatMap((file) => loadRuleFile(file).groups.flatMap((g) => g.rules.map((r) => ({ owner: `${file} ${r.record ?? r.alert}`, expr: r.expr }))));
    const dashboards = loadDashboards().flatMap(({ file, dashboard }) => dashboardQueries(dashboard).map((q) => ({ owner: `${file} ${q.owner}`, expr: q.expr })));
    const selectors = [...rules, ...dashboards].flatMap(({ owner, expr }) => [...expr.matchAll(/\ble\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => ({ owner, text: m[0], op: m[1]!, value: m[2]!.replace(/\\(.)/g, '$1') })));
    // The time-to-first-token objective selects its bound; the check is not vacuous.
    expect(selectors.some((s) => s.owner.includes('time_to_first_token'))).toBe(true);
    for (const { owner, text, op, value } of selectors) {
      if (op === '=' || op === '!=') {
        expect(value, `${owner}: ${text}`).not.toMatch(/^\d+(\.0)?$/);
        continue;
      }
      const re = new RegExp(`^(?:${value})$`);
      for (const n of value.match(/\d+/g) ?? []) expect(re.test(`${n}.0`), `${owner}: ${text} on ${n} and ${n}.0`).toBe(re.test(n));
    }
  });

  it('unit-tests every alert both firing and not firing', () => {
    const evals = TEST_FILES.flatMap((file) => {
      const tests = parseYaml(readFileSync(join(PROMETHEUS_DIR, file), 'utf8')) as {
        tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
      };
      return tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    });
    for (const rule of alertRules()) {
      const mine = evals.filter((e) => e.alertname === rule.alert);
      expect(mine.some((e) => (e.exp_alerts ?? []).length > 0), `${rule.alert} shown firing`).toBe(true);
      expect(mine.some((e) => (e.exp_alerts ?? []).length === 0), `${rule.alert} shown not firing`).toBe(true);
    }
  });

  it('names recording rules sluice:<what>:<aggregation> and keeps namespace, job and instance in every aggregation', () => {
    const rules = loadRuleFile('rules.yml').groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      expect(rule.record).toMatch(/^sluice:[a-z0-9_]+:[a-z0-9_]+$/);
      for (const by of rule.expr.matchAll(/\bby\s*\(([^)]*)\)/g)) expect(by[1], rule.record).toMatch(/^namespace, job, instance\b/);
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
  pull_policy?: string;
  mem_limit?: string;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }> | string[];
}

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;

  it('passes docker-compose config (static validation)', { timeout: 180_000 }, () => {
    const result = runTool('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
    expect(result.status, result.output).toBe(0);
  });

  it('has the services of the stack, each with a health check; monitoring and model servers wait for nothing they watch', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'jaeger', 'loadgen', 'model-server-1', 'model-server-2', 'model-server-3', 'prometheus', 'sluice']);
    for (const [name, service] of Object.entries(services)) expect(service.healthcheck?.test?.[0], `${name} health check`).toBe('CMD');
    const dependencies = (name: string) => {
      const d = services[name]!.depends_on ?? {};
      return Array.isArray(d) ? (d as string[]) : Object.keys(d);
    };
    const conditions = (name: string) => (Array.isArray(services[name]!.depends_on) ? [] : Object.values(services[name]!.depends_on ?? {}).map((c) => c.condition));
    for (const monitor of ['prometheus', 'grafana', 'jaeger']) {
      expect(dependencies(monitor), monitor).not.toContain('sluice');
      expect(conditions(monitor), monitor).not.toContain('service_healthy');
    }
    for (const server of ['model-server-1', 'model-server-2', 'model-server-3']) expect(dependencies(server), server).toEqual([]);
    expect(conditions('sluice')).not.toContain('service_healthy');
    expect(dependencies('sluice')).toEqual(expect.arrayContaining(['model-server-1', 'model-server-2', 'model-server-3']));
  });

  it('probes Sluice for liveness, not readiness, and the model servers on their own health route', () => {
    expect(services.sluice!.healthcheck!.test!.join(' ')).toContain('/internal/live');
    for (const n of [1, 2, 3]) expect(services[`model-server-${n}`]!.healthcheck!.test!.join(' ')).toContain(`127.0.0.1:800${n}/health`);
  });

  it('builds the image once: only sluice builds, the others run the image it tags and never pull it', () => {
    const builders = Object.entries(services).filter(([, s]) => s.build !== undefined).map(([n]) => n);
    expect(builders).toEqual(['sluice']);
    for (const name of ['model-server-1', 'model-server-2', 'model-server-3', 'loadgen']) {
      expect(services[name]!.image, name).toBe(services.sluice!.image);
      expect(services[name]!.pull_policy, name).toBe('never');
    }
  });

  it('limits the memory of every service', () => {
    for (const [name, service] of Object.entries(services)) expect(service.mem_limit, name).toMatch(/^\d+[mg]$/);
  });

  it('runs the model servers from the image, one slower', () => {
    const servers = ['model-server-1', 'model-server-2', 'model-server-3'].map((n) => services[n]!);
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

  it('sends traces to Jaeger over OTLP and publishes the documented ports on loopback by default', { timeout: 180_000 }, () => {
    expect(services.sluice!.environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    expect(services.jaeger!.image).toMatch(/^jaegertracing\/jaeger:2\./);
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    const bound = (host: string) => ['16686:16686', '3000:3000', '4317:4317', '4318:4318', '8001:8001', '8002:8002', '8003:8003', '8080:8080', '9090:9090'].map((p) => `${host}:${p}`).sort();
    expect(published.sort()).toEqual(bound('${BIND_ADDRESS:-127.0.0.1}'));
    // As docker-compose resolves them: 127.0.0.1 unless BIND_ADDRESS says otherwise.
    const resolved = runTool('docker-compose', ['-f', 'docker-compose.yml', 'config'], ROOT, 120_000, { BIND_ADDRESS: '' });
    expect(resolved.status, resolved.output).toBe(0);
    const ports = (parseYaml(resolved.output.slice(resolved.output.indexOf('services:'))) as { services: Record<string, { ports?: Array<string | { host_ip?: string }> }> }).services;
    for (const [name, service] of Object.entries(ports)) {
      for (const port of service.ports ?? []) expect(typeof port === 'string' ? port : port.host_ip, name).toMatch(/^127\.0\.0\.1\b/);
    }
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

  it('is multi-stage on the Node.js major the project supports and tests, and the runtime runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const supported = /^>=(\d+)\./.exec(engines)![1];
    expect(dockerfile).toMatch(new RegExp(`^ARG NODE_IMAGE=node:${supported}-slim$`, 'm'));
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^EXPOSE 8080$/m);
    // Two roles in one image (Sluice, model server): the probes live with each deployment.
    expect(runtime).not.toMatch(/^HEALTHCHECK /m);
    expect(runtime).toMatch(/^CMD \["node", "dist\/cli\.js"/m);
  });

  it('keeps build context small and local artefacts out of the image', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git']) expect(ignored).toContain(entry);
    // What the build copies must not be ignored.
    for (const entry of ['src', 'config', 'package.json', 'tsconfig.json']) expect(ignored).not.toContain(entry);
  });
});
