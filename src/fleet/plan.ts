import type { EndpointConfig } from '../config/index.js';

/** What the plan needs of a running endpoint. */
export interface RunningMember {
  readonly name: string;
  sameBackend(config: EndpointConfig): boolean;
}

export interface FleetPlan<E extends RunningMember> {
  /** Running endpoints that stay, with the configuration to apply to them in place. */
  readonly keep: ReadonlyArray<{ readonly endpoint: E; readonly config: EndpointConfig }>;
  /** Configurations that need a new endpoint (new name, or the name now points at another backend). */
  readonly create: readonly EndpointConfig[];
  /** Running endpoints that leave (removed, or replaced by another backend under the same name): drained. */
  readonly retire: readonly E[];
}

/**
 * Matches the wanted endpoint configurations against the running endpoints by name. A name
 * whose backend is unchanged (same URL, credentials aside) keeps its endpoint and all its
 * state; anything else is created or retired.
 */
export function planFleet<E extends RunningMember>(running: readonly E[], wanted: readonly EndpointConfig[]): FleetPlan<E> {
  const byName = new Map(running.map((ep) => [ep.name, ep]));
  const keep: Array<{ endpoint: E; config: EndpointConfig }> = [];
  const create: EndpointConfig[] = [];
  const kept = new Set<E>();
  for (const config of wanted) {
    const endpoint = byName.get(config.name);
    if (endpoint && endpoint.sameBackend(config)) {
      keep.push({ endpoint, config });
      kept.add(endpoint);
    } else {
      create.push(config);
    }
  }
  return { keep, create, retire: running.filter((ep) => !kept.has(ep)) };
}
