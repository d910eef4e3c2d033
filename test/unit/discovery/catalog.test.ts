import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { ModelCatalog } from '../../../src/discovery/catalog.js';
import { MAX_NAME_CHARS, parseModelList } from '../../../src/discovery/model-lister.js';
import { Endpoint } from '../../../src/endpoints/endpoint.js';

const config = validateConfig({ endpoints: [{ name: 'a', url: 'http://127.0.0.1:1' }, { name: 'b', url: 'http://127.0.0.1:2' }] });

function catalogWith(models: Record<string, string[]>) {
  const endpoints = config.endpoints.map((c) => new Endpoint(c, config, () => 0));
  for (const ep of endpoints) ep.setModels(models[ep.name] ?? []);
  const catalog = new ModelCatalog(endpoints);
  catalog.rebuild();
  return { catalog, endpoints };
}

describe('ModelCatalog', () => {
  it('indexes which endpoints serve each model', () => {
    const { catalog } = catalogWith({ a: ['llama3:latest', 'qwen:0.5b'], b: ['qwen:0.5b'] });
    expect(catalog.endpointsFor('qwen:0.5b').map((e) => e.name)).toEqual(['a', 'b']);
    expect(catalog.entries().map((e) => e.model)).toEqual(['llama3:latest', 'qwen:0.5b']);
  });

  it('resolves a bare name to :latest as Ollama does, and nothing else', () => {
    const { catalog } = catalogWith({ a: ['llama3:latest'] });
    expect(catalog.resolve('llama3')).toBe('llama3:latest');
    expect(catalog.resolve('llama3:latest')).toBe('llama3:latest');
    expect(catalog.resolve('llama3:8b')).toBeUndefined();
  });

  it('bounds metric labels to names some endpoint has listed', () => {
    const { catalog, endpoints } = catalogWith({ a: ['m1'] });
    expect(catalog.metricLabel(undefined)).toBe('none');
    expect(catalog.metricLabel('m1')).toBe('m1');
    expect(catalog.metricLabel('made-up')).toBe('unknown');
    // A model whose endpoint is down keeps its label; one that no endpoint lists any longer is unknown again.
    endpoints[0]!.health.markConnectionFailure('connect ECONNREFUSED');
    catalog.rebuild();
    expect(catalog.metricLabel('m1')).toBe('m1');
    endpoints[0]!.setModels([]);
    catalog.rebuild();
    expect(catalog.metricLabel('m1')).toBe('unknown');
    expect(catalog.resolve('m1')).toBeUndefined();
  });
});

