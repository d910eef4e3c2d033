// The sluice.yaml files of the Kubernetes manifests, as their users will read and edit them.
// The base talks to one Service; the example overlay sits next to vLLM pods behind a headless
// Service. The Deployment's ports, probes and grace period are derived from these files.

export const BASE_CONFIG = `# Sluice on Kubernetes: mounted from the ConfigMap sluice-config at /etc/sluice/sluice.yaml.
# Overlays replace this whole file (configMapGenerator with behavior: replace); a change
# gives the ConfigMap a new name, so the Deployment rolls out the new configuration.
# Every key: examples/sluice.yaml. Check a file with: sluice check-config sluice.yaml
server:
  host: 0.0.0.0
  port: 8080

logging:
  level: info
  access_log: true

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
server:
  host: 0.0.0.0
  port: 8080

logging:
  level: info
  access_log: true

balancing:
  strategy: least-connections
  # Requests carrying the same X-Session-Id go to the same vLLM pod through every Sluice
  # replica (rendezvous hashing over the same endpoints), so a conversation keeps its
  # prefix cache; requests without the header are balanced normally.
  sticky:
    key: header:X-Session-Id

${endpoint}`;
}
