import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../../../src/endpoints/breaker.js';

interface Harness {
  breaker: CircuitBreaker;
  clock: { ms: number };
  transitions: Array<[CircuitState, CircuitState, string]>;
}

function harness(failureThreshold = 3, openDurationMs = 30_000): Harness {
  const clock = { ms: 1_000_000 };
  const transitions: Harness['transitions'] = [];
  const breaker = new CircuitBreaker({
    failureThreshold,
    openDurationMs,
    now: () => clock.ms,
    onTransition: (from, to, reason) => transitions.push([from, to, reason]),
  });
  return { breaker, clock, transitions };
}

function fail(breaker: CircuitBreaker, times: number): void {
  for (let index = 0; index < times; index++) breaker.recordFailure(false);
}

describe('CircuitBreaker', () => {
  it('starts closed and lets every request through', () => {
    const { breaker } = harness();
    expect(breaker.state).toBe('closed');
    expect(breaker.isAvailable()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('opens on the threshold-th consecutive failure, not before', () => {
    const { breaker, transitions } = harness(3);
    fail(breaker, 2);
    expect(breaker.state).toBe('closed');
    expect(breaker.consecutiveFailures).toBe(2);
    breaker.recordFailure(false);
    expect(breaker.state).toBe('open');
    expect(transitions).toEqual([['closed', 'open', '3 consecutive failures']]);
  });

  it('defaults to a threshold of 5 and an open period of 30 s', () => {
    const clock = { ms: 0 };
    const breaker = new CircuitBreaker({ now: () => clock.ms });
    fail(breaker, 4);
    expect(breaker.state).toBe('closed');
    breaker.recordFailure(false);
    expect(breaker.state).toBe('open');
    clock.ms = 29_999;
    expect(breaker.state).toBe('open');
    clock.ms = 30_000;
    expect(breaker.state).toBe('half_open');
  });

  it('resets the consecutive count on success, so scattered failures never open it', () => {
    const { breaker } = harness(3);
    fail(breaker, 2);
    breaker.recordSuccess(false);
    expect(breaker.consecutiveFailures).toBe(0);
    fail(breaker, 2);
    expect(breaker.state).toBe('closed');
  });

  it('blocks every request while open', () => {
    const { breaker, clock } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 29_999;
    expect(breaker.isAvailable()).toBe(false);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.state).toBe('open');
  });

  it('reports half_open once the open period elapses; reading it changes nothing, the trial announces it', () => {
    const { breaker, clock, transitions } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 30_000;
    expect(breaker.state).toBe('half_open');
    expect(breaker.state).toBe('half_open');
    expect(breaker.isAvailable()).toBe(true);
    expect(transitions).toEqual([['closed', 'open', '1 consecutive failure']]);
    expect(breaker.tryAcquire()).toBe(true);
    expect(transitions).toEqual([
      ['closed', 'open', '1 consecutive failure'],
      ['open', 'half_open', 'open for 30000ms'],
    ]);
  });

  it('only the trial closes a half-open circuit: an older request succeeding while the trial is in flight does not', () => {
    const { breaker, clock, transitions } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 30_000;
    expect(breaker.tryAcquire()).toBe(true); // the trial
    breaker.recordSuccess(false); // a long stream that started before the circuit opened
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBe(false);
    breaker.recordFailure(false); // another old request
    expect(breaker.state).toBe('half_open');
    breaker.recordSuccess(true);
    expect(breaker.state).toBe('closed');
    expect(transitions.map(([, to]) => to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('only the trial reopens a half-open circuit', () => {
    const { breaker, clock } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 30_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordFailure(false);
    expect(breaker.state).toBe('half_open');
    breaker.recordFailure(true);
    expect(breaker.state).toBe('open');
  });

  it('a scrape-like read of the state between opening and the trial has no effect on when the trial may start', () => {
    const { breaker, clock } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 30_000;
    for (let i = 0; i < 5; i++) expect(breaker.state).toBe('half_open');
    clock.ms += 1_000;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('lets exactly one trial through in half_open and refuses a second one', () => {
    const { breaker, clock } = harness(1);
    breaker.recordFailure(false);
    clock.ms += 30_000;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.isAvailable()).toBe(false);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.state).toBe('half_open');
  });

  it('closes when the trial succeeds', () => {
    const { breaker, clock, transitions } = harness(2);
    fail(breaker, 2);
    clock.ms += 30_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordSuccess(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.consecutiveFailures).toBe(0);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(transitions.at(-1)).toEqual(['half_open', 'closed', 'trial request succeeded']);
  });

  it('reopens for the full open period when the trial fails', () => {
    const { breaker, clock, transitions } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 45_000; // well past the first period
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordFailure(true);
    expect(breaker.state).toBe('open');
    expect(transitions.at(-1)).toEqual(['half_open', 'open', 'trial request failed']);
    clock.ms += 29_999;
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    clock.ms += 1;
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('lets another trial through after releaseTrial, staying half_open', () => {
    const { breaker, clock, transitions } = harness(1);
    breaker.recordFailure(false);
    clock.ms += 30_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.releaseTrial();
    expect(breaker.state).toBe('half_open');
    expect(breaker.isAvailable()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    expect(transitions).toHaveLength(2);
  });

  it('ignores late failures while open: they do not extend the open period', () => {
    const { breaker, clock } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 20_000;
    breaker.recordFailure(false);
    clock.ms += 10_000;
    expect(breaker.state).toBe('half_open');
  });

  it('ignores a late success while open: the circuit stays open until its trial', () => {
    const { breaker, clock } = harness(1, 30_000);
    breaker.recordFailure(false);
    clock.ms += 1_000;
    breaker.recordSuccess(false);
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('reset closes an open circuit and clears the count, announcing it', () => {
    const { breaker, transitions } = harness(2);
    fail(breaker, 2);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.consecutiveFailures).toBe(0);
    expect(breaker.tryAcquire()).toBe(true);
    expect(transitions.at(-1)).toEqual(['open', 'closed', 'reset']);
    breaker.reset();
    expect(transitions).toHaveLength(2);
  });
});
