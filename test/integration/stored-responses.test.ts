import type http from 'node:http';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { scriptedBackends, type Handler, type ScriptedBackend } from '../helpers/backends.js';
import { freshRequest } from '../helpers/fresh-request.js';
import { startRedis } from '../helpers/redis.js';
import { freePort, startSluice, stopAll, waitFor, type SluiceProc } from '../helpers/processes.js';

// Responses API follow-ups (`previous_response_id`, `/v1/responses/{id}`) reach the server that
// stores the response they name, as LM Studio and vLLM (with its store on) keep them: in memory,
// one server's own.

const backends = scriptedBackends();
afterEach(async () => {
  await stopAll();
  await backends.closeAll();
});

interface Stored {
  readonly id: string;
  /** Turns in the conversation up to and including this one. */
  readonly turns: number;
}

/**
 * A server that stores its responses: a follow-up naming one it does not hold is a 404, as LM
 * Studio and vLLM answer it. Each answer says how many turns its conversation has, as only the
 * server holding the earlier turns can know.
 */
function storingServer(name: string): Handler {
  const store = new Map<string, Stored>();
  let next = 0;
  const notFound = (res: http.ServerResponse, id: string) =>
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: 'previous_response_id', code: null } }));
  const body = (r: Stored, status = 'completed') => ({ id: r.id, object: 'response', created_at: 1, status, model: 't:1', output: [{ id: `msg_${r.id}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: `turn ${r.turns}`, annotations: [] }] }], usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } });
  return (req, res, text) => {
    const [path] = (req.url ?? '').split('?');
    const [id, under] = path!.startsWith('/v1/responses/') ? path!.slice('/v1/responses/'.length).split('/') : [];
    if (id !== undefined) {
      const found = store.get(id);
      if (!found) return notFound(res, id);
      if (req.method === 'DELETE') {
        store.delete(id);
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, object: 'response', deleted: true }));
      }
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(under === 'input_items' ? { object: 'list', data: [] } : body(found)));
    }
    const request = JSON.parse(text) as { previous_response_id?: string; stream?: boolean };
    const previous = request.previous_response_id === undefined ? undefined : store.get(request.previous_response_id);
    if (request.previous_response_id !== undefined && !previous) return notFound(res, request.previous_response_id);
    const created: Stored = { id: `resp_${name}_${next++}`, turns: (previous?.turns ?? 0) + 1 };
    store.set(created.id, created);
    if (!request.stream) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body(created)));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (type: string, data: object, sequence: number) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence, ...data })}\n\n`);
    event('response.created', { response: { ...body(created, 'in_progress'), output: [] } }, 0);
    event('response.output_text.delta', { item_id: `msg_${created.id}`, output_index: 0, content_index: 0, delta: `turn ${created.turns}` }, 1);
    event('response.completed', { response: body(created) }, 2);
    res.end();
  };
}

async function storingFleet(count: number): Promise<ScriptedBackend[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => backends.backend(storingServer(`s${i}`))));
}

interface Options {
  readonly workers?: number;
  /** `balancing.stored_responses.max_ids`. */
  readonly maxIds?: number;
  /** The port of the Redis the replicas share owners through. */
  readonly redisPort?: number;
}

function config(port: number, fleet: readonly ScriptedBackend[], { workers = 1, maxIds, redisPort }: Options): string {
  const eps = fleet.map((b, i) => `  - name: s${i}\n    url: ${b.url}\n    check_interval: 1s\n    check_timeout: 5s`).join('\n');
  const settings = [maxIds === undefined ? '' : `    max_ids: ${maxIds}\n`, redisPort === undefined ? '' : `    redis_url: redis://127.0.0.1:${redisPort}\n`].join('');
  const stored = settings === '' ? '' : `  stored_responses:\n${settings}`;
  return `server:\n  host: 127.0.0.1\n  port: ${port}\n  workers: ${workers}\nhealth:\n  slow_start: 0s\nbalancing:\n  strategy: round-robin\n${stored}proxy:\n  expose_route_headers: true\nendpoints:\n${eps}\n`;
}

async function sluiceFor(fleet: readonly ScriptedBackend[], options: Options = {}): Promise<SluiceProc> {
  const sluice = await startSluice((port) => config(port, fleet, options));
  await waitFor(async () => {
    const health = (await (await fetch(`${sluice.url}/internal/health`)).json()) as { endpoints: { healthy: number; degraded: number } };
    const models = (await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] };
    return health.endpoints.healthy + health.endpoints.degraded === fleet.length && models.data.length > 0;
  }, 30_000, 'endpoints healthy with models');
  return sluice;
}

/** The text of a response's first output message. */
function text(response: OpenAI.Responses.Response): string {
  const message = response.output[0];
  return message?.type === 'message' && message.content[0]?.type === 'output_text' ? message.content[0].text : '';
}

/** Creates a response continuing `previous` (a new conversation when undefined), streamed or not, with the official client. */
async function turn(client: OpenAI, previous: string | undefined, stream: boolean): Promise<OpenAI.Responses.Response> {
  const params = { model: 't:1', input: 'and then?', ...(previous === undefined ? {} : { previous_response_id: previous }) };
  if (!stream) return client.responses.create(params);
  let completed: OpenAI.Responses.Response | undefined;
  for await (const event of await client.responses.create({ ...params, stream: true })) if (event.type === 'response.completed') completed = event.response;
  if (!completed) throw new Error('the stream ended without response.completed');
  return completed;
}

