import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { digestKeys } from '../../src/access/index.js';
import type { WorkerSide } from '../../src/cluster/index.js';
import { validateConfig, type SluiceConfig } from '../../src/config/index.js';
import { startSluice, type RunningSluice } from '../../src/sluice.js';
import { createLogger } from '../../src/telemetry/index.js';
import { freePort } from '../helpers/processes.js';

const running: RunningSluice[] = [];
afterAll(async () => {
  for (const s of running.splice(0)) await s.close(0);
});

const config = (port: number, auth: unknown): SluiceConfig =>
  validateConfig({
    server: { host: '127.0.0.1', port, shutdown_grace: '1s' },
    logging: { level: 'error' },
    discovery: { timeout: '500ms' },
    auth,
    endpoints: [{ name: 'a', url: 'http://127.0.0.1:9', type: 'openai' }],
  });

function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

describe('a cluster worker whose first configuration comes with a reload (in the same read)', () => {
  // The reload is applied when the worker's runtime is attached, inside the control plane's start,
  // before access control exists: access control was then built from the first configuration, so
  // the worker ran without the reload's API keys (and rate limits) until the next reload.
  it('builds access control from the reloaded configuration: its API keys are in force', async () => {
    const port = await freePort();
    const first = config(port, { api_keys: [] });
    const reloaded = config(port, { api_keys: [{ name: 'team', key_env: 'SLUICE_TEST_UNUSED_KEY' }] });
    const worker: WorkerSide = {
      role: 'worker',
      slot: 0,
      answers: new Map(),
      passive: { connectionFailed: () => undefined, latencyFailed: () => undefined, requestFinished: () => undefined },
      // As Replica.attach replays a reload that arrived before the runtime existed.
      attach: (target) => target.reload(reloaded, new Map()),
      nextCheckInMs: () => 0,
      renderMetrics: async () => ({ contentType: 'text/plain', body: '' }),
      serving: () => undefined,
      responseOwner: () => undefined,
      // The primary read the reloaded configuration's keys and sent them with it.
      keysFor: (c) => (c === reloaded ? digestKeys([{ name: 'team', key: 'secret-1' }]) : undefined),
    };
    const sluice = await startSluice(first, { logger: createLogger('error'), cluster: worker });
    running.push(sluice);
    expect(await status(`${sluice.url}/v1/models`)).toBe(401);
  }, 30_000);
});
