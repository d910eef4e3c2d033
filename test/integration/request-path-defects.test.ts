import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { ok, scriptedBackends, type Handler } from '../helpers/backends.js';
import { startSluice, stopAll, waitFor, waitRoutable, type SluiceProc } from '../helpers/processes.js';

// Regression tests for defects of the request path: each failed before its fix.

const backends = scriptedBackends();
const backend = backends.backend;
afterEach(async () => {
  await stopAll();
  await backends.closeAll();
});

function config(port: number, endpoints: Array<{ name: string; url: string }>, extra = ''): string {
  const eps = endpoints.map((e) => `  - name: ${e.name}\n    url: ${e.url}\n    check_interval: 1s\n    check_timeout: 5s`).join('\n');
  return `server:\n  host: 127.0.0.1\n  port: ${port}\nhealth:\n  slow_start: 0s\n${extra}\nendpoints:\n${eps}\n`;
}

async function sluiceFor(endpoints: Array<{ name: string; url: string }>, extra = ''): Promise<SluiceProc> {
  const sluice = await startSluice((port) => config(port, endpoints, extra));
  await waitRoutable(sluice.url, endpoints.length);
  return sluice;
}

async function metric(sluice: SluiceProc, name: string, labels: Record<string, string>): Promise<number> {
  return findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), name, labels) ?? 0;
}

async function failures(sluice: SluiceProc, endpoint: string): Promise<number> {
  const families = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
  return families.get('sluice_endpoint_failures_total')!.samples.filter((s) => s.labels.endpoint === endpoint).reduce((n, s) => n + s.value, 0);
}

async function endpointStatus(sluice: SluiceProc): Promise<Array<{ name: string; status: string; circuit: string; active_connections: number }>> {
  return ((await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ name: string; status: string; circuit: string; active_connections: number }> }).endpoints;
}

/** Sends raw bytes and collects the whole answer (the connection is closed by Sluice or after `waitMs`). */
function raw(port: number, text: string, waitMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c: Buffer) => {
      out += c.toString('latin1');
      // One complete response is enough.
      const head = out.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(out)?.[1];
      if (head !== -1 && length !== undefined && out.length >= head + 4 + Number(length)) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
}

/** The access-log lines of forwarded paths (the model list read while waiting for readiness has its own). */
function accessLines(sluice: SluiceProc): Array<Record<string, unknown>> {
  return sluice.proc.jsonLines().filter((l) => l.message === 'request' && l.path !== '/v1/models');
}

function post(sluice: SluiceProc, path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sluice.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

/**
 * A backend on a bare socket, for answers Node's HTTP server will not write: `answer` gets each
 * request's head in turn (its body read and dropped), the socket, and the request's number on
 * its connection (1 for the first), and writes what it likes.
 */
async function rawBackend(answer: (head: string, socket: net.Socket, nth: number) => void): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let nth = 0;
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      while (buffered.includes('\r\n\r\n')) {
        const head = buffered.slice(0, buffered.indexOf('\r\n\r\n'));
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < head.length + 4 + length) return;
        buffered = buffered.slice(head.length + 4 + length);
        answer(head, socket, ++nth);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('a request that cannot be forwarded', () => {
  it('`*` targets and dot-segments get a 400 before any endpoint is chosen, and never make an endpoint unhealthy', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'a', url: b.url }, { name: 'b', url: b.url }]);
    const port = new URL(sluice.url).port;
    for (const target of ['GET * HTTP/1.1', 'OPTIONS * HTTP/1.1', 'GET * HTTP/1.1', 'GET /v1/../admin/fault HTTP/1.1', 'GET /v1/%2e%2e/admin/fault HTTP/1.1', 'GET /v1/./models/x HTTP/1.1']) {
      const answer = await raw(Number(port), `${target}\r\nHost: x\r\n\r\n`);
      expect(statusOf(answer), target).toBe(400);
      expect(answer).toContain('"code":"invalid_request"');
    }
    expect((await endpointStatus(sluice)).map((e) => e.status)).not.toContain('unhealthy');
    expect(await failures(sluice, 'a')).toBe(0);
    expect(await failures(sluice, 'b')).toBe(0);
    expect(b.requests).toEqual([]);
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'none', code: '400' })).toBe(6);
    // Still serving.
    expect((await post(sluice, '/v1/chat/completions', '{"model":"t:1"}')).status).toBe(200);
  });
});