describe('ModelCatalog: availability (sluice_models_available_endpoints)', () => {
  const fleet = (names: string[]) => validateConfig({ endpoints: names.map((name, i) => ({ name, url: `http://127.0.0.1:${i + 1}` })) });
  const endpointsOf = (cfg: ReturnType<typeof fleet>) => cfg.endpoints.map((c) => new Endpoint(c, cfg, () => 0));
  const up = (ep: Endpoint) => ep.health.recordCheck({ ok: true, latencyMs: 5 });
  const down = (ep: Endpoint) => ep.health.markConnectionFailure('connect ECONNREFUSED');
  const listing = (catalog: ModelCatalog, ep: Endpoint, models: string[]) => {
    ep.setModels(models);
    catalog.rebuild();
  };
  /** A listing that failed: discovery keeps the endpoint's last list and does not rebuild. */
  const failedListing = (catalog: ModelCatalog, ep: Endpoint) => catalog.listed(ep);

  it('a retired model (its endpoint answered a list without it) leaves the gauge, also across reloads', () => {
    const [a] = endpointsOf(fleet(['a']));
    up(a!);
    const catalog = new ModelCatalog([a!]);
    listing(catalog, a!, ['m1', 'm2']);
    expect(catalog.availability()).toEqual(new Map([['m1', 1], ['m2', 1]]));
    listing(catalog, a!, ['m1']);
    expect(catalog.availability()).toEqual(new Map([['m1', 1]]));
    // Routing and 404s as before: m2 is unknown.
    expect(catalog.resolve('m2')).toBeUndefined();
    // Reloads (SIGHUP) do not bring it back.
    const once = new ModelCatalog([a!], { previous: catalog });
    once.rebuild();
    const twice = new ModelCatalog([a!], { previous: once });
    twice.rebuild();
    expect(twice.availability()).toEqual(new Map([['m1', 1]]));
  });

  it('a model whose only endpoint is down, unhealthy or cannot be listed stays at 0, also across reloads', () => {
    const [a, b] = endpointsOf(fleet(['a', 'b']));
    up(a!);
    up(b!);
    const catalog = new ModelCatalog([a!, b!]);
    listing(catalog, a!, ['m1', 'shared']);
    listing(catalog, b!, ['shared']);
    expect(catalog.availability()).toEqual(new Map([['m1', 1], ['shared', 2]]));
    down(a!);
    failedListing(catalog, a!);
    expect(catalog.availability()).toEqual(new Map([['m1', 0], ['shared', 1]]));
    catalog.rebuild(); // b listed again, unchanged
    expect(catalog.availability()).toEqual(new Map([['m1', 0], ['shared', 1]]));
    const reloaded = new ModelCatalog([a!, b!], { previous: catalog });
    reloaded.rebuild();
    expect(reloaded.availability()).toEqual(new Map([['m1', 0], ['shared', 1]]));
    // The alert's case, not a retirement: a request for m1 still finds its (unroutable) endpoint.
    expect(reloaded.endpointsFor('m1')).toEqual([a]);
  });

  it('a model listed again comes back', () => {
    const [a] = endpointsOf(fleet(['a']));
    up(a!);
    const catalog = new ModelCatalog([a!]);
    listing(catalog, a!, ['m1', 'm2']);
    listing(catalog, a!, ['m1']);
    expect(catalog.availability().has('m2')).toBe(false);
    listing(catalog, a!, ['m1', 'm2']);
    expect(catalog.availability()).toEqual(new Map([['m1', 1], ['m2', 1]]));
    expect(catalog.metricLabel('m2')).toBe('m2');
    // Listed by an endpoint that is down: back at 0, the alert's case again.
    down(a!);
    listing(catalog, a!, ['m1', 'm2', 'm3']);
    expect(catalog.availability()).toEqual(new Map([['m1', 0], ['m2', 0], ['m3', 0]]));
  });

  it('a model stays while any endpoint whose last list names it is left, even if that one is down', () => {
    const [a, b] = endpointsOf(fleet(['a', 'b']));
    up(b!);
    const catalog = new ModelCatalog([a!, b!]);
    listing(catalog, a!, ['m']);
    listing(catalog, b!, ['m']);
    down(a!);
    failedListing(catalog, a!);
    expect(catalog.availability()).toEqual(new Map([['m', 1]]));
    // b retires it; a, down, was last known to serve it.
    listing(catalog, b!, []);
    expect(catalog.availability()).toEqual(new Map([['m', 0]]));
    // a comes back without it: retired everywhere.
    up(a!);
    listing(catalog, a!, []);
    expect(catalog.availability()).toEqual(new Map());
  });

  it('a model only a removed endpoint listed leaves on reload; one a kept endpoint lists stays', () => {
    const [a, b] = endpointsOf(fleet(['a', 'b']));
    up(a!);
    const catalog = new ModelCatalog([a!, b!]);
    listing(catalog, a!, ['kept']);
    listing(catalog, b!, ['gone']);
    expect(catalog.availability()).toEqual(new Map([['kept', 1], ['gone', 0]]));
    const reloaded = new ModelCatalog([a!], { previous: catalog });
    reloaded.rebuild();
    expect(reloaded.availability()).toEqual(new Map([['kept', 1]]));
  });

  it('an endpoint that is another backend after a reload (new URL) keeps the last list of its name at 0 until it answers', () => {
    const [a] = endpointsOf(fleet(['a']));
    up(a!);
    const catalog = new ModelCatalog([a!]);
    listing(catalog, a!, ['m1', 'm2']);
    const moved = validateConfig({ endpoints: [{ name: 'a', url: 'http://127.0.0.1:9' }] });
    const a2 = new Endpoint(moved.endpoints[0]!, moved, () => 0);
    const reloaded = new ModelCatalog([a2], { previous: catalog });
    reloaded.rebuild();
    // Not listed yet (or its listings fail): an outage, not a retirement; nothing routes there.
    expect(reloaded.availability()).toEqual(new Map([['m1', 0], ['m2', 0]]));
    expect(reloaded.resolve('m1')).toBeUndefined();
    failedListing(reloaded, a2);
    const again = new ModelCatalog([a2], { previous: reloaded });
    again.rebuild();
    expect(again.availability()).toEqual(new Map([['m1', 0], ['m2', 0]]));
    // Its first answer replaces what was carried over.
    up(a2);
    listing(again, a2, ['m1']);
    expect(again.availability()).toEqual(new Map([['m1', 1]]));
    const later = new ModelCatalog([a2], { previous: again });
    later.rebuild();
    expect(later.availability()).toEqual(new Map([['m1', 1]]));
  });
});

