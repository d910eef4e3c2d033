import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { ModelCatalog } from '../../../src/discovery/catalog.js';
import { parseModelList } from '../../../src/discovery/model-lister.js';
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
    // A model that has gone away keeps its label (its series already exist) but is no longer routable.
    endpoints[0]!.setModels([]);
    catalog.rebuild();
    expect(catalog.metricLabel('m1')).toBe('m1');
    expect(catalog.resolve('m1')).toBeUndefined();
    expect(catalog.availability()).toEqual(new Map([['m1', 0]]));
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
  it('reads Ollama and OpenAI shapes and rejects anything else', () => {
    expect(parseModelList({ models: [{ name: 'a:1' }, { model: 'b:2' }] })).toEqual(['a:1', 'b:2']);
    expect(parseModelList({ object: 'list', data: [{ id: 'x' }, { id: 'y' }] })).toEqual(['x', 'y']);
    expect(() => parseModelList({ foo: 1 })).toThrow(/neither/);
  });

  it('drops empty names and repeats; a list whose entries have no name at all is an error, not an empty list', () => {
    expect(parseModelList({ data: [{ id: 'm1' }, { id: 'm1' }, { id: '' }, { id: '  ' }, { id: 7 }] })).toEqual(['m1']);
    expect(parseModelList({ data: [] })).toEqual([]);
    expect(parseModelList({ models: [] })).toEqual([]);
    // Taken as empty, it would replace the endpoint's last good list.
    expect(() => parseModelList({ data: [{ name: 'm1' }, { id: 7 }] })).toThrow(/2 entries and no model name/);
  });
});
