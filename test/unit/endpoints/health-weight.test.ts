import { describe, expect, it } from 'vitest';
import { harness, healthyHarness, requests, unhealthyHarness } from './health-support.js';

describe('EndpointHealth degraded by latency', () => {
  it('goes degraded on a slow passing check and back to healthy on a fast one', () => {
    const { health, transitions, pass } = healthyHarness();
    pass(1_000); // at the limit is not over it
    expect(health.state).toBe('healthy');
    pass(1_200);
    expect(health.state).toBe('degraded');
    pass(1_300);
    pass(200);
    expect(health.state).toBe('healthy');
    expect(transitions).toEqual([
      ['healthy', 'degraded', 'check latency 1200ms over 1000ms'],
      ['degraded', 'healthy', 'check latency 200ms and error ratio within limits'],
    ]);
  });

  it('gives a degraded endpoint the degraded weight factor', () => {
    const { health, pass } = healthyHarness({ degradedWeightFactor: 0.25 });
    pass(5_000);
    expect(health.weightFactor()).toBe(0.25);
  });
});

describe('EndpointHealth degraded by error ratio', () => {
  it('goes degraded once the window error ratio exceeds the limit with enough requests', () => {
    const { health, transitions } = healthyHarness({ minRequestsForRatio: 10, degradedErrorRatio: 0.5 });
    requests(health, 4, 5); // 9 requests: too few to judge
    expect(health.state).toBe('healthy');
    expect(health.errorRatio()).toBeUndefined();
    health.recordRequest('failure'); // 6 of 10 failed
    expect(health.state).toBe('degraded');
    expect(transitions).toEqual([['healthy', 'degraded', 'error ratio 0.60 over 0.50']]);
  });

  it('does not degrade at exactly the limit', () => {
    const { health } = healthyHarness();
    requests(health, 5, 5);
    expect(health.errorRatio()).toBe(0.5);
    expect(health.state).toBe('healthy');
  });

  it('stays degraded on fast checks while the ratio is over, and recovers once failures leave the window', () => {
    const { health, clock, transitions, pass } = healthyHarness({ errorWindowMs: 60_000 });
    requests(health, 2, 8);
    expect(health.state).toBe('degraded');
    clock.ms += 30_000;
    pass(100);
    expect(health.state).toBe('degraded');
    clock.ms += 31_000; // the failures are now older than the window
    expect(health.errorRatio()).toBeUndefined();
    pass(100);
    expect(health.state).toBe('healthy');
    expect(transitions).toEqual([
      ['healthy', 'degraded', 'error ratio 0.80 over 0.50'],
      ['degraded', 'healthy', 'check latency 100ms and error ratio within limits'],
    ]);
  });

  it('recovers on a fast check once successes bring the ratio back under', () => {
    const { health, pass } = healthyHarness();
    requests(health, 0, 10);
    expect(health.state).toBe('degraded');
    requests(health, 30, 0); // 10 of 40 failed
    expect(health.state).toBe('degraded'); // only checks clear degraded
    pass(100);
    expect(health.state).toBe('healthy');
  });

  it('makes a first passing check degraded when requests already failed too often', () => {
    const { health, transitions, pass } = harness();
    requests(health, 0, 10);
    expect(health.state).toBe('unknown');
    pass(100);
    expect(health.state).toBe('degraded');
    expect(transitions).toEqual([['unknown', 'degraded', 'error ratio 1.00 over 0.50']]);
  });

  it('does not let request outcomes move a state other than healthy', () => {
    const { health, transitions, pass } = unhealthyHarness();
    requests(health, 0, 20);
    expect(health.state).toBe('unhealthy');
    pass();
    requests(health, 0, 5);
    expect(health.state).toBe('recovering');
    expect(transitions).toEqual([['unhealthy', 'recovering', 'check passed']]);
  });
});

