import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { Endpoint } from '../../../src/endpoints/endpoint.js';
import { HealthChecker } from '../../../src/health/checker.js';
import type { ProbeResult } from '../../../src/health/prober.js';

const config = validateConfig({
  endpoints: [
    { name: 'fast', url: 'http://127.0.0.1:1', check_interval: '1s' },
    { name: 'slow', url: 'http://127.0.0.1:2', check_interval: '5s' },
  ],
});

beforeEach(() => vi.useFakeTimers({ now: 0 }));
afterEach(() => vi.useRealTimers());

function setup(verdict: (ep: Endpoint) => ProbeResult, probeMs = 10) {
  const endpoints = config.endpoints.map((c) => new Endpoint(c, config, Date.now));
  const calls: Array<{ name: string; at: number }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const checker = new HealthChecker(endpoints, {
    now: Date.now,
    random: () => 0.5, // jitter of exactly zero
    prober: async (ep) => {
      calls.push({ name: ep.name, at: Date.now() });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (probeMs > 0) await new Promise((r) => setTimeout(r, probeMs));
      inFlight--;
      return verdict(ep);
    },
  });
  return { endpoints, checker, calls, maxInFlight: () => maxInFlight };
}

const pass: ProbeResult = { ok: true, timedOut: false, latencyMs: 10 };
const fail: ProbeResult = { ok: false, timedOut: false, latencyMs: 10, error: 'ECONNREFUSED' };

describe('HealthChecker', () => {
  it('never schedules a check past the longest a timer can wait, jitter included (596h and the most jitter)', () => {
    const long = validateConfig({ endpoints: [{ name: 'rare', url: 'http://127.0.0.1:1', check_interval: '596h' }] });
    const endpoints = long.endpoints.map((c) => new Endpoint(c, long, Date.now));
    const checker = new HealthChecker(endpoints, { now: Date.now, random: () => 0.99, prober: async () => pass });
    checker.start();
    // The first check runs at once; the next is scheduled when it ends.
    return vi.advanceTimersByTimeAsync(1).then(() => {
      expect(checker.nextCheckInMs(endpoints[0]!)).toBeLessThanOrEqual(2 ** 31 - 1);
      checker.stop();
    });
  });

  it('checks at once, then each endpoint on its own interval', async () => {
    const { checker, calls } = setup(() => pass);
    checker.start();
    await vi.advanceTimersByTimeAsync(10_050);
    checker.stop();
    const at = (name: string) => calls.filter((c) => c.name === name).map((c) => c.at);
    // Interval counts from the end of the previous check (10 ms probe).
    expect(at('fast')).toEqual([0, 1010, 2020, 3030, 4040, 5050, 6060, 7070, 8080, 9090]);
    expect(at("slow")).toEqual([0, 5010, 10020]);
  });

  it('backs off while an endpoint fails: interval, x1, x2, x4, x8, then capped at min(x12, 60s)', async () => {
    const { checker, calls, endpoints } = setup((ep) => (ep.name === 'fast' ? fail : pass), 0);
    checker.start();
    await vi.advanceTimersByTimeAsync(60_000);
    checker.stop();
    const times = calls.filter((c) => c.name === 'fast').map((c) => c.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.slice(0, 7)).toEqual([1000, 2000, 4000, 8000, 12_000, 12_000, 12_000]);
    expect(endpoints[0]!.state).toBe('unhealthy');
  });

  it('never runs two checks of one endpoint at once', async () => {
    const { checker, endpoints, maxInFlight } = setup(() => pass, 3000);
    checker.start();
    // Manual checks while the scheduled one is running share it.
    void checker.checkNow(endpoints[0]!);
    void checker.checkNow(endpoints[0]!);
    await vi.advanceTimersByTimeAsync(20_000);
    checker.stop();
    expect(maxInFlight()).toBe(2); // one per endpoint, two endpoints
  });

  it('across a reload: a kept endpoint is not checked twice at once, and a check of one that left is not recorded', async () => {
    const endpoints = config.endpoints.map((c) => new Endpoint(c, config, Date.now));
    const [fast, slow] = [endpoints[0]!, endpoints[1]!];
    const running = new Map<string, number>();
    let mostAtOnce = 0;
    const recorded: string[] = [];
    const checker = (eps: Endpoint[]) =>
      new HealthChecker(eps, {
        now: Date.now,
        random: () => 0.5,
        prober: async (ep) => {
          running.set(ep.name, (running.get(ep.name) ?? 0) + 1);
          mostAtOnce = Math.max(mostAtOnce, running.get(ep.name)!);
          await new Promise((r) => setTimeout(r, 3000));
          running.set(ep.name, running.get(ep.name)! - 1);
          return pass;
        },
        onResult: (ep) => recorded.push(`${ep.name}@${Date.now()}`),
      });
    const before = checker([fast, slow]);
    before.start();
    await vi.advanceTimersByTimeAsync(1000);
    // Reloaded while both checks run: `slow` left the fleet.
    before.stop();
    const after = checker([fast]);
    after.start(before);
    await vi.advanceTimersByTimeAsync(2500);
    expect(recorded).toEqual(['fast@3000']);
    expect(fast.state).toBe('healthy');
    expect(slow.health.checksTotal).toBe(0);
    // The kept endpoint's next check counts from the end of the one handed over.
    await vi.advanceTimersByTimeAsync(4500);
    after.stop();
    expect(recorded).toEqual(['fast@3000', 'fast@7000']);
    expect(mostAtOnce).toBe(1);
  });

  it('reports when the next check is due', async () => {
    const { checker, endpoints } = setup(() => pass, 0);
    checker.start();
    await vi.advanceTimersByTimeAsync(200);
    expect(checker.nextCheckInMs(endpoints[1]!)).toBe(4800);
    checker.stop();
  });
});
