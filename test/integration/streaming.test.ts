import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startModelServer, startSluice, stopAll, testConfig, type ModelServer, type SluiceProc } from '../helpers/processes.js';

let server: ModelServer;
let sluice: SluiceProc;

beforeAll(async () => {
  server = await startModelServer('server-1', ['llama3.2:1b'], { TOKEN_DELAY: '40ms' });
  sluice = await startSluice((port) => testConfig(port, [{ id: 'server-1', url: server.url }]));
});

afterAll(stopAll);

/** Arrival time (ms since the request) of each chunk read from a streaming response. */
async function chunkTimes(url: string, body: unknown): Promise<number[]> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  const times: number[] = [];
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value.length > 0) times.push(performance.now() - started);
  }
  return times;
}

describe('streaming passes through unbuffered', () => {
  it('SSE chunks reach the client as the backend sends them, as they do direct', async () => {
    const body = { model: 'llama3.2:1b', messages: [{ role: 'user', content: 'go' }], max_tokens: 12, stream: true };
    const direct = await chunkTimes(`${server.url}/v1/chat/completions`, body);
    const proxied = await chunkTimes(`${sluice.url}/v1/chat/completions`, body);
    // The backend writes one chunk per token 40 ms apart. A buffering proxy would deliver them in one
    // or two lumps at the end; an unbuffered one spreads them over the same span as direct.
    expect(proxied.length).toBeGreaterThanOrEqual(10);
    const spanDirect = direct[direct.length - 1]! - direct[0]!;
    const spanProxied = proxied[proxied.length - 1]! - proxied[0]!;
    expect(spanProxied).toBeGreaterThan(spanDirect * 0.7);
    // The first token is not held back until the stream ends.
    expect(proxied[0]!).toBeLessThan(proxied[proxied.length - 1]! / 2);
  });

  it('Ollama NDJSON streams line by line', async () => {
    const times = await chunkTimes(`${sluice.url}/api/generate`, { model: 'llama3.2:1b', prompt: 'waves', options: { num_predict: 10 } });
    expect(times.length).toBeGreaterThanOrEqual(8);
    expect(times[0]!).toBeLessThan(times[times.length - 1]! / 2);
  });

  it('a backend killed mid-stream ends the client stream with an error instead of hanging', async () => {
    const victim = await startModelServer('victim', ['llama3.2:1b'], { TOKEN_DELAY: '50ms' });
    // The idle timeout is long: the stream must end because the backend died, not because it went quiet.
    const solo = await startSluice((port) => testConfig(port, [{ id: 'victim', url: victim.url }], 'proxy:\n  idle_timeout: 30s'));
    const client = new OpenAI({ baseURL: `${solo.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
    const stream = await client.chat.completions.create({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'long' }], max_tokens: 200, stream: true });
    let received = 0;
    const started = Date.now();
    const consume = (async () => {
      for await (const _chunk of stream) {
        received++;
        if (received === 3) victim.proc.child.kill('SIGKILL');
      }
    })();
    await expect(consume).rejects.toThrow();
    expect(received).toBeGreaterThanOrEqual(3);
    expect(received).toBeLessThan(200);
    expect(Date.now() - started).toBeLessThan(30_000);
    await solo.proc.stop();
  });
});