describe('ModelCatalog: endpoints whose models are not known yet', () => {
  const three = validateConfig({ endpoints: ['a', 'b', 'c'].map((name, i) => ({ name, url: `http://127.0.0.1:${i + 1}` })) });
  const fresh = () => three.endpoints.map((c) => new Endpoint(c, three, () => 0));
  const names = (eps: readonly Endpoint[]) => eps.map((ep) => ep.name);

  it('names every endpoint until one of its listings answers; an answer of no models counts', () => {
    const endpoints = fresh();
    const catalog = new ModelCatalog(endpoints);
    catalog.rebuild();
    expect(names(catalog.notYetListed())).toEqual(['a', 'b', 'c']);
    endpoints[0]!.setModels(['m']);
    endpoints[2]!.setModels([]);
    catalog.rebuild();
    expect(names(catalog.notYetListed())).toEqual(['b']);
    // A failed listing changes nothing (discovery keeps the last list, and b has none).
    catalog.listed(endpoints[1]!);
    expect(names(catalog.notYetListed())).toEqual(['b']);
    endpoints[1]!.setModels(['n']);
    catalog.rebuild();
    expect(catalog.notYetListed()).toEqual([]);
    // Known models stay known: an endpoint that lists nothing later is not unknown again.
    endpoints[0]!.setModels([]);
    catalog.rebuild();
    expect(catalog.notYetListed()).toEqual([]);
  });

  it('a primed catalog may still have endpoints that never listed: priming is about having heard, not about knowing', () => {
    const endpoints = fresh();
    const catalog = new ModelCatalog(endpoints, { primeWithinMs: 60_000 });
    endpoints[0]!.setModels(['m']);
    catalog.rebuild();
    for (const ep of endpoints) catalog.listed(ep); // b's and c's listings failed
    expect(catalog.primed).toBe(true);
    expect(names(catalog.notYetListed())).toEqual(['b', 'c']);
  });

  it('after a reload: kept endpoints keep what they listed, a new one (or a new URL) is not known, a removed one no longer counts', () => {
    const endpoints = fresh();
    const before = new ModelCatalog(endpoints);
    for (const ep of endpoints.slice(0, 2)) ep.setModels(['m']);
    before.rebuild();
    expect(names(before.notYetListed())).toEqual(['c']);
    // c removed, d added: the new catalog is over a and b (kept, with their state) and d.
    const next = validateConfig({ endpoints: [{ name: 'a', url: 'http://127.0.0.1:1' }, { name: 'b', url: 'http://127.0.0.1:2' }, { name: 'd', url: 'http://127.0.0.1:4' }] });
    const d = new Endpoint(next.endpoints[2]!, next, () => 0);
    const reloaded = new ModelCatalog([endpoints[0]!, endpoints[1]!, d], { previous: before });
    reloaded.rebuild();
    expect(names(reloaded.notYetListed())).toEqual(['d']);
    const withoutD = new ModelCatalog([endpoints[0]!, endpoints[1]!], { previous: reloaded });
    withoutD.rebuild();
    expect(withoutD.notYetListed()).toEqual([]);
  });
});

describe('parseModelList', () => {
  const names = (body: unknown, max = 1000) => parseModelList(body, max).models;

  it('reads Ollama and OpenAI shapes and rejects anything else', () => {
    expect(names({ models: [{ name: 'a:1' }, { model: 'b:2' }] })).toEqual(['a:1', 'b:2']);
    expect(names({ object: 'list', data: [{ id: 'x' }, { id: 'y' }] })).toEqual(['x', 'y']);
    expect(() => names({ foo: 1 })).toThrow(/neither/);
  });

  it('drops empty names and repeats; a list whose entries have no name at all is an error, not an empty list', () => {
    expect(names({ data: [{ id: 'm1' }, { id: 'm1' }, { id: '' }, { id: '  ' }, { id: 7 }] })).toEqual(['m1']);
    expect(names({ data: [] })).toEqual([]);
    expect(names({ models: [] })).toEqual([]);
    // Taken as empty, it would replace the endpoint's last good list.
    expect(() => names({ data: [{ name: 'm1' }, { id: 7 }] })).toThrow(/2 entries and no model name/);
  });

  it('takes at most max_models names, none too long or with control characters, and says how many it left out', () => {
    const many = { data: Array.from({ length: 25 }, (_, i) => ({ id: `m${i}` })) };
    expect(parseModelList(many, 10)).toEqual({ models: Array.from({ length: 10 }, (_, i) => `m${i}`), dropped: 15 });
    const hostile = { data: [{ id: 'x'.repeat(MAX_NAME_CHARS + 1) }, { id: 'a\nb' }, { id: 'ok' }, { id: 'y'.repeat(MAX_NAME_CHARS) }] };
    expect(parseModelList(hostile, 1000)).toEqual({ models: ['ok', 'y'.repeat(MAX_NAME_CHARS)], dropped: 2 });
  });
});
