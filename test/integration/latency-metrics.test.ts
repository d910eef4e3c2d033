import http from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { allSamples, findSample, parseExposition } from '../helpers/exposition.js';
import { startSluice, stopAll, waitFor } from '../helpers/processes.js';

let backend: http.Server;
let silent: http.Server | undefined;
let plain: http.Server | undefined;
afterAll(async () => {
  await stopAll();
  for (const server of [backend, silent, plain]) {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  }
});

describe('latency Sluice reports', () => {
  it('time to first token is taken at the first chunk with content, not at the headers, labelled by whether the response was streamed; gaps and overhead are observed', async () => {
    // Headers and a role-only chunk at once; the first token 400 ms later (a queued request), then four more 30 ms apart.
    backend = http.createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"t:1"}]}');
      req.resume();
      if (req.url === '/v1/completions') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"text":"whole"}]}');
      if (req.url === '/v1/embeddings') return res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"input too long"}}');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n');
      let sent = 0;
      setTimeout(function token() {
        res.write(`data: {"choices":[{"delta":{"content":"t${sent}"}}]}\n\n`);
        if (++sent < 5) setTimeout(token, 30);
        else res.end('data: [DONE]\n\n');
      }, 400);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nendpoints:\n  - name: gen\n    url: ${url}\n    check_interval: 1m\n`);
    await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 30_000, 'catalog');

    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1","stream":true}' });
    expect(res.status).toBe(200);
    await res.text();
    const plain = await fetch(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1"}' });
    expect(await plain.text()).toContain('whole');
    // Asked for a stream, answered with one JSON body: not streamed, whatever the request said.
    const unstreamed = await fetch(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1","stream":true}' });
    expect(unstreamed.headers.get('content-type')).toContain('application/json');
    expect(await unstreamed.text()).toContain('whole');
    // The backend's error answer carries no token: no time to first token for it.
    const refused = await fetch(`${sluice.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1","input":"x"}' });
    expect(refused.status).toBe(400);
    await refused.text();

    const m = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
    const labels = { endpoint: 'gen', model: 't:1' };
    const streamed = { ...labels, stream: 'true' };
    const notStreamed = { ...labels, stream: 'false' };
    const ttftSum = findSample(m, 'sluice_time_to_first_token_seconds_sum', streamed)!;
    const ttfbSum = findSample(m, 'sluice_time_to_first_byte_seconds_sum', labels)!;
    expect(findSample(m, 'sluice_requests_total', { ...labels, code: '400' })).toBe(1);
    // The stream under stream="true"; the two JSON answers (their first token is the end of the
    // body) under stream="false"; nothing for the error.
    expect(findSample(m, 'sluice_time_to_first_token_seconds_count', streamed)).toBe(1);
    expect(findSample(m, 'sluice_time_to_first_token_seconds_count', notStreamed)).toBe(2);
    const ttftLabels = allSamples(m).filter((s) => s.name === 'sluice_time_to_first_token_seconds_count').map((s) => s.labels);
    expect(ttftLabels).toEqual(expect.arrayContaining([streamed, notStreamed]));
    expect(ttftLabels).toHaveLength(2);
    // The stream's first token came 400 ms after its headers: TTFT sees it, TTFB does not.
    expect(ttftSum - ttfbSum).toBeGreaterThan(0.3);
    // Four gaps after the first token (the [DONE] chunk may be coalesced with the last token).
    expect(findSample(m, 'sluice_inter_token_latency_seconds_count', labels)).toBeGreaterThanOrEqual(3);
    const itlSum = findSample(m, 'sluice_inter_token_latency_seconds_sum', labels)!;
    expect(itlSum).toBeLessThan(ttftSum);
    // Sluice's own time is every first attempt's, the error's too.
    expect(findSample(m, 'sluice_overhead_seconds_count', { endpoint: 'gen' })).toBe(4);
    expect(findSample(m, 'sluice_overhead_seconds_sum', { endpoint: 'gen' })).toBeLessThan(ttftSum);
  });

  it('a stream that ends before its first token, its client gone or the backend cutting it, is counted as missed, not as a time to first token', async () => {
    // A role-only chunk at once, then no token: the connection cut after 300 ms on /v1/completions, never on chat.
    silent = http.createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"t:1"}]}');
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n');
      if (req.url === '/v1/completions') setTimeout(() => req.socket.destroy(), 300);
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nendpoints:\n  - name: silent\n    url: ${url}\n    check_interval: 1m\n`);
    await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 30_000, 'catalog');

    // The client gives up waiting.
    const left = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1","stream":true}', signal: AbortSignal.timeout(500) }).then((r) => r.text()).catch((err: unknown) => err);
    expect(left).toBeInstanceOf(Error);
    // The backend cuts the stream.
    await fetch(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1","stream":true}' }).then((r) => r.text()).catch(() => undefined);

    const labels = { endpoint: 'silent', model: 't:1' };
    await waitFor(async () => findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_first_token_missed_total', labels) === 2, 5000, 'both streams counted as missed');
    const m = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
    expect(findSample(m, 'sluice_time_to_first_token_seconds_count', { ...labels, stream: 'true' }) ?? 0).toBe(0);
    expect(findSample(m, 'sluice_requests_total', { ...labels, code: '499' })).toBe(1);
    expect(findSample(m, 'sluice_requests_total', { ...labels, code: '502' })).toBe(1);
  });

  it("Sluice's own time leaves out the client's upload of the body; the latencies the client feels keep it", async () => {
    plain = http.createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"t:1"}]}');
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"text":"ok"}]}'));
    });
    await new Promise<void>((r) => plain!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nendpoints:\n  - name: plain\n    url: ${url}\n    check_interval: 1m\n`);
    await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 30_000, 'catalog');

    // The head at once, the body's first half, and its second half a second later: a slow upload.
    const body = '{"model":"t:1","prompt":"a slow upload"}';
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(sluice.port, '127.0.0.1');
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
      socket.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`);
      setTimeout(() => socket.write(body.slice(10)), 1000);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);

    const m = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
    const labels = { endpoint: 'plain', model: 't:1' };
    expect(findSample(m, 'sluice_overhead_seconds_count', { endpoint: 'plain' })).toBe(1);
    // The client's second: in its time to first byte and to first token, not in Sluice's own time.
    expect(findSample(m, 'sluice_time_to_first_byte_seconds_sum', labels)).toBeGreaterThanOrEqual(0.95);
    expect(findSample(m, 'sluice_time_to_first_token_seconds_sum', { ...labels, stream: 'false' })).toBeGreaterThanOrEqual(0.95);
    expect(findSample(m, 'sluice_overhead_seconds_sum', { endpoint: 'plain' })).toBeLessThan(0.5);
  });
});
