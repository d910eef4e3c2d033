/**
 * Queue scorer: an endpoint's requests per unit of weight, counting the one about to be sent
 * (Envoy's least_request cost), relative to the least loaded candidate. 1 for the least
 * loaded, 1/2 for one with twice its load. Relative rather than min-max (llm-d), so that one
 * request more on an idle fleet does not swing the score from 1 to 0.
 *
 * The counts compared must be of one kind (`queueRequests`): the backend's own count (what the
 * load board makes of its report, fresh or, as a floor, stale) includes every Sluice replica's
 * and other clients' requests, Sluice's in-flight count only its own.
 *
 * @param requests the endpoint's requests, as `queueRequests` gives them
 * @param lowestCost the smallest `queueCost` among the candidates
 */
export function queueScore(requests: number, weight: number, lowestCost: number): number {
  return lowestCost / queueCost(requests, weight);
}

export function queueCost(requests: number, weight: number): number {
  return (Math.max(0, requests) + 1) / weight;
}

/**
 * The requests the queue scorer counts for one candidate: the backend's count when every
 * candidate has one (`allReport`), otherwise, to compare like with like as the KV-cache scorer
 * does, Sluice's own in-flight count for all of them. Scored against the backends' counts, an
 * endpoint without one (no load source, no report yet, a source that does not count requests)
 * would look as idle as this replica's share of its load: with two replicas, twice as idle.
 *
 * @param reported the backend's requests as the load board gives them; undefined when it has none
 * @param own Sluice's requests in flight there
 * @param allReport whether every candidate has a backend count
 */
export function queueRequests(reported: number | undefined, own: number, allReport: boolean): number {
  return allReport && reported !== undefined ? reported : own;
}
