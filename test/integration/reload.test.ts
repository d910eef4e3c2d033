import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { startModelServer, startSluice, stopAll, testConfig, waitFor } from '../helpers/processes.js';

afterAll(stopAll);

describe('configuration reload (SIGHUP)', () => {
  it('a bad file is refused and counted; a good one adds endpoints without resetting the others', async () => {
    const [a, b] = await Promise.all([startModelServer('a', ['m:1']), startModelServer('b', ['m:1'])]);
    let port = 0;
    const sluice = await startSluice((p) => ((port = p), testConfig(p, [{ id: 'a', url: a.url }])));
    await waitFor(async () => ((await (await fetch(`${sluice.url}/internal/health`)).json()) as { status: string }).status === 'healthy', 10_000, 'a healthy');
    const reloads = async () => {
      const exp = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
      return { ok: findSample(exp, 'sluice_config_reloads_total', { result: 'success' }), bad: findSample(exp, 'sluice_config_reloads_total', { result: 'failure' }) };
    };
    expect(await reloads()).toEqual({ ok: 0, bad: 0 });

    writeFileSync(sluice.configPath, testConfig(port, [{ id: 'a', url: a.url, weight: 0 }]));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(async () => (await reloads()).bad === 1, 5000, 'failed reload counted');
    expect(sluice.proc.output()).toContain('endpoints[0].weight: expected a positive integer');
    expect((await fetch(`${sluice.url}/predict`, { method: 'POST', body: '{"text":"ok"}', headers: { 'content-type': 'application/json' } })).status).toBe(200);

    const transitionsBefore = sluice.proc.jsonLines().filter((l) => l.message === 'endpoint state changed' && l.endpoint === 'a').length;
    writeFileSync(sluice.configPath, testConfig(port, [{ id: 'a', url: a.url }, { id: 'b', url: b.url }], 'balancing:\n  strategy: least-connections'));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(async () => (await reloads()).ok === 1, 5000, 'reload counted');
    await waitFor(async () => ((await (await fetch(`${sluice.url}/internal/health`)).json()) as { endpoints: { healthy: number } }).endpoints.healthy === 2, 10_000, 'b healthy');
    // `a` kept its state: it never went back through unknown.
    expect(sluice.proc.jsonLines().filter((l) => l.message === 'endpoint state changed' && l.endpoint === 'a').length).toBe(transitionsBefore);
    const status = (await (await fetch(`${sluice.url}/internal/status`)).json()) as { config: { balancing: { strategy: string } } };
    expect(status.config.balancing.strategy).toBe('least-connections');
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await fetch(`${sluice.url}/predict`, { method: 'POST', body: '{"text":"ok"}', headers: { 'content-type': 'application/json' } })).headers.get('x-sluice-endpoint')!);
    expect([...seen].sort()).toEqual(['a', 'b']);
  });
});
