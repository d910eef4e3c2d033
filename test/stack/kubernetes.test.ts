/**
 * deploy/kubernetes/: up to date with its generator, every object valid against its schema,
 * the Sluice configurations accepted by `sluice check-config`, the monitoring objects in step
 * with the shipped rules and dashboards, the probes answered by a real Sluice, and the base and
 * overlay rendered by `kubectl kustomize` when kubectl is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { startModelServer, startSluice, stopAll, waitFor } from '../helpers/processes.js';
import { DASHBOARD_DIR, loadRuleFile, ROOT } from './dashboard-queries.js';
import { SLUICE_METRICS } from './metric-contract.js';
import { hasTool } from './tools.js';

afterAll(stopAll);

const DEPLOY_DIR = join(ROOT, 'deploy/kubernetes');
const BUILT = existsSync(join(ROOT, 'dist/cli.js'));
const KUBECTL = hasTool('kubectl');
// The liveness route is checked against a real Sluice once this tree serves it.
const LIVE_ROUTE = readdirSync(join(ROOT, 'src/api')).some((f) => readFileSync(join(ROOT, 'src/api', f), 'utf8').includes("'/internal/live'"));
if (!LIVE_ROUTE) console.info('Sluice does not serve /internal/live yet: the liveness probe path is not checked against a real process');
if (!KUBECTL) console.info('kubectl is not installed: the kubectl kustomize checks of deploy/kubernetes/ are skipped');
/** Labels the Prometheus Operator puts on every target it scrapes through a ServiceMonitor. */
const OPERATOR_TARGET_LABELS = ['namespace', 'service', 'pod', 'container', 'endpoint'];
/** kubectl apply (client side) keeps the whole object in an annotation limited to 256 KiB. */
const LAST_APPLIED_LIMIT = 262_144;

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: unknown };
type Kustomization = { resources?: string[]; components?: string[]; configMapGenerator?: Array<{ name: string; behavior?: string; files: string[] }> };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Paths of the files under `root`, relative to it. */
function filesUnder(root: string, dir = root): string[] {
  return readdirSync(dir)
    .flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesUnder(root, join(dir, name)) : [relative(root, join(dir, name))]))
    .sort();
}

function objectsOf(text: string): K8sObject[] {
  return parseAllDocuments(text).map((doc) => doc.toJS() as K8sObject).filter(Boolean);
}

/** The objects a kustomization directory lists, plus the ConfigMaps its generator makes. */
function declaredObjects(dir: string): K8sObject[] {
  const kustomization = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const resources = (kustomization.resources ?? []).filter((r) => r.endsWith('.yaml')).flatMap((r) => objectsOf(readFileSync(join(dir, r), 'utf8')));
  const generated = (kustomization.configMapGenerator ?? []).map((g) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: g.name },
    data: Object.fromEntries(g.files.map((f) => [f, readFileSync(join(dir, f), 'utf8')])),
  }));
  return [...resources, ...generated];
}

function validationError(object: K8sObject): string | undefined {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return `${object.apiVersion} ${object.kind} ${object.metadata.name}: no schema known to this test`;
  try {
    new Model(object as never).validate();
    return undefined;
  } catch (err) {
    return `${object.kind} ${object.metadata.name}: ${(err as Error).message}`;
  }
}

function find<T = K8sObject>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found.length, `${kind} ${name ?? ''}`).toBe(1);
  return found[0] as T;
}

function checkConfig(text: string): { status: number | null; output: string; effective: Record<string, Record<string, unknown>> } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-k8s-config-'));
  try {
    writeFileSync(join(dir, 'sluice.yaml'), text);
    const result = spawnSync(process.execPath, ['dist/cli.js', 'check-config', join(dir, 'sluice.yaml')], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 });
    const effective = result.status === 0 ? (parseYaml(result.stdout) as Record<string, Record<string, unknown>>) : {};
    return { status: result.status, output: `${result.stdout}${result.stderr}`, effective };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const m of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * units[m[2]!]!;
  return total;
}

const base = declaredObjects(join(DEPLOY_DIR, 'base'));
const monitoring = declaredObjects(join(DEPLOY_DIR, 'components/prometheus-operator'));
const overlay = declaredObjects(join(DEPLOY_DIR, 'overlays/example'));

