import type { Endpoint } from '../endpoints/index.js';
import type { ConfigMessage, HealthMessage, LoadMessage, ModelsMessage, StateMessage } from './messages.js';
import type { ControlView } from './side.js';

export function healthMessage(endpoint: Endpoint, nextCheckInMs: number, now: number): HealthMessage {
  return { type: 'sluice:health', endpoint: endpoint.name, health: endpoint.health.snapshot(), nextCheckAt: now + nextCheckInMs };
}

/** The model lists of the endpoints whose models are known; one that has never listed is left out (see ModelsMessage). */
export function modelsMessage(endpoints: readonly Endpoint[], primed: boolean): ModelsMessage {
  return { type: 'sluice:models', models: new Map(endpoints.filter((ep) => ep.modelsKnown).map((ep) => [ep.name, [...ep.models]])), primed };
}

/** The board's latest report of the endpoint and, when scrapes fail since, the failure. */
export function loadMessages(view: Pick<ControlView, 'board'>, endpoint: string): LoadMessage[] {
  const load = view.board.get(endpoint);
  if (!load) return [];
  const out: LoadMessage[] = [];
  if (load.report) out.push({ type: 'sluice:load', endpoint, report: load.report });
  if (load.failures > 0) out.push({ type: 'sluice:load', endpoint, error: load.lastError ?? 'scrape failed' });
  return out;
}

/**
 * Everything a (re)started worker needs, in the order it applies it: the configuration first, with
 * what the cluster started with (`listen`, the `server.*` settings its listeners bind with, and `startedAt`).
 */
export function fullState(view: ControlView, now: number, start: Pick<ConfigMessage, 'listen' | 'startedAt' | 'apiKeys'> = {}): StateMessage[] {
  return [
    { type: 'sluice:config', config: view.config, answers: view.answers, reload: false, ...start },
    ...view.endpoints.map((ep) => healthMessage(ep, view.nextCheckInMs(ep), now)),
    modelsMessage(view.endpoints, view.primed),
    ...view.endpoints.flatMap((ep) => loadMessages(view, ep.name)),
    { type: 'sluice:response-owners', entries: view.responseOwners() },
  ];
}
