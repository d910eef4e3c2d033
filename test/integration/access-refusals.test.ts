import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { AuthenticationError, RateLimitError } from 'openai';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { endpointYaml, startModelServer, startSluice, stopAll, waitFor, type SluiceProc } from '../helpers/processes.js';

// What a client's budget and its wrong keys cost: a path Sluice does not forward spends no rate
// limit, and an address that keeps presenting wrong keys is slowed down, in the client's API shape.

const KEY = 'sk-good-3e71b0';
/** A key whose rate-limit budget the wrong-key tests leave whole. */
const SECOND_KEY = 'sk-second-94c2d8';
/** A key for the tests of both headers at once. */
const THIRD_KEY = 'sk-third-5a0f17';
const MODEL = 'llama3.2:1b';
const WRONG_KEYS_PER_MINUTE = 3;

let sluice: SluiceProc;

beforeAll(async () => {
  const server = await startModelServer('server-1', [MODEL]);
  sluice = await startSluice(
    (port) => `server:
  host: 127.0.0.1
  port: ${port}
  # The test stands in for a proxy: the client address is the one X-Forwarded-For names.
  trusted_proxies: ["127.0.0.1"]
health:
  slow_start: 0s
auth:
  api_keys:
    - name: good
      key_env: KEY_GOOD
    - name: second
      key_env: KEY_SECOND
    - name: third
      key_env: KEY_THIRD
  invalid_keys_per_minute: ${WRONG_KEYS_PER_MINUTE}
rate_limits:
  rate: 1
  period: 1m
  burst: 2
  by: key
endpoints:
${endpointYaml('server-1', server.url)}
`,
    { KEY_GOOD: KEY, KEY_SECOND: SECOND_KEY, KEY_THIRD: THIRD_KEY },
  );
  // The model list needs a key, and the key's budget is what the tests count: wait on the status API.
  await waitFor(async () => {
    const body = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ status: string; models: string[] }> };
    return body.endpoints.every((e) => e.status === 'healthy' && e.models.includes(MODEL));
  }, 15_000, 'server-1 serving');
}, 60_000);

afterAll(async () => {
  await stopAll();
});

/** A request from the client at `address` (as the trusted proxy in front of Sluice says). */
function from(address: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sluice.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...headers },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false }),
  });
}

const client = (address: string, apiKey: string) => new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey, maxRetries: 0, defaultHeaders: { 'x-forwarded-for': address } });
const chat = (c: OpenAI) => c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello' }] });

