import OpenAI, { RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointYaml, startModelServer, startSluice, stopAll, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';

// `rate_limits.by: address` counts against the client's address: behind `server.trusted_proxies`,
// the one X-Forwarded-For names (the clients behind a load balancer are not limited as one);
// from anyone else, the connection's peer, whatever X-Forwarded-For it forges.

const MODEL = 'llama3.2:1b';
let server: ModelServer;

beforeAll(async () => {
  server = await startModelServer('server-1', [MODEL]);
}, 30_000);

afterAll(async () => {
  await stopAll();
});

async function sluiceWith(trustedProxies: string): Promise<SluiceProc> {
  const sluice = await startSluice(
    (port) => `server:
  host: 127.0.0.1
  port: ${port}
  trusted_proxies: ${trustedProxies}
health:
  slow_start: 0s
rate_limits:
  rate: 1
  period: 1m
  burst: 1
  by: address
endpoints:
${endpointYaml('server-1', server.url)}
`,
  );
  // The model list would spend the budget: wait on the status API.
  await waitFor(async () => {
    const body = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ status: string; models: string[] }> };
    return body.endpoints.every((e) => e.status === 'healthy' && e.models.includes(MODEL));
  }, 15_000, 'server-1 serving');
  return sluice;
}

/** One chat from the client the (trusted or not) proxy names: its status, or the client's error. */
async function chatFrom(sluice: SluiceProc, address: string): Promise<number> {
  const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-forwarded-for': address } });
  try {
    const { response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    return response.status;
  } catch (err) {
    if (err instanceof RateLimitError) return err.status;
    throw err;
  }
}

describe('rate limits by client address', () => {
  it('behind server.trusted_proxies, each client the proxy names has its own bucket', async () => {
    const sluice = await sluiceWith('["127.0.0.1"]');
    expect(await chatFrom(sluice, '198.51.100.1')).toBe(200);
    expect(await chatFrom(sluice, '198.51.100.1')).toBe(429);
    expect(await chatFrom(sluice, '198.51.100.2')).toBe(200);
    // A proxy that writes the client's port (Azure Application Gateway): the port is no new client.
    expect(await chatFrom(sluice, '198.51.100.3:40001')).toBe(200);
    expect(await chatFrom(sluice, '198.51.100.3:40002')).toBe(429);
    expect(await chatFrom(sluice, '[2001:db8:3::1]:40001')).toBe(200);
    expect(await chatFrom(sluice, '[2001:db8:3::2]:40002')).toBe(429); // the same /64
  }, 60_000);

  it('from an untrusted peer, a forged X-Forwarded-For buys no new bucket', async () => {
    const sluice = await sluiceWith('[]');
    expect(await chatFrom(sluice, '198.51.100.1')).toBe(200);
    expect(await chatFrom(sluice, '198.51.100.2')).toBe(429);
  }, 60_000);
});
