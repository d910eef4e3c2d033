/**
 * Queue scorer: an endpoint's requests per unit of weight, counting the one about to be sent
 * (Envoy's least_request cost), relative to the least loaded candidate. 1 for the least
 * loaded, 1/2 for one with twice its load. Relative rather than min-max (llm-d), so that one
 * request more on an idle fleet does not swing the score from 1 to 0.
 *
 * @param requests the endpoint's requests (backend-reported plus sent since, or Sluice's own)
 * @param lowestCost the smallest `queueCost` among the candidates
 */
export function queueScore(requests: number, weight: number, lowestCost: number): number {
  return lowestCost / queueCost(requests, weight);
}

export function queueCost(requests: number, weight: number): number {
  return (Math.max(0, requests) + 1) / weight;
}