async function metricsText(): Promise<string> {
  const res = await fetch(`${sluice.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('a path that is not forwarded', () => {
  it("is a 404 in the client's shape that spends none of the key's rate-limit budget", async () => {
    for (let i = 0; i < 4; i++) {
      const res = await from('198.51.100.10', '/v2/chat/completions', { authorization: `Bearer ${KEY}` });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('path_not_allowed');
      expect(res.headers.get('x-ratelimit-remaining')).toBeNull();
    }
    // Without a key too: the path is refused before the key is looked at.
    const anonymous = await from('198.51.100.10', '/admin/users');
    expect(anonymous.status).toBe(404);
    await anonymous.arrayBuffer();

    // The key's whole burst (2) is still there.
    const c = client('198.51.100.10', KEY);
    for (let i = 0; i < 2; i++) {
      const { response } = await c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      expect(response.status).toBe(200);
      expect(response.headers.get('x-ratelimit-remaining')).toBe(String(1 - i));
    }
    const limited = await chat(c).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(findSample(parseExposition(await metricsText()), 'sluice_requests_total', { endpoint: 'none', code: '404' })).toBeGreaterThanOrEqual(5);
  });
});

describe('wrong API keys', () => {
  it(`past ${WRONG_KEYS_PER_MINUTE} a minute from one address, get 429 with Retry-After without the key being checked`, async () => {
    const attacker = '203.0.113.7';
    const before = parseExposition(await metricsText());
    const tooManyBefore = findSample(before, 'sluice_requests_total', { endpoint: 'none', code: '429' }) ?? 0;
    const anonymousLimitedBefore = findSample(before, 'sluice_rate_limited_total', { client: 'anonymous' }) ?? 0;

    for (let i = 0; i < WRONG_KEYS_PER_MINUTE; i++) {
      const failure = await chat(client(attacker, `sk-guess-${i}`)).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(AuthenticationError);
    }
    const limited = await chat(client(attacker, 'sk-guess-next')).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    const err = limited as RateLimitError;
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_exceeded');
    const retryAfter = Number(err.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60 / WRONG_KEYS_PER_MINUTE);

    // While it waits, even the right key from that address learns nothing: it is not checked.
    const right = await chat(client(attacker, SECOND_KEY)).catch((e: unknown) => e);
    expect(right).toBeInstanceOf(RateLimitError);
    // Ollama clients get their own shape.
    const ollama = await from(attacker, '/api/chat', { authorization: 'Bearer sk-guess-ollama' });
    expect(ollama.status).toBe(429);
    expect(typeof ((await ollama.json()) as { error: unknown }).error).toBe('string');
    expect(Number(ollama.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // A request without a key has nothing to guess: still the 401 that says what is missing.
    const missing = await from(attacker, '/v1/chat/completions');
    expect(missing.status).toBe(401);
    await missing.arrayBuffer();

    // Another address has its own allowance; the right key from it passes.
    expect(await chat(client('203.0.113.8', 'sk-guess-other')).catch((e: unknown) => e)).toBeInstanceOf(AuthenticationError);
    await expect(chat(client('203.0.113.8', SECOND_KEY))).resolves.toBeTruthy();

    // Counted and logged like any request; no address becomes a label.
    const text = await metricsText();
    const after = parseExposition(text);
    expect(findSample(after, 'sluice_requests_total', { endpoint: 'none', code: '429' })).toBe(tooManyBefore + 3);
    expect(findSample(after, 'sluice_rate_limited_total', { client: 'anonymous' })).toBe(anonymousLimitedBefore + 3);
    expect(text).not.toContain(attacker);
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'request' && l.status === 429 && l.error === 'rate_limit_exceeded' && l.path === '/api/chat'), 5000, '429 access log line');
  });

  it('count against the client address when the proxy writes it with a port: a new connection is no new allowance', async () => {
    // Azure Application Gateway appends `ip:port`; RFC 7239's form is `"[v6]:port"`.
    for (const [attacker, withPort] of [
      ['203.0.113.20', (i: number) => `203.0.113.20:${40_000 + i}`],
      ['2001:db8:20::7', (i: number) => `"[2001:db8:20::7]:${40_000 + i}"`],
    ] as const) {
      for (let i = 0; i < WRONG_KEYS_PER_MINUTE; i++) {
        const failure = await chat(client(withPort(i), `sk-guess-${i}`)).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(AuthenticationError);
      }
      const limited = await chat(client(withPort(WRONG_KEYS_PER_MINUTE), 'sk-guess-next')).catch((e: unknown) => e);
      expect(limited).toBeInstanceOf(RateLimitError);
      // The address without a port is the same client.
      expect(await chat(client(attacker, 'sk-guess-plain')).catch((e: unknown) => e)).toBeInstanceOf(RateLimitError);
    }
  });
});

describe('a key in x-api-key with an Authorization header too', () => {
  it('passes when either holds a key (a gateway in front may add its own Authorization); each wrong one counts', async () => {
    const res = await from('198.51.100.30', '/v1/chat/completions', { 'x-api-key': THIRD_KEY, authorization: 'Bearer gateway-token-1f2e' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    // Two wrong keys in one request are two guesses: the allowance (3) is gone in two requests.
    for (let i = 0; i < 2; i++) {
      const wrong = await from('198.51.100.31', '/v1/chat/completions', { 'x-api-key': `sk-guess-a${i}`, authorization: `Bearer sk-guess-b${i}` });
      expect(wrong.status).toBe(401);
      await wrong.arrayBuffer();
    }
    const limited = await from('198.51.100.31', '/v1/chat/completions', { 'x-api-key': 'sk-guess-a2' });
    expect(limited.status).toBe(429);
    await limited.arrayBuffer();
  });
});
