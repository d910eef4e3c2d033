import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startSluice, stopAll, waitFor } from '../helpers/processes.js';

// A backend that records what reaches it: the headers Sluice forwards are the subject here.
// `base`: the path it serves under (its health and model list too); `urls` has every request's target.
async function recordingBackend(base = ''): Promise<{ url: string; port: number; seen: http.IncomingHttpHeaders[]; bodies: string[]; urls: string[]; close(): Promise<void> }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const bodies: string[] = [];
  const urls: string[] = [];
  const server = http.createServer((req, res) => {
    urls.push(req.url ?? '');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === `${base}/health`) return res.writeHead(200, { 'content-type': 'text/plain' }).end('backend is ready');
      if (req.url === `${base}/v1/models`) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"rec:1"}]}');
      seen.push(req.headers);
      bodies.push(body);
      // Headers of Sluice's own names: Sluice's values must win.
      res.writeHead(200, { 'content-type': 'application/json', 'keep-alive': 'timeout=5', 'x-backend': 'recorder', trailer: 'x-nothing', 'x-sluice-request-id': 'from-backend', 'x-sluice-attempts': '9' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, seen, bodies, urls, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

afterAll(stopAll);

describe('what reaches the backend', () => {
  it('X-Forwarded-*, request id and outbound bearer token are set; hop-by-hop headers are dropped both ways; the body is forwarded as sent', async () => {
    const backend = await recordingBackend();
    const sluice = await startSluice(
      (port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nendpoints:\n  - name: rec\n    url: ${backend.url}\n    type: generic\n    check_interval: 200ms\n    health_body_contains: ready\n    bearer_token_env: REC_TOKEN\n`,
      { REC_TOKEN: 'sk-outbound-123' },
    );
    await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 5000, 'catalog');
    const body = '{"model":"rec:1","messages":[{"role":"user","content":"héllo"}]}';
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${sluice.url}/v1/chat/completions?x=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'client-id-1', 'x-forwarded-for': '203.0.113.7', connection: 'keep-alive, x-drop-me', 'x-drop-me': 'secret-hop', 'proxy-authorization': 'Basic abc', te: 'trailers', 'accept-encoding': 'gzip, br' },
      }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-backend']).toBe('recorder');
    // curl and others send `Expect: 100-continue` before large bodies: the body must still arrive.
    const expectRes = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', expect: '100-continue' } }, resolve);
      req.on('continue', () => req.end(body));
      req.on('error', reject);
    });
    expectRes.resume();
    expect(expectRes.statusCode).toBe(200);
    expect(backend.bodies[1]).toBe(body);
    expect(backend.seen[1]!.expect).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
    expect(res.headers.trailer).toBeUndefined();
    const h = backend.seen[0]!;
    // 127.0.0.1 is not a trusted proxy here: what the client claimed is replaced by what Sluice saw.
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-real-ip']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(new URL(sluice.url).host);
    expect(h['x-request-id']).toBe('client-id-1');
    // Sluice reads the response (tokens, usage): it asks for it uncompressed, whatever the client offered.
    expect(h['accept-encoding']).toBe('identity');
    expect(h.authorization).toBe('Bearer sk-outbound-123');
    expect(h['x-drop-me']).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(backend.bodies[0]).toBe(body);
    expect(res.headers['x-sluice-request-id']).toBe('client-id-1');
    expect(res.headers['x-sluice-attempts']).toBe('1');
    // A request without a body goes without one, and ends (Sluice ends every upstream request itself).
    const get = await fetch(`${sluice.url}/v1/models/rec:1`, { signal: AbortSignal.timeout(5000) });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ ok: true });
    expect(backend.urls.at(-1)).toBe('/v1/models/rec:1');
    expect(backend.bodies.at(-1)).toBe('');
    expect(backend.seen.at(-1)!['content-length']).toBeUndefined();
    expect(backend.seen.at(-1)!['transfer-encoding']).toBeUndefined();
    // The token never shows in logs or status.
    expect(sluice.proc.output()).not.toContain('sk-outbound-123');
    expect(await (await fetch(`${sluice.url}/internal/status`)).text()).not.toContain('sk-outbound-123');
    await backend.close();
  });

  it('an endpoint URL with a path: requests go to that path with the client path and query appended', async () => {
    const backend = await recordingBackend('/base');
    const sluice = await startSluice((p) => `server:\n  host: 127.0.0.1\n  port: ${p}\nendpoints:\n  - name: based\n    url: ${backend.url}/base\n    type: openai\n    check_interval: 200ms\n`);
    await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 5000, 'catalog');
    const res = await fetch(`${sluice.url}/v1/chat/completions?api-version=2`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"rec:1","messages":[]}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(backend.urls).toContain('/base/v1/chat/completions?api-version=2');
    expect(backend.urls.filter((u) => !u.startsWith('/base/'))).toEqual([]);
    await backend.close();
  });

  it('a backend that stops answering between checks: 502 JSON in the client API shape, never a hang or HTML', async () => {
    const backend = await recordingBackend();
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nendpoints:\n  - name: rec\n    url: ${backend.url}\n    check_interval: 1m\n`);
    await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 5000, 'catalog');
    await backend.close();
    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"rec:1"}' });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(((await res.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'upstream_unreachable', type: 'server_error' });
    const ollama = await fetch(`${sluice.url}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"rec:1"}' });
    expect(ollama.status).toBe(503); // the refused connection marked it unhealthy at once
    expect(typeof ((await ollama.json()) as { error: unknown }).error).toBe('string');
  });

  it('a health check whose body lacks the expected text fails; the endpoint never becomes routable', async () => {
    const backend = await recordingBackend();
    const sluice = await startSluice(
      (port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nendpoints:\n  - name: rec\n    url: ${backend.url}\n    check_interval: 200ms\n    health_body_contains: Ollama is running\n`,
      {},
      false,
    );
    await waitFor(async () => {
      const s = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ status: string; last_error: string | null }> };
      return s.endpoints[0]!.status === 'unhealthy' && (s.endpoints[0]!.last_error ?? '').includes('Ollama is running');
    }, 5000, 'unhealthy by body check');
    expect((await fetch(`${sluice.url}/internal/health`)).status).toBe(503);
    // Liveness says only that the process serves: a liveness probe must not restart it for its backends.
    const live = await fetch(`${sluice.url}/internal/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'ok' });
    await backend.close();
  });

  it('server.admin_port moves /metrics and /internal off the proxy port', async () => {
    const backend = await recordingBackend();
    const admin = await freePort();
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\n  admin_port: ${admin}\nproxy:\n  expose_route_headers: true\nendpoints:\n  - name: rec\n    url: ${backend.url}\n`, {}, false);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${admin}/internal/health`)).ok, 30_000, 'admin port');
    expect(await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text()).toContain('sluice_build_info');
    // On the proxy port, /metrics is just another path, and not one forwarded by default.
    const proxied = await fetch(`${sluice.url}/metrics`);
    expect(proxied.status).toBe(404);
    expect(proxied.headers.get('x-sluice-endpoint')).toBeNull();
    expect(((await proxied.json()) as { error: { code: string } }).error.code).toBe('path_not_allowed');
    // The admin port answers JSON for unknown paths too.
    const unknown = await fetch(`http://127.0.0.1:${admin}/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/json');
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
    await backend.close();
  });

  it('a backend that answers garbage instead of HTTP: 502 JSON, and the next request goes elsewhere', async () => {
    const good = await recordingBackend();
    // Speaks HTTP for health checks and model lists, garbage for everything else.
    const garbage = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        const line = chunk.toString().split('\r\n')[0]!;
        if (line.startsWith('GET /health') || line.startsWith('GET /v1/models')) {
          const body = line.startsWith('GET /health') ? 'ok' : '{"object":"list","data":[{"id":"rec:1"}]}';
          socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
        } else socket.end('\x00\x01 this is not http at all \xff\r\n\r\n');
      });
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const garbagePort = (garbage.address() as AddressInfo).port;
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nproxy:\n  retries: 0\n  expose_route_headers: true\nendpoints:\n  - name: garbage\n    url: http://127.0.0.1:${garbagePort}\n    check_interval: 1m\n  - name: rec\n    url: ${good.url}\n    check_interval: 1m\n`);
    await waitFor(async () => ((await (await fetch(`${sluice.url}/internal/health`)).json()) as { endpoints: { healthy: number } }).endpoints.healthy === 2, 5000, 'both healthy');
    const statuses: Array<[number, string | null]> = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"rec:1"}' });
      const body = (await res.json()) as { error?: { code: string } };
      statuses.push([res.status, res.status === 200 ? res.headers.get('x-sluice-endpoint') : body.error!.code]);
    }
    // With retries off, the one request that met the garbage gets a clean 502; the endpoint is then out.
    expect(statuses.filter(([s]) => s === 502)).toEqual([[502, 'upstream_unreachable']]);
    expect(statuses.filter(([s]) => s === 200).every(([, ep]) => ep === 'rec')).toBe(true);
    // Labelled for what it is: not a refused connection but a backend that does not speak HTTP.
    const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
    expect(metrics).toMatch(/sluice_endpoint_failures_total\{endpoint="garbage",reason="protocol_error"\} 1/);
    expect(metrics).toMatch(/sluice_endpoint_failures_total\{endpoint="garbage",reason="connect_error"\} 0/);
    await new Promise<void>((r) => garbage.close(() => r()));
    await good.close();
  });

  it('timeouts: no response header in time is a 504 JSON; silence mid-stream cuts the client connection', async () => {
    // Answers /health and /v1/models; `/v1/stall-first` never answers; `/v1/stall-mid` sends one chunk then goes quiet.
    const held: http.ServerResponse[] = [];
    const backend = http.createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[{"id":"t:1"}]}');
      if (req.url === '/v1/trickle') {
        // Ten chunks 100 ms apart: a second in all, each gap well inside the 300 ms idle timeout.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let sent = 0;
        const timer = setInterval(() => {
          res.write(`data: ${++sent}\n\n`);
          if (sent === 10) {
            clearInterval(timer);
            res.end();
          }
        }, 100);
        return;
      }
      held.push(res);
      if (req.url === '/v1/stall-mid') res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: first\n\n');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nproxy:\n  first_byte_timeout: 300ms\n  idle_timeout: 300ms\nendpoints:\n  - name: slow\n    url: ${url}\n    check_interval: 1m\n`);

    const res = await fetch(`${sluice.url}/v1/stall-first`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');

    const stream = await fetch(`${sluice.url}/v1/stall-mid`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
    await expect(reader.read()).rejects.toThrow();

    // The idle timeout is the longest gap between chunks, not the length of the stream.
    const trickle = await fetch(`${sluice.url}/v1/trickle`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(trickle.status).toBe(200);
    expect((await trickle.text()).match(/^data: \d+$/gm)).toHaveLength(10);
    for (const r of held) r.destroy();
    backend.closeAllConnections();
    await new Promise<void>((r) => backend.close(() => r()));
  });

  it('a client that goes away mid-stream cancels the upstream request and is logged as 499', async () => {
    let upstreamClosed = false;
    const backend = http.createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[{"id":"t:1"}]}');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('data: token\n\n'), 20);
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed = true;
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nendpoints:\n  - name: gen\n    url: ${url}\n    check_interval: 1s\n    check_timeout: 5s\n`);
    const controller = new AbortController();
    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"t:1","stream":true}', signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor(() => upstreamClosed, 5000, 'upstream request cancelled');
    const line = await (async () => {
      let found: Record<string, unknown> | undefined;
      await waitFor(() => (found = sluice.proc.jsonLines().find((l) => l.message === 'request' && l.path === '/v1/chat/completions')) !== undefined, 5000, 'access line');
      return found!;
    })();
    expect(line.status).toBe(499);
    const status = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ active_connections: number }> };
    expect(status.endpoints[0]!.active_connections).toBe(0);
    backend.closeAllConnections();
    await new Promise<void>((r) => backend.close(() => r()));
  });
});
