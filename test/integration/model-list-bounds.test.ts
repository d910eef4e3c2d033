import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition } from '../helpers/exposition.js';
import { startSluice, stopAll, waitFor, type SluiceProc } from '../helpers/processes.js';

// A backend's model list becomes metric label values: Sluice takes a bounded number of usable
// names from it, and a model no endpoint lists any longer takes its series with it.

const servers: http.Server[] = [];
afterEach(async () => {
  await stopAll();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

/**
 * A backend whose model list is whatever `list()` says at the time; chat completions answer 200,
 * once `held()` resolves (at once by default), with usage.
 */
async function backend(list: () => string[], held: () => Promise<void> = () => Promise.resolve()): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: list().map((id) => ({ id })) }));
      void held().then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function sluiceFor(url: string, discovery: string): Promise<SluiceProc> {
  return startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nhealth:\n  slow_start: 0s\ndiscovery:\n${discovery}\nendpoints:\n  - name: b\n    url: ${url}\n    type: openai\n    health_path: /health\n    check_interval: 1s\n`);
}

async function seriesOf(sluice: SluiceProc, name: string): Promise<Array<Record<string, string>>> {
  const families = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
  return (families.get(name)?.samples ?? []).map((s) => s.labels);
}

function chat(sluice: SluiceProc, model: string): Promise<Response> {
  return fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) });
}

describe('model lists are bounded label values', () => {
  it('takes at most discovery.max_models usable names from a list of thousands, and says once what it left out', async () => {
    const models = [`${'x'.repeat(10_000)}`, ...Array.from({ length: 2_000 }, (_, i) => `model-${i}`)];
    let listings = 0;
    const url = await backend(() => {
      listings++;
      return models;
    });
    const sluice = await sluiceFor(url, '  max_models: 50\n  interval: 200ms');
    await waitFor(async () => (await seriesOf(sluice, 'sluice_models_available_endpoints')).length > 0, 15_000, 'models listed');
    const available = await seriesOf(sluice, 'sluice_models_available_endpoints');
    expect(available).toHaveLength(50);
    expect(available.every((l) => l.model!.length <= 256)).toBe(true);
    // Listed again and again, the same list is warned about once, not at every listing.
    const seen = listings;
    await waitFor(() => listings >= seen + 3, 15_000, 'three more listings');
    const warnings = sluice.proc.jsonLines().filter((l) => l.message === 'model list entries left out');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ endpoint: 'b', dropped: 1_951, kept: 50 });
    // A model past the limit is not one Sluice knows: a client naming it creates no series of its own.
    expect((await chat(sluice, 'model-1999')).status).toBe(404);
    expect((await seriesOf(sluice, 'sluice_requests_total')).some((l) => l.model === 'model-1999')).toBe(false);
  }, 60_000);

  it('a model the backend no longer lists loses its series and its model stats', async () => {
    let models = ['kept', 'dropped'];
    const url = await backend(() => models);
    const sluice = await sluiceFor(url, '  interval: 300ms');
    await waitFor(async () => (await seriesOf(sluice, 'sluice_models_available_endpoints')).length === 2, 15_000, 'both models listed');
    expect((await chat(sluice, 'dropped')).status).toBe(200);
    expect((await chat(sluice, 'kept')).status).toBe(200);
    expect((await seriesOf(sluice, 'sluice_requests_total')).some((l) => l.model === 'dropped')).toBe(true);

    models = ['kept'];
    await waitFor(async () => !(await seriesOf(sluice, 'sluice_requests_total')).some((l) => l.model === 'dropped'), 15_000, "the dropped model's series gone");
    for (const name of ['sluice_request_duration_seconds', 'sluice_time_to_first_token_seconds']) {
      const series = await seriesOf(sluice, name);
      expect(series.some((l) => l.model === 'dropped')).toBe(false);
      expect(series.some((l) => l.model === 'kept')).toBe(true);
    }
    const stats = (await (await fetch(`${sluice.url}/internal/stats/models`)).json()) as unknown;
    expect(JSON.stringify(stats)).not.toContain('"dropped"');
    expect(JSON.stringify(stats)).toContain('"kept"');
  }, 60_000);

  it('a request in flight when its model is retired is counted as unknown, and brings none of its series back', async () => {
    let models = ['kept', 'dropped'];
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let holding = false;
    const url = await backend(() => models, () => {
      holding = true;
      return released;
    });
    const sluice = await sluiceFor(url, '  interval: 300ms');
    await waitFor(async () => (await seriesOf(sluice, 'sluice_models_available_endpoints')).length === 2, 15_000, 'both models listed');
    const answer = chat(sluice, 'dropped');
    await waitFor(() => holding, 10_000, 'the request at the backend');

    models = ['kept'];
    await waitFor(async () => !(await seriesOf(sluice, 'sluice_models_available_endpoints')).some((l) => l.model === 'dropped'), 15_000, 'the model retired');
    release();
    expect((await answer).status).toBe(200);

    const requests = await seriesOf(sluice, 'sluice_requests_total');
    expect(requests.filter((l) => l.model === 'unknown' && l.code === '200')).toHaveLength(1);
    for (const name of ['sluice_requests_total', 'sluice_request_duration_seconds', 'sluice_time_to_first_token_seconds', 'sluice_tokens_total']) {
      expect((await seriesOf(sluice, name)).some((l) => l.model === 'dropped'), name).toBe(false);
    }
    const stats = (await (await fetch(`${sluice.url}/internal/stats/models`)).json()) as unknown;
    expect(JSON.stringify(stats)).not.toContain('"dropped"');
  }, 60_000);
});
