import type { Selector } from '../balancing/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { RequestState } from './request-state.js';

export type Choice = Endpoint | 'none' | 'busy';

/** Picks a routable endpoint that has not been tried, honouring caps and the breaker's half-open trial. */
export function chooseEndpoint(selector: Selector, pool: readonly Endpoint[], state: RequestState, sticky: string | undefined): Choice {
  let candidates = pool.filter((ep) => !state.tried.has(ep.name) && ep.routable);
  if (candidates.length === 0) return 'none';
  candidates = candidates.filter((ep) => !ep.atCapacity);
  if (candidates.length === 0) return 'busy';
  while (candidates.length > 0) {
    const picked = selector.select(candidates, sticky === undefined ? undefined : { stickyKey: sticky });
    if (!picked) return 'none';
    const halfOpen = picked.breaker.state === 'half_open';
    if (picked.breaker.tryAcquire()) {
      if (halfOpen) state.trialOf = picked;
      return picked;
    }
    // Its half-open trial is taken by another request: leave it out of this pick.
    candidates = candidates.filter((ep) => ep !== picked);
  }
  return 'none';
}

/** Whether another attempt could find an endpoint. */
export function hasCandidate(pool: readonly Endpoint[], state: RequestState): boolean {
  return pool.some((ep) => !state.tried.has(ep.name) && ep.routable && !ep.atCapacity);
}
