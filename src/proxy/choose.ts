import type { ResponseOwner } from '../affinity/index.js';
import { withExclusions, type Exclusion, type PickContext, type RouteDecision, type Selector } from '../balancing/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { RequestState } from './request-state.js';

export type Choice = RouteDecision<Endpoint> | 'none' | 'busy';

/**
 * Picks a routable endpoint that has not been tried, honouring caps and the breaker's
 * half-open trial, and says why every other endpoint was left out.
 */
export function chooseEndpoint(selector: Selector, endpoints: readonly Endpoint[], pool: readonly Endpoint[], state: RequestState, sticky: string | undefined): Choice {
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
    const decision = selector.decide(candidates, ctx);
    if (!decision) return 'none';
    const picked = decision.endpoint;
    if (takeAttempt(selector, picked, state, ctx)) return withExclusions(decision, excluded);
    // Its half-open trial is taken by another request: leave it out of this pick.
    excluded.push({ endpoint: picked.name, reason: 'trial_in_use' });
    candidates = candidates.filter((ep) => ep !== picked);
  }
  return 'none';
}

/**
 * The endpoint of `pool` that stores the response `owner` says a request names (by name, and still
 * the same backend); undefined when none does (the fleet changed): the request is routed as any.
 */
export function holderOf(pool: readonly Endpoint[], owner: ResponseOwner | undefined): Endpoint | undefined {
  return owner && pool.find((ep) => ep.name === owner.endpoint && ep.baseUrl.href === owner.backend);
}

/**
 * The attempt of a request that names a stored response goes to the endpoint that stores it,
 * which alone can answer: any other would say 404, losing the client its conversation. 'busy'
 * when it is at its connection cap, 'none' when it cannot be routed to now or its attempt has
 * failed (the caller answers with that failure, or a 503 to retry later).
 */
export function chooseHolder(selector: Selector, pool: readonly Endpoint[], holder: Endpoint, state: RequestState): Choice {
  if (state.tried.has(holder.name) || holder.unroutableReason !== undefined) return 'none';
  if (holder.atCapacity) return 'busy';
  if (!takeAttempt(selector, holder, state, { model: state.catalogModel, prompt: state.prompt })) return 'none';
  const excluded = pool.filter((ep) => ep !== holder).map((ep): Exclusion => ({ endpoint: ep.name, reason: 'stored_elsewhere' }));
  return { endpoint: holder, reason: 'stored_response', excluded };
}

/**
 * Takes the attempt for `picked` when its breaker lets one through (the half-open trial, held by
 * this request, when it is half open); false when another request holds that trial. The attempt
 * goes there: only now may prefix-aware learn that it holds the prompt.
 */
function takeAttempt(selector: Selector, picked: Endpoint, state: RequestState, ctx: PickContext): boolean {
  const halfOpen = picked.breaker.state === 'half_open';
  if (!picked.breaker.tryAcquire()) return false;
  if (halfOpen) state.trialOf = picked;
  selector.sent(picked.name, ctx);
  return true;
}

/** Whether another attempt could find an endpoint. */
export function hasCandidate(pool: readonly Endpoint[], state: RequestState): boolean {
  return pool.some((ep) => !state.tried.has(ep.name) && ep.routable && !ep.atCapacity);
}
