import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { ModelCatalog } from '../../../src/discovery/catalog.js';
import { ModelDiscovery } from '../../../src/discovery/discovery.js';
import { Endpoint } from '../../../src/endpoints/endpoint.js';
import { freePort } from '../../helpers/processes.js';

const BOUND_MS = 5000;

function endpointsAt(...urls: string[]): Endpoint[] {
  const config = validateConfig({ endpoints: urls.map((url, i) => ({ name: `ep${i}`, url })) });
  return config.endpoints.map((c) => new Endpoint(c, config, () => 0));
}

/** A catalog over two endpoints, counting its change notifications and whether its waiters resumed. */
function warmingCatalog(options: { primeWithinMs?: number; previous?: ModelCatalog } = { primeWithinMs: BOUND_MS }) {
  const endpoints = endpointsAt('http://127.0.0.1:1', 'http://127.0.0.1:2');
  const catalog = new ModelCatalog(endpoints, options);
  const seen = { changes: 0, resumed: false };
  catalog.onChange(() => seen.changes++);
  void catalog.whenPrimed().then(() => (seen.resumed = true));
  return { catalog, endpoints, seen };
}

describe('ModelCatalog priming', () => {
  afterEach(() => vi.useRealTimers());

  it('is primed once every endpoint\'s first listing has settled, answered or failed, and stays so', async () => {
    vi.useFakeTimers({ now: 0 });
    const { catalog, endpoints, seen } = warmingCatalog();
    expect(catalog.primed).toBe(false);
    expect(catalog.unlisted).toEqual(['ep0', 'ep1']);
    endpoints[0]!.setModels(['m']);
    catalog.rebuild();
    catalog.listed(endpoints[0]!);
    // The same endpoint again does not stand for the other one.
    catalog.listed(endpoints[0]!);
    await vi.advanceTimersByTimeAsync(0);
    expect(catalog.primed).toBe(false);
    expect(seen.resumed).toBe(false);
    // The second one's listing failed: heard from all the same.
    catalog.listed(endpoints[1]!);
    expect(catalog.primed).toBe(true);
    expect(catalog.unlisted).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual({ changes: 2, resumed: true }); // the rebuild, then priming
    // The bound's timer is gone with the wait; nothing later unprimes it.
    expect(vi.getTimerCount()).toBe(0);
    catalog.rebuild();
    expect(catalog.primed).toBe(true);
  });

  it('waits at most primeWithinMs, then is primed with what is known and names the endpoints it gave up on', async () => {
    vi.useFakeTimers({ now: 0 });
    const { catalog, endpoints, seen } = warmingCatalog();
    catalog.listed(endpoints[0]!);
    await vi.advanceTimersByTimeAsync(BOUND_MS - 1);
    expect(catalog.primed).toBe(false);
    expect(seen.resumed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(catalog.primed).toBe(true);
    expect(seen).toEqual({ changes: 1, resumed: true });
    expect(catalog.unlisted).toEqual(['ep1']);
    // The late answer arrives: it changes the index as usual, not the priming.
    catalog.listed(endpoints[1]!);
    expect(catalog.unlisted).toEqual(['ep1']);
    expect(seen.changes).toBe(1);
  });

  it('without a bound, only the listings prime it', async () => {
    vi.useFakeTimers({ now: 0 });
    const { catalog, endpoints } = warmingCatalog({});
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(catalog.primed).toBe(false);
    for (const ep of endpoints) catalog.listed(ep);
    expect(catalog.primed).toBe(true);
  });

  it('is primed at once with no endpoint to hear from, or when it replaces a primed catalog; one replacing a catalog still warming up waits for its own round', () => {
    vi.useFakeTimers({ now: 0 });
    expect(new ModelCatalog([], { primeWithinMs: BOUND_MS }).primed).toBe(true);
    const warming = warmingCatalog();
    const replacement = new ModelCatalog(warming.endpoints, { previous: warming.catalog, primeWithinMs: BOUND_MS });
    expect(replacement.primed).toBe(false);
    for (const ep of warming.endpoints) warming.catalog.listed(ep);
    expect(warming.catalog.primed).toBe(true);
    // A reload or a DNS change after start-up does not warm up again.
    const reloaded = new ModelCatalog(endpointsAt('http://127.0.0.1:3'), { previous: warming.catalog, primeWithinMs: BOUND_MS });
    expect(reloaded.primed).toBe(true);
    expect(reloaded.unlisted).toEqual([]);
  });

  it('a worker\'s catalog primes when its primary\'s has (follow), whatever its own endpoints have said', () => {
    const { catalog, endpoints, seen } = warmingCatalog({});
    endpoints[0]!.setModels(['m']);
    catalog.follow(false);
    expect(catalog.resolve('m')).toBe('m');
    expect(catalog.primed).toBe(false);
    catalog.follow(true);
    expect(catalog.primed).toBe(true);
    expect(seen.changes).toBe(3); // two rebuilds, then priming
  });
});

describe('ModelDiscovery and priming', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function lister(models: string[]): Promise<string> {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: models.map((id) => ({ id })) })));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('the first round primes the catalog once every endpoint has answered or failed, and says so once', async () => {
    const up = await lister(['m:1']);
    const down = `http://127.0.0.1:${await freePort()}`; // nothing listens there: refused
    const endpoints = endpointsAt(up, down);
    const catalog = new ModelCatalog(endpoints, { primeWithinMs: BOUND_MS });
    const logs: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
    const discovery = new ModelDiscovery(endpoints, catalog, { intervalMs: 60_000, timeoutMs: BOUND_MS, maxModels: 1000, log: (level, message, fields) => logs.push({ level, message, fields }) });
    const round = discovery.discoverAll();
    discovery.start();
    expect(catalog.primed).toBe(false);
    await round;
    discovery.stop();
    expect(catalog.primed).toBe(true);
    expect(catalog.resolve('m:1')).toBe('m:1');
    // Heard from, but its models are not known: the refused endpoint may serve any model.
    expect(catalog.notYetListed().map((ep) => ep.name)).toEqual(['ep1']);
    await catalog.whenPrimed();
    expect(logs.filter((l) => l.message === 'model catalog primed')).toEqual([{ level: 'info', message: 'model catalog primed', fields: { models: 1, endpoints: 2 } }]);
  });
});
