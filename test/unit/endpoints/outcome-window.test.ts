import { describe, expect, it } from 'vitest';
import { OutcomeWindow } from '../../../src/endpoints/outcome-window.js';

describe('OutcomeWindow', () => {
  it('counts successes and failures recorded within the window', () => {
    const clock = { ms: 5_000 };
    const window = new OutcomeWindow(60_000, () => clock.ms);
    window.record('success');
    window.record('failure');
    clock.ms += 30_000;
    window.record('failure');
    expect(window.counts()).toEqual({ successes: 1, failures: 2 });
  });

  it('forgets outcomes once the window has passed them, bucket by bucket', () => {
    const clock = { ms: 0 };
    const window = new OutcomeWindow(60_000, () => clock.ms);
    window.record('failure'); // bucket [0 s, 1 s)
    clock.ms = 30_000;
    window.record('success');
    clock.ms = 59_999;
    expect(window.counts()).toEqual({ successes: 1, failures: 1 });
    clock.ms = 60_000;
    expect(window.counts()).toEqual({ successes: 1, failures: 0 });
    clock.ms = 90_000;
    expect(window.counts()).toEqual({ successes: 0, failures: 0 });
  });

  it('reuses a ring slot for a new time slot without carrying old counts', () => {
    const clock = { ms: 1_500 };
    const window = new OutcomeWindow(60_000, () => clock.ms);
    window.record('failure');
    window.record('failure');
    clock.ms += 60_000; // same ring position, one lap later
    window.record('success');
    expect(window.counts()).toEqual({ successes: 1, failures: 0 });
  });

  it('ignores outcomes stamped in the future if the clock steps back', () => {
    const clock = { ms: 100_000 };
    const window = new OutcomeWindow(60_000, () => clock.ms);
    window.record('failure');
    clock.ms = 50_000;
    expect(window.counts()).toEqual({ successes: 0, failures: 0 });
  });
});
