import http from 'node:http';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { AuthenticationError, RateLimitError } from 'openai';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { endpointYaml, freePort, ROOT, startModelServer, startSluice, stopAll, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';

const KEYS = { alpha: 'sk-alpha-7f3a9c', beta: 'sk-beta-from-a-file', limited: 'sk-limited-19d2', forwarded: 'sk-forwarded-5b1e' };
const ADMIN_TOKEN = 'admin-token-c41f';
const BACKEND_TOKEN = 'backend-token-8e2d';
const MODEL = 'llama3.2:1b';

let server: ModelServer;
let sluice: SluiceProc; // API keys, admin token, rate limits per key
let open: SluiceProc; // no keys, limits per address, admin on its own port closed to loopback
let openAdminPort: number;
let capture: http.Server;
let keysDir: string | undefined; // beta's key file
const captured: http.IncomingHttpHeaders[] = [];

/** A backend that records the headers of each chat request: what Sluice forwards. */
function startCaptureBackend(port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/health') return json({ status: 'ok' });
    if (req.url === '/v1/models') return json({ object: 'list', data: [{ id: 'capture:1', object: 'model' }] });
    captured.push(req.headers);
    req.resume();
    req.on('end', () => json({ id: 'c', object: 'chat.completion', created: 0, model: 'capture:1', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }));
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

async function waitServing(base: string, models: string[], headers: Record<string, string> = {}): Promise<void> {
  await waitFor(async () => {
    const body = (await (await fetch(`${base}/internal/status/endpoints`, { headers })).json()) as { endpoints: Array<{ status: string; models: string[] }> };
    return body.endpoints.every((e) => e.status === 'healthy') && models.every((m) => body.endpoints.some((e) => e.models.includes(m)));
  }, 15_000, `endpoints serving ${models.join(', ')}`);
}

beforeAll(async () => {
  server = await startModelServer('server-1', [MODEL]);
  const capturePort = await freePort();
  capture = await startCaptureBackend(capturePort);
  keysDir = mkdtempSync(join(tmpdir(), 'sluice-keys-'));
  const betaFile = join(keysDir, 'beta.key');
  writeFileSync(betaFile, `${KEYS.beta}\n`);

  sluice = await startSluice(
    (port) => `server:
  host: 127.0.0.1
  port: ${port}
health:
  slow_start: 0s
admin:
  bearer_token_env: ADMIN_TOKEN
auth:
  api_keys:
    - name: alpha
      key_env: KEY_ALPHA
    - name: beta
      key_file: ${betaFile}
    - name: limited
      key_env: KEY_LIMITED
    - name: forwarded
      key_env: KEY_FORWARDED
rate_limits:
  rate: 1
  period: 1m
  burst: 3
  by: key
endpoints:
${endpointYaml('server-1', server.url)}
${endpointYaml('capture', `http://127.0.0.1:${capturePort}`, '\n    bearer_token_env: BACKEND_TOKEN')}
`,
    { ADMIN_TOKEN, KEY_ALPHA: KEYS.alpha, KEY_LIMITED: KEYS.limited, KEY_FORWARDED: KEYS.forwarded, BACKEND_TOKEN },
  );
  await waitServing(sluice.url, [MODEL, 'capture:1'], { authorization: `Bearer ${ADMIN_TOKEN}` });

  openAdminPort = await freePort();
  open = await startSluice(
    (port) => `server:
  host: 127.0.0.1
  port: ${port}
  admin_port: ${openAdminPort}
health:
  slow_start: 0s
admin:
  allow: ["10.0.0.0/8"]
rate_limits:
  rate: 1
  period: 1m
  burst: 2
  by: address
endpoints:
${endpointYaml('server-1', server.url)}
`,
    {},
    false,
  );
  // Its admin routes are closed to loopback and every proxy request counts against the limit: wait on its log.
  await waitFor(() => {
    const lines = open.proc.jsonLines();
    return lines.some((l) => l.message === 'endpoint state changed' && l.to === 'healthy') && lines.some((l) => l.message === 'models discovered');
  }, 15_000, 'second sluice serving');
}, 60_000);

afterAll(async () => {
  await stopAll();
  capture?.close();
  if (keysDir) rmSync(keysDir, { recursive: true, force: true });
});

const client = (apiKey: string) => new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey, maxRetries: 0 });
const chat = (c: OpenAI, model = MODEL) => c.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });

async function metrics(): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(`${sluice.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

describe('inbound API keys', () => {
  it('a configured key passes as a Bearer token (OpenAI client) and as x-api-key (read from a file)', async () => {
    const completion = await chat(client(KEYS.alpha));
    expect(completion.choices[0]!.message.content).toBeTruthy();
    const res = await fetch(`${sluice.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.beta },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
  });

  it('a wrong or missing key is a 401 the OpenAI client reports as AuthenticationError, counted and logged', async () => {
    const before = findSample(await metrics(), 'sluice_requests_total', { endpoint: 'none', code: '401' }) ?? 0;
    const failure = await chat(client('sk-wrong')).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthenticationError);
    expect((failure as AuthenticationError).status).toBe(401);
    expect((failure as AuthenticationError).code).toBe('invalid_api_key');

    const missing = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    // The model list is part of the API surface too.
    expect((await fetch(`${sluice.url}/v1/models`)).status).toBe(401);

    const after = await metrics();
    expect(findSample(after, 'sluice_requests_total', { endpoint: 'none', code: '401' })).toBe(before + 3);
    expect(findSample(after, 'sluice_auth_failures_total', { reason: 'invalid_key' })).toBeGreaterThanOrEqual(1);
    expect(findSample(after, 'sluice_auth_failures_total', { reason: 'missing_key' })).toBeGreaterThanOrEqual(2);
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'request' && l.status === 401 && l.level === 'info' && l.error === 'invalid_api_key'), 5000, '401 access log line');
  });

  it('a refused upload is not read: the 401 closes the connection instead of taking in the rest of the body', async () => {
    const { port } = new URL(sluice.url);
    const answer = await new Promise<{ head: string; closedBeforeBody: boolean }>((resolve, reject) => {
      let got = '';
      // 1 GB announced, 1 KB sent: the answer must not wait for, or read, the rest.
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n${'x'.repeat(1024)}`));
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (got += d));
      socket.on('close', () => resolve({ head: got.split('\r\n\r\n')[0] ?? '', closedBeforeBody: true }));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => reject(new Error(`the connection stayed open; got ${JSON.stringify(got)}`)));
    });
    expect(answer.head).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.head.toLowerCase()).toContain('connection: close');
  });

  it('Ollama clients get the Ollama error shape', async () => {
    const res = await fetch(`${sluice.url}/api/chat`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: JSON.stringify({ model: MODEL, messages: [] }) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'Incorrect API key provided' });
  });

  it("the client's key is not forwarded; the backend gets its own configured token", async () => {
    captured.length = 0;
    await chat(client(KEYS.forwarded), 'capture:1');
    const res = await fetch(`${sluice.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.forwarded },
      body: JSON.stringify({ model: 'capture:1', messages: [] }),
    });
    expect(res.status).toBe(200);
    expect(captured).toHaveLength(2);
    for (const headers of captured) {
      expect(headers.authorization).toBe(`Bearer ${BACKEND_TOKEN}`);
      expect(headers['x-api-key']).toBeUndefined();
    }
  });

  it('no key or token ever appears in the output', () => {
    const out = sluice.proc.output();
    for (const secret of [...Object.values(KEYS), ADMIN_TOKEN, BACKEND_TOKEN]) expect(out).not.toContain(secret);
  });
});

describe('rate limits', () => {
  it('per key: a burst of 3 passes, the 4th is a RateLimitError with Retry-After and X-RateLimit-* headers', async () => {
    const c = client(KEYS.limited);
    for (let i = 0; i < 3; i++) {
      const { response } = await c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      // The most this key may send at once (burst), and what is left of it.
      expect(response.headers.get('x-ratelimit-limit')).toBe('3');
      expect(response.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
    }
    const failure = await chat(c).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RateLimitError);
    const err = failure as RateLimitError;
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_exceeded');
    const retryAfter = Number(err.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(err.headers.get('x-ratelimit-limit')).toBe('3');
    expect(err.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(err.headers.get('x-ratelimit-reset'))).toBe(retryAfter);

    // Another key has its own budget.
    await expect(chat(client(KEYS.beta))).resolves.toBeTruthy();
    const m = await metrics();
    expect(findSample(m, 'sluice_rate_limited_total', { client: 'limited' })).toBe(1);
    expect(findSample(m, 'sluice_rate_limited_total', { client: 'anonymous' })).toBe(0);
    expect(findSample(m, 'sluice_requests_total', { endpoint: 'none', code: '429' })).toBeGreaterThanOrEqual(1);
  });

  it('per address without keys, in the Ollama shape on /api', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await fetch(`${open.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false }) });
      statuses.push(last.status);
      if (last.status !== 429) await last.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 429]);
    const body = (await last!.json()) as { error: unknown };
    expect(typeof body.error).toBe('string');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('admin surface', () => {
  it('with a token configured, /metrics and /internal/status need it; the health probe does not', async () => {
    const denied = await fetch(`${sluice.url}/metrics`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await fetch(`${sluice.url}/internal/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${sluice.url}/internal/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${sluice.url}/internal/health`)).status).toBe(200);
    // An API key is not the admin token.
    expect((await fetch(`${sluice.url}/metrics`, { headers: { authorization: `Bearer ${KEYS.alpha}` } })).status).toBe(401);
    expect(findSample(await metrics(), 'sluice_admin_denied_total', { reason: 'token' })).toBeGreaterThanOrEqual(3);
  });

  it('from a network not in admin.allow: 403 on the admin port, probes included', async () => {
    for (const path of ['/metrics', '/internal/health', '/internal/status']) {
      const res = await fetch(`http://127.0.0.1:${openAdminPort}${path}`);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    expect(open.proc.jsonLines().some((l) => l.message === 'admin request refused' && l.reason === 'network' && l.level === 'info')).toBe(true);
  });
});

