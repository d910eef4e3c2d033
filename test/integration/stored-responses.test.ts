import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { freshRequest } from '../helpers/fresh-request.js';
import { startRedis } from '../helpers/redis.js';
import { freePort, startModelServer, startSluice, stopAll, waitFor, waitRoutable, type ModelServer, type SluiceProc } from '../helpers/processes.js';

// Responses API follow-ups (`previous_response_id`, `/v1/responses/{id}`) reach the server that
// stores the response they name. The sample model servers keep their responses as LM Studio and
// vLLM (with its store on) do, in their own memory: any other server answers 404.

const MODEL = 'llama3.2:1b';

afterEach(() => stopAll());

function fleetOf(count: number): Promise<ModelServer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startModelServer(`s${i}`, [MODEL])));
}

interface Options {
  readonly workers?: number;
  /** `balancing.stored_responses.max_ids`. */
  readonly maxIds?: number;
  /** The port of the Redis the replicas share owners through. */
  readonly redisPort?: number;
}

function config(port: number, fleet: readonly ModelServer[], { workers = 1, maxIds, redisPort }: Options): string {
  const eps = fleet.map((s) => `  - name: ${s.id}\n    url: ${s.url}\n    type: openai\n    check_interval: 1s\n    check_timeout: 5s`).join('\n');
  const settings = [maxIds === undefined ? '' : `    max_ids: ${maxIds}\n`, redisPort === undefined ? '' : `    redis_url: redis://127.0.0.1:${redisPort}\n`].join('');
  const stored = settings === '' ? '' : `  stored_responses:\n${settings}`;
  return `server:\n  host: 127.0.0.1\n  port: ${port}\n  workers: ${workers}\nhealth:\n  slow_start: 0s\nbalancing:\n  strategy: round-robin\n${stored}proxy:\n  expose_route_headers: true\nendpoints:\n${eps}\n`;
}

async function sluiceFor(fleet: readonly ModelServer[], options: Options = {}): Promise<SluiceProc> {
  const sluice = await startSluice((port) => config(port, fleet, options));
  await waitRoutable(sluice.url, fleet.length);
  return sluice;
}

const clientOf = (sluice: SluiceProc) => new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });

/** The sample server that answered (it names itself in every body). */
const serverOf = (response: object) => (response as { server_id?: string }).server_id;

/** Creates a response continuing `previous` (a new conversation when undefined), streamed or not, with the official client. */
async function turn(client: OpenAI, previous: string | undefined, stream: boolean): Promise<OpenAI.Responses.Response> {
  const params = { model: MODEL, input: 'And then?', max_output_tokens: 3, ...(previous === undefined ? {} : { previous_response_id: previous }) };
  if (!stream) return client.responses.create(params);
  let completed: OpenAI.Responses.Response | undefined;
  for await (const event of await client.responses.create({ ...params, stream: true })) if (event.type === 'response.completed') completed = event.response;
  if (!completed) throw new Error('the stream ended without response.completed');
  return completed;
}

/** Turns 2 to 7 of a conversation begun with `first`, by `clientFor(turn)`: every answer, checked to continue the one before. */
async function converse(first: OpenAI.Responses.Response, clientFor: (turn: number) => OpenAI): Promise<OpenAI.Responses.Response[]> {
  const answers = [first];
  for (let i = 2; i <= 7; i++) {
    const last = answers.at(-1)!;
    const next = await turn(clientFor(i), last.id, i % 2 === 0);
    expect(next.previous_response_id).toBe(last.id);
    // The server holds the conversation: its prompt grew by the last turn's answer.
    expect(next.usage!.input_tokens).toBeGreaterThan(last.usage!.input_tokens + last.usage!.output_tokens);
    answers.push(next);
  }
  return answers;
}

async function lookups(sluice: SluiceProc, result: string): Promise<number> {
  return findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_stored_response_lookups_total', { result }) ?? 0;
}

