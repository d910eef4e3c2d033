import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { freePort, startModelServer, startSluice, stopAll, testConfig, waitFor, waitReady, type SluiceProc } from '../helpers/processes.js';

// What never becomes a request (Node's HTTP parser refuses it, or it is a CONNECT) is still
// answered in JSON and counted and logged like any request; Node's defaults were a bare 400 with
// no body, and for CONNECT a closed connection, neither counted nor logged.

let sluice: SluiceProc;

beforeAll(async () => {
  const server = await startModelServer('a', ['m:1']);
  sluice = await startSluice((port) => testConfig(port, [{ id: 'a', url: server.url }]));
  await waitReady(sluice.url, 1, ['m:1']);
}, 60_000);
afterAll(stopAll);

/** Sends raw bytes and reads until the server closes the connection. */
function raw(bytes: string): Promise<string> {
  const { port } = new URL(sluice.url);
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => reject(new Error(`no close; got ${JSON.stringify(got)}`)));
  });
}

/** Sends `first`, then `then` once the first bytes of the answer have come; reads until the server closes. */
function rawThen(first: string, then: string): Promise<string> {
  const { port } = new URL(sluice.url);
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(first));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      if (got === '') socket.write(then);
      got += d;
    });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => reject(new Error(`no close; got ${JSON.stringify(got)}`)));
  });
}

function parse(response: string): { status: number; contentType: string | undefined; body: { error: { code: string; message: string } } } {
  const [head = '', body = ''] = response.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const contentType = lines.find((l) => l.toLowerCase().startsWith('content-type:'))?.split(':')[1]?.trim();
  return { status: Number(statusLine.split(' ')[1]), contentType, body: JSON.parse(body) as { error: { code: string; message: string } } };
}

async function counted(code: string): Promise<number> {
  return findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_requests_total', { endpoint: 'none', model: 'none', code }) ?? 0;
}

const loggedBytes = (code: string) => sluice.proc.jsonLines().filter((l) => l.message === 'request' && l.error === code).map((l) => l.bytes);