describe('keys read from files on reload', () => {
  it('an emptied key file refuses the reload, counted, and the running keys stay; a new key then applies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-reload-key-'));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, 'sk-first-1a2b\n');
    const proc = await startSluice(
      (port) => `server:
  host: 127.0.0.1
  port: ${port}
health:
  slow_start: 0s
auth:
  api_keys:
    - name: one
      key_file: ${keyFile}
endpoints:
${endpointYaml('server-1', server.url)}
`,
    );
    try {
      const status = async (key: string) => (await fetch(`${proc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) })).status;
      const reloads = async (result: string) => findSample(parseExposition(await (await fetch(`${proc.url}/metrics`)).text()), 'sluice_config_reloads_total', { result }) ?? 0;
      await waitFor(async () => (await status('sk-first-1a2b')) === 200, 15_000, 'the first key served');

      // Emptied (a secret being rotated, say): check-config says so, and a reload is refused.
      writeFileSync(keyFile, '  \n');
      const check = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'check-config', proc.configPath], { encoding: 'utf8' });
      expect(check.status).toBe(2);
      expect(check.stderr).toContain('is empty');
      proc.proc.child.kill('SIGHUP');
      await waitFor(async () => (await reloads('failure')) === 1, 5000, 'the refused reload counted');
      expect(proc.proc.jsonLines().some((l) => l.message === 'configuration reload failed; keeping the running configuration' && String(l.error).includes('is empty'))).toBe(true);
      expect(proc.proc.child.exitCode).toBeNull();
      expect(await status('sk-first-1a2b')).toBe(200);

      writeFileSync(keyFile, 'sk-second-3c4d\n');
      proc.proc.child.kill('SIGHUP');
      await waitFor(async () => (await reloads('success')) === 1, 5000, 'the next reload applied');
      expect(await status('sk-second-3c4d')).toBe(200);
      expect(await status('sk-first-1a2b')).toBe(401);
    } finally {
      await proc.proc.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
