import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { startRedis } from '../helpers/redis.js';
import { freePort, startModelServer, startSluice, stopAll, testConfig, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';

// A reload that changes `rate_limits` must not leave requests unlimited while a new Redis client
// connects, nor report that as a store outage: the connection is kept when its settings are, and
// a new one is used once it is ready.

const MODEL = 'llama3.2:1b';
const WORKERS = 8;

let server: ModelServer;
let redisA: number;
let redisB: number;
let sluice: SluiceProc;

const config = (port: number, limits: { rate: number; burst: number; redisPort: number }) =>
  testConfig(port, [{ id: 'server-1', url: server.url }], `rate_limits:\n  rate: ${limits.rate}\n  burst: ${limits.burst}\n  redis_url: redis://127.0.0.1:${limits.redisPort}\n`);

async function storeErrors(): Promise<number> {
  return findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_rate_limit_store_errors_total', {}) ?? 0;
}

/** The X-RateLimit-Limit a request gets now ('' without the header). */
async function limitHeader(): Promise<string> {
  const res = await fetch(`${sluice.url}/v1/models`);
  await res.arrayBuffer();
  return res.headers.get('x-ratelimit-limit') ?? '';
}

/** Keeps WORKERS clients sending until `during` is over: how many requests, how many without rate-limit headers. */
async function underLoad(during: () => Promise<void>): Promise<{ requests: number; unlimited: number }> {
  let done = false;
  let requests = 0;
  let unlimited = 0;
  const worker = async () => {
    while (!done) {
      const res = await fetch(`${sluice.url}/v1/models`);
      await res.arrayBuffer();
      requests++;
      if (res.headers.get('x-ratelimit-limit') === null) unlimited++;
    }
  };
  const workers = Array.from({ length: WORKERS }, worker);
  try {
    await during();
  } finally {
    done = true;
    await Promise.all(workers);
  }
  return { requests, unlimited };
}

/** Requests under load, with a reload to `limits` in the middle of them (see underLoad). */
function reloadUnderLoad(limits: { rate: number; burst: number; redisPort: number }): Promise<{ requests: number; unlimited: number }> {
  return underLoad(async () => {
    await new Promise((r) => setTimeout(r, 200));
    await reloadTo(limits);
    await new Promise((r) => setTimeout(r, 200));
  });
}

/** Rewrites the configuration, reloads, and waits until requests get the new `burst`. */
async function reloadTo(limits: { rate: number; burst: number; redisPort: number }): Promise<void> {
  writeFileSync(sluice.configPath, config(sluice.port, limits));
  sluice.proc.child.kill('SIGHUP');
  await waitFor(async () => (await limitHeader()) === String(limits.burst), 10_000, `X-RateLimit-Limit ${limits.burst}`);
}

beforeAll(async () => {
  [redisA, redisB] = await Promise.all([startRedis(), startRedis()]);
  server = await startModelServer('server-1', [MODEL]);
  sluice = await startSluice((port) => config(port, { rate: 1000, burst: 100_000, redisPort: redisA }));
  await waitFor(async () => (await limitHeader()) === '100000', 15_000, 'the limiter connected');
}, 60_000);

afterAll(stopAll);

describe('rate limits in Redis across reloads', () => {
  it('a reload that changes the rate keeps the connection: no request passes unlimited, no store error', async () => {
    const before = await storeErrors();
    const load = await reloadUnderLoad({ rate: 999, burst: 99_999, redisPort: redisA });
    expect(load.requests).toBeGreaterThan(50);
    expect(load.unlimited).toBe(0);
    expect(await storeErrors()).toBe(before);
    expect(sluice.proc.jsonLines().some((l) => l.message === 'rate-limit store unavailable; requests pass unlimited')).toBe(false);
  }, 30_000);

  it('a reload to another Redis uses it once connected, then closes the old connection', async () => {
    const before = await storeErrors();
    const load = await reloadUnderLoad({ rate: 998, burst: 99_998, redisPort: redisB });
    expect(load.requests).toBeGreaterThan(50);
    expect(load.unlimited).toBe(0);
    expect(await storeErrors()).toBe(before);
    // The buckets are in the new Redis now (its script ran there: a bucket's key expires once the
    // bucket is full again, within milliseconds at this rate, so counting keys would race); the old
    // one is left with this check's connection only.
    expect(scriptCalls(await redisInfo(redisB, 'commandstats'))).toBeGreaterThan(0);
    await waitFor(async () => /connected_clients:1\b/.test(await redisInfo(redisA, 'clients')), 5000, 'the old connection closed');
  }, 30_000);

  it('a reload to a Redis that does not answer: after one connection attempt it is used anyway, and fails open counted', async () => {
    const nobody = await freePort();
    const before = await storeErrors();
    writeFileSync(sluice.configPath, config(sluice.port, { rate: 997, burst: 99_997, redisPort: nobody }));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(async () => (await limitHeader()) === '' && (await storeErrors()) > before, 10_000, 'store errors from the new Redis');
  }, 30_000);
});

/** One section of INFO, whole (its bulk reply read to its announced length). */
function redisInfo(port: number, section: 'clients' | 'commandstats'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.once('connect', () => socket.write(`INFO ${section}\r\n`));
    socket.on('data', (d) => {
      text += d.toString();
      const header = /^\$(\d+)\r\n/.exec(text);
      if (header && Buffer.byteLength(text) >= header[0].length + Number(header[1])) {
        socket.destroy();
        resolve(text.slice(header[0].length));
      }
    });
    socket.once('error', reject);
  });
}

/** Calls of Lua scripts (EVALSHA, or EVAL when the script was not cached yet) in INFO commandstats. */
function scriptCalls(commandstats: string): number {
  let calls = 0;
  for (const match of commandstats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}
