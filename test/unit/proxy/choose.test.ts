import { describe, expect, it } from 'vitest';
import { createSelector } from '../../../src/balancing/index.js';
import { validateConfig } from '../../../src/config/index.js';
import { Endpoint } from '../../../src/endpoints/endpoint.js';
import { chooseEndpoint, hasCandidate } from '../../../src/proxy/choose.js';
import { untracedRequest, type RequestState } from '../../../src/proxy/request-state.js';

function healthyFleet(names: string[]): Endpoint[] {
  const config = validateConfig({ endpoints: names.map((name, i) => ({ name, url: `http://127.0.0.1:${9000 + i}` })) });
  return config.endpoints.map((c) => {
    const ep = new Endpoint(c, config, () => 0);
    ep.health.recordCheck({ ok: true, latencyMs: 5 });
    return ep;
  });
}

function freshState(): RequestState {
  return { req: untracedRequest('r1'), flavour: 'openai', catalogModel: undefined, modelLabel: 'none', operation: 'chat', streamRequested: false, tried: new Set(), attempts: 0 };
}

describe('choosing an endpoint for an attempt', () => {
  it('never picks an endpoint a reload took out of the fleet, though its health still reads routable, and says why', () => {
    const [a, b] = healthyFleet(['a', 'b']);
    // A request that began before the reload retries with the fleet it started with.
    const fleet = [a!, b!];
    b!.retire();
    const state = freshState();
    for (let i = 0; i < 10; i++) {
      const choice = chooseEndpoint(createSelector('round-robin'), fleet, fleet, state, undefined);
      expect(choice).not.toBe('none');
      if (typeof choice === 'string') return;
      expect(choice.endpoint.name).toBe('a');
      expect(choice.excluded).toContainEqual({ endpoint: 'b', reason: 'retired' });
    }
    state.tried.add('a');
    expect(hasCandidate(fleet, state)).toBe(false);
    expect(chooseEndpoint(createSelector('round-robin'), fleet, fleet, state, undefined)).toBe('none');
  });
});