describe('retries never run a generation twice', () => {
  it('a POST that reached a backend which then reset or answered 504 is not sent to another endpoint', async () => {
    const resetter = await backend((req) => req.socket.destroy());
    const gateway = await backend((_req, res) => res.writeHead(504, { 'content-type': 'application/json' }).end('{"error":"gateway"}'));
    const sluice = await sluiceFor([{ name: 'resetter', url: resetter.url }, { name: 'gateway', url: gateway.url }], 'breaker:\n  failure_threshold: 100');
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await post(sluice, '/v1/chat/completions', '{"model":"t:1"}')).status);
    // Each request ran on exactly one backend.
    expect(resetter.requests.length + gateway.requests.length).toBe(2);
    expect(statuses.sort()).toEqual([502, 504]);
    // A GET may be repeated: it goes to the other endpoint after the first fails.
    const before = resetter.requests.length + gateway.requests.length;
    await fetch(`${sluice.url}/v1/anything`);
    expect(resetter.requests.length + gateway.requests.length - before).toBeGreaterThanOrEqual(1);
  });

  it('with proxy.retry_non_idempotent the same POST is retried', async () => {
    const resetter = await backend((req) => req.socket.destroy());
    const good = await backend(ok);
    const sluice = await sluiceFor([{ name: 'resetter', url: resetter.url }, { name: 'good', url: good.url }], 'proxy:\n  retry_non_idempotent: true');
    for (let i = 0; i < 2; i++) expect((await post(sluice, '/v1/chat/completions', '{"model":"t:1"}')).status).toBe(200);
  });

  /**
   * A backend that answers the first request of each connection and resets the connection on the
   * second, after reading it: what Sluice sees in the keep-alive race, and also what a backend
   * that died holding the request looks like.
   */
  async function racingBackend() {
    const served: string[] = [];
    const received: string[] = [];
    const backend = await rawBackend((head, socket, nth) => {
      const health = head.startsWith('GET /health');
      const models = head.startsWith('GET /v1/models');
      const line = head.slice(0, head.indexOf(' HTTP/'));
      if (!health && !models) received.push(line);
      if (!health && !models && nth > 1) {
        socket.resetAndDestroy();
        return;
      }
      if (!health && !models) served.push(line);
      const body = models ? '{"object":"list","data":[{"id":"t:1"}]}' : '{"ok":true}';
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nkeep-alive: timeout=60\r\n\r\n${body}`);
    });
    return { ...backend, served, received };
  }

  it('the keep-alive race: a reused connection reset before any response byte is retried once on a new one when the request may be sent again, and not held against the endpoint', async () => {
    const race = await racingBackend();
    try {
      const sluice = await sluiceFor([{ name: 'race', url: race.url }], 'proxy:\n  retries: 0');
      // GET is idempotent: every reset on a reused connection is retried on a new one.
      for (let i = 0; i < 3; i++) expect((await fetch(`${sluice.url}/v1/anything`)).status).toBe(200);
      expect(race.served).toHaveLength(3);
      expect(await failures(sluice, 'race')).toBe(0);
      expect((await endpointStatus(sluice))[0]!.status).not.toBe('unhealthy');
    } finally {
      await race.close();
    }
  });

  it('the keep-alive race with a POST: not sent twice unless proxy.retry_non_idempotent, and the reset alone does not mark the endpoint down', async () => {
    const race = await racingBackend();
    try {
      const strict = await sluiceFor([{ name: 'race', url: race.url }], 'proxy:\n  retries: 0');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(strict, '/v1/chat/completions', '{"model":"t:1"}')).status);
      // The second POST went out on the reused connection, was read and reset: answered 502, never sent again.
      expect(statuses).toEqual([200, 502, 200]);
      expect(race.received.filter((l) => l.startsWith('POST'))).toHaveLength(3);
      expect((await endpointStatus(strict))[0]!.status).not.toBe('unhealthy');

      const allowed = await sluiceFor([{ name: 'race', url: race.url }], 'proxy:\n  retries: 0\n  retry_non_idempotent: true');
      const before = race.served.length;
      for (let i = 0; i < 3; i++) expect((await post(allowed, '/v1/chat/completions', '{"model":"t:1"}')).status).toBe(200);
      expect(race.served.length - before).toBe(3);
      expect(await failures(allowed, 'race')).toBe(0);
    } finally {
      await race.close();
    }
  });
});

describe('a stalled client', () => {
  it('is timed on its own: its connection is closed, the slot released, and nothing is held against a fast backend', async () => {
    let upstreamClosed = false;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const b = await backend((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const pump = () => {
        while (res.write(chunk));
      };
      res.on('drain', pump);
      res.on('close', () => (upstreamClosed = true));
      pump();
    });
    const sluice = await sluiceFor([{ name: 'fast', url: b.url }], 'breaker:\n  failure_threshold: 1\nproxy:\n  idle_timeout: 500ms\n  client_stall_timeout: 2s');
    const port = Number(new URL(sluice.url).port);
    const body = '{"model":"t:1","stream":true}';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`));
    socket.pause(); // never reads
    socket.on('error', () => undefined);
    try {
      await waitFor(() => accessLines(sluice).some((l) => l.status === 499), 15_000, 'the stalled client recorded');
      const line = accessLines(sluice).find((l) => l.status === 499)!;
      expect(line.error).toBe('client_stalled');
      await waitFor(() => upstreamClosed, 5000, 'upstream cancelled');
      const [status] = await endpointStatus(sluice);
      expect(status!.active_connections).toBe(0);
      expect(status!.circuit).toBe('closed');
      expect(status!.status).not.toBe('unhealthy');
      expect(await failures(sluice, 'fast')).toBe(0);
      expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'fast', code: '499' })).toBe(1);
    } finally {
      socket.destroy();
    }
  });
});

