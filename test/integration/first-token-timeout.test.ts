import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { postFault, startModelServer, startSluice, stopAll, waitFor, waitReady, type ModelServer, type SluiceProc } from '../helpers/processes.js';

// proxy.first_token_timeout: a streamed request whose first token does not come in time is
// cancelled on its endpoint and answered by another; the slow endpoint is counted and degraded.

const MODEL = 'llama3.2:1b';
// Generous, so that the good server's first token always makes it, even on a slow machine.
const DEADLINE_MS = 1_500;
/** The stalling server's wait before its first token: far past the deadline, and past any test's patience. */
const STALL_MS = 120_000;

let good: ModelServer;
let stalling: ModelServer;
let mute: MuteBackend;

/**
 * A backend on loopback that passes checks and lists the model, but never answers a generation:
 * not even response headers. It counts the generation requests still open, so a test can see
 * that Sluice cancelled them.
 */
interface MuteBackend {
  readonly url: string;
  readonly server: http.Server;
  received: number;
  open: number;
}

async function startMute(): Promise<MuteBackend> {
  const server = http.createServer();
  const backend: MuteBackend = { url: '', server, received: 0, open: 0 };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/health') return res.end('ok');
    if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end(`{"object":"list","data":[{"id":"${MODEL}"}]}`);
    backend.received++;
    backend.open++;
    res.on('close', () => backend.open--);
    req.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(backend, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function stall(server: ModelServer, delayMs: number): Promise<void> {
  const res = await postFault(server.url, { mode: 'stall', delay_ms: delayMs });
  expect(res.status).toBe(200);
}

/** Fast checks; a check is never slow enough to degrade an endpoint, so only requests can. */
function config(port: number, endpoints: Endpoints, proxyExtra: string): string {
  const eps = endpoints.map((e) => `  - name: ${e.name}\n    url: ${e.url}\n    type: openai\n    health_path: /health\n    check_interval: 200ms\n    check_timeout: 5s${e.firstTokenTimeout ? `\n    first_token_timeout: ${e.firstTokenTimeout}` : ''}`).join('\n');
  return `server:\n  host: 127.0.0.1\n  port: ${port}\nlogging:\n  level: info\nhealth:\n  slow_start: 0s\n  degraded_latency: 5s\nproxy:\n  expose_route_headers: true\n${proxyExtra}endpoints:\n${eps}\n`;
}

type Endpoints = Array<{ name: string; url: string; firstTokenTimeout?: string }>;

async function sluiceFor(endpoints: Endpoints, proxyExtra: string): Promise<SluiceProc> {
  const sluice = await startSluice((port) => config(port, endpoints, proxyExtra));
  await waitReady(sluice.url, endpoints.length, [MODEL], 30_000);
  return sluice;
}

async function metrics(sluice: SluiceProc): Promise<ReturnType<typeof parseExposition>> {
  return parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
}

function client(sluice: SluiceProc): OpenAI {
  return new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
}

/** One streamed chat completion through the official client: its text and the endpoint that answered. */
async function streamChat(openai: OpenAI): Promise<{ text: string; endpoint: string | null; attempts: string | null; contentType: string | null }> {
  const { data: stream, response } = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'tell me about waves' }], max_tokens: 8, stream: true }).withResponse();
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  return { text, endpoint: response.headers.get('x-sluice-endpoint'), attempts: response.headers.get('x-sluice-attempts'), contentType: response.headers.get('content-type') };
}

beforeAll(async () => {
  [good, stalling, mute] = await Promise.all([startModelServer('good', [MODEL]), startModelServer('stalling', [MODEL]), startMute()]);
  await stall(stalling, STALL_MS);
});

afterAll(async () => {
  await stopAll();
  mute.server.closeAllConnections();
  await new Promise<void>((r) => mute.server.close(() => r()));
});

