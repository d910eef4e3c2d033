// The sluice.yaml files of the Kubernetes manifests, as their users will read and edit them.
// The base talks to one Service; the example overlay sits next to vLLM pods behind a headless
// Service. The Deployment's ports, probes and grace period are derived from these files.

/** The part every shipped file shares: listen on the pod's port, JSON logs with access lines. */
const SERVER_AND_LOGS = `server:
  host: 0.0.0.0
  port: 8080

logging:
  level: info
  access_log: true
`;

export const BASE_CONFIG = `# Sluice on Kubernetes: mounted from the ConfigMap sluice-config at /etc/sluice/sluice.yaml.
# Overlays replace this whole file (configMapGenerator with behavior: replace); a change
# gives the ConfigMap a new name, so the Deployment rolls out the new configuration.
# Every key: examples/sluice.yaml. Check a file with: sluice check-config sluice.yaml
${SERVER_AND_LOGS}
balancing:
  strategy: least-connections

endpoints:
  # A Service named vllm in the same namespace, port 8000.
  - name: vllm
    url: http://vllm:8000
    type: vllm
`;

/** `dnsDiscovery`: whether the config schema accepts `discover: dns` on an endpoint. */
export function exampleConfig({ namespace, service, port, dnsDiscovery }) {
  const endpoint = dnsDiscovery
    ? `endpoints:
  # The headless Service resolves to one address per ready vLLM pod. Sluice re-resolves it and
  # keeps one endpoint per address (vllm@10.0.0.5:${port}), each with its own health and metrics.
  - name: vllm
    url: http://${service}.${namespace}.svc.cluster.local:${port}
    type: vllm
    discover: dns
`
    : `endpoints:
  # The headless Service's name resolves to the ready vLLM pods; without DNS discovery Sluice
  # connects to whichever address the resolver returns first. List pods with stable names
  # (a StatefulSet: vllm-0.${service}, vllm-1.${service}, ...) as separate endpoints to balance them.
  - name: vllm
    url: http://${service}.${namespace}.svc.cluster.local:${port}
    type: vllm
`;
  return `# Sluice next to vLLM: replaces the base's sluice.yaml (configMapGenerator, behavior: replace).
# Every key: examples/sluice.yaml. Check a file with: sluice check-config sluice.yaml
${SERVER_AND_LOGS}
balancing:
  # Each request goes to the pod that already holds the longest part of its prompt (system
  # prompt and earlier turns) in its prefix cache, unless that pod is much busier than the
  # least loaded; every Sluice replica makes the same choice. Load comes from each pod's
  # vLLM /metrics (queue, KV cache), read every load.interval.
  strategy: prefix-aware

${endpoint}`;
}
