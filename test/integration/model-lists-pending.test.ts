import { writeFileSync } from 'node:fs';
import { afterEach, afterAll, describe, expect, it } from 'vitest';
import { allSamples, parseExposition } from '../helpers/exposition.js';
import { startModelServer, startSluice, stopAll, testConfig, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';
import { freshRequest, type Answer } from '../helpers/fresh-request.js';

// An endpoint whose model list has never answered (a model server still loading answers 503 to
// /v1/models; MODEL_LIST_FAIL_FOR here) may serve any model: until it has listed, a model no
// other endpoint serves is not known to be missing. Sluice answers 503 with Retry-After
// (`model_lists_pending`), not 404 `model_not_found`, which a client may take as final.

/** Served by the endpoint whose list answers from the start. */
const READY_MODEL = 'ready:1';
/** Served only by the endpoint whose list fails at first. */
const LATE_MODEL = 'late:1';


const send = freshRequest;

const chat = (sluice: SluiceProc, model: string) => send(`${sluice.url}/v1/chat/completions`, 'POST', { model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 });
const ollamaChat = (sluice: SluiceProc, model: string) => send(`${sluice.url}/api/chat`, 'POST', { model, messages: [{ role: 'user', content: 'hello' }], stream: false, options: { num_predict: 2 } });
const json = (answer: Answer): unknown => JSON.parse(answer.body);

/** A sample server that is healthy at once but whose model lists answer 503 for `failFor` after its start. */
const failingLister = (id: string, failFor: string): Promise<ModelServer> => startModelServer(id, [LATE_MODEL], { MODEL_LIST_FAIL_FOR: failFor });

/** The server's own model list still fails: what Sluice answered meanwhile was answered while it did. */
async function stillFailing(server: ModelServer): Promise<void> {
  const res = await fetch(`${server.url}/v1/models`);
  await res.body?.cancel();
  expect(res.status, `${server.id}'s model list already answers: the test started too slowly for its MODEL_LIST_FAIL_FOR`).toBe(503);
}

function expectPendingOpenAi(answer: Answer, model: string, retryAfter?: string): void {
  expect(answer.status, answer.body).toBe(503);
  expect(json(answer)).toEqual({ error: { message: expect.stringContaining(`'${model}'`) as unknown, type: 'server_error', param: null, code: 'model_lists_pending' } });
  expect(answer.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  if (retryAfter !== undefined) expect(answer.headers['retry-after']).toBe(retryAfter);
}

function expectPendingOllama(answer: Answer): void {
  expect(answer.status, answer.body).toBe(503);
  const body = json(answer) as { error: unknown };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toEqual(expect.stringContaining(`'${LATE_MODEL}'`));
  expect(answer.headers['retry-after']).toMatch(/^[1-9]\d*$/);
}

async function requestsTotal(sluice: SluiceProc, labels: Record<string, string>): Promise<number> {
  const families = parseExposition((await send(`${sluice.url}/metrics`)).body);
  return allSamples(families)
    .filter((s) => s.name === 'sluice_requests_total' && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

afterEach(stopAll);
afterAll(stopAll);

describe('a model while some endpoint has never listed its models', () => {
  it('503 model_lists_pending with Retry-After in each API shape; 200 once the list answers; then an unknown model is 404', async () => {
    const [ready, late] = await Promise.all([startModelServer('ready', [READY_MODEL]), failingLister('late', '8s')]);
    const sluice = await startSluice((port) => testConfig(port, [{ id: ready.id, url: ready.url }, { id: late.id, url: late.url }], 'discovery:\n  interval: 1m\n'));
    const [openai, ollama, served, nobodys] = await Promise.all([chat(sluice, LATE_MODEL), ollamaChat(sluice, LATE_MODEL), chat(sluice, READY_MODEL), chat(sluice, 'nobody:1')]);
    await stillFailing(late);
    // The late endpoint is checked every 200 ms and re-listed at its next passing check: well
    // within a second, so Retry-After is 1 (the discovery interval, a minute, bounds it only).
    expectPendingOpenAi(openai, LATE_MODEL, '1');
    expectPendingOllama(ollama);
    // A model an endpoint does list is served as usual.
    expect(served.status, served.body).toBe(200);
    // A model nobody lists yet: it may be the late endpoint's as well.
    expectPendingOpenAi(nobodys, 'nobody:1');

    // Counted and logged like any other answer of Sluice's own: endpoint none, model unknown, 503.
    expect(await requestsTotal(sluice, { endpoint: 'none', model: 'unknown', code: '503' })).toBe(3);
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'request' && l.status === 503 && l.error === 'model_lists_pending' && l.endpoint === 'none').length === 3, 5000, 'access log lines');

    // Once its list answers, the model is routed to it.
    await waitFor(async () => (await chat(sluice, LATE_MODEL)).status === 200, 20_000, `${LATE_MODEL} served`);
    const openaiAfter = await chat(sluice, LATE_MODEL);
    expect(openaiAfter.status, openaiAfter.body).toBe(200);
    expect(openaiAfter.body).toContain('late');
    const ollamaAfter = await ollamaChat(sluice, LATE_MODEL);
    expect(ollamaAfter.status, ollamaAfter.body).toBe(200);
    // Every endpoint has listed: a model nobody serves does not exist, as far as Sluice can tell.
    const missing = await chat(sluice, 'nobody:1');
    expect(missing.status, missing.body).toBe(404);
    expect(json(missing)).toMatchObject({ error: { code: 'model_not_found' } });
    expect(missing.headers['retry-after']).toBeUndefined();
    const missingOllama = await ollamaChat(sluice, 'nobody:1');
    expect(missingOllama.status).toBe(404);
    expect(json(missingOllama)).toEqual({ error: "model 'nobody:1' not found" });
  }, 90_000);

  it('server.workers: 2: every worker answers 503 while the list fails, Retry-After bounded by discovery.interval, then 200', async () => {
    const [ready, late] = await Promise.all([startModelServer('ready', [READY_MODEL]), failingLister('late', '12s')]);
    // The late endpoint is checked only once a minute, so the next discovery round (every 3 s) is
    // when its list is tried again: that is the Retry-After.
    const yaml = (port: number) =>
      testConfig(port, [{ id: ready.id, url: ready.url }, { id: late.id, url: late.url }], 'discovery:\n  interval: 3s\n')
        .replace(/^server:\n/m, 'server:\n  workers: 2\n  shutdown_grace: 1s\n')
        .replace(/(- name: late\n(?:.*\n){3} {4}check_interval: )200ms/, (_all, head: string) => `${head}1m`);
    expect(yaml(1)).toMatch(/- name: late\n(?:.*\n){3} {4}check_interval: 1m\n/);
    const sluice = await startSluice(yaml);
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map(() => chat(sluice, LATE_MODEL)));
    await stillFailing(late);
    for (const answer of answers) expectPendingOpenAi(answer, LATE_MODEL, '3');
    await waitFor(async () => (await chat(sluice, LATE_MODEL)).status === 200, 30_000, `${LATE_MODEL} served`);
    // Every worker knows the list now.
    const after = await Promise.all([1, 2, 3, 4, 5, 6].map(() => chat(sluice, LATE_MODEL)));
    expect(after.map((a) => a.status), after.map((a) => a.body).join('\n')).toEqual([200, 200, 200, 200, 200, 200]);
    const missing = await Promise.all([1, 2, 3, 4].map(() => chat(sluice, 'nobody:1')));
    expect(missing.map((a) => a.status)).toEqual([404, 404, 404, 404]);
  }, 120_000);

  it('the model lists: 503 while no model is known and an endpoint has not listed; partial lists once one is known', async () => {
    const late = await failingLister('late', '8s');
    const sluice = await startSluice((port) => testConfig(port, [{ id: late.id, url: late.url }], 'discovery:\n  interval: 1m\n'));
    const [openai, ollama] = await Promise.all([send(`${sluice.url}/v1/models`), send(`${sluice.url}/api/tags`)]);
    await stillFailing(late);
    expect(openai.status, openai.body).toBe(503);
    expect(json(openai)).toMatchObject({ error: { type: 'server_error', code: 'model_lists_pending' } });
    expect(openai.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(ollama.status, ollama.body).toBe(503);
    expect(Object.keys(json(ollama) as object)).toEqual(['error']);
    expect(ollama.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    // Answers of Sluice's own, counted and logged like any request (endpoint and model none).
    expect(await requestsTotal(sluice, { endpoint: 'none', model: 'none', code: '503' })).toBe(2);
    const logged = (path: string, status: number) => sluice.proc.jsonLines().some((l) => l.message === 'request' && l.path === path && l.status === status && l.endpoint === 'none');
    await waitFor(() => logged('/v1/models', 503) && logged('/api/tags', 503), 5000, 'access log lines of the 503s');
    // Once it has listed, the list is the fleet's.
    await waitFor(async () => (await send(`${sluice.url}/v1/models`)).status === 200, 20_000, 'the model list answered');
    expect((json(await send(`${sluice.url}/v1/models`)) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual([LATE_MODEL]);
    expect((json(await send(`${sluice.url}/api/tags`)) as { models: Array<{ name: string }> }).models.map((m) => m.name)).toEqual([LATE_MODEL]);
    await waitFor(() => logged('/v1/models', 200) && logged('/api/tags', 200), 5000, 'access log lines of the lists');
    expect(await requestsTotal(sluice, { endpoint: 'none', model: 'none', code: '200' })).toBeGreaterThanOrEqual(3);
    // HEAD gets the head alone.
    const head = await fetch(`${sluice.url}/v1/models`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('application/json');
    expect(await head.text()).toBe('');
  }, 90_000);

  it('an endpoint added by a reload that has not listed yet: 503 again until it has', async () => {
    const ready = await startModelServer('ready', [READY_MODEL]);
    let port = 0;
    const sluice = await startSluice((p) => ((port = p), testConfig(p, [{ id: ready.id, url: ready.url }])));
    const before = await chat(sluice, LATE_MODEL);
    expect(before.status, before.body).toBe(404);
    const late = await failingLister('late', '8s');
    writeFileSync(sluice.configPath, testConfig(port, [{ id: ready.id, url: ready.url }, { id: late.id, url: late.url }]));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'configuration reloaded'), 10_000, 'reloaded');
    const pending = await chat(sluice, LATE_MODEL);
    await stillFailing(late);
    expectPendingOpenAi(pending, LATE_MODEL);
    await waitFor(async () => (await chat(sluice, LATE_MODEL)).status === 200, 20_000, `${LATE_MODEL} served`);
  }, 90_000);
});
