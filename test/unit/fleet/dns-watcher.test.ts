import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { DnsWatcher, oneFamily } from '../../../src/fleet/index.js';

function setup() {
  const clock = { ms: 0 };
  const answers = new Map<string, string[] | Error>([['vllm.svc', ['10.0.0.1', '10.0.0.2']]]);
  const lookups: Array<{ host: string; at: number }> = [];
  let changes = 0;
  const logs: string[] = [];
  const watcher = new DnsWatcher({
    now: () => clock.ms,
    resolver: async (host) => {
      lookups.push({ host, at: clock.ms });
      const a = answers.get(host);
      if (a instanceof Error) throw a;
      return a ?? [];
    },
    onChange: () => changes++,
    log: (_level, message) => logs.push(message),
  });
  const config = validateConfig({
    endpoints: [
      { name: 'fixed', url: 'http://127.0.0.1:1' },
      { name: 'vllm', url: 'http://vllm.svc:8000', discover: 'dns', discover_interval: '10s' },
    ],
  });
  watcher.setTargets(config.endpoints);
  return { clock, answers, lookups, watcher, config, logs, changes: () => changes };
}

describe('DnsWatcher', () => {
  it('resolves only discover: dns hosts, each on its interval', async () => {
    const t = setup();
    await t.watcher.refreshDue();
    expect(t.lookups).toEqual([{ host: 'vllm.svc', at: 0 }]);
    expect(t.watcher.answers.get('vllm')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(t.changes()).toBe(1);
    t.clock.ms = 9_999;
    await t.watcher.refreshDue();
    expect(t.lookups).toHaveLength(1);
    t.clock.ms = 10_000;
    await t.watcher.refreshDue();
    expect(t.lookups).toHaveLength(2);
    expect(t.changes()).toBe(1); // same answer: no change announced
  });

  it('announces added and removed addresses, order aside', async () => {
    const t = setup();
    await t.watcher.refreshAll();
    t.answers.set('vllm.svc', ['10.0.0.3', '10.0.0.1']);
    t.clock.ms = 10_000;
    await t.watcher.refreshDue();
    expect(t.watcher.answers.get('vllm')).toEqual(['10.0.0.1', '10.0.0.3']);
    expect(t.changes()).toBe(2);
  });

  it('a failed lookup keeps the last answer', async () => {
    const t = setup();
    await t.watcher.refreshAll();
    t.answers.set('vllm.svc', Object.assign(new Error('getaddrinfo EAI_AGAIN vllm.svc'), { code: 'EAI_AGAIN' }));
    t.clock.ms = 10_000;
    await t.watcher.refreshDue();
    expect(t.watcher.answers.get('vllm')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(t.changes()).toBe(1);
    expect(t.logs).toContain('endpoint address lookup failed; keeping the last answer');
  });

  it('a name with no address any more (NXDOMAIN: the last ready pod left a headless Service) empties the members', async () => {
    const t = setup();
    await t.watcher.refreshAll();
    t.answers.set('vllm.svc', Object.assign(new Error('getaddrinfo ENOTFOUND vllm.svc'), { code: 'ENOTFOUND' }));
    t.clock.ms = 10_000;
    await t.watcher.refreshDue();
    expect(t.watcher.answers.get('vllm')).toEqual([]);
    expect(t.changes()).toBe(2);
    expect(t.logs).toContain('endpoint addresses changed');
  });

  it('an endpoint no longer discovered is forgotten', async () => {
    const t = setup();
    await t.watcher.refreshAll();
    t.watcher.setTargets(t.config.endpoints.filter((e) => e.name !== 'vllm'));
    expect(t.watcher.answers.has('vllm')).toBe(false);
    t.clock.ms = 60_000;
    await t.watcher.refreshDue();
    expect(t.lookups).toHaveLength(1);
  });
});

describe('oneFamily', () => {
  it('takes the IPv4 addresses of a dual-stack answer, so that a backend is one endpoint, not two', () => {
    const answer = [
      { address: '10.0.0.7', family: 4 },
      { address: 'fd00::7', family: 6 },
      { address: '10.0.0.8', family: 4 },
      { address: 'fd00::8', family: 6 },
    ];
    expect(oneFamily(answer)).toEqual(['10.0.0.7', '10.0.0.8']);
  });

  it('takes the IPv6 addresses when there is no IPv4 one, and nothing from nothing', () => {
    expect(oneFamily([{ address: 'fd00::7', family: 6 }, { address: 'fd00::8', family: 6 }])).toEqual(['fd00::7', 'fd00::8']);
    expect(oneFamily([])).toEqual([]);
  });
});
