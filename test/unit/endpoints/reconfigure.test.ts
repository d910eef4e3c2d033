import { describe, expect, it } from 'vitest';
import { validateConfig, type SluiceConfig } from '../../../src/config/index.js';
import { Endpoint } from '../../../src/endpoints/index.js';

const base = { name: 'a', url: 'http://user:pw@127.0.0.1:9001', max_connections: 2, weight: 1 };

function setup() {
  const clock = { ms: 1_000_000 };
  const config = validateConfig({ endpoints: [base] });
  const changes: string[] = [];
  const ep = new Endpoint(config.endpoints[0]!, config, () => clock.ms, { stateChanged: (_e, from, to) => changes.push(`${from}->${to}`) });
  ep.health.recordCheck({ ok: true, latencyMs: 5 });
  ep.setModels(['m:1']);
  ep.activeConnections = 2;
  return { clock, ep, changes };
}

function reloaded(patch: Record<string, unknown>, endpoint: Record<string, unknown> = {}): SluiceConfig {
  return validateConfig({ ...patch, endpoints: [{ ...base, ...endpoint }] });
}

describe('Endpoint.prepareReconfigure (reload in place)', () => {
  it('applies new weight, priority, limits and policies and keeps state, models and connections', () => {
    const { ep, changes } = setup();
    const next = reloaded({ health: { fall: 1, degraded_latency: '10ms' }, breaker: { failure_threshold: 1 } }, { weight: 5, priority: 3, max_connections: 3 });
    ep.prepareReconfigure(next.endpoints[0]!, next)();
    expect(ep.state).toBe('healthy');
    expect([...ep.models]).toEqual(['m:1']);
    expect(ep.activeConnections).toBe(2);
    expect(ep.config.weight).toBe(5);
    expect(ep.priority).toBe(3);
    expect(ep.atCapacity).toBe(false); // 2 of 3
    expect(ep.health.policy.fall).toBe(1);
    expect(changes).toEqual(['unknown->healthy']);
    // The new policies act from the next event: one slow check now degrades, one failure opens the breaker.
    ep.health.recordCheck({ ok: true, latencyMs: 50 });
    expect(ep.state).toBe('degraded');
    ep.breaker.recordFailure(false);
    expect(ep.breaker.state).toBe('open');
  });

  it('a lower max_connections applies to the requests already in flight', () => {
    const { ep } = setup();
    const next = reloaded({}, { max_connections: 1 });
    ep.prepareReconfigure(next.endpoints[0]!, next)();
    expect(ep.atCapacity).toBe(true);
  });

  it('new credentials apply in place; another URL is another backend', () => {
    const { ep } = setup();
    const creds = reloaded({}, { url: 'http://other:secret@127.0.0.1:9001' });
    expect(ep.sameBackend(creds.endpoints[0]!)).toBe(true);
    ep.prepareReconfigure(creds.endpoints[0]!, creds)();
    expect(ep.authorization).toBe(`Basic ${Buffer.from('other:secret').toString('base64')}`);
    const moved = reloaded({}, { url: 'http://127.0.0.1:9002' });
    expect(ep.sameBackend(moved.endpoints[0]!)).toBe(false);
    expect(() => ep.prepareReconfigure(moved.endpoints[0]!, moved)).toThrow(/another backend/);
  });

  it('an open breaker stays open with the new open duration', () => {
    const { ep, clock } = setup();
    for (let i = 0; i < 5; i++) ep.breaker.recordFailure(false);
    expect(ep.breaker.state).toBe('open');
    const next = reloaded({ breaker: { open_duration: '1s' } });
    ep.prepareReconfigure(next.endpoints[0]!, next)();
    expect(ep.breaker.state).toBe('open');
    clock.ms += 1000;
    expect(ep.breaker.state).toBe('half_open');
  });

  it('preparing changes nothing until the returned function applies it', () => {
    const { ep } = setup();
    const next = reloaded({ health: { fall: 1 } }, { weight: 5, url: 'http://other:secret@127.0.0.1:9001' });
    const before = { config: ep.config, authorization: ep.authorization, fall: ep.health.policy.fall };
    const apply = ep.prepareReconfigure(next.endpoints[0]!, next);
    expect({ config: ep.config, authorization: ep.authorization, fall: ep.health.policy.fall }).toEqual(before);
    apply();
    expect({ weight: ep.config.weight, fall: ep.health.policy.fall }).toEqual({ weight: 5, fall: 1 });
  });
});