describe('deploy/kubernetes/', () => {
  it.skipIf(!BUILT)('is generated by scripts/k8s/generate.mjs and up to date', () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-k8s-'));
    try {
      const result = spawnSync(process.execPath, ['scripts/k8s/generate.mjs', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 });
      expect(result.status, result.stderr).toBe(0);
      expect(filesUnder(DEPLOY_DIR)).toEqual(filesUnder(out));
      for (const file of filesUnder(out)) {
        expect(readFileSync(join(DEPLOY_DIR, file), 'utf8'), `${file} is stale: run npm run k8s:generate`).toBe(readFileSync(join(out, file), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);

  it('holds only objects valid against their Kubernetes and Prometheus Operator schemas', () => {
    const all = [...base, ...monitoring, ...overlay];
    expect(all.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'ConfigMap', 'ConfigMap', 'ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'Service', 'ServiceMonitor'].sort(),
    );
    expect(all.map(validationError).filter(Boolean)).toEqual([]);
    // The validation has teeth: a wrongly typed field is refused.
    const broken = structuredClone(find(base, 'Deployment')) as K8sObject & { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(validationError(broken)).toMatch(/replicas/);
  });

  it('runs two replicas with probes, resources, a locked-down security context and a PodDisruptionBudget', () => {
    const deployment = find<Deployment>(base, 'Deployment', 'sluice');
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(deployment.spec!.replicas).toBe(2);
    expect(container.readinessProbe?.httpGet).toMatchObject({ path: '/internal/health', port: 'http' });
    expect(container.livenessProbe?.httpGet).toMatchObject({ path: '/internal/live', port: 'http' });
    expect(container.ports).toEqual([expect.objectContaining({ name: 'http', containerPort: 8080 })]);
    for (const kind of ['requests', 'limits'] as const) expect(Object.keys(container.resources?.[kind] ?? {}).sort(), kind).toEqual(['cpu', 'memory']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    // The image's user is a name (node); the kubelet can only check runAsNonRoot with a number.
    expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // The config comes from the generated ConfigMap, mounted where the image looks for it.
    expect(pod.volumes).toContainEqual({ name: 'config', configMap: { name: 'sluice-config' } });
    expect(container.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/sluice', readOnly: true });
    expect(container.args).toEqual(['node', 'dist/cli.js', '--config', '/etc/sluice/sluice.yaml']);

    const pdb = find<PodDisruptionBudget>(base, 'PodDisruptionBudget', 'sluice');
    expect(pdb.spec!.selector).toEqual(deployment.spec!.selector);
    expect(pdb.spec!.maxUnavailable).toBe(1);
    const svc = find<Service>(base, 'Service', 'sluice');
    expect(svc.spec!.selector).toEqual(deployment.spec!.selector.matchLabels);
    expect(svc.spec!.ports).toEqual([expect.objectContaining({ name: 'http', port: 8080, targetPort: 'http' })]);
  });

  describe.skipIf(!BUILT)('with the built CLI', () => {
    it('ships Sluice configurations that check-config accepts, with a drain shorter than the grace period', () => {
      const pod = find<Deployment>(base, 'Deployment').spec!.template.spec!;
      const preStop = Number(pod.containers[0]!.lifecycle?.preStop?.exec?.command?.at(-1));
      for (const objects of [base, overlay]) {
        const text = find<ConfigMap>(objects, 'ConfigMap', 'sluice-config').data!['sluice.yaml']!;
        const { status, output, effective } = checkConfig(text);
        expect(status, output).toBe(0);
        expect(effective.server).toMatchObject({ port: 8080, admin_port: null });
        const drain = seconds(String(effective.server!.shutdown_grace ?? '30s'));
        expect(pod.terminationGracePeriodSeconds!).toBeGreaterThan(preStop + drain);
      }
    }, 180_000);

    it('probes routes a real Sluice answers on the probed port', async () => {
      const server = await startModelServer('vllm', ['m:1']);
      const text = find<ConfigMap>(base, 'ConfigMap', 'sluice-config').data!['sluice.yaml']!;
      const container = find<Deployment>(base, 'Deployment').spec!.template.spec!.containers[0]!;
      const sluice = await startSluice((port) => {
        const config = parseYaml(text) as { server: Record<string, unknown>; endpoints: Array<Record<string, unknown>> };
        config.server = { ...config.server, host: '127.0.0.1', port };
        config.endpoints = config.endpoints.map((e) => ({ ...e, url: server.url, type: 'openai', health_path: '/health', check_interval: '200ms' }));
        return stringifyYaml(config);
      }, {}, false);
      for (const probe of LIVE_ROUTE ? [container.readinessProbe!, container.livenessProbe!] : [container.readinessProbe!]) {
        expect(probe.httpGet!.port).toBe('http');
        await waitFor(async () => (await fetch(`${sluice.url}${probe.httpGet!.path}`)).status === 200, 90_000, `200 from ${probe.httpGet!.path}`);
      }
    }, 240_000);
  });

  it('lets the Prometheus Operator scrape the Service as job "sluice" with Sluice\'s own endpoint label', () => {
    const monitor = find<ServiceMonitor>(monitoring, 'ServiceMonitor', 'sluice');
    const svc = find<Service>(base, 'Service', 'sluice');
    expect(svc.metadata!.labels).toMatchObject(monitor.spec.selector.matchLabels!);
    const endpoint = monitor.spec.endpoints![0]!;
    expect(svc.spec!.ports!.map((p) => p.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe('/metrics');
    // SluiceDown looks for job="sluice"; the job comes from the Service label named by jobLabel.
    expect(loadRuleFile('alerts.yml').groups.flatMap((g) => g.rules).find((r) => r.alert === 'SluiceDown')?.expr).toContain('job="sluice"');
    expect(svc.metadata!.labels![monitor.spec.jobLabel!]).toBe('sluice');
    // Target labels that collide with Sluice's would be renamed exported_<label> in every series.
    const colliding = OPERATOR_TARGET_LABELS.filter((label) => SLUICE_METRICS.some((m) => m.labels.includes(label)));
    expect(colliding).toEqual(['endpoint']);
    const dropped = (endpoint.relabelings ?? []).filter((r) => r.action === 'labeldrop').map((r) => new RegExp(`^(?:${r.regex})$`));
    for (const label of colliding) expect(dropped.some((re) => re.test(label)), label).toBe(true);
  });

  it('carries the shipped recording and alerting rules in the PrometheusRule', () => {
    const rule = find<PrometheusRule>(monitoring, 'PrometheusRule', 'sluice');
    const config = parseYaml(readFileSync(join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as { rule_files: string[] };
    expect(rule.spec.groups).toEqual(config.rule_files.flatMap((file) => loadRuleFile(file).groups));
    expect(rule.metadata!.labels).toMatchObject({ release: 'kube-prometheus-stack' });
  });

  it('carries every dashboard, as it is, in a ConfigMap for the Grafana sidecar', () => {
    const maps = monitoring.filter((o) => o.kind === 'ConfigMap') as unknown as ConfigMap[];
    const files = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort();
    expect(maps.flatMap((m) => Object.keys(m.data ?? {})).sort()).toEqual(files);
    for (const map of maps) {
      expect(map.metadata!.labels).toMatchObject({ grafana_dashboard: '1' });
      for (const [file, text] of Object.entries(map.data!)) expect(text, file).toBe(readFileSync(join(DASHBOARD_DIR, file), 'utf8'));
      expect(JSON.stringify(map).length, map.metadata!.name).toBeLessThan(LAST_APPLIED_LIMIT);
    }
  });

  it('puts the example overlay next to vLLM behind a headless Service the Sluice config names', () => {
    const vllm = find<Service>(overlay, 'Service', 'vllm');
    expect(vllm.spec!.clusterIP).toBe('None');
    const namespace = (parseYaml(readFileSync(join(DEPLOY_DIR, 'overlays/example/kustomization.yaml'), 'utf8')) as { namespace: string }).namespace;
    const config = parseYaml(find<ConfigMap>(overlay, 'ConfigMap', 'sluice-config').data!['sluice.yaml']!) as { endpoints: Array<{ url: string }> };
    const port = vllm.spec!.ports![0]!.port;
    expect(config.endpoints.map((e) => e.url)).toContain(`http://vllm.${namespace}.svc.cluster.local:${port}`);
  });

  describe.skipIf(!KUBECTL)('rendered by kubectl kustomize', () => {
    const render = (dir: string) => spawnSync('kubectl', ['kustomize', join(DEPLOY_DIR, dir)], { encoding: 'utf8', timeout: 90_000 });

    it.each(['base', 'overlays/example'])('%s renders into valid objects', (dir) => {
      const result = render(dir);
      expect(result.status, result.stderr).toBe(0);
      const objects = objectsOf(result.stdout);
      expect(objects.map(validationError).filter(Boolean)).toEqual([]);
      // The Deployment mounts the generated ConfigMap under its hashed name.
      const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('sluice-config-'))!;
      const deployment = find<Deployment>(objects, 'Deployment', 'sluice');
      expect(deployment.spec!.template.spec!.volumes).toContainEqual({ name: 'config', configMap: { name: configMap.metadata.name } });
      if (BUILT) {
        const check = checkConfig((configMap as unknown as ConfigMap).data!['sluice.yaml']!);
        expect(check.status, check.output).toBe(0);
      }
    }, 180_000);

    it('the overlay puts everything in its namespace, with its config and image', () => {
      const objects = objectsOf(render('overlays/example').stdout);
      expect(objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== 'inference').map((o) => o.metadata.name)).toEqual([]);
      expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['ServiceMonitor', 'PrometheusRule', 'PodDisruptionBudget']));
      const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('sluice-config-')) as unknown as ConfigMap;
      expect(configMap.data!['sluice.yaml']).toBe(readFileSync(join(DEPLOY_DIR, 'overlays/example/sluice.yaml'), 'utf8'));
      expect(find<Deployment>(objects, 'Deployment').spec!.template.spec!.containers[0]!.image).toMatch(/^registry\.example\.com\/sluice:/);
    }, 120_000);
  });

});
