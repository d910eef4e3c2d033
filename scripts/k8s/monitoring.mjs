// The Prometheus Operator's objects (ServiceMonitor, PrometheusRule) and the Grafana dashboards
// as ConfigMaps for kube-prometheus-stack's dashboard sidecar, read from the shipped
// prometheus/*.yml and dashboards/*.json at generation time.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { APP, LABELS, METRICS_PATH } from './workload.mjs';

/** kube-prometheus-stack selects ServiceMonitors and PrometheusRules by its release's name. */
export const RELEASE_LABEL = { release: 'kube-prometheus-stack' };
/** Rule files in the order prometheus/prometheus.yml loads them. */
export const RULE_FILES = ['rules.yml', 'slo.yml', 'alerts.yml'];

export function serviceMonitor(portName) {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: APP, labels: { ...LABELS, ...RELEASE_LABEL } },
    spec: {
      // job="sluice" (what the rules expect) whatever name prefix an overlay gives the Service.
      jobLabel: 'app.kubernetes.io/name',
      selector: { matchLabels: { 'app.kubernetes.io/name': APP } },
      endpoints: [
        {
          port: portName,
          path: METRICS_PATH,
          interval: '15s',
          scrapeTimeout: '10s',
          // The operator labels every target with `endpoint` (the Service port's name), which
          // would rename Sluice's own `endpoint` label to `exported_endpoint`; drop the target's.
          relabelings: [{ action: 'labeldrop', regex: 'endpoint' }],
        },
      ],
    },
  };
}

export function prometheusRule(prometheusDir) {
  const groups = RULE_FILES.flatMap((file) => parseYaml(readFileSync(join(prometheusDir, file), 'utf8')).groups);
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: APP, labels: { ...LABELS, ...RELEASE_LABEL } },
    spec: { groups },
  };
}

/** One ConfigMap per dashboard (each stays far below the 256 KiB a client-side apply can store). */
export function dashboardConfigMaps(dashboardDir) {
  return readdirSync(dashboardDir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: `${APP}-dashboard-${file.replace(/^sluice-/, '').replace(/\.json$/, '')}`,
        labels: { ...LABELS, grafana_dashboard: '1' },
        // Folder for sidecars configured with folderAnnotation: grafana_folder.
        annotations: { grafana_folder: 'Sluice' },
      },
      data: { [file]: readFileSync(join(dashboardDir, file), 'utf8') },
    }));
}
