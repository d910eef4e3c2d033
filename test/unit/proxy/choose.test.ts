import { describe, expect, it } from 'vitest';
import { createSelector, type PromptFacts } from '../../../src/balancing/index.js';
import { validateConfig } from '../../../src/config/index.js';
import { Endpoint } from '../../../src/endpoints/endpoint.js';
import type { LoadFacts } from '../../../src/load/index.js';
import { chooseEndpoint, chooseHolder, hasCandidate, holderOf } from '../../../src/proxy/choose.js';
import { untracedRequest, type RequestState } from '../../../src/proxy/request-state.js';

function healthyFleet(names: string[], now: () => number = () => 0): Endpoint[] {
  const config = validateConfig({ endpoints: names.map((name, i) => ({ name, url: `http://127.0.0.1:${9000 + i}` })) });
  return config.endpoints.map((c) => {
    const ep = new Endpoint(c, config, now);
    ep.health.recordCheck({ ok: true, latencyMs: 5 });
    return ep;
  });
}

function freshState(prompt?: PromptFacts): RequestState {
  return { req: untracedRequest('r1'), flavour: 'openai', catalogModel: undefined, modelLabel: 'none', operation: 'chat', streamRequested: false, tried: new Set(), attempts: 0, prompt };
}

const NO_REPORT: LoadFacts = { requests: undefined, kvUsage: undefined, tokens: 0, resident: undefined, stale: false };

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

  it('prefix-aware: a pick whose half-open trial is taken claims no prompt blocks; the endpoint the request goes to does', () => {
    let now = 0;
    const fleet = healthyFleet(['a', 'b'], () => now);
    const prompt: PromptFacts = { blocks: [101, 102, 103], tokens: 192 };
    const rendezvous = createSelector('prefix-aware').decide(fleet, { prompt })!.endpoint;
    const other = fleet.find((ep) => ep !== rendezvous)!;
    // The rendezvous choice's breaker opens, and its open period ends: half-open, its trial free.
    for (let i = 0; i < 5; i++) rendezvous.breaker.recordFailure(false);
    now = 30_000;
    expect(rendezvous.unroutableReason).toBeUndefined();
    // Another request takes the trial after this one's candidates were listed (while it is scored).
    let raced = false;
    const selector = createSelector('prefix-aware', {
      load: (name) => {
        if (name === rendezvous.name && !raced) raced = rendezvous.breaker.tryAcquire();
        return NO_REPORT;
      },
    });
    const choice = chooseEndpoint(selector, fleet, fleet, freshState(prompt), undefined);
    expect(raced).toBe(true);
    if (typeof choice === 'string') throw new Error(`expected an endpoint, got ${choice}`);
    expect(choice.endpoint).toBe(other);
    expect(choice.excluded).toContainEqual({ endpoint: rendezvous.name, reason: 'trial_in_use' });
    // Only the endpoint that got the request is believed to hold its blocks.
    const matched = new Int32Array(2);
    selector.prefixIndex!.match(prompt.blocks, fleet.map((ep) => ep.name), matched);
    expect(matched[fleet.indexOf(other)]).toBe(3);
    expect(matched[fleet.indexOf(rendezvous)]).toBe(0);
  });

  it('a request naming a stored response goes to the endpoint that stores it, or to none: busy at its cap, none when it cannot be routed to or its attempt failed', () => {
    const fleet = healthyFleet(['a', 'b', 'c']);
    const b = fleet[1]!;
    const selector = createSelector('round-robin');
    expect(holderOf(fleet, { endpoint: 'b', backend: b.baseUrl.href })).toBe(b);
    // Another backend under the name now, or a name no longer in the fleet: no holder, routed as any request.
    expect(holderOf(fleet, { endpoint: 'b', backend: 'http://127.0.0.1:9999/' })).toBeUndefined();
    expect(holderOf(fleet, { endpoint: 'gone', backend: b.baseUrl.href })).toBeUndefined();
    expect(holderOf(fleet, undefined)).toBeUndefined();
    for (let i = 0; i < 4; i++) {
      const choice = chooseHolder(selector, fleet, b, freshState());
      if (typeof choice === 'string') throw new Error(`expected an endpoint, got ${choice}`);
      expect(choice).toMatchObject({ endpoint: b, reason: 'stored_response', excluded: [{ endpoint: 'a', reason: 'stored_elsewhere' }, { endpoint: 'c', reason: 'stored_elsewhere' }] });
    }
    const tried = freshState();
    tried.tried.add('b');
    expect(chooseHolder(selector, fleet, b, tried)).toBe('none');
    for (let i = 0; i < 5; i++) b.breaker.recordFailure(false);
    expect(chooseHolder(selector, fleet, b, freshState())).toBe('none');
    const capped = healthyFleet(['x'])[0]!;
    const config = validateConfig({ endpoints: [{ name: 'y', url: 'http://127.0.0.1:9100', max_connections: 1 }] });
    const full = new Endpoint(config.endpoints[0]!, config, () => 0);
    full.health.recordCheck({ ok: true, latencyMs: 5 });
    full.activeConnections = 1;
    expect(chooseHolder(selector, [capped, full], full, freshState())).toBe('busy');
  });
});
