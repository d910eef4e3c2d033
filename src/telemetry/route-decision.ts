import type { Attributes } from '@opentelemetry/api';
import type { RouteDecision } from '../balancing/index.js';

/** Scores shown per decision: the best ones, so a span stays small with many endpoints. */
const SCORES_SHOWN = 8;

/**
 * A routing decision as span attributes (and debug-log fields): the reason, the chosen
 * endpoint's scores and the best candidates' totals, the endpoints excluded with why, and the
 * ones scored on Sluice's own counts because their load data was stale.
 */
export function routeAttributes(decision: RouteDecision<{ readonly name: string }>): Attributes {
  const attributes: Attributes = { 'sluice.route.reason': decision.reason };
  const scores = decision.scores?.();
  if (scores) {
    const chosen = scores.find((s) => s.endpoint === decision.endpoint.name);
    if (chosen) {
      attributes['sluice.route.score'] = round(chosen.total);
      attributes['sluice.route.score.queue'] = round(chosen.queue);
      attributes['sluice.route.score.kv_cache'] = round(chosen.kvCache);
      attributes['sluice.route.score.prefix'] = round(chosen.prefix);
      attributes['sluice.route.score.resident'] = round(chosen.resident);
    }
    attributes['sluice.route.scores'] = [...scores].sort((a, b) => b.total - a.total).slice(0, SCORES_SHOWN).map((s) => `${s.endpoint}=${round(s.total)}`).join(',');
    const stale = scores.filter((s) => s.staleLoad).map((s) => s.endpoint);
    if (stale.length > 0) attributes['sluice.route.stale_load'] = stale.join(',');
  }
  if (decision.prefixBlocks !== undefined) attributes['sluice.route.prefix_blocks'] = decision.prefixBlocks;
  if (decision.excluded && decision.excluded.length > 0) attributes['sluice.route.excluded'] = decision.excluded.map((e) => `${e.endpoint}:${e.reason}`).join(',');
  return attributes;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