describe('stored responses', () => {
  it('a conversation continued with previous_response_id reaches the server that stores it, turn after turn, streamed or not; retrieved and deleted there too', async () => {
    const fleet = await fleetOf(3);
    const sluice = await sluiceFor(fleet);
    const client = clientOf(sluice);
    const answers = await converse(await turn(client, undefined, false), () => client);
    const owner = serverOf(answers[0]!);
    expect(answers.map(serverOf)).toEqual(answers.map(() => owner));
    const last = answers.at(-1)!;
    expect(await client.responses.retrieve(last.id)).toMatchObject({ id: last.id, status: 'completed', server_id: owner });
    const routed = await fetch(`${sluice.url}/v1/responses/${last.id}`);
    expect(routed.status).toBe(200);
    expect(routed.headers.get('x-sluice-route')).toBe('stored_response');
    expect(routed.headers.get('x-sluice-endpoint')).toBe(owner);
    expect(await client.responses.delete(last.id)).toMatchObject({ id: last.id, deleted: true, server_id: owner });
    const decisions = findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_route_decisions_total', { endpoint: owner!, reason: 'stored_response' });
    expect(decisions).toBe(9);
    expect(await lookups(sluice, 'found')).toBe(9);
    // Deleted: no one's now; the answer is the 404 of whichever server round-robin picks.
    await expect(client.responses.retrieve(last.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('a follow-up whose server is down goes nowhere else (where it would get a 404): its failure, then 503 with Retry-After; once the server is back, its own answer', async () => {
    const fleet = await fleetOf(3);
    const sluice = await sluiceFor(fleet);
    const first = await turn(clientOf(sluice), undefined, false);
    const owner = fleet.find((s) => s.id === serverOf(first))!;
    const exited = new Promise((resolve) => owner.proc.child.once('exit', resolve));
    owner.proc.child.kill('SIGKILL');
    await exited;
    const followUp = async () => {
      const res = await fetch(`${sluice.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, input: 'And then?', previous_response_id: first.id, max_output_tokens: 3 }) });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error: { message: string }; server_id?: string } };
    };
    // Attempts at the dead server fail (502: a pooled connection found closed, a connection
    // refused) until it is known down (503): Sluice's own answers, never another server's.
    const answers: Array<Awaited<ReturnType<typeof followUp>>> = [];
    await waitFor(async () => (answers.push(await followUp()), answers.at(-1)!.status === 503), 10_000, 'the server known down');
    for (const answer of answers) expect([[502, undefined], [503, undefined]], JSON.stringify(answer)).toContainEqual([answer.status, answer.body.server_id]);
    const later = answers.at(-1)!;
    expect(Number(later.retryAfter)).toBeGreaterThan(0);
    expect(later.body.error.message).toContain(`the endpoint that stores the response named (${owner.id})`);
    // Back, with its memory empty: the request goes to it, and its 404 is the truth now.
    await owner.restart();
    await waitFor(async () => (await followUp()).status !== 503, 30_000, 'the server routable again');
    const back = await followUp();
    expect([back.status, back.body.server_id]).toEqual([404, owner.id]);
  });

  it('with balancing.stored_responses.max_ids 0 a follow-up is routed like any request, and a server that does not hold the response answers 404', async () => {
    const fleet = await fleetOf(3);
    const client = clientOf(await sluiceFor(fleet, { maxIds: 0 }));
    const first = await turn(client, undefined, false);
    // Round-robin moves on: the next server does not hold it.
    await expect(turn(client, first.id, false)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('with two workers, a response one worker saw created is followed by the other: the owner passes through the primary before the answer reaches the client', async () => {
    const fleet = await fleetOf(3);
    const sluice = await sluiceFor(fleet, { workers: 2 });
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');
    // Each request on a connection of its own: the primary hands each to a worker anew.
    const workers: string[] = [];
    const servers = new Set<string>();
    let previous: string | undefined;
    for (let i = 1; i <= 8; i++) {
      const stream = i % 2 === 0;
      const answer = await freshRequest(`${sluice.url}/v1/responses`, 'POST', { model: MODEL, input: 'And then?', max_output_tokens: 3, stream, ...(previous === undefined ? {} : { previous_response_id: previous }) });
      expect(answer.status, answer.body).toBe(200);
      workers.push(String(answer.headers['x-sluice-worker']));
      servers.add(String(answer.headers['x-server-id']));
      previous = /"id":"(resp_[^"]+)"/.exec(answer.body)![1];
    }
    // Turns taken by the other worker than the one that saw the previous turn created.
    const crossings = workers.filter((w, i) => i > 0 && w !== workers[i - 1]).length;
    expect(crossings, workers.join(' ')).toBeGreaterThanOrEqual(2);
    expect(servers.size).toBe(1);
  });

  it('a worker restarted after a crash knows the owners the cluster learnt before: the primary keeps a copy and hands it over', async () => {
    const fleet = await fleetOf(3);
    const sluice = await sluiceFor(fleet, { workers: 2 });
    const serving = () => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving');
    await waitFor(() => serving().length >= 2, 30_000, 'both workers serving');
    const post = (body: object) => freshRequest(`${sluice.url}/v1/responses`, 'POST', { model: MODEL, input: 'And then?', max_output_tokens: 3, ...body });
    const created: Array<{ id: string; server: string }> = [];
    for (let i = 0; i < 6; i++) {
      const answer = await post({});
      expect(answer.status, answer.body).toBe(200);
      const body = JSON.parse(answer.body) as { id: string; server_id: string };
      created.push({ id: body.id, server: body.server_id });
    }
    const slot0 = serving().find((l) => l.worker === 0)!;
    process.kill(slot0.worker_pid as number, 'SIGKILL');
    await waitFor(() => serving().length >= 3, 30_000, 'worker 0 restarted');
    // Each on a connection of its own: both workers take follow-ups, the restarted one included.
    const workers = new Set<string>();
    // In another order than they were created, so that no worker's round-robin lands on their servers by chance.
    for (const { id, server } of [...created.slice().reverse(), ...created]) {
      const answer = await post({ previous_response_id: id });
      expect(answer.status, answer.body).toBe(200);
      expect((JSON.parse(answer.body) as { server_id: string }).server_id).toBe(server);
      workers.add(String(answer.headers['x-sluice-worker']));
    }
    expect(workers).toEqual(new Set(['0', '1']));
    // Merged over the workers (the dead one's counts kept): every look-up found its owner.
    expect([await lookups(sluice, 'found'), await lookups(sluice, 'unknown')]).toEqual([12, 0]);
  });

  it('replicas sharing a Redis agree: a follow-up sent to another replica than the one that saw the response created reaches its server', async () => {
    const fleet = await fleetOf(3);
    const redisPort = await startRedis();
    const replicas = await Promise.all([sluiceFor(fleet, { redisPort }), sluiceFor(fleet, { redisPort })]);
    const clients = replicas.map(clientOf);
    // The client alternates between the replicas, turn by turn, as a load balancer in front may.
    const answers = await converse(await turn(clients[0]!, undefined, false), (i) => clients[(i - 1) % 2]!);
    expect(new Set(answers.map(serverOf)).size).toBe(1);
    // Each replica found owners the other learnt, in Redis.
    for (const r of replicas) expect(await lookups(r, 'found_shared')).toBe(3);
  });

  it('with its Redis gone, a replica routes a follow-up it does not know as any request: answered, and counted as a failed look-up', async () => {
    const fleet = await fleetOf(3);
    const nobody = await freePort();
    const replicas = await Promise.all([sluiceFor(fleet, { redisPort: nobody }), sluiceFor(fleet, { redisPort: nobody })]);
    const [a, b] = replicas.map(clientOf);
    const first = await turn(a!, undefined, false);
    // Whichever server round-robin picks: the one that holds it, or another that says 404. Never Sluice's own error.
    const status = await turn(b!, first.id, false).then(
      () => 200,
      (err: unknown) => (err instanceof OpenAI.APIError ? err.status : 0),
    );
    expect([200, 404]).toContain(status);
    expect(await lookups(replicas[1]!, 'error')).toBe(1);
    // The replica that saw it created still knows it.
    expect((await turn(a!, first.id, false)).previous_response_id).toBe(first.id);
    expect(await lookups(replicas[0]!, 'found')).toBe(1);
  });
});