describe('requests the HTTP parser refuses, and CONNECT', () => {
  it.each([
    ['an invalid Content-Length', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: abc\r\n\r\n{}', 400, 'malformed_request'],
    ['both Content-Length and Transfer-Encoding', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'malformed_request'],
    // The head was parsed and the request is on its way when its body turns out bad: its own path records the 400, not a client that left.
    ['an invalid chunk size part-way through the body', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n', 400, 'malformed_request'],
    ['an unknown method', 'BREW /v1/models HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'malformed_request'],
    ['headers over the limit', `GET /v1/models HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405, 'method_not_allowed'],
    // Node's own Host check answered a bare 400 with no body, neither counted nor logged.
    ['an HTTP/1.1 request without a Host header', 'GET /v1/models HTTP/1.1\r\n\r\n', 400, 'malformed_request'],
    ['an HTTP/1.1 POST without a Host header', 'POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}', 400, 'malformed_request'],
    // Node removes the chunking and leaves the gzip: the body would have been forwarded still compressed, as if it were JSON.
    ['a transfer coding other than chunked', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 400, 'malformed_request'],
    ['an Expect other than 100-continue', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}', 417, 'expectation_failed'],
  ])('%s: a JSON error in the OpenAI shape, counted and logged', async (_what, request, status, code) => {
    const before = await counted(String(status));
    const linesBefore = loggedBytes(code).length;
    const text = await raw(request);
    const answer = parse(text);
    expect(answer.status).toBe(status);
    expect(answer.contentType).toBe('application/json');
    expect(answer.body.error.code).toBe(code);
    await waitFor(async () => (await counted(String(status))) === before + 1, 5000, `the ${status} counted`);
    await waitFor(() => loggedBytes(code).length === linesBefore + 1, 5000, `an access-log line with ${code}`);
    // The access log's bytes are the error body Sluice sent.
    expect(loggedBytes(code).at(-1)).toBe(Buffer.byteLength(text.split('\r\n\r\n')[1]!));
  });

  it('a client that closes part-way through its request is a 499 client_closed, not a 400 written to nobody', async () => {
    const { port } = new URL(sluice.url);
    const before = await counted('499');
    const linesBefore = loggedBytes('client_closed').length;
    // Part of the headers, then part of a body: both are the client leaving.
    for (const partial of ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-le', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":']) {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(partial));
      socket.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 200));
      socket.destroy();
    }
    await waitFor(async () => (await counted('499')) === before + 2, 5000, 'both counted as 499');
    await waitFor(() => loggedBytes('client_closed').length === linesBefore + 2, 5000, 'two access-log lines');
    expect(loggedBytes('client_closed').slice(-2)).toEqual([0, 0]);
  });

  it('bytes after a request that said Connection: close are ignored: that request is answered, not replaced by a 400', async () => {
    const body = JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    const request = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
    const before = await counted('400');
    // In the same packet: a pipelined request the server must not process (RFC 9112, 9.6).
    const text = await raw(`${request}GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200']);
    expect(text).toContain('chat.completion');
    // Part-way through a streamed answer: the stream is not cut.
    const streamed = JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, stream: true });
    const stream = await rawThen(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(streamed)}\r\nconnection: close\r\n\r\n${streamed}`, 'garbage\r\n\r\n');
    expect(stream).toMatch(/^HTTP\/1\.1 200/);
    expect(stream).toContain('data: [DONE]');
    expect(await counted('400')).toBe(before);
  });

  it('a request whose connection then carries something that is not HTTP is recorded with the 400 its client got, not as a 499', async () => {
    const body = JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    const before = await counted('400');
    const closedBefore = await counted('499');
    const linesBefore = loggedBytes('malformed_request').length;
    const text = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}garbage\r\n\r\n`);
    expect(parse(text).body.error.code).toBe('malformed_request');
    await waitFor(async () => (await counted('400')) === before + 1, 5000, 'the 400 counted');
    await waitFor(() => loggedBytes('malformed_request').length === linesBefore + 1, 5000, 'an access-log line with malformed_request');
    expect(await counted('499')).toBe(closedBefore);
  });

  it('the same while the request is already with its endpoint: recorded with the 400, not as a 499 against the endpoint', async () => {
    // About a second of generation: the bytes that are not HTTP arrive while the attempt runs.
    const body = JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 200 });
    /** Requests counted with `code`, whatever their endpoint and model. */
    const counted = async (code: string) => {
      const family = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()).get('sluice_requests_total');
      return (family?.samples ?? []).filter((s) => s.labels.code === code).reduce((sum, s) => sum + s.value, 0);
    };
    const before = await counted('400');
    const closedBefore = await counted('499');
    const { port } = new URL(sluice.url);
    const text = await new Promise<string>((resolve, reject) => {
      let got = '';
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        setTimeout(() => socket.write('garbage\r\n\r\n'), 200);
      });
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (got += d));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => reject(new Error(`no close; got ${JSON.stringify(got)}`)));
    });
    expect(parse(text).body.error.code).toBe('malformed_request');
    await waitFor(async () => (await counted('400')) === before + 1, 5000, 'the 400 counted');
    expect(await counted('499')).toBe(closedBefore);
  });

  it.each(['/v1/models', '/api/tags', '/metrics'])('a body sent to %s, which Sluice answers without reading it, closes the connection after the answer', async (path) => {
    const { port } = new URL(sluice.url);
    const before = await counted('408');
    const { closed, text } = await new Promise<{ closed: boolean; text: string }>((resolve) => {
      let got = '';
      let sending: NodeJS.Timeout | undefined;
      const socket = net.connect(Number(port), '127.0.0.1');
      // A body announced as 100 GB and sent on after the answer: Node read it all to reuse the
      // connection, until server.request_timeout (60 s by default), then wrote a 408 after the 200.
      socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\ncontent-length: 100000000000\r\n\r\n${'a'.repeat(1024)}`));
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        got += d;
        sending ??= setInterval(() => socket.write(Buffer.alloc(64 * 1024, 'a')), 100);
      });
      const done = (closed: boolean) => {
        clearInterval(sending);
        clearTimeout(giveUp);
        socket.destroy();
        resolve({ closed, text: got });
      };
      socket.on('error', () => undefined);
      socket.on('close', () => done(true));
      const giveUp = setTimeout(() => done(false), 3000);
    });
    expect(text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200']);
    expect(closed).toBe(true);
    expect(await counted('408')).toBe(before);
  });

  it('Expect: 100-continue gets no 100 before a refusal, and a 100 before a body that is read', async () => {
    const head = (path: string, length: number) => `POST ${path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${length}\r\n\r\n`;
    // Refused without the body: Node sent the 100 first, and the client began its upload for nothing.
    expect((await raw(head('/v1/chat/completions', 100_000_000))).split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
    expect((await raw(head('/admin/fault', 10))).split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
    // Read: the 100, then the answer once the body has come.
    const body = JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    const answer = await rawThen(head('/v1/chat/completions', Buffer.byteLength(body)).replace('\r\n\r\n', '\r\nconnection: close\r\n\r\n'), body);
    expect(answer.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 100', 'HTTP/1.1 200']);
  });

  it('a valid request on the same port is still served', async () => {
    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });
    expect(res.status).toBe(200);
  });
});

describe('the admin port (server.admin_port)', () => {
  it('answers what its parser refuses, and a request without Host, in JSON rather than a bare 400', async () => {
    const adminPort = await freePort();
    const admin = await startSluice((port) => testConfig(port, [{ id: 'a', url: 'http://127.0.0.1:9' }]).replace(`  port: ${port}\n`, `  port: ${port}\n  admin_port: ${adminPort}\n`), {}, false);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${adminPort}/internal/live`)).ok, 30_000, 'the admin port up');
    for (const [request, status, code] of [
      ['BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'malformed_request'],
      [`GET /metrics HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
      ['GET /metrics HTTP/1.1\r\n\r\n', 400, 'malformed_request'],
    ] as const) {
      const answer = parse(await rawTo(adminPort, request));
      expect(answer.status, request.slice(0, 20)).toBe(status);
      expect(answer.contentType).toBe('application/json');
      expect(answer.body.error.code).toBe(code);
    }
    expect(admin.proc.output()).not.toContain('"level":"error"');
  });
});

/** Sends raw bytes to a port and reads until the server closes the connection. */
function rawTo(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => reject(new Error(`no close; got ${JSON.stringify(got)}`)));
  });
}
