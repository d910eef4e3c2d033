import { afterEach, describe, expect, it, vi } from 'vitest';
import { startModelServer, type RunningModelServer } from '../../../src/model-server/index.js';
import type { ModelServerOptions } from '../../../src/model-server/options.js';

const running: RunningModelServer[] = [];

/** Starts a server on a free port; waits until it is ready unless it is meant to stay loading or broken. */
async function start(options: ModelServerOptions, waitReady = (options.loadTimeMs ?? 0) === 0): Promise<string> {
  const server = await startModelServer({ port: 0, host: '127.0.0.1', loadTimeMs: 0, tokenDelayMs: 1, ...options });
  running.push(server);
  const url = `http://127.0.0.1:${server.port}`;
  // loadTimeMs 0 still finishes on a timer tick; wait for it.
  if (waitReady) await vi.waitFor(async () => expect((await fetch(`${url}/health`)).status).toBe(200));
  return url;
}

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(running.splice(0).map((server) => server.close()));
});

const post = (url: string, body: unknown, signal?: AbortSignal) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

describe('startModelServer', () => {
  it('while loading: the API answers 503 in each API shape, / and /health still answer', async () => {
    const url = await start({ loadTimeMs: 60_000, serverId: 'loader' });
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    expect(health.headers.get('x-server-id')).toBe('loader');
    expect(await health.json()).toEqual({ status: 'loading', server_id: 'loader' });
    const models = await fetch(`${url}/v1/models`);
    expect(models.status).toBe(503);
    expect(((await models.json()) as { error: { code: string } }).error.code).toBe('model_loading');
    const tags = await fetch(`${url}/api/tags`);
    expect(tags.status).toBe(503);
    expect(((await tags.json()) as { error: string }).error).toBe('model server is loading');
    expect(await (await fetch(`${url}/`)).text()).toBe('Ollama is running');
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    const url = await start({});
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const wrong = await fetch(`${url}/v1/chat/completions`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('stops generating when the client disconnects mid-stream', async () => {
    // A distinctive delay lets the test tell the server's token timers from any other timer.
    const tokenDelayMs = 37;
    const url = await start({ tokenDelayMs });
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const tokenTimers = () => setTimeoutSpy.mock.calls.filter((call) => call[1] === tokenDelayMs).length;
    const abort = new AbortController();
    const res = await post(`${url}/v1/chat/completions`, { model: 'llama3.2:1b', messages: [{ role: 'user', content: 'go' }], max_tokens: 500, stream: true }, abort.signal);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const afterAbort = tokenTimers();
    expect(afterAbort).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, tokenDelayMs * 6));
    // Still streaming would have started about six more token timers by now.
    expect(tokenTimers()).toBe(afterAbort);
  });

  it('close() returns promptly with a hung request and an open stream', async () => {
    const server = await startModelServer({ port: 0, loadTimeMs: 0, tokenDelayMs: 50 });
    const url = `http://127.0.0.1:${server.port}`;
    await vi.waitFor(async () => expect((await fetch(`${url}/health`)).status).toBe(200));
    const stream = await post(`${url}/api/generate`, { model: 'llama3.2:1b', prompt: 'long', options: { num_predict: 500 } });
    expect(stream.status).toBe(200);
    await post(`${url}/admin/fault`, { mode: 'hang' });
    const hung = fetch(`${url}/health`).catch(() => 'dropped');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // close() does not wait for the hung request, which would never end.
    await server.close();
    expect(await hung).toBe('dropped');
  }, 10_000);

  it('a crash fault from the start crashes on the first non-admin request', async () => {
    const onCrash = vi.fn();
    const url = await start({ fault: { mode: 'crash' }, onCrash }, false);
    expect((await fetch(`${url}/admin/fault`)).status).toBe(200);
    expect(onCrash).not.toHaveBeenCalled();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    expect(onCrash).toHaveBeenCalledTimes(1);
  }, 10_000);

  it('a crash set through the admin API is confirmed first, then crashes', async () => {
    const onCrash = vi.fn();
    const url = await start({ onCrash });
    const res = await post(`${url}/admin/fault`, { mode: 'crash' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { mode: string }).mode).toBe('crash');
    await vi.waitFor(() => expect(onCrash).toHaveBeenCalledTimes(1));
  });

  it('slow delays /health but not /admin', async () => {
    const url = await start({ fault: { mode: 'slow', delayMs: 200 } });
    let started = performance.now();
    expect((await fetch(`${url}/admin/fault`)).status).toBe(200);
    const admin = performance.now() - started;
    started = performance.now();
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const health = performance.now() - started;
    expect(health).toBeGreaterThanOrEqual(190);
    expect(admin).toBeLessThan(health);
  });

  it('a model list delay holds back /v1/models and /api/tags only', async () => {
    const url = await start({ modelListDelayMs: 200, models: ['m:1'] });
    const timed = async (path: string) => {
      const started = performance.now();
      const res = await fetch(`${url}${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - started };
    };
    const models = await timed('/v1/models');
    expect(models).toMatchObject({ status: 200, body: { data: [{ id: 'm:1' }] } });
    expect(models.ms).toBeGreaterThanOrEqual(190);
    const tags = await timed('/api/tags');
    expect(tags).toMatchObject({ status: 200, body: { models: [{ name: 'm:1' }] } });
    expect(tags.ms).toBeGreaterThanOrEqual(190);
    expect((await timed('/health')).ms).toBeLessThan(190);
  });

  it('a model list failure window: /v1/models and /api/tags answer 503 in their API shape until it is over, the rest of the API serves', async () => {
    const clock = { ms: 1_000_000 };
    const url = await start({ modelListFailForMs: 5000, models: ['m:1'], now: () => clock.ms });
    const models = await fetch(`${url}/v1/models`);
    expect(models.status).toBe(503);
    expect(await models.json()).toEqual({ error: { message: 'model list not available yet', type: 'server_error', param: null, code: 'model_list_unavailable' }, server_id: 'server-1' });
    const tags = await fetch(`${url}/api/tags`);
    expect(tags.status).toBe(503);
    expect(await tags.json()).toEqual({ error: 'model list not available yet', server_id: 'server-1' });
    expect((await post(`${url}/v1/chat/completions`, { model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })).status).toBe(200);
    clock.ms += 4999;
    expect((await fetch(`${url}/v1/models`)).status).toBe(503);
    clock.ms += 1;
    expect(await (await fetch(`${url}/v1/models`)).json()).toMatchObject({ data: [{ id: 'm:1' }] });
    expect(await (await fetch(`${url}/api/tags`)).json()).toMatchObject({ models: [{ name: 'm:1' }] });
  });
});