describe('stored responses', () => {
  it('a conversation continued with previous_response_id reaches the server that stores it, turn after turn, streamed or not; retrieved and deleted there too', async () => {
    const fleet = await storingFleet(3);
    const sluice = await sluiceFor(fleet);
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    let last = await turn(client, undefined, false);
    const owner = fleet.findIndex((b) => b.requests.length === 1);
    for (let i = 2; i <= 7; i++) {
      last = await turn(client, last.id, i % 2 === 0);
      expect(text(last)).toBe(`turn ${i}`);
    }
    expect(await client.responses.retrieve(last.id)).toMatchObject({ id: last.id, status: 'completed' });
    const routed = await fetch(`${sluice.url}/v1/responses/${last.id}/input_items`);
    expect(routed.status).toBe(200);
    expect(routed.headers.get('x-sluice-route')).toBe('stored_response');
    expect(routed.headers.get('x-sluice-endpoint')).toBe(`s${owner}`);
    expect(await client.responses.delete(last.id)).toMatchObject({ id: last.id, deleted: true });
    // Every request of the conversation went to the server that began it; round-robin sent none elsewhere.
    expect(fleet[owner]!.requests).toHaveLength(10);
    expect(fleet.filter((_, i) => i !== owner).every((b) => b.requests.length === 0)).toBe(true);
    const decisions = findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_route_decisions_total', { endpoint: `s${owner}`, reason: 'stored_response' });
    expect(decisions).toBe(9);
    // Deleted: no one's now; the answer is the 404 of whichever server round-robin picks.
    await expect(client.responses.retrieve(last.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('with balancing.stored_responses.max_ids 0 a follow-up is routed like any request, and a server that does not hold the response answers 404', async () => {
    const fleet = await storingFleet(3);
    const sluice = await sluiceFor(fleet, { maxIds: 0 });
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const first = await turn(client, undefined, false);
    // Round-robin moves on: the next server does not hold it.
    await expect(turn(client, first.id, false)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('with two workers, a response one worker saw created is followed by the other: the owner passes through the primary before the answer reaches the client', async () => {
    const fleet = await storingFleet(3);
    const sluice = await sluiceFor(fleet, { workers: 2 });
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');
    // Each request on a connection of its own: the primary hands each to a worker anew.
    const workers: string[] = [];
    let previous: string | undefined;
    for (let i = 1; i <= 8; i++) {
      const stream = i % 2 === 0;
      const answer = await freshRequest(`${sluice.url}/v1/responses`, 'POST', { model: 't:1', input: 'and then?', stream, ...(previous === undefined ? {} : { previous_response_id: previous }) });
      expect(answer.status, answer.body).toBe(200);
      expect(answer.body).toContain(`turn ${i}`);
      workers.push(String(answer.headers['x-sluice-worker']));
      previous = /"id":"(resp_[^"]+)"/.exec(answer.body)![1];
    }
    // Turns taken by the other worker than the one that saw the previous turn created.
    const crossings = workers.filter((w, i) => i > 0 && w !== workers[i - 1]).length;
    expect(crossings, workers.join(' ')).toBeGreaterThanOrEqual(2);
    expect(fleet.filter((b) => b.requests.length > 0)).toHaveLength(1);
  });

  it('replicas sharing a Redis agree: a follow-up sent to another replica than the one that saw the response created reaches its server', async () => {
    const fleet = await storingFleet(3);
    const redisPort = await startRedis();
    const replicas = await Promise.all([sluiceFor(fleet, { redisPort }), sluiceFor(fleet, { redisPort })]);
    const clients = replicas.map((r) => new OpenAI({ baseURL: `${r.url}/v1`, apiKey: 'unused', maxRetries: 0 }));
    // The client alternates between the replicas, turn by turn, as a load balancer in front may.
    let last = await turn(clients[0]!, undefined, false);
    for (let i = 2; i <= 7; i++) {
      last = await turn(clients[(i - 1) % 2]!, last.id, i % 2 === 0);
      expect(text(last)).toBe(`turn ${i}`);
    }
    expect(fleet.filter((b) => b.requests.length > 0)).toHaveLength(1);
    // Each replica found owners the other learnt, in Redis.
    for (const r of replicas) expect(await lookups(r, 'found_shared')).toBe(3);
  });

  it('with its Redis gone, a replica routes a follow-up it does not know as any request: answered, and counted as a failed look-up', async () => {
    const fleet = await storingFleet(3);
    const nobody = await freePort();
    const replicas = await Promise.all([sluiceFor(fleet, { redisPort: nobody }), sluiceFor(fleet, { redisPort: nobody })]);
    const [a, b] = replicas.map((r) => new OpenAI({ baseURL: `${r.url}/v1`, apiKey: 'unused', maxRetries: 0 }));
    const first = await turn(a!, undefined, false);
    // Whichever server round-robin picks: the one that holds it, or another that says 404. Never Sluice's own error.
    const status = await turn(b!, first.id, false).then(
      () => 200,
      (err: unknown) => (err instanceof OpenAI.APIError ? err.status : 0),
    );
    expect([200, 404]).toContain(status);
    expect(await lookups(replicas[1]!, 'error')).toBe(1);
    // The replica that saw it created still knows it.
    expect(text(await turn(a!, first.id, false))).toBe('turn 2');
    expect(await lookups(replicas[0]!, 'found')).toBe(1);
  });
});

async function lookups(sluice: SluiceProc, result: string): Promise<number> {
  return findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_stored_response_lookups_total', { result }) ?? 0;
}
