import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { freePort, postFault, startModelServer, startSluice, stopAll, testConfig, waitFor, type SluiceProc } from '../helpers/processes.js';

// The status API's shape is a contract for operators' scripts: these strict schemas fail on any
// added, removed or retyped key.
const HealthState = z.enum(['unknown', 'healthy', 'degraded', 'recovering', 'unhealthy']);
const Health = z.strictObject({
  status: z.enum(['starting', 'shutting_down', 'healthy', 'degraded', 'unhealthy']),
  endpoints: z.strictObject({ healthy: z.number().int(), degraded: z.number().int(), recovering: z.number().int(), unhealthy: z.number().int(), unknown: z.number().int(), total: z.number().int() }),
  uptime_seconds: z.number().int().nonnegative(),
  version: z.string(),
});
const EndpointStatus = z.strictObject({
  name: z.string(),
  url: z.string(),
  type: z.enum(['ollama', 'vllm', 'lmstudio', 'llamacpp', 'openai', 'generic']),
  status: HealthState,
  routable: z.boolean(),
  circuit: z.enum(['closed', 'open', 'half_open']),
  priority: z.number().int(),
  backup: z.boolean(),
  weight: z.number().int().positive(),
  effective_weight: z.number().nonnegative(),
  active_connections: z.number().int().nonnegative(),
  max_connections: z.number().int().positive().nullable(),
  last_check: z.iso.datetime().nullable(),
  last_latency_ms: z.number().nonnegative().nullable(),
  consecutive_failures: z.number().int().nonnegative(),
  next_check_in_ms: z.number().int().nonnegative(),
  uptime_percentage: z.number().min(0).max(100).nullable(),
  last_error: z.string().nullable(),
  models: z.array(z.string()),
  models_known: z.boolean(),
});
const Latency = z.number().nonnegative().nullable();
const ModelStats = z.strictObject({
  model: z.string(),
  requests: z.number().int(),
  successes: z.number().int(),
  failures: z.number().int(),
  client_errors: z.number().int(),
  client_closed: z.number().int(),
  latency_ms: z.strictObject({ p50: Latency, p95: Latency, p99: Latency }),
  endpoints: z.array(z.strictObject({ name: z.string(), status: HealthState, routable: z.boolean() })),
});
const Endpoints = z.strictObject({ endpoints: z.array(EndpointStatus) });
const Models = z.strictObject({ models: z.array(ModelStats) });
const Status = z.strictObject({ health: Health, endpoints: z.array(EndpointStatus), models: z.array(ModelStats), config: z.record(z.string(), z.unknown()) });

let sluice: SluiceProc;

beforeAll(async () => {
  const a = await startModelServer('a', ['m:1', 'n:1']);
  const closedPort = await freePort(); // nothing listens there
  sluice = await startSluice(
    (port) => testConfig(port, [{ id: 'a', url: a.url.replace('http://', 'http://user:s3cret@') }, { id: 'down', url: `http://127.0.0.1:${closedPort}`, max_connections: 4 }]),
    {},
    true,
  );
  await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 2, 5000, 'models');
  // Both endpoints have had their first check (the closed port's refusal recorded) before the schema is read.
  await waitFor(async () => {
    const { endpoints } = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ name: string; status: string }> };
    return endpoints.some((e) => e.name === 'down' && e.status === 'unhealthy') && endpoints.some((e) => e.name === 'a' && e.status === 'healthy');
  }, 30_000, 'first checks');
  for (let i = 0; i < 5; i++) await (await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'x' }] }) })).text();
});

afterAll(stopAll);

async function get(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${sluice.url}${path}`);
  return { status: res.status, body: await res.json() };
}

describe('status API schema', () => {
  it('/internal/health', async () => {
    const { status, body } = await get('/internal/health');
    expect(status).toBe(200);
    const health = Health.parse(body);
    expect(health).toMatchObject({ status: 'degraded', endpoints: { healthy: 1, unhealthy: 1, total: 2 } });
  });

  it('/internal/status/endpoints', async () => {
    const { body } = await get('/internal/status/endpoints');
    const { endpoints } = Endpoints.parse(body);
    const a = endpoints.find((e) => e.name === 'a')!;
    expect(a).toMatchObject({ status: 'healthy', circuit: 'closed', models: ['m:1', 'n:1'], models_known: true });
    // Up since its first check; the time before it (state unknown) does not count as up.
    expect(a.uptime_percentage).toBeGreaterThan(0);
    expect(a.uptime_percentage).toBeLessThanOrEqual(100);
    expect(a.url).not.toContain('s3cret');
    expect(a.url).not.toContain('user');
    const down = endpoints.find((e) => e.name === 'down')!;
    expect(down).toMatchObject({ status: 'unhealthy', routable: false, max_connections: 4, models: [], models_known: false });
    expect(down.last_error).toContain('ECONNREFUSED');
  });

  it('/internal/stats/models', async () => {
    const { body } = await get('/internal/stats/models');
    const { models } = Models.parse(body);
    const m = models.find((x) => x.model === 'm:1')!;
    expect(m).toMatchObject({ requests: 5, successes: 5, failures: 0, client_errors: 0, client_closed: 0 });
    expect(m.latency_ms.p50).toBeGreaterThan(0);
    expect(m.latency_ms.p99).toBeGreaterThanOrEqual(m.latency_ms.p50!);
    expect(m.endpoints).toEqual([{ name: 'a', status: 'healthy', routable: true }]);
  });

  it('/internal/status carries everything plus the redacted effective config', async () => {
    const res = await fetch(`${sluice.url}/internal/status`);
    const text = await res.text();
    Status.parse(JSON.parse(text));
    expect(text).not.toContain('s3cret');
    expect(JSON.parse(text).config.balancing.strategy).toBe('round-robin');
  });

  it('unknown /internal routes are JSON 404s', async () => {
    const { status, body } = await get('/internal/nope');
    expect(status).toBe(404);
    expect(body).toMatchObject({ error: { code: 'not_found' } });
  });
});

describe('/internal/stats/models outcomes', () => {
  it("counts a backend's 400 as the client's error and a backend's 429 as a failure, neither as a success", async () => {
    const b = await startModelServer('b', ['q:1']);
    const other = await startSluice((port) => testConfig(port, [{ id: 'b', url: b.url }]), {}, true);
    await waitFor(async () => ((await (await fetch(`${other.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 30_000, 'models');
    const chat = (messages: unknown) => fetch(`${other.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'q:1', messages }) });
    expect((await chat([{ role: 'user', content: 'x' }])).status).toBe(200);
    const refused = await chat('x');
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('messages');
    expect((await postFault(b.url, { mode: 'error', status: 429 })).ok).toBe(true);
    const busy = await chat([{ role: 'user', content: 'x' }]);
    expect([429, 503]).toContain(busy.status);
    const { models } = Models.parse((await (await fetch(`${other.url}/internal/stats/models`)).json()) as unknown);
    expect(models.find((x) => x.model === 'q:1')).toMatchObject({ requests: 3, successes: 1, client_errors: 1, failures: 1, client_closed: 0 });
  });
});
