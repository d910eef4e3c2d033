import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH_POLICY, HEALTH_STATES } from '../../../src/endpoints/health-state.js';
import { harness, healthyHarness, requests, unhealthyHarness, type Harness } from './health-support.js';

describe('EndpointHealth defaults and counters', () => {
  it('starts unknown, unroutable, with no checks', () => {
    const { health } = harness();
    expect(health.state).toBe('unknown');
    expect(health.routable).toBe(false);
    expect(health.weightFactor()).toBe(0);
    expect(health.checksTotal).toBe(0);
    expect(health.lastCheckAt).toBeUndefined();
    expect(health.lastLatencyMs).toBeUndefined();
    expect(health.lastError).toBeUndefined();
  });

  it('lists every state and ships the documented defaults', () => {
    expect(HEALTH_STATES).toEqual(['unknown', 'healthy', 'degraded', 'recovering', 'unhealthy']);
    expect(DEFAULT_HEALTH_POLICY).toEqual({
      rise: 2,
      fall: 3,
      degradedLatencyMs: 1000,
      degradedErrorRatio: 0.5,
      errorWindowMs: 60_000,
      minRequestsForRatio: 10,
      slowStartMs: 30_000,
      degradedWeightFactor: 0.25,
    });
  });

  it('counts checks, passes, streaks, last latency, time and error', () => {
    const { health, clock, pass, fail } = harness();
    pass(40);
    clock.ms += 2_000;
    fail('HTTP 503');
    fail('HTTP 503');
    expect(health.checksTotal).toBe(3);
    expect(health.checksPassed).toBe(1);
    expect(health.consecutiveFailures).toBe(2);
    expect(health.consecutivePasses).toBe(0);
    expect(health.lastError).toBe('HTTP 503');
    expect(health.lastLatencyMs).toBe(3);
    expect(health.lastCheckAt).toBe(clock.ms);
    pass(70);
    expect(health.consecutiveFailures).toBe(0);
    expect(health.consecutivePasses).toBe(1);
    expect(health.lastLatencyMs).toBe(70);
  });
});

describe('EndpointHealth transitions from unknown', () => {
  it('becomes healthy on a first fast passing check, at full weight (no slow start at startup)', () => {
    const { health, transitions, pass } = harness();
    pass(50);
    expect(health.state).toBe('healthy');
    expect(health.routable).toBe(true);
    expect(health.weightFactor()).toBe(1);
    expect(transitions).toEqual([['unknown', 'healthy', 'check passed']]);
  });

  it('becomes degraded on a first slow passing check', () => {
    const { health, transitions, pass } = harness();
    pass(1_200);
    expect(health.state).toBe('degraded');
    expect(transitions).toEqual([['unknown', 'degraded', 'check latency 1200ms over 1000ms']]);
  });

  it('becomes unhealthy on a first failing check', () => {
    const { health, transitions, fail } = harness();
    fail('connect ECONNREFUSED');
    expect(health.state).toBe('unhealthy');
    expect(health.routable).toBe(false);
    expect(transitions).toEqual([['unknown', 'unhealthy', 'check failed: connect ECONNREFUSED']]);
  });
});

describe('EndpointHealth fall', () => {
  it('stays healthy through fall - 1 failed checks and goes unhealthy on the fall-th', () => {
    const { health, transitions, fail } = healthyHarness({ fall: 3 });
    fail();
    fail();
    expect(health.state).toBe('healthy');
    expect(transitions).toEqual([]);
    fail('timeout');
    expect(health.state).toBe('unhealthy');
    expect(transitions).toEqual([['healthy', 'unhealthy', '3 consecutive failed checks: timeout']]);
  });

  it('needs the failures to be consecutive', () => {
    const { health, fail, pass } = healthyHarness({ fall: 3 });
    fail();
    fail();
    pass();
    fail();
    fail();
    expect(health.state).toBe('healthy');
  });

  it('takes a degraded endpoint down after fall failures too', () => {
    const { health, transitions, fail, pass } = healthyHarness({ fall: 2 });
    pass(1_500);
    fail();
    expect(health.state).toBe('degraded');
    fail();
    expect(health.state).toBe('unhealthy');
    expect(transitions.map(([from, to]) => `${from}>${to}`)).toEqual(['healthy>degraded', 'degraded>unhealthy']);
  });

  it('stays unhealthy, announcing nothing, on further failures', () => {
    const { health, transitions, fail } = unhealthyHarness();
    fail();
    fail();
    expect(health.state).toBe('unhealthy');
    expect(health.consecutiveFailures).toBe(3);
    expect(transitions).toEqual([]);
  });
});