describe('first_token_timeout set', () => {
  let sluice: SluiceProc;
  beforeAll(async () => {
    sluice = await sluiceFor(
      [
        { name: 'good', url: good.url },
        { name: 'stalling', url: stalling.url },
        { name: 'mute', url: mute.url },
      ],
      `  first_token_timeout: ${DEADLINE_MS}ms\n`,
    );
  });
  afterAll(() => sluice.proc.stop());

  it('streamed requests all succeed, answered by the good server; the others are cancelled, counted and degraded', async () => {
    const openai = client(sluice);
    for (let i = 0; i < 9; i++) {
      const answer = await streamChat(openai);
      expect(answer.text.length).toBeGreaterThan(0);
      expect(answer.endpoint).toBe('good');
      expect(answer.contentType).toContain('text/event-stream');
    }
    // An Ollama chat streams NDJSON unless it says "stream": false: the deadline applies to it too.
    const ollama = await fetch(`${sluice.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 4 } }) });
    expect(ollama.status).toBe(200);
    expect(ollama.headers.get('x-sluice-endpoint')).toBe('good');
    expect(ollama.headers.get('content-type')).toContain('ndjson');
    expect((await ollama.text()).trim().split('\n').length).toBeGreaterThan(1);

    const m = await metrics(sluice);
    // The stalling server sent its headers at once and then no token; the mute one sent nothing at all.
    for (const endpoint of ['stalling', 'mute']) {
      expect(findSample(m, 'sluice_endpoint_failures_total', { endpoint, reason: 'first_token_timeout' }), endpoint).toBeGreaterThanOrEqual(1);
      expect(findSample(m, 'sluice_retries_total', { endpoint, reason: 'first_token_timeout' }), endpoint).toBeGreaterThanOrEqual(1);
      expect(findSample(m, 'sluice_endpoint_state', { endpoint, state: 'degraded' }), endpoint).toBe(1);
      expect(findSample(m, 'sluice_endpoint_effective_weight', { endpoint }), endpoint).toBeLessThan(1);
    }
    expect(findSample(m, 'sluice_endpoint_failures_total', { endpoint: 'good', reason: 'first_token_timeout' })).toBe(0);
    expect(findSample(m, 'sluice_endpoint_state', { endpoint: 'good', state: 'healthy' })).toBe(1);
    // Degraded by the slow requests, not by anything else.
    const degraded = sluice.proc.jsonLines().filter((l) => l.message === 'endpoint state changed' && l.to === 'degraded');
    expect(degraded.map((l) => l.endpoint).sort()).toEqual(['mute', 'stalling']);
    for (const line of degraded) expect(String(line.reason)).toMatch(new RegExp(`^slow request: no first token within ${DEADLINE_MS}ms`));
    // Every attempt on the mute backend was cancelled: its requests would otherwise stay open for good.
    expect(mute.received).toBeGreaterThanOrEqual(1);
    await waitFor(() => mute.open === 0, 10_000, 'cancelled upstream requests closed');
    await waitFor(async () => findSample(await metrics(sluice), 'sluice_endpoint_active_connections', { endpoint: 'stalling' }) === 0, 10_000, 'no attempt left on the stalling endpoint');
  });

  it('a backend that cuts its stream before the first token: the request goes elsewhere, the client never sees the cut', async () => {
    // Sends the head and a role-only chunk at once, then closes the connection: no token, ever.
    const cutter = http.createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end(`{"object":"list","data":[{"id":"${MODEL}"}]}`);
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    await new Promise<void>((r) => cutter.listen(0, '127.0.0.1', r));
    const cutterUrl = `http://127.0.0.1:${(cutter.address() as AddressInfo).port}`;
    const both = await sluiceFor([{ name: 'good', url: good.url }, { name: 'cutter', url: cutterUrl }], `  first_token_timeout: ${DEADLINE_MS}ms\n`);
    try {
      const openai = client(both);
      for (let i = 0; i < 4; i++) {
        const answer = await streamChat(openai);
        expect(answer.text.length).toBeGreaterThan(0);
        expect(answer.endpoint).toBe('good');
      }
      const m = await metrics(both);
      expect(findSample(m, 'sluice_endpoint_failures_total', { endpoint: 'cutter', reason: 'stream_cut' })).toBeGreaterThanOrEqual(1);
      expect(findSample(m, 'sluice_retries_total', { endpoint: 'cutter', reason: 'stream_cut' })).toBeGreaterThanOrEqual(1);
      expect(findSample(m, 'sluice_requests_total', { endpoint: 'good', model: MODEL, code: '200' })).toBe(4);
    } finally {
      await both.proc.stop();
      cutter.closeAllConnections();
      cutter.close();
    }
  });

  it('a request that does not ask for a stream is not held to the deadline', async () => {
    // The mute backend would never answer it, so it goes to the good server only (the stalling
    // server delays non-streamed answers as well); its outcome shows no deadline applied.
    const solo = await sluiceFor([{ name: 'good', url: good.url }], `  first_token_timeout: 1ms\n`);
    const res = await fetch(`${solo.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: unknown[] }).choices.length).toBe(1);
    await solo.proc.stop();
  });
});

describe('every endpoint misses the first token', () => {
  it('the client gets a 504 JSON error in the OpenAI shape, counted and logged', async () => {
    const sluice = await sluiceFor(
      [
        { name: 'stalling', url: stalling.url },
        { name: 'mute', url: mute.url },
      ],
      `  first_token_timeout: ${DEADLINE_MS}ms\n`,
    );
    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true }) });
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.headers.get('x-sluice-attempts')).toBe('2');
    expect(res.headers.get('x-sluice-endpoint')).toBeNull();
    const body = (await res.json()) as { error: { code: string; type: string; message: string; param: unknown } };
    expect(body.error).toMatchObject({ code: 'first_token_timeout', type: 'server_error', param: null });
    expect(body.error.message).toContain('first_token_timeout');

    // The official client sees the same as an API error.
    const failed = await streamChat(client(sluice)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(504);

    const m = await metrics(sluice);
    expect(findSample(m, 'sluice_requests_total', { endpoint: 'none', model: MODEL, code: '504' })).toBe(2);
    // Streams that never had a first token: in the time-to-first-token SLO as bad events.
    expect(findSample(m, 'sluice_first_token_missed_total', { endpoint: 'none', model: MODEL })).toBe(2);
    expect(findSample(m, 'sluice_endpoint_failures_total', { endpoint: 'stalling', reason: 'first_token_timeout' })).toBeGreaterThanOrEqual(1);
    expect(findSample(m, 'sluice_endpoint_failures_total', { endpoint: 'mute', reason: 'first_token_timeout' })).toBeGreaterThanOrEqual(1);
    // Access-log lines reach stdout at the end of the event-loop turn, and this process reads them from a pipe: wait for both.
    const logged = () => sluice.proc.jsonLines().filter((l) => l.message === 'request' && l.status === 504);
    await waitFor(() => logged().length >= 2, 5000, 'both access-log lines');
    expect(logged()).toHaveLength(2);
    expect(logged()[0]).toMatchObject({ endpoint: 'none', error: 'first_token_timeout', attempts: 2 });
    await sluice.proc.stop();
  });
});

describe('a first token slower than the proxy deadline', () => {
  const stallMs = 4_000;
  let slowFirstToken: ModelServer;
  beforeAll(async () => {
    slowFirstToken = await startModelServer('slow-first-token', [MODEL]);
    await stall(slowFirstToken, stallMs);
  });
  afterAll(() => slowFirstToken.proc.stop());

  it("is waited for on an endpoint whose own first_token_timeout is longer", async () => {
    const sluice = await sluiceFor([{ name: 'slow-first-token', url: slowFirstToken.url, firstTokenTimeout: '60s' }], `  first_token_timeout: ${DEADLINE_MS}ms\n`);
    const started = performance.now();
    const answer = await streamChat(client(sluice));
    expect(performance.now() - started).toBeGreaterThanOrEqual(stallMs);
    expect(answer.text.length).toBeGreaterThan(0);
    expect(answer).toMatchObject({ endpoint: 'slow-first-token', attempts: '1' });
    expect(findSample(await metrics(sluice), 'sluice_endpoint_failures_total', { endpoint: 'slow-first-token', reason: 'first_token_timeout' })).toBe(0);
    await sluice.proc.stop();
  });

  it('with first_token_timeout unset, a stalled stream is served by the stalling server, headers and all, as before', async () => {
    const sluice = await sluiceFor([{ name: 'slow-first-token', url: slowFirstToken.url }], '');
    const started = performance.now();
    const answer = await streamChat(client(sluice));
    expect(performance.now() - started).toBeGreaterThanOrEqual(stallMs);
    expect(answer.text.length).toBeGreaterThan(0);
    expect(answer).toMatchObject({ endpoint: 'slow-first-token', attempts: '1' });
    expect(answer.contentType).toContain('text/event-stream');
    const m = await metrics(sluice);
    expect(findSample(m, 'sluice_endpoint_failures_total', { endpoint: 'slow-first-token', reason: 'first_token_timeout' })).toBe(0);
    expect(findSample(m, 'sluice_endpoint_state', { endpoint: 'slow-first-token', state: 'healthy' })).toBe(1);
    await sluice.proc.stop();
  });
});