describe('HEAD on a generation path', () => {
  it('answered 2xx with a stream type is not a stream cut: clients cannot open a breaker with it', async () => {
    const b = await backend((_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end());
    const sluice = await sluiceFor([{ name: 'heads', url: b.url }], 'breaker:\n  failure_threshold: 2\nproxy:\n  first_token_timeout: 5s');
    for (const path of ['/v1/chat/completions', '/api/chat', '/api/generate']) {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${sluice.url}${path}`, { method: 'HEAD' });
        expect(res.status, path).toBe(200);
      }
    }
    expect(await failures(sluice, 'heads')).toBe(0);
    const [status] = await endpointStatus(sluice);
    expect(status!.circuit).toBe('closed');
    expect(status!.status).not.toBe('degraded');
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'heads', code: '200' })).toBe(6);
  });
});

describe('a stream cut mid-way', () => {
  it('is counted, logged and kept in model stats as a failure with its own reason, not as a 200', async () => {
    const b = await backend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
      setTimeout(() => req.socket.destroy(), 100);
    });
    const sluice = await sluiceFor([{ name: 'cut', url: b.url }]);
    const res = await post(sluice, '/v1/chat/completions', '{"model":"t:1","stream":true}');
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    await waitFor(() => accessLines(sluice).length > 0, 5000, 'access line');
    expect(accessLines(sluice)[0]).toMatchObject({ status: 502, error: 'stream_cut' });
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'cut', code: '502' })).toBe(1);
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'cut', code: '200' })).toBe(0);
    expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'cut', reason: 'stream_cut' })).toBe(1);
    const stats = (await (await fetch(`${sluice.url}/internal/stats/models`)).json()) as { models: Array<{ model: string; failures: number; successes: number }> } | Record<string, unknown>;
    expect(JSON.stringify(stats)).toMatch(/"failures":1/);
  });

  it('before the first byte of its body is an error in the client API shape, not an empty reply', async () => {
    // The head, then the connection closed: Node had not yet sent the head on to the client.
    const cut = await backend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      setTimeout(() => req.socket.destroy(), 50);
    });
    const sluice = await sluiceFor([{ name: 'cut', url: cut.url }], 'breaker:\n  failure_threshold: 100');
    const port = Number(new URL(sluice.url).port);
    const body = '{"model":"t:1","stream":true}';
    const answer = await raw(port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    expect(answer, 'a status line, never an empty reply').toMatch(/^HTTP\/1\.1 502 /);
    expect(answer).toContain('"code":"upstream_unreachable"');
    expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'cut', reason: 'stream_cut' })).toBe(1);
    // As every request no endpoint could answer: counted with endpoint `none`, the failure under the endpoint.
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'none', model: 't:1', code: '502' })).toBe(1);
  });
});

describe('a stream that ends without its end marker', () => {
  // Each backend streams two tokens; `whole` decides whether the API's end marker follows before a clean end.
  const openaiStream = (whole: boolean): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const token of ['a', 'b']) res.write(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"t:1","choices":[{"index":0,"delta":{"content":"${token}"},"finish_reason":null}]}\n\n`);
    res.end(whole ? 'data: [DONE]\n\n' : undefined);
  };
  const ollamaStream = (whole: boolean): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const token of ['a', 'b']) res.write(`{"model":"t:1","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"${token}"},"done":false}\n`);
    res.end(whole ? '{"model":"t:1","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true}\n' : undefined);
  };

  /** A Responses API stream: `event:` lines, two text deltas, then (when `whole`) the closing event, carrying the whole answer, longer than the last bytes Sluice keeps. */
  const responsesStream = (whole: boolean): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (type: string, fields: string) => res.write(`event: ${type}\ndata: {"type":"${type}",${fields}}\n\n`);
    send('response.created', '"sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"t:1","output":[]}');
    send('response.output_text.delta', '"sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"a"');
    send('response.output_text.delta', '"sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"b"');
    if (whole) send('response.completed', `"sequence_number":3,"response":{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"t:1","output":[{"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"ab${' '.repeat(20_000)}","annotations":[]}]}],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}`);
    res.end();
  };

  /** An Anthropic Messages API stream (`/v1/messages`): two text deltas, then (when `whole`) `message_stop`. */
  const anthropicStream = (whole: boolean): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (type: string, fields: string) => res.write(`event: ${type}\ndata: {"type":"${type}"${fields}}\n\n`);
    send('message_start', ',"message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"t:1","usage":{"input_tokens":3,"output_tokens":1}}');
    for (const token of ['a', 'b']) send('content_block_delta', `,"index":0,"delta":{"type":"text_delta","text":"${token}"}`);
    send('message_delta', ',"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}');
    if (whole) send('message_stop', '');
    res.end();
  };

  /** The event types of a Messages API stream through `sluice`, read as its SSE (rejects when the stream is cut). */
  async function anthropicTypes(sluice: SluiceProc): Promise<string[]> {
    const res = await fetch(`${sluice.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 't:1', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    return [...(await res.text()).matchAll(/^event: (\S+)$/gm)].map((m) => m[1]!);
  }

  async function responsesText(sluice: SluiceProc): Promise<{ text: string; types: string[] }> {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    let text = '';
    const types: string[] = [];
    for await (const event of await client.responses.create({ model: 't:1', input: 'hi', stream: true })) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    return { text, types };
  }

  /** A stored response streamed again (GET /v1/responses/{id}?stream=true): the event types. */
  async function retrievedTypes(sluice: SluiceProc): Promise<string[]> {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const types: string[] = [];
    for await (const event of await client.responses.retrieve('resp_1', { stream: true })) types.push(event.type);
    return types;
  }

  async function openaiTokens(sluice: SluiceProc): Promise<string> {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    let text = '';
    for await (const chunk of await client.chat.completions.create({ model: 't:1', messages: [{ role: 'user', content: 'hi' }], stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  }

  async function ollamaTokens(sluice: SluiceProc): Promise<string> {
    let text = '';
    for await (const part of await new Ollama({ host: sluice.url }).chat({ model: 't:1', messages: [{ role: 'user', content: 'hi' }], stream: true })) text += part.message.content;
    return text;
  }

  /** The access-log line of the one request a Sluice served, once written. */
  async function onlyAccessLine(sluice: SluiceProc): Promise<Record<string, unknown>> {
    await waitFor(() => accessLines(sluice).length === 1, 5000, 'access line');
    return accessLines(sluice)[0]!;
  }

  /** The one request through `sluice` (alone in front of endpoint `cut`) was logged and counted as a stream cut. */
  async function expectCountedCut(sluice: SluiceProc): Promise<void> {
    expect(await onlyAccessLine(sluice)).toMatchObject({ status: 502, error: 'stream_cut', endpoint: 'cut' });
    expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'cut', reason: 'stream_cut' })).toBe(1);
  }

  it('is cut for the client and counted as a stream cut (OpenAI SSE without data: [DONE]); with the marker it is a 200', async () => {
    const whole = await backend(openaiStream(true));
    const cut = await backend(openaiStream(false));
    const sluice = await sluiceFor([{ name: 'whole', url: whole.url }]);
    expect(await openaiTokens(sluice)).toBe('ab');
    expect(await onlyAccessLine(sluice)).toMatchObject({ status: 200, endpoint: 'whole' });

    const other = await sluiceFor([{ name: 'cut', url: cut.url }]);
    await expect(openaiTokens(other)).rejects.toThrow();
    await expectCountedCut(other);
    expect(await metric(other, 'sluice_requests_total', { endpoint: 'cut', code: '502' })).toBe(1);
    expect(await metric(other, 'sluice_requests_total', { endpoint: 'cut', code: '200' })).toBe(0);
    expect(other.proc.jsonLines().find((l) => l.message === 'response cut mid-stream')).toMatchObject({ reason: 'backend ended the stream without its end marker' });
    // The backend closed nothing: it is not marked down for it.
    expect((await endpointStatus(other)).find((e) => e.name === 'cut')?.status).not.toBe('unhealthy');
  });

  it('is cut for the client and counted as a stream cut (Responses API without its closing event); with it, however long, a 200', async () => {
    const whole = await backend(responsesStream(true));
    const cut = await backend(responsesStream(false));
    const sluice = await sluiceFor([{ name: 'whole', url: whole.url }]);
    expect(await responsesText(sluice)).toEqual({ text: 'ab', types: ['response.created', 'response.output_text.delta', 'response.output_text.delta', 'response.completed'] });
    expect(await onlyAccessLine(sluice)).toMatchObject({ status: 200, endpoint: 'whole' });

    const other = await sluiceFor([{ name: 'cut', url: cut.url }]);
    await expect(responsesText(other)).rejects.toThrow();
    await expectCountedCut(other);
    expect(await metric(other, 'sluice_requests_total', { endpoint: 'cut', code: '200' })).toBe(0);
  });

  it('is cut for the client and counted as a stream cut (a stored response streamed again without its closing event); with it, a 200', async () => {
    const whole = await backend(responsesStream(true));
    const cut = await backend(responsesStream(false));
    const sluice = await sluiceFor([{ name: 'whole', url: whole.url }]);
    expect(await retrievedTypes(sluice)).toEqual(['response.created', 'response.output_text.delta', 'response.output_text.delta', 'response.completed']);
    expect(await onlyAccessLine(sluice)).toMatchObject({ status: 200, endpoint: 'whole', method: 'GET', path: '/v1/responses/resp_1?stream=true' });

    const other = await sluiceFor([{ name: 'cut', url: cut.url }]);
    await expect(retrievedTypes(other)).rejects.toThrow();
    await expectCountedCut(other);
  });

  it('is cut for the client and counted as a stream cut (Anthropic Messages API without message_stop); with it, a 200 with its tokens counted', async () => {
    const whole = await backend(anthropicStream(true));
    const cut = await backend(anthropicStream(false));
    const sluice = await sluiceFor([{ name: 'whole', url: whole.url }]);
    expect(await anthropicTypes(sluice)).toEqual(['message_start', 'content_block_delta', 'content_block_delta', 'message_delta', 'message_stop']);
    expect(await onlyAccessLine(sluice)).toMatchObject({ status: 200, endpoint: 'whole', path: '/v1/messages' });
    expect(await metric(sluice, 'sluice_tokens_total', { endpoint: 'whole', type: 'input' })).toBe(3);
    expect(await metric(sluice, 'sluice_tokens_total', { endpoint: 'whole', type: 'output' })).toBe(2);
    // Its first text delta is its first token.
    expect(await metric(sluice, 'sluice_time_to_first_token_seconds_count', { endpoint: 'whole' })).toBe(1);

    const other = await sluiceFor([{ name: 'cut', url: cut.url }]);
    await expect(anthropicTypes(other)).rejects.toThrow();
    await expectCountedCut(other);
  });

  it('is cut for the client and counted as a stream cut (Ollama NDJSON without "done": true); with it, a 200', async () => {
    const whole = await backend(ollamaStream(true));
    const cut = await backend(ollamaStream(false));
    const sluice = await sluiceFor([{ name: 'whole', url: whole.url }]);
    expect(await ollamaTokens(sluice)).toBe('ab');
    expect(await onlyAccessLine(sluice)).toMatchObject({ status: 200, endpoint: 'whole' });

    const other = await sluiceFor([{ name: 'cut', url: cut.url }]);
    await expect(ollamaTokens(other)).rejects.toThrow();
    await expectCountedCut(other);
  });
});

describe('readiness', () => {
  it("stays ready while the only endpoint cools down after a 429 (Sluice answers 503 with Retry-After meanwhile)", async () => {
    const b = await backend((_req, res) => res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '60' }).end('{"error":{"message":"busy"}}'));
    const sluice = await sluiceFor([{ name: 'busy', url: b.url }]);
    expect((await post(sluice, '/v1/chat/completions', '{"model":"t:1"}')).status).toBe(429);
    const during = await post(sluice, '/v1/chat/completions', '{"model":"t:1"}');
    expect(during.status).toBe(503);
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
    const ready = await fetch(`${sluice.url}/internal/health`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).not.toBe('unhealthy');
  });
});

describe('client mistakes are 4xx answers, one log line, counted', () => {
  it('a malformed sticky cookie is routed normally, never a 500', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'a', url: b.url }], 'balancing:\n  sticky:\n    key: cookie:sid');
    for (const cookie of ['sid=%', 'sid=%E0%A4%A', 'sid']) {
      expect((await post(sluice, '/v1/chat/completions', '{"model":"t:1"}', { cookie })).status).toBe(200);
    }
    expect(sluice.proc.jsonLines().filter((l) => l.level === 'error')).toEqual([]);
  });

  it('an aborted upload is a 499 with one info line, counted, and no stack trace', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'a', url: b.url }]);
    const port = Number(new URL(sluice.url).port);
    const socket = net.connect(port, '127.0.0.1', () => socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":'));
    socket.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await waitFor(() => accessLines(sluice).length > 0, 5000, 'access line');
    expect(accessLines(sluice)).toHaveLength(1);
    expect(accessLines(sluice)[0]).toMatchObject({ status: 499, level: 'info', error: 'client_closed' });
    expect(sluice.proc.output()).not.toContain('unhandled error');
    expect(sluice.proc.jsonLines().filter((l) => l.level === 'error')).toEqual([]);
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'none', code: '499' })).toBe(1);
  });

  it('a model that is not a string is a 400 in the client API shape', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'a', url: b.url }]);
    for (const model of ['42', '["t:1"]', '{"name":"t:1"}', 'true']) {
      const openai = await post(sluice, '/v1/chat/completions', `{"model":${model}}`);
      expect(openai.status).toBe(400);
      expect(((await openai.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error' });
      const ollama = await post(sluice, '/api/chat', `{"model":${model}}`);
      expect(ollama.status).toBe(400);
      expect(typeof ((await ollama.json()) as { error: unknown }).error).toBe('string');
    }
    expect(b.requests).toEqual([]);
  });

  it('`Connection: host, content-type` does not strip headers the backend needs', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const b = await backend((req, res) => {
      seen.push(req.headers);
      ok(req, res, '');
    });
    const sluice = await sluiceFor([{ name: 'a', url: b.url }]);
    // fetch refuses to send such a header: node:http does.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'host, content-type, x-request-id' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end('{"model":"t:1"}');
    });
    expect(status).toBe(200);
    expect(seen[0]!.host).toBe(new URL(b.url).host);
    expect(seen[0]!['content-type']).toBe('application/json');
    expect(seen[0]!['x-request-id']).toBeTruthy();
  });

  it('client-address headers are passed on only from server.trusted_proxies; otherwise Sluice writes its own', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const b = await backend((req, res) => {
      seen.push(req.headers);
      ok(req, res, '');
    });
    const forged = { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7', forwarded: 'for=203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/evil', 'x-forwarded-port': '1234' };
    const untrusting = await sluiceFor([{ name: 'a', url: b.url }]);
    expect((await post(untrusting, '/v1/chat/completions', '{"model":"t:1"}', forged)).status).toBe(200);
    expect(seen[0]).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1', 'x-forwarded-proto': 'http' });
    expect(seen[0]!.forwarded).toBeUndefined();
    // Every other X-Forwarded-* a client writes is dropped too.
    expect(seen[0]!['x-forwarded-prefix']).toBeUndefined();
    expect(seen[0]!['x-forwarded-port']).toBeUndefined();
    await untrusting.proc.stop();
    const trusting = await startSluice((port) => config(port, [{ name: 'a', url: b.url }], '').replace('  host: 127.0.0.1\n', '  host: 127.0.0.1\n  trusted_proxies: [127.0.0.1/32]\n'));
    await waitFor(async () => ((await (await fetch(`${trusting.url}/v1/models`)).json()) as { data: unknown[] }).data.length > 0, 30_000, 'catalog');
    expect((await post(trusting, '/v1/chat/completions', '{"model":"t:1"}', forged)).status).toBe(200);
    expect(seen[1]).toMatchObject({ 'x-forwarded-for': '203.0.113.7, 127.0.0.1', 'x-real-ip': '203.0.113.7', forwarded: 'for=203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/evil', 'x-forwarded-port': '1234' });
    // Behind a proxy, with the admin surface on the proxy port and no token: said at start.
    const exposed = (p: SluiceProc) => p.proc.jsonLines().some((l) => l.level === 'warn' && String(l.message).startsWith('the admin surface (/metrics, /internal/*) answers on the proxy port'));
    expect(exposed(trusting)).toBe(true);
    expect(exposed(untrusting)).toBe(false);
  });

  it('unknown paths on the proxy port that Sluice would answer itself are JSON 404s', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'a', url: b.url }]);
    const res = await fetch(`${sluice.url}/internal/nothing`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/json');
  });
});

describe('retries leave nothing behind', () => {
  it('ten retries leave no listeners on the client request (no MaxListenersExceededWarning for it)', async () => {
    const b = await backend((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"busy"}'));
    const endpoints = Array.from({ length: 11 }, (_, i) => ({ name: `e${i}`, url: b.url }));
    const sluice = await sluiceFor(endpoints, 'proxy:\n  retries: 10\nbreaker:\n  failure_threshold: 100');
    const res = await post(sluice, '/v1/chat/completions', '{"model":"t:1"}');
    expect(res.status).toBe(503);
    expect(res.headers.get('x-sluice-attempts')).toBe('11');
    expect(b.requests).toHaveLength(11);
    await new Promise((r) => setTimeout(r, 200));
    // (Each endpoint's proxy engine adds one `close` listener to the server, once: not what is tested here.)
    expect(sluice.proc.output()).not.toMatch(/MaxListenersExceededWarning[^\n]*IncomingMessage/);
  });
});

describe('a backend status line no response can carry', () => {
  /** Answers health checks and the model list, and every other request with `HTTP/1.1 099 Weird`, which Node's client parser takes. */
  function weirdStatusBackend() {
    return rawBackend((head, socket) => {
      const own = head.startsWith('GET /health') || head.startsWith('GET /v1/models');
      const body = head.startsWith('GET /v1/models') ? '{"object":"list","data":[{"id":"t:1"}]}' : '{"ok":true}';
      socket.write(`HTTP/1.1 ${own ? '200 OK' : '099 Weird'}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });
  }

  it('is a 502 protocol error, counted and logged, and the endpoint gets its connection slot back', async () => {
    const weird = await weirdStatusBackend();
    try {
      const sluice = await sluiceFor([{ name: 'weird', url: weird.url }], 'proxy:\n  retries: 0\nbreaker:\n  failure_threshold: 100');
      const res = await post(sluice, '/v1/chat/completions', '{"model":"t:1"}');
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
      expect((await endpointStatus(sluice))[0]!.active_connections).toBe(0);
      expect(await metric(sluice, 'sluice_requests_total', { code: '502' })).toBe(1);
      expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'weird', reason: 'protocol_error' })).toBe(1);
      expect(sluice.proc.jsonLines().some((l) => l.status === 502 && l.error === 'upstream_unreachable')).toBe(true);
    } finally {
      await weird.close();
    }
  });
});

