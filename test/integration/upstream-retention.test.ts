import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { startSluice, type RunningSluice } from '../../src/sluice.js';
import { createLogger } from '../../src/telemetry/index.js';
import { freePort, waitFor } from '../helpers/processes.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const BODY_BYTES = 4 * 1024 * 1024;
const CONCURRENT = 8;

/**
 * A backend that reads each request's body whole and answers a small completion, keeping
 * connections alive. It answers once `gate` requests are waiting (the first one alone, then
 * CONCURRENT together), so that each of those requests has an upstream connection of its own.
 */
function backend(): Promise<http.Server> {
  const waiting: (() => void)[] = [];
  let gate = 1;
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/health') return send(200, { status: 'ok' });
    if (req.url === '/v1/models') return send(200, { object: 'list', data: [{ id: 'm', object: 'model' }] });
    req.resume();
    req.on('end', () => {
      waiting.push(() => send(200, { id: 'c', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }] }));
      if (waiting.length < gate) return;
      for (const answer of waiting.splice(0)) answer();
      gate = CONCURRENT;
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** One body for every request: what this process holds of its own requests does not grow with their number. */
const body = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(BODY_BYTES) }] }));

/** A POST of about BODY_BYTES, over a connection of its own (Sluice reads each into a buffer of its own). */
function post(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function arrayBuffersAfterCollection(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().arrayBuffers;
}

let sluice: RunningSluice | undefined;
let server: http.Server | undefined;
afterAll(async () => {
  await sluice?.close(0);
  server?.closeAllConnections();
  server?.close();
});

describe('upstream connections kept alive', () => {
  it('do not hold the first request they carried (its body) once it is answered', async () => {
    server = await backend();
    const backendPort = (server.address() as AddressInfo).port;
    const config = validateConfig({
      server: { host: '127.0.0.1', port: await freePort() },
      logging: { level: 'error' },
      health: { slow_start: '0s' },
      endpoints: [{ name: 'b', url: `http://127.0.0.1:${backendPort}`, type: 'openai', health_path: '/health', check_interval: '200ms' }],
    });
    sluice = await startSluice(config, { logger: createLogger('error') });
    const running = sluice;
    await waitFor(() => running.endpoints.every((ep) => ep.routable && ep.models.size > 0), 15_000, 'backend routable');
    expect(await post(running.url)).toBe(200);
    const before = arrayBuffersAfterCollection();

    // Each of these has an upstream connection of its own, which the pool keeps afterwards.
    const statuses = await Promise.all(Array.from({ length: CONCURRENT }, () => post(running.url)));
    expect(statuses).toEqual(Array(CONCURRENT).fill(200));
    const held = arrayBuffersAfterCollection() - before;
    // Each connection holding its first request would be 32 MiB.
    expect(held).toBeLessThan(BODY_BYTES);
  });
});
