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

describe('parseModelList', () => {
  it('reads Ollama and OpenAI shapes and rejects anything else', () => {
    expect(parseModelList({ models: [{ name: 'a:1' }, { model: 'b:2' }] })).toEqual(['a:1', 'b:2']);
    expect(parseModelList({ object: 'list', data: [{ id: 'x' }, { id: 'y' }] })).toEqual(['x', 'y']);
    expect(() => parseModelList({ foo: 1 })).toThrow(/neither/);
  });
});
