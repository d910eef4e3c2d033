import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { Endpoint } from '../../../src/endpoints/index.js';
import { EndpointHealth } from '../../../src/endpoints/health-state.js';

/** An endpoint on a hand-driven clock, healthy after a first passing check, its breaker opening after 3 failures. */
function healthyEndpoint(): Endpoint {
  const clock = { ms: 1_000_000 };
  const config = validateConfig({ breaker: { failure_threshold: 3 }, endpoints: [{ name: 'a', url: 'http://127.0.0.1:9001' }] });
  const ep = new Endpoint(config.endpoints[0]!, config, () => clock.ms);
  ep.health.recordCheck({ ok: true, latencyMs: 5 });
  return ep;
}

/** What the request path does when a request's connection is reset: the breaker and the health hear of it. */
function requestReset(ep: Endpoint): void {
  ep.breaker.recordFailure(false);
  ep.connectionFailed('read ECONNRESET');
}

const pass = (ep: Endpoint) => ep.health.recordCheck({ ok: true, latencyMs: 5 });
const fail = (ep: Endpoint) => ep.health.recordCheck({ ok: false, latencyMs: 5, error: 'connect ECONNREFUSED' });

describe('the breaker when an endpoint leaves unhealthy', () => {
  it('keeps what requests taught it when the checks never saw the outage (a health path that answers while every request is reset)', () => {
    const ep = healthyEndpoint();
    for (let i = 0; i < 3; i++) {
      expect(ep.routable).toBe(true);
      requestReset(ep);
      expect(ep.state).toBe('unhealthy');
      pass(ep); // the health path still answers: recovering, routable again
    }
    // Before, each passing check reset the breaker: it never opened, and one request was lost per check interval for good.
    expect(ep.breaker.state).toBe('open');
    expect(ep.routable).toBe(false);
    expect(ep.unroutableReason).toBe('breaker_open');
  });

  it('is reset when the checks saw the outage too: the failures that opened it were the outage itself', () => {
    const ep = healthyEndpoint();
    for (let i = 0; i < 3; i++) ep.breaker.recordFailure(false);
    ep.connectionFailed('connect ECONNREFUSED');
    expect(ep.breaker.state).toBe('open');
    fail(ep); // the checks see it down
    pass(ep);
    expect(ep.state).toBe('recovering');
    expect(ep.breaker.state).toBe('closed');
    expect(ep.routable).toBe(true);

    // Unhealthy on failed checks alone, the same.
    const other = healthyEndpoint();
    for (let i = 0; i < 3; i++) other.breaker.recordFailure(false);
    for (let i = 0; i < 3; i++) fail(other);
    expect(other.state).toBe('unhealthy');
    pass(other);
    expect(other.breaker.state).toBe('closed');
  });

  it('a cluster worker adopting the primary\'s verdict decides the same way', () => {
    const primary = healthyEndpoint();
    const worker = healthyEndpoint();
    const follow = () => worker.health.adopt(primary.health.snapshot());
    for (let i = 0; i < 3; i++) {
      worker.breaker.recordFailure(false);
      primary.connectionFailed('read ECONNRESET');
      follow();
      pass(primary);
      follow();
    }
    expect(worker.state).toBe('recovering');
    expect(worker.breaker.state).toBe('open');
    // A snapshot from a primary that does not send the field resets as before.
    const old = { ...primary.health.snapshot(), state: 'unhealthy' as const, outageSeenByChecks: undefined };
    const fresh = new EndpointHealth(primary.health.policy, () => 1_000_000);
    fresh.adopt(old);
    expect(fresh.outageSeenByChecks).toBe(true);
  });
});
