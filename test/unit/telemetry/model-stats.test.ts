import { describe, expect, it } from 'vitest';
import { ModelStats, modelOutcome } from '../../../src/telemetry/model-stats.js';

describe('per-model request stats (/internal/stats/models)', () => {
  it('counts a client that left apart: neither a success nor the model failing, and not a latency sample', () => {
    const stats = new ModelStats();
    stats.record('m', 'success', 10);
    stats.record('m', 'success', 20);
    stats.record('m', 'failure', 30);
    stats.record('m', 'client_closed', 5000);
    const view = stats.view('m');
    expect(view).toMatchObject({ requests: 4, successes: 2, failures: 1, client_closed: 1 });
    // The 5 s the client waited before leaving is not the model's latency.
    expect(view.latency_ms.p99).toBe(30);
  });

  it("counts a request refused as its client's fault apart: not a success, not the model failing, and not a latency sample", () => {
    const stats = new ModelStats();
    stats.record('m', 'success', 40);
    stats.record('m', 'client_error', 1);
    expect(stats.view('m')).toMatchObject({ requests: 2, successes: 1, failures: 0, client_errors: 1, client_closed: 0, latency_ms: { p50: 40 } });
  });

  it('reports zeros for a model with no request', () => {
    expect(new ModelStats().view('none')).toEqual({ requests: 0, successes: 0, failures: 0, client_errors: 0, client_closed: 0, latency_ms: { p50: null, p95: null, p99: null } });
  });
});

describe('modelOutcome', () => {
  it('2xx and 3xx are successes, 5xx failures, 499 a client that left', () => {
    expect(modelOutcome(200, true)).toBe('success');
    expect(modelOutcome(304, true)).toBe('success');
    expect(modelOutcome(502, true)).toBe('failure');
    expect(modelOutcome(503, false)).toBe('failure');
    expect(modelOutcome(499, true)).toBe('client_closed');
  });

  it("a 429 is a failure from a backend (no room for the request), the client's own from Sluice's rate limit; other 4xx are the client's", () => {
    expect(modelOutcome(429, true)).toBe('failure');
    expect(modelOutcome(429, false)).toBe('client_error');
    expect(modelOutcome(400, true)).toBe('client_error');
    expect(modelOutcome(404, false)).toBe('client_error');
    expect(modelOutcome(413, false)).toBe('client_error');
  });
});
