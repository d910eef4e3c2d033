import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startModelServer, startSluice, stopAll, testConfig, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { freshRequest, type Answer } from '../helpers/fresh-request.js';

// Sluice learns which endpoint serves which model from their model lists. Here those lists answer
// late (MODEL_LIST_DELAY) while the endpoints' health checks pass at once, so Sluice is listening,
// and its endpoints routable, well before it knows any model: the window a client that starts
// together with Sluice (a compose stack, a rollout) falls into.

const MODEL = 'm:1';


const send = freshRequest;

const chat = (sluice: SluiceProc) => send(`${sluice.url}/v1/chat/completions`, 'POST', { model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 });
const json = (answer: Answer): unknown => JSON.parse(answer.body);

/** A sample server that is up and healthy but answers its model list `delay` late. */
const slowLister = (id: string, delay: string): Promise<ModelServer> => startModelServer(id, [MODEL], { MODEL_LIST_DELAY: delay });

/** Starts Sluice and returns as soon as it listens (liveness), not once it is ready. */
async function startListening(yaml: (port: number) => string): Promise<SluiceProc> {
  const sluice = await startSluice(yaml, {}, false);
  await waitFor(async () => (await fetch(`${sluice.url}/internal/live`)).ok, 30_000, 'sluice listening');
  return sluice;
}

afterEach(stopAll);
afterAll(stopAll);

describe('start-up warm-up', () => {
  it('a request that arrives before the first model lists waits for them and is routed; readiness waits too', async () => {
    const server = await slowLister('slow-list', '2s');
    const sluice = await startListening((port) => testConfig(port, [{ id: server.id, url: server.url }]));
    // All at once, as clients starting with Sluice would.
    const [health, completion, models, tags] = await Promise.all([
      send(`${sluice.url}/internal/health`),
      chat(sluice),
      send(`${sluice.url}/v1/models`),
      send(`${sluice.url}/api/tags`),
    ]);
    expect(completion.status, completion.body).toBe(200);
    expect(completion.body).toContain('slow-list');
    expect(health.status).toBe(503);
    expect(json(health)).toMatchObject({ status: 'starting' });
    // The lists' first answers already name the model.
    expect(json(models)).toMatchObject({ object: 'list', data: [{ id: MODEL, endpoints: ['slow-list'] }] });
    expect(json(tags)).toMatchObject({ models: [{ name: MODEL }] });
    const after = await send(`${sluice.url}/internal/health`);
    expect(after.status, after.body).toBe(200);
    expect(json(after)).toMatchObject({ status: 'healthy' });
    expect(sluice.proc.jsonLines().some((l) => l.message === 'model catalog primed')).toBe(true);
    // Start-up's garbage was collected before the port opened (server/heap.ts): a full collection takes some milliseconds.
    const listening = sluice.proc.jsonLines().find((l) => l.message === 'sluice listening');
    expect(listening?.startup_gc_ms).toBeGreaterThan(0);
    // Its wait for the lists was the backend's, not Sluice's own time: only a request sent once
    // the catalog is primed is observed in sluice_overhead_seconds.
    expect((await chat(sluice)).status).toBe(200);
    const metrics = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
    expect(findSample(metrics, 'sluice_requests_total', { endpoint: 'slow-list', model: MODEL, code: '200' })).toBe(2);
    expect(findSample(metrics, 'sluice_overhead_seconds_count', { endpoint: 'slow-list' })).toBe(1);
    expect(findSample(metrics, 'sluice_overhead_seconds_sum', { endpoint: 'slow-list' })).toBeLessThan(1);
  });

  it('the wait is bounded by discovery.timeout: then the request is answered with what is known', async () => {
    const server = await slowLister('too-slow', '20s');
    const sluice = await startListening((port) => testConfig(port, [{ id: server.id, url: server.url }], 'discovery:\n  timeout: 1s\n'));
    const [health, completion] = await Promise.all([send(`${sluice.url}/internal/health`), chat(sluice)]);
    expect(health.status).toBe(503);
    // Still unknown once the wait is over, and the endpoint's list has not answered: it may serve
    // the model, so not a 404 (nor a hang) but a 503 to try again later.
    expect(completion.status, completion.body).toBe(503);
    expect(json(completion)).toMatchObject({ error: { code: 'model_lists_pending' } });
    expect(completion.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    // It waited (Sluice was listening well within the second), but not for the 20 s list.
    expect(completion.ms).toBeGreaterThan(200);
    expect(completion.ms).toBeLessThan(5000);
    // Primed by the bound, with a routable endpoint: ready (requests without a model can be served).
    await waitFor(async () => (await send(`${sluice.url}/internal/health`)).status === 200, 5000, 'ready after the bound');
  });

  it('server.workers: 2: the workers wait for the primary\'s first discovery round', async () => {
    const server = await slowLister('slow-list', '4s');
    const yaml = (port: number) => testConfig(port, [{ id: server.id, url: server.url }], 'discovery:\n  timeout: 10s\n').replace(/^server:\n/m, 'server:\n  workers: 2\n  shutdown_grace: 1s\n');
    const sluice = await startListening(yaml);
    const [health, ...completions] = await Promise.all([send(`${sluice.url}/internal/health`), chat(sluice), chat(sluice), chat(sluice), chat(sluice)]);
    expect(completions.map((c) => c.status), completions.map((c) => c.body).join('\n')).toEqual([200, 200, 200, 200]);
    expect(health.status).toBe(503);
    expect(json(health)).toMatchObject({ status: 'starting' });
    // Every worker hears that the catalog is primed (each would otherwise wait out its own 10 s
    // bound): readiness on fresh connections, whichever worker takes them, turns 200 at once.
    await waitFor(async () => (await Promise.all([1, 2, 3, 4, 5, 6].map(() => send(`${sluice.url}/internal/health`)))).every((a) => a.status === 200), 2000, 'every worker ready');
  });
});