describe('a client that leaves while its request waits', () => {
  it('for the first model listings: the request is not sent on, and is logged as 499', async () => {
    // The first model list answers only once the test releases it, after the client has given
    // up: until then a request for t:1 waits for the catalog (discovery.timeout, the longest that
    // wait lasts, is longer).
    const posts: string[] = [];
    let listed = false;
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    const slow = http.createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') {
        const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"t:1"}]}');
        if (listed) return answer();
        return void released.then(() => {
          listed = true;
          answer();
        });
      }
      posts.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      // Not waiting for it to be ready: it is not, until the list has answered.
      const sluice = await startSluice((port) => config(port, [{ name: 'slow', url }], 'discovery:\n  timeout: 30s'), {}, false);
      await waitFor(async () => (await fetch(`${sluice.url}/internal/health`).catch(() => undefined)) !== undefined, 30_000, 'sluice listening');
      expect(listed).toBe(false);
      // The client gives up after 300 ms, long before the list answers.
      const gone = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1"}', signal: AbortSignal.timeout(300) }).catch((err: unknown) => err);
      expect(gone).toBeInstanceOf(Error);
      // Time for Sluice to see the client leave (there is nothing to poll for it), then the list
      // answers: the request must not be sent on once its model is known.
      await new Promise((r) => setTimeout(r, 2000));
      release();
      await waitFor(() => listed, 15_000, 'the model list answered');
      await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'request' && l.path === '/v1/chat/completions'), 10_000, 'the request logged');
      const line = sluice.proc.jsonLines().find((l) => l.message === 'request' && l.path === '/v1/chat/completions')!;
      expect(line).toMatchObject({ status: 499, error: 'client_closed', endpoint: 'none' });
      expect(posts).toEqual([]);
      expect((await endpointStatus(sluice))[0]!.active_connections).toBe(0);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });
});

