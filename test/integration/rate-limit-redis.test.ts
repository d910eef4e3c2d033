import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { endpointYaml, freePort, startModelServer, startSluice, stopAll, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';
import { openBucketStore, RateLimit } from '../../src/access/index.js';

const MODEL = 'llama3.2:1b';
const BURST = 4;

let server: ModelServer;
let redis: ChildProcess | undefined;
let redisPort: number;
let replicas: SluiceProc[];

function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

function stopRedis(): Promise<void> {
  const child = redis;
  redis = undefined;
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

beforeAll(async () => {
  redisPort = await freePort();
  // Debian's redis-server, in memory only, gone with the test.
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(() => redisAnswers(redisPort), 10_000, 'redis-server');
  server = await startModelServer('server-1', [MODEL]);
  const config = (port: number) => `server:
  host: 127.0.0.1
  port: ${port}
health:
  slow_start: 0s
rate_limits:
  rate: 1
  period: 1m
  burst: ${BURST}
  by: address
  redis_url: redis://127.0.0.1:${redisPort}
endpoints:
${endpointYaml('server-1', server.url)}
`;
  replicas = await Promise.all([startSluice(config), startSluice(config)]);
  // Ready without spending the budget: the status API is not rate-limited.
  await Promise.all(
    replicas.map((r) =>
      waitFor(async () => {
        const body = (await (await fetch(`${r.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ status: string; models: string[] }> };
        return body.endpoints.every((e) => e.status === 'healthy' && e.models.includes(MODEL));
      }, 15_000, 'replica serving'),
    ),
  );
}, 60_000);

afterAll(async () => {
  await stopAll();
  await stopRedis();
});

const chat = (r: SluiceProc) =>
  fetch(`${r.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }) });

async function sample(r: SluiceProc, name: string, labels: Record<string, string> = {}): Promise<number> {
  return findSample(parseExposition(await (await fetch(`${r.url}/metrics`)).text()), name, labels) ?? 0;
}

describe('rate limits shared through Redis', () => {
  it(`two replicas together admit the burst (${BURST}) and refuse the rest`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await chat(replicas[i % 2]!);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    // One request per minute refills the bucket: the test is over long before it admits another.
    expect(statuses.filter((s) => s === 200)).toHaveLength(BURST);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - BURST);
    expect(statuses.slice(0, BURST).every((s) => s === 200)).toBe(true);
    const limited = (await sample(replicas[0]!, 'sluice_rate_limited_total', { client: 'anonymous' })) + (await sample(replicas[1]!, 'sluice_rate_limited_total', { client: 'anonymous' }));
    expect(limited).toBe(12 - BURST);
  });

  // Two fixed windows (rate per period plus a reserve of burst - rate every (burst - rate) / rate
  // periods) gave a client that never stopped twice the rate: 20 a second here, not 10.
  it('a client that never stops gets the rate, not more (the bucket in Redis, on Redis\'s clock)', async () => {
    const cfg = { rate: 10, period: 1000, burst: 20, by: 'key', redis_url: `redis://127.0.0.1:${redisPort}`, redis_timeout: 1000 } as const;
    const limit = new RateLimit(cfg, openBucketStore(cfg));
    try {
      // The client does not queue commands while it connects (Sluice fails open meanwhile).
      await waitFor(async () => (await limit.consume('warm-up')).kind !== 'store_error', 5000, 'the limiter connected');
      let admitted = 0;
      const started = performance.now();
      while (performance.now() - started < 1500) {
        const verdict = await limit.consume('steady-client');
        expect(verdict.kind).not.toBe('store_error');
        if (verdict.kind === 'allowed') admitted++;
        await new Promise((r) => setTimeout(r, 5));
      }
      const elapsedS = (performance.now() - started) / 1000;
      // The burst at once, then 10 a second: never more (the reserve scheme reached about 20 + 20 a second).
      expect(admitted).toBeGreaterThan(20);
      expect(admitted).toBeLessThanOrEqual(20 + Math.ceil(10 * elapsedS) + 1);
    } finally {
      limit.close();
    }
  });

  it('fails open when Redis is gone: requests pass, counted and warned about', async () => {
    await stopRedis();
    for (const r of replicas) {
      for (let i = 0; i < 3; i++) {
        const res = await chat(r);
        await res.arrayBuffer();
        expect(res.status).toBe(200);
      }
      expect(await sample(r, 'sluice_rate_limit_store_errors_total')).toBeGreaterThanOrEqual(3);
      await waitFor(() => r.proc.jsonLines().some((l) => l.level === 'warn' && l.message === 'rate-limit store unavailable; requests pass unlimited'), 5000, 'store warning');
    }
  });
});
