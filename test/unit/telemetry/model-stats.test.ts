import { describe, expect, it } from 'vitest';
import { ModelStats } from '../../../src/telemetry/model-stats.js';

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

  it('reports zeros for a model with no request', () => {
    expect(new ModelStats().view('none')).toEqual({ requests: 0, successes: 0, failures: 0, client_closed: 0, latency_ms: { p50: null, p95: null, p99: null } });
  });
});