describe('EndpointHealth slow start', () => {
  it('ramps the weight linearly from 10% after leaving unhealthy, through recovery and beyond', () => {
    const { health, clock, pass } = unhealthyHarness({ slowStartMs: 30_000, rise: 2 });
    pass(); // recovering: slow start begins now
    expect(health.weightFactor()).toBe(0.1); // 0% of the window, floored at 10%
    clock.ms += 7_500;
    expect(health.weightFactor()).toBe(0.25);
    pass(); // healthy, still ramping
    expect(health.state).toBe('healthy');
    expect(health.weightFactor()).toBe(0.25);
    clock.ms += 7_500;
    expect(health.weightFactor()).toBe(0.5);
    clock.ms += 15_000;
    expect(health.weightFactor()).toBe(1);
    clock.ms += 60_000;
    expect(health.weightFactor()).toBe(1);
  });

  it('multiplies the ramp with the degraded factor', () => {
    const { health, clock, pass } = unhealthyHarness({ slowStartMs: 30_000, rise: 2, degradedWeightFactor: 0.25 });
    pass();
    clock.ms += 15_000;
    pass(2_000);
    expect(health.state).toBe('degraded');
    expect(health.weightFactor()).toBeCloseTo(0.125, 10);
  });

  it('restarts from the floor after another outage', () => {
    const { health, clock, pass } = unhealthyHarness({ slowStartMs: 30_000, rise: 1 });
    pass();
    clock.ms += 20_000;
    health.markConnectionFailure('connect ECONNRESET');
    expect(health.weightFactor()).toBe(0);
    clock.ms += 5_000;
    pass();
    expect(health.weightFactor()).toBe(0.1);
  });

  it('has no ramp when slow start is off', () => {
    const { health, pass } = unhealthyHarness({ slowStartMs: 0, rise: 1 });
    pass();
    expect(health.weightFactor()).toBe(1);
  });
});

describe('EndpointHealth degraded by a slow request', () => {
  it('degrades a healthy endpoint at once and keeps it degraded on fast checks for the error window', () => {
    const { health, clock, transitions, pass } = healthyHarness({ errorWindowMs: 60_000, degradedWeightFactor: 0.25 });
    health.recordLatencyFailure('no first token within 300ms');
    expect(health.state).toBe('degraded');
    expect(health.weightFactor()).toBe(0.25);
    clock.ms += 59_000;
    pass(50);
    expect(health.state).toBe('degraded');
    clock.ms += 1_000; // a full window without another slow request
    pass(50);
    expect(health.state).toBe('healthy');
    expect(transitions).toEqual([
      ['healthy', 'degraded', 'slow request: no first token within 300ms'],
      ['degraded', 'healthy', 'check latency 50ms and error ratio within limits'],
    ]);
  });

  it('each slow request restarts the window', () => {
    const { health, clock, pass } = healthyHarness({ errorWindowMs: 60_000 });
    health.recordLatencyFailure('late');
    clock.ms += 50_000;
    health.recordLatencyFailure('late again');
    clock.ms += 50_000;
    pass(50);
    expect(health.state).toBe('degraded');
    clock.ms += 10_000;
    pass(50);
    expect(health.state).toBe('healthy');
  });

  it('a recovering endpoint with a recent slow request comes back degraded, not healthy', () => {
    const { health, transitions, pass } = unhealthyHarness({ rise: 2 });
    pass(50);
    expect(health.state).toBe('recovering');
    health.recordLatencyFailure('late');
    expect(health.state).toBe('recovering'); // only checks move it on
    pass(50);
    expect(health.state).toBe('degraded');
    expect(transitions.at(-1)).toEqual(['recovering', 'degraded', '2 consecutive passes; slow request 0s ago: late']);
  });

  it('is not an error: the error ratio is left to the caller', () => {
    const { health } = healthyHarness();
    health.recordLatencyFailure('late');
    expect(health.errorRatio()).toBeUndefined();
  });
});
