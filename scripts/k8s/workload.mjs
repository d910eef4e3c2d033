// The core objects of the base: Deployment, Service and PodDisruptionBudget. Ports, probes and
// the termination grace period follow the effective Sluice configuration they run.

export const APP = 'sluice';
export const CONFIG_MAP = 'sluice-config';
export const IMAGE = 'sluice';
export const LABELS = { 'app.kubernetes.io/name': APP, 'app.kubernetes.io/component': 'load-balancer' };
const SELECTOR = { 'app.kubernetes.io/name': APP };

export const READINESS_PATH = '/internal/health';
export const LIVENESS_PATH = '/internal/live';
export const METRICS_PATH = '/metrics';
/** Seconds the pod keeps serving after it is marked terminating, while Services drop it. */
export const PRE_STOP_SECONDS = 5;
/** Slack after Sluice's own drain before the kubelet kills the container. */
const GRACE_MARGIN_SECONDS = 10;
/** The image runs as the `node` user (uid and gid 1000 in the official Node.js images). */
const NODE_UID = 1000;

/** Port name that serves /metrics and /internal/*: `admin` when server.admin_port is set. */
export function adminPortName(config) {
  return config.server.admin_port === null ? 'http' : 'admin';
}

/** Seconds between SIGTERM-to-be and SIGKILL: the pre-stop pause, Sluice's drain, a margin. */
export function terminationGraceSeconds(drainMs) {
  return PRE_STOP_SECONDS + Math.ceil(drainMs / 1000) + GRACE_MARGIN_SECONDS;
}

export function deployment({ config, drainMs, version }) {
  const ports = [{ name: 'http', containerPort: config.server.port, protocol: 'TCP' }];
  if (config.server.admin_port !== null) ports.push({ name: 'admin', containerPort: config.server.admin_port, protocol: 'TCP' });
  const probePort = adminPortName(config);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: APP, labels: LABELS },
    spec: {
      replicas: 2,
      revisionHistoryLimit: 5,
      selector: { matchLabels: SELECTOR },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: LABELS, annotations: { 'kubectl.kubernetes.io/default-container': APP } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: terminationGraceSeconds(drainMs),
          securityContext: { runAsNonRoot: true, runAsUser: NODE_UID, runAsGroup: NODE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: SELECTOR } },
          ],
          containers: [
            {
              name: APP,
              image: `${IMAGE}:${version}`,
              imagePullPolicy: 'IfNotPresent',
              args: ['node', 'dist/cli.js', '--config', '/etc/sluice/sluice.yaml'],
              ports,
              readinessProbe: { httpGet: { path: READINESS_PATH, port: probePort }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
              livenessProbe: { httpGet: { path: LIVENESS_PATH, port: probePort }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
              lifecycle: { preStop: { exec: { command: ['sleep', String(PRE_STOP_SECONDS)] } } },
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '2', memory: '512Mi' } },
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [
                { name: 'config', mountPath: '/etc/sluice', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: CONFIG_MAP } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}

export function service(config) {
  const ports = [{ name: 'http', port: config.server.port, targetPort: 'http', protocol: 'TCP' }];
  if (config.server.admin_port !== null) ports.push({ name: 'admin', port: config.server.admin_port, targetPort: 'admin', protocol: 'TCP' });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: APP, labels: LABELS },
    spec: { type: 'ClusterIP', selector: SELECTOR, ports },
  };
}

export function podDisruptionBudget() {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: APP, labels: LABELS },
    spec: { maxUnavailable: 1, selector: { matchLabels: SELECTOR } },
  };
}
