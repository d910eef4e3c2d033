import type { ResponseOwner } from '../affinity/index.js';
import { withExclusions, type Exclusion, type RouteDecision, type Selector } from '../balancing/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { RequestState } from './request-state.js';

export type Choice = RouteDecision<Endpoint> | 'none' | 'busy';

/**
 * Picks a routable endpoint that has not been tried, honouring caps and the breaker's
 * half-open trial, and says why every other endpoint was left out. The `owner` of a stored
 * response the request names goes first when it is a candidate; otherwise the selector chooses
 * (and the backend it chooses answers that it does not know the response).
 */
export function chooseEndpoint(selector: Selector, endpoints: readonly Endpoint[], pool: readonly Endpoint[], state: RequestState, sticky: string | undefined, owner?: ResponseOwner): Choice {
  const excluded: Exclusion[] = [];
  let candidates: Endpoint[] = [];
  let busy = false;
  for (const ep of pool) {
    const reason = state.tried.has(ep.name) ? 'already_tried' : (ep.unroutableReason ?? (ep.atCapacity ? 'at_capacity' : undefined));
    if (reason === undefined) candidates.push(ep);
    else excluded.push({ endpoint: ep.name, reason });
    if (reason === 'at_capacity') busy = true;
  }
  if (pool.length !== endpoints.length) {
    for (const ep of endpoints) if (!pool.includes(ep)) excluded.push({ endpoint: ep.name, reason: 'model_not_served' });
  }
  if (candidates.length === 0) return busy ? 'busy' : 'none';
  const ctx = { stickyKey: sticky, model: state.catalogModel, prompt: state.prompt };
  while (candidates.length > 0) {
    const decision = (owner && ownerAmong(candidates, owner)) || selector.decide(candidates, ctx);
    if (!decision) return 'none';
    const picked = decision.endpoint;
    const halfOpen = picked.breaker.state === 'half_open';
    if (picked.breaker.tryAcquire()) {
      if (halfOpen) state.trialOf = picked;
      // The attempt goes there: only now may prefix-aware learn that it holds the prompt.
      selector.sent(picked.name, ctx);
      return withExclusions(decision, excluded);
    }
    // Its half-open trial is taken by another request: leave it out of this pick.
    excluded.push({ endpoint: picked.name, reason: 'trial_in_use' });
    candidates = candidates.filter((ep) => ep !== picked);
  }
  return 'none';
}

/** The owner of a stored response, when it is among the candidates (by name, and still the same backend). */
function ownerAmong(candidates: readonly Endpoint[], owner: ResponseOwner): RouteDecision<Endpoint> | undefined {
  const endpoint = candidates.find((ep) => ep.name === owner.endpoint && ep.baseUrl.href === owner.backend);
  return endpoint && { endpoint, reason: 'stored_response' };
}

/** Whether another attempt could find an endpoint. */
export function hasCandidate(pool: readonly Endpoint[], state: RequestState): boolean {
  return pool.some((ep) => !state.tried.has(ep.name) && ep.routable && !ep.atCapacity);
}