describe('a backend that switches protocols without being asked', () => {
  /** Answers health checks and the model list; every other request gets `answer` (a 101 with or without an Upgrade). */
  function switchingBackend(answer: string) {
    return rawBackend((head, socket) => {
      const models = head.startsWith('GET /v1/models');
      if (head.startsWith('GET /health') || models) {
        const body = models ? '{"object":"list","data":[{"id":"t:1"}]}' : '{"ok":true}';
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      socket.write(answer);
    });
  }

  it('is a 502 protocol error in the client API shape, not a request left hanging past every timeout, nor a 101 passed on', async () => {
    for (const answer of ['HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n', 'HTTP/1.1 101 Switching Protocols\r\n\r\n']) {
      const switching = await switchingBackend(answer);
      try {
        const sluice = await sluiceFor([{ name: 'switching', url: switching.url }], 'proxy:\n  retries: 0\n  first_byte_timeout: 2s\nbreaker:\n  failure_threshold: 100');
        // Before the fix, with an Upgrade the request hung until the client gave up (no timeout ended it).
        const call = (path: string, body: string) => fetch(`${sluice.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(8000) }).catch((err: unknown) => err as Error);
        const res = await call('/v1/chat/completions', '{"model":"t:1","stream":true}');
        expect(res, answer).toBeInstanceOf(Response);
        const openai = res as Response;
        expect(openai.status, answer).toBe(502);
        expect(((await openai.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
        // A backend that does not speak HTTP as asked is marked down at once; its next passing check lets it back in.
        await waitFor(async () => (await endpointStatus(sluice))[0]!.status !== 'unhealthy', 10_000, 'the endpoint routable again');
        const ollama = (await call('/api/chat', '{"model":"t:1"}')) as Response;
        expect(ollama.status).toBe(502);
        expect(typeof ((await ollama.json()) as { error: unknown }).error).toBe('string');
        expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'switching', reason: 'protocol_error' })).toBe(2);
        expect(await metric(sluice, 'sluice_requests_total', { code: '502' })).toBe(2);
        expect(await metric(sluice, 'sluice_requests_total', { code: '101' })).toBe(0);
        expect((await endpointStatus(sluice))[0]!.active_connections).toBe(0);
        await sluice.proc.stop();
      } finally {
        await switching.close();
      }
    }
  });
});

describe('a retried status whose body never ends', () => {
  it('does not hold the backend connection it came on: the body is read for a second at most, then the connection closed', async () => {
    /** Connections that carried a 503, while they stay open. */
    const open = new Set<net.Socket>();
    let answered = 0;
    const unending = await rawBackend((head, socket) => {
      if (head.startsWith('GET /health') || head.startsWith('GET /v1/models')) {
        const body = head.startsWith('GET /v1/models') ? '{"object":"list","data":[{"id":"t:1"}]}' : '{"ok":true}';
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      // A 503, its chunked body begun and never ended.
      answered++;
      if (!open.has(socket)) socket.once('close', () => open.delete(socket));
      open.add(socket);
      socket.write('HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"err\r\n');
    });
    const good = await backend(ok);
    try {
      const sluice = await sluiceFor([{ name: 'unending', url: unending.url }, { name: 'good', url: good.url }], 'balancing:\n  strategy: round-robin\nbreaker:\n  failure_threshold: 1000\nproxy:\n  retry_on_status: [503]');
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1"}' });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
      expect(answered).toBeGreaterThan(1);
      expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'unending', reason: 'http_5xx' })).toBe(answered);
      // Before the fix each such response kept its connection open for good.
      await waitFor(() => open.size === 0, 10_000, "the unending responses' connections closed");
      await sluice.proc.stop();
    } finally {
      await unending.close();
    }
  });
});

describe("Sluice's own errors on the Anthropic Messages API", () => {
  it('are in its shape: an unknown model, a malformed body, a body too large', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'a', url: b.url }], 'limits:\n  max_body: 1KiB');
    const messages = (body: string) => post(sluice, '/v1/messages', body, { 'anthropic-version': '2023-06-01' });
    const cases: Array<[string, number, string]> = [
      ['{"model":"nope:1","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}', 404, 'not_found_error'],
      ['{"model":', 400, 'invalid_request_error'],
      [`{"model":"t:1","max_tokens":8,"messages":[{"role":"user","content":"${'x'.repeat(2048)}"}]}`, 413, 'request_too_large'],
    ];
    for (const [body, status, type] of cases) {
      const res = await messages(body);
      expect(res.status, body.slice(0, 20)).toBe(status);
      const error = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(error).toMatchObject({ type: 'error', error: { type } });
      expect(error.error.message.length).toBeGreaterThan(0);
    }
  });
});

describe('token counting endpoints', () => {
  it("a count of a prompt's tokens is not counted as tokens consumed; a generation's usage still is", async () => {
    const b = await backend((req, res) => {
      const body = req.url!.startsWith('/v1/responses/input_tokens') ? '{"object":"response.input_tokens","input_tokens":42}' : req.url!.startsWith('/v1/messages/count_tokens') ? '{"input_tokens":42}' : '{"id":"c","object":"chat.completion","model":"t:1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}';
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    const sluice = await sluiceFor([{ name: 'a', url: b.url }]);
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    expect((await client.responses.inputTokens.count({ model: 't:1', input: 'hi' })).input_tokens).toBe(42);
    const counted = await post(sluice, '/v1/messages/count_tokens', '{"model":"t:1","messages":[{"role":"user","content":"hi"}]}', { 'anthropic-version': '2023-06-01' });
    expect(await counted.json()).toEqual({ input_tokens: 42 });
    await waitFor(() => accessLines(sluice).length === 2, 5000, 'two access lines');
    expect(await metric(sluice, 'sluice_tokens_total', { endpoint: 'a', type: 'input' })).toBe(0);
    await client.chat.completions.create({ model: 't:1', messages: [{ role: 'user', content: 'hi' }] });
    await waitFor(() => accessLines(sluice).length === 3, 5000, 'three access lines');
    expect(await metric(sluice, 'sluice_tokens_total', { endpoint: 'a', type: 'input' })).toBe(5);
    expect(await metric(sluice, 'sluice_tokens_total', { endpoint: 'a', type: 'output' })).toBe(1);
  });
});

describe('a stream that ends with an error event', () => {
  it("is counted as the backend's failure (stream_error), not a 200; the client gets the error the backend sent", async () => {
    const b = await backend((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"t:1","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n');
      // What vLLM sends when generation fails mid-stream, then [DONE].
      res.write('data: {"error": {"message": "engine died", "type": "InternalServerError", "param": null, "code": 500}}\n\n');
      res.end('data: [DONE]\n\n');
    });
    const sluice = await sluiceFor([{ name: 'failing', url: b.url }]);
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    let text = '';
    await expect(
      (async () => {
        for await (const chunk of await client.chat.completions.create({ model: 't:1', messages: [{ role: 'user', content: 'hi' }], stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
      })(),
    ).rejects.toThrow('engine died');
    expect(text).toBe('a');
    await waitFor(() => accessLines(sluice).length === 1, 5000, 'access line');
    expect(accessLines(sluice)[0]).toMatchObject({ status: 502, error: 'stream_error', endpoint: 'failing' });
    expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'failing', reason: 'stream_error' })).toBe(1);
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'failing', code: '200' })).toBe(0);
    expect(await metric(sluice, 'sluice_requests_total', { endpoint: 'failing', code: '502' })).toBe(1);
  });

  it("Ollama's error line at the end of a stream is the same: stream_error, the stream passed on whole", async () => {
    const b = await backend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"model":"t:1","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"a"},"done":false}\n');
      res.end('{"error":"model runner has unexpectedly stopped"}\n');
    });
    const sluice = await sluiceFor([{ name: 'failing', url: b.url }]);
    let text = '';
    await expect(
      (async () => {
        for await (const part of await new Ollama({ host: sluice.url }).chat({ model: 't:1', messages: [{ role: 'user', content: 'hi' }], stream: true })) text += part.message.content;
      })(),
    ).rejects.toThrow('model runner has unexpectedly stopped');
    expect(text).toBe('a');
    await waitFor(() => accessLines(sluice).length === 1, 5000, 'access line');
    expect(accessLines(sluice)[0]).toMatchObject({ status: 502, error: 'stream_error', endpoint: 'failing' });
    expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'failing', reason: 'stream_error' })).toBe(1);
    expect(await metric(sluice, 'sluice_endpoint_failures_total', { endpoint: 'failing', reason: 'stream_cut' })).toBe(0);
  });
});
