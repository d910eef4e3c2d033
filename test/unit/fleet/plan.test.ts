import { describe, expect, it } from 'vitest';
import { validateConfig, type EndpointConfig } from '../../../src/config/index.js';
import { planFleet } from '../../../src/fleet/index.js';

const running = (name: string, url: string) => ({ name, url, sameBackend: (c: EndpointConfig) => c.name === name && new URL(c.url).host === new URL(url).host });

describe('planFleet', () => {
  it('keeps same-backend names, creates new names and moved URLs, retires the rest', () => {
    const a = running('a', 'http://127.0.0.1:1');
    const b = running('b', 'http://127.0.0.1:2');
    const c = running('c', 'http://127.0.0.1:3');
    const wanted = validateConfig({
      endpoints: [
        { name: 'a', url: 'http://127.0.0.1:1', weight: 9 },
        { name: 'b', url: 'http://127.0.0.1:20' },
        { name: 'd', url: 'http://127.0.0.1:4' },
      ],
    }).endpoints;
    const plan = planFleet([a, b, c], wanted);
    expect(plan.keep.map((k) => [k.endpoint.name, k.config.weight])).toEqual([['a', 9]]);
    expect(plan.create.map((cfg) => cfg.name)).toEqual(['b', 'd']);
    expect(plan.retire.map((e) => e.name)).toEqual(['b', 'c']);
  });
});
