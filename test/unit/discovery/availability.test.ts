import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { ModelCatalog } from '../../../src/discovery/catalog.js';
import { ModelDiscovery } from '../../../src/discovery/discovery.js';
import { Endpoint } from '../../../src/endpoints/endpoint.js';

/**
 * What sluice_models_available_endpoints reports through a backend's model list changing, its
 * listing failing and reloads: discovery against a local backend whose answer the test sets.
 */
describe('ModelDiscovery and model availability', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A backend answering its model list with `answer.models`, or HTTP 503 while that is undefined. */
  async function backend(answer: { models: string[] | undefined }): Promise<string> {
    const server = http.createServer((_req, res) => {
      if (answer.models === undefined) res.writeHead(503).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: answer.models.map((id) => ({ id })) }));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('a model the backend stops listing leaves; while its listing fails it stays; listed again it is back', async () => {
    const answer: { models: string[] | undefined } = { models: ['m1', 'm2'] };
    const config = validateConfig({ endpoints: [{ name: 'ep', url: await backend(answer) }] });
    const ep = new Endpoint(config.endpoints[0]!, config, () => 0);
    ep.health.recordCheck({ ok: true, latencyMs: 5 });
    const opts = { intervalMs: 60_000, timeoutMs: 5000, maxModels: 1000, log: () => undefined };
    let catalog = new ModelCatalog([ep]);
    catalog.rebuild();
    let discovery = new ModelDiscovery([ep], catalog, opts);
    await discovery.discover(ep);
    expect(catalog.availability()).toEqual(new Map([['m1', 1], ['m2', 1]]));

    // Restarted serving m1 only: m2 is retired, and two reloads do not bring it back.
    answer.models = ['m1'];
    await discovery.discover(ep);
    for (let i = 0; i < 2; i++) {
      catalog = new ModelCatalog([ep], { previous: catalog });
      catalog.rebuild();
      discovery = new ModelDiscovery([ep], catalog, opts);
      await discovery.discover(ep);
    }
    expect(catalog.availability()).toEqual(new Map([['m1', 1]]));
    expect(catalog.resolve('m2')).toBeUndefined();

    // Down, and its list cannot be read: m1 is unavailable, not retired.
    answer.models = undefined;
    ep.health.markConnectionFailure('connect ECONNREFUSED');
    await discovery.discover(ep);
    expect(catalog.availability()).toEqual(new Map([['m1', 0]]));
    catalog = new ModelCatalog([ep], { previous: catalog });
    catalog.rebuild();
    expect(catalog.availability()).toEqual(new Map([['m1', 0]]));

    // Back with both.
    answer.models = ['m1', 'm2'];
    ep.health.recordCheck({ ok: true, latencyMs: 5 });
    discovery = new ModelDiscovery([ep], catalog, opts);
    await discovery.discover(ep);
    expect(catalog.availability()).toEqual(new Map([['m1', 1], ['m2', 1]]));
  });
});
