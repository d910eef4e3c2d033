import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { ok, scriptedBackends } from '../helpers/backends.js';
import { startSluice, stopAll, waitFor, waitRoutable, type SluiceProc } from '../helpers/processes.js';

// Fault matrix, request side: what the client sees, and that nothing is lost where a healthy endpoint exists.

const backends = scriptedBackends();
const backend = backends.backend;
afterEach(async () => {
  await stopAll();
  await backends.closeAll();
});

async function sluiceFor(endpoints: Array<{ name: string; url: string }>, extra = ''): Promise<SluiceProc> {
  const eps = endpoints.map((e) => `  - name: ${e.name}\n    url: ${e.url}\n    check_interval: 1s\n    check_timeout: 5s`).join('\n');
  const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nlogging:\n  access_log: false\nhealth:\n  slow_start: 0s\n${extra}\nendpoints:\n${eps}\n`);
  await waitRoutable(sluice.url, endpoints.length);
  return sluice;
}

async function metricsText(sluice: SluiceProc): Promise<string> {
  return (await fetch(`${sluice.url}/metrics`)).text();
}

function post(sluice: SluiceProc, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sluice.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

describe('fault matrix: backends', () => {
  it('429 with Retry-After: the request goes elsewhere and the endpoint cools down for that long', async () => {
    const limited = await backend((_req, res) => res.writeHead(429, { 'retry-after': '30', 'content-type': 'application/json' }).end('{"error":"slow down"}'));
    const good = await backend(ok);
    const sluice = await sluiceFor([{ name: 'limited', url: limited.url }, { name: 'good', url: good.url }], 'proxy:\n  retry_on_status: [429, 502, 503, 504]\n  expose_route_headers: true');
    for (let i = 0; i < 6; i++) {
      const res = await post(sluice, '/v1/chat/completions', '{"model":"t:1"}');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-sluice-endpoint')).toBe('good');
    }
    expect(limited.requests).toHaveLength(1); // then cooling down
    expect(good.requests).toHaveLength(6);
  });

  it('a 503 storm on one endpoint loses nothing while another is healthy', async () => {
    const storm = await backend((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"overloaded"}'));
    const good = await backend(ok);
    const sluice = await sluiceFor([{ name: 'storm', url: storm.url }, { name: 'good', url: good.url }]);
    const statuses = await Promise.all(Array.from({ length: 100 }, () => post(sluice, '/v1/chat/completions', '{"model":"t:1"}').then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(good.requests).toHaveLength(100);
  });

  it('truncated JSON (the body ends before its Content-Length) and a wrong content type', async () => {
    const b = await backend((req, res) => {
      if (req.url === '/v1/truncated') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' }).write('{"choices":[{"mess');
        setTimeout(() => req.socket.destroy(), 50);
      } else res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not json</html>');
    });
    const sluice = await sluiceFor([{ name: 'b', url: b.url }]);
    const html = await post(sluice, '/v1/html', '{"model":"t:1"}');
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html'); // passed through as the backend sent it
    await html.text();
    const cut = await post(sluice, '/v1/truncated', '{"model":"t:1"}');
    await expect(cut.text()).rejects.toThrow(); // the client sees the cut, never a short success
    const families = parseExposition(await metricsText(sluice));
    expect(findSample(families, 'sluice_endpoint_failures_total', { endpoint: 'b', reason: 'stream_cut' })).toBe(1);
    expect(findSample(families, 'sluice_requests_total', { endpoint: 'b', code: '502' })).toBe(1);
  });
});

describe('fault matrix: clients', () => {
  it('10,000 requests with random model names and random paths create no new series', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'b', url: b.url }]);
    const random = () => Math.random().toString(36).slice(2);
    const burst = async (n: number) => {
      let next = 0;
      const worker = async () => {
        while (next++ < n) {
          const res = next % 2 === 0 ? await post(sluice, '/v1/chat/completions', JSON.stringify({ model: `m-${random()}` })) : await fetch(`${sluice.url}/${random()}/${random()}`);
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
    };
    await burst(200);
    const seriesAfterWarmUp = (await metricsText(sluice)).split('\n').filter((l) => l.startsWith('sluice_')).length;
    await burst(9_800);
    const text = await metricsText(sluice);
    expect(text.split('\n').filter((l) => l.startsWith('sluice_')).length).toBe(seriesAfterWarmUp);
    expect(b.requests).toEqual([]); // none of it reached the backend
    const families = parseExposition(text);
    expect(findSample(families, 'sluice_requests_total', { endpoint: 'none', model: 'unknown', code: '404' })).toBe(5_000);
    expect(findSample(families, 'sluice_requests_total', { endpoint: 'none', model: 'none', code: '404' })).toBe(5_000);
  }, 120_000);

  it('bodies: 0 bytes, limit + 1, invalid UTF-8, deeply nested JSON, chunked without Content-Length', async () => {
    const b = await backend(ok);
    const sluice = await sluiceFor([{ name: 'b', url: b.url }], 'limits:\n  max_body: 1KiB');
    expect((await post(sluice, '/v1/chat/completions', '')).status).toBe(200);
    const tooLarge = await post(sluice, '/v1/chat/completions', Buffer.alloc(1025, 'a'));
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
    // Invalid UTF-8 inside a JSON string: the model is still read, the bytes forwarded as sent.
    const invalidUtf8 = await post(sluice, '/v1/chat/completions', Buffer.concat([Buffer.from('{"model":"t:1","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
    expect(invalidUtf8.status).toBe(200);
    const nested = await post(sluice, '/v1/chat/completions', '{"a":' + '['.repeat(450) + ']'.repeat(450) + '}');
    expect([200, 400]).toContain(nested.status); // parsed (no model) or refused, never a 500
    // Chunked without Content-Length: read whole, forwarded with its length.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"model":');
      req.end('"t:1"}');
    });
    expect(chunked).toBe(200);
    expect(b.bodies.at(-1)).toBe('{"model":"t:1"}');
    expect(sluice.proc.output()).not.toContain('"level":"error"');
  });

  it('clients that disconnect mid-stream: the upstream is cancelled within 1 s, and 1,000 aborted streams leak no backend sockets', async () => {
    let openStreams = 0;
    let lastClosedAt = 0;
    const b = await backend((_req, res) => {
      openStreams++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('data: {"choices":[{"delta":{"content":"x"}}]}\n\n'), 20);
      res.on('close', () => {
        clearInterval(timer);
        openStreams--;
        lastClosedAt = Date.now();
      });
    });
    const server = b.server;
    const sluice = await sluiceFor([{ name: 'b', url: b.url }]);
    const abortOne = async () => {
      const res = await post(sluice, '/v1/chat/completions', '{"model":"t:1","stream":true}');
      const reader = res.body!.getReader();
      await reader.read();
      await reader.cancel();
    };
    // One, timed.
    await abortOne();
    const abortedAt = Date.now();
    await waitFor(() => openStreams === 0, 5000, 'upstream cancelled');
    expect(lastClosedAt - abortedAt).toBeLessThan(1000);
    // A thousand, 50 at a time.
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 50 }, abortOne));
    await waitFor(() => openStreams === 0, 10_000, 'every upstream cancelled');
    const connections = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    // Idle keep-alive sockets may remain, a handful at most: never one per aborted stream.
    expect(connections).toBeLessThanOrEqual(60);
    const [status] = ((await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ active_connections: number }> }).endpoints;
    expect(status!.active_connections).toBe(0);
  }, 120_000);
});
