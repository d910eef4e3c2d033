import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scriptedBackends } from '../helpers/backends.js';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { startSluice, stopAll, waitFor, type SluiceProc } from '../helpers/processes.js';

// limits.max_body_total: every request body is read whole and held until its request ends (for
// retries), so without a bound on their sum, clients each sending up to limits.max_body could hold
// far more than the process has (10,000 connections by 10 MiB by default). Past the bound a new
// body is refused before a byte of it is read.

const backends = scriptedBackends();
afterEach(async () => {
  await stopAll();
  await backends.closeAll();
});

const KiB = 1024;
const BIG = 900 * KiB;

/** A backend that holds every generation request until `release()`. */
async function holdingBackend() {
  const held: http.ServerResponse[] = [];
  const b = await backends.backend((_req, res) => held.push(res));
  return {
    url: b.url,
    received: () => b.requests.length,
    release: () => {
      for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    },
  };
}

async function sluiceFor(url: string): Promise<SluiceProc> {
  const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nlimits:\n  max_body: 1MiB\n  max_body_total: 2MiB\nhealth:\n  slow_start: 0s\nendpoints:\n  - name: a\n    url: ${url}\n    check_interval: 1s\n    check_timeout: 5s\n`);
  await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length > 0, 30_000, 'the model listed');
  return sluice;
}

/** A chat request whose body is `size` bytes of JSON. */
function body(size: number): string {
  const head = '{"model":"t:1","messages":[{"role":"user","content":"';
  const tail = '"}]}';
  return head + 'x'.repeat(size - head.length - tail.length) + tail;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** POSTs `text` (with its length, or chunked), and resolves with the answer. */
function post(sluice: SluiceProc, text: string, { chunked = false } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${sluice.url}/v1/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': Buffer.byteLength(text) }) } }, (res) => {
      let got = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (got += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: got }));
    });
    // The upload may be cut short by a refusal that closes the connection: the answer is what counts.
    req.on('error', reject);
    req.end(text);
  });
}

/** Writes `head` on a new connection and resolves with the first line that comes back. */
function firstAnswerLine(sluice: SluiceProc, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(sluice.port, '127.0.0.1', () => socket.write(head));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      got += d;
      const end = got.indexOf('\r\n');
      if (end === -1) return;
      socket.destroy();
      resolve(got.slice(0, end));
    });
    socket.on('error', reject);
  });
}

async function held(sluice: SluiceProc): Promise<number | undefined> {
  return findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_request_bodies_held_bytes', {});
}

describe('limits.max_body_total', () => {
  it('refuses a body that would take the bodies held past it with a 503 JSON, before reading it, and takes bodies again once requests end', async () => {
    const backend = await holdingBackend();
    const sluice = await sluiceFor(backend.url);
    expect(await held(sluice)).toBe(0);

    // Two bodies of 900 KiB, held by Sluice while the backend holds their requests: 1,800 of 2,048 KiB.
    const first = [post(sluice, body(BIG)), post(sluice, body(BIG))];
    await waitFor(() => backend.received() === 2, 10_000, 'both requests forwarded');
    expect(await held(sluice)).toBe(2 * BIG);

    // A third would take it to 2,700 KiB: refused, and never forwarded.
    const refused = await post(sluice, body(BIG));
    expect(refused.status).toBe(503);
    expect(refused.headers['content-type']).toContain('application/json');
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers.connection).toBe('close');
    expect(JSON.parse(refused.text)).toMatchObject({ error: { code: 'overloaded', type: 'server_error' } });
    expect(JSON.parse(refused.text).error.message).toContain('limits.max_body_total');
    // A body of unknown length counts as limits.max_body (1 MiB) until it is read: it does not fit either.
    const chunked = await post(sluice, body(4 * KiB), { chunked: true });
    expect(chunked.status).toBe(503);
    // A client that waits for `100 Continue` before its upload is refused without one.
    expect(await firstAnswerLine(sluice, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${BIG}\r\nexpect: 100-continue\r\n\r\n`)).toBe('HTTP/1.1 503 Service Unavailable');
    // A small one fits beside them.
    const small = post(sluice, body(8 * KiB));
    await waitFor(() => backend.received() === 3, 10_000, 'the small request forwarded');
    expect(await held(sluice)).toBe(2 * BIG + 8 * KiB);

    backend.release();
    for (const answer of await Promise.all([...first, small])) expect(answer.status).toBe(200);
    await waitFor(async () => (await held(sluice)) === 0, 5000, 'the bodies given back');
    // Room again: the same body is forwarded now.
    const again = post(sluice, body(BIG));
    await waitFor(() => backend.received() === 4, 10_000, 'the request forwarded');
    backend.release();
    expect((await again).status).toBe(200);

    const m = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
    expect(findSample(m, 'sluice_requests_total', { endpoint: 'none', model: 'none', code: '503' })).toBe(3);
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'request' && l.error === 'overloaded').length === 3, 5000, 'the three refusals logged');
  });

  it('gives back what a client that leaves mid-upload had taken', async () => {
    const backend = await holdingBackend();
    const sluice = await sluiceFor(backend.url);
    // Announces 900 KiB, sends a tenth of it, and leaves.
    const socket = net.connect(sluice.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', r));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${BIG}\r\n\r\n${body(BIG).slice(0, BIG / 10)}`);
    await waitFor(async () => (await held(sluice)) === BIG, 5000, 'the announced body taken');
    socket.destroy();
    await waitFor(async () => (await held(sluice)) === 0, 5000, 'the body given back');
    expect(backend.received()).toBe(0);
  });
});