describe('EndpointHealth connection failures', () => {
  it.each<[string, (h: Harness) => void]>([
    ['healthy', () => {}],
    ['degraded', (h) => h.pass(2_000)],
    ['recovering', (h) => {
      h.fail();
      h.fail();
      h.fail();
      h.pass();
    }],
  ])('takes a %s endpoint unhealthy at once', (from, arrange) => {
    const h = healthyHarness();
    arrange(h);
    expect(h.health.state).toBe(from);
    h.transitions.length = 0;
    h.health.markConnectionFailure('connect ECONNREFUSED 127.0.0.1:11434');
    expect(h.health.state).toBe('unhealthy');
    expect(h.health.lastError).toBe('connect ECONNREFUSED 127.0.0.1:11434');
    expect(h.transitions).toEqual([[from, 'unhealthy', 'connection failed: connect ECONNREFUSED 127.0.0.1:11434']]);
  });

  it('does not announce again when already unhealthy', () => {
    const { health, transitions } = unhealthyHarness();
    health.markConnectionFailure('socket hang up');
    expect(transitions).toEqual([]);
    expect(health.lastError).toBe('socket hang up');
  });
});

describe('EndpointHealth rise', () => {
  it('goes recovering on the first pass and healthy on the rise-th consecutive pass', () => {
    const { health, transitions, pass } = unhealthyHarness({ rise: 3 });
    pass();
    expect(health.state).toBe('recovering');
    expect(health.routable).toBe(true);
    pass();
    expect(health.state).toBe('recovering');
    pass();
    expect(health.state).toBe('healthy');
    expect(transitions).toEqual([
      ['unhealthy', 'recovering', 'check passed'],
      ['recovering', 'healthy', '3 consecutive passes'],
    ]);
  });

  it('does not hold the outage\'s own failed requests against the recovered endpoint', () => {
    // Healthy, then its requests fail and its checks too: down.
    const { health, clock, pass, fail } = healthyHarness({ rise: 2 });
    requests(health, 0, 20);
    fail();
    fail();
    fail();
    expect(health.state).toBe('unhealthy');
    clock.ms += 5_000;
    pass();
    pass();
    // Those failures were within the error window, but they were the outage's.
    expect(health.state).toBe('healthy');
    // Failures after recovery count as before.
    requests(health, 0, 20);
    expect(health.state).toBe('degraded');
  });

  it('counts the pass that started recovery: rise 2 is healthy on the second pass', () => {
    const { health, transitions, pass } = unhealthyHarness({ rise: 2 });
    pass();
    pass();
    expect(health.state).toBe('healthy');
    expect(transitions.at(-1)).toEqual(['recovering', 'healthy', '2 consecutive passes']);
  });

  it('goes straight back to healthy with rise 1', () => {
    const { health, transitions, pass } = unhealthyHarness({ rise: 1 });
    pass();
    expect(health.state).toBe('healthy');
    expect(transitions).toEqual([['unhealthy', 'healthy', '1 consecutive pass']]);
  });

  it('finishes recovering as degraded when the last pass is slow', () => {
    const { health, transitions, pass } = unhealthyHarness({ rise: 2 });
    pass();
    pass(1_100);
    expect(health.state).toBe('degraded');
    expect(transitions.at(-1)).toEqual(['recovering', 'degraded', '2 consecutive passes; check latency 1100ms over 1000ms']);
  });

  it('falls back to unhealthy on any failed check while recovering, and must rise again from scratch', () => {
    const { health, transitions, pass, fail } = unhealthyHarness({ rise: 2, fall: 3 });
    pass();
    fail('HTTP 500');
    expect(health.state).toBe('unhealthy');
    expect(transitions.at(-1)).toEqual(['recovering', 'unhealthy', 'check failed: HTTP 500']);
    pass();
    expect(health.state).toBe('recovering');
    pass();
    expect(health.state).toBe('healthy');
  });
});
describe('EndpointHealth transition announcements', () => {
  it('announces each change exactly once over a full life cycle', () => {
    const { health, transitions, pass, fail } = harness({ rise: 2, fall: 2 });
    pass(); // unknown > healthy
    pass();
    pass(1_500); // healthy > degraded
    pass(1_500);
    pass(); // degraded > healthy
    fail();
    fail(); // healthy > unhealthy
    fail();
    pass(); // unhealthy > recovering
    pass(); // recovering > healthy
    pass();
    health.markConnectionFailure('reset'); // healthy > unhealthy
    health.markConnectionFailure('reset');
    expect(transitions.map(([from, to]) => `${from}>${to}`)).toEqual([
      'unknown>healthy',
      'healthy>degraded',
      'degraded>healthy',
      'healthy>unhealthy',
      'unhealthy>recovering',
      'recovering>healthy',
      'healthy>unhealthy',
    ]);
    expect(health.state).toBe('unhealthy');
  });
});
