import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { expandEndpoints, memberName } from '../../../src/fleet/index.js';

const config = validateConfig({
  endpoints: [
    { name: 'fixed', url: 'http://127.0.0.1:9000' },
    { name: 'vllm', url: 'http://u:p@vllm.inference.svc:8000/base', discover: 'dns', weight: 3 },
    { name: 'v6', url: 'http://api.example', discover: 'dns' },
  ],
});

describe('expandEndpoints', () => {
  it('keeps configured endpoints and makes one member per address, named stably', () => {
    const out = expandEndpoints(config.endpoints, new Map([['vllm', ['10.0.0.6', '10.0.0.5', '10.0.0.5']], ['v6', ['2001:db8::1']]]));
    expect(out.map((e) => e.name)).toEqual(['fixed', 'vllm@10.0.0.5:8000', 'vllm@10.0.0.6:8000', 'v6@[2001:db8::1]:80']);
    const member = out[1]!;
    expect(new URL(member.url).host).toBe('10.0.0.5:8000');
    expect(new URL(member.url).pathname).toBe('/base');
    expect(new URL(member.url).username).toBe('u');
    expect(member.weight).toBe(3);
    expect(new URL(out[3]!.url).host).toBe('[2001:db8::1]');
  });

  it('an endpoint with no answer yet has no members', () => {
    expect(expandEndpoints(config.endpoints, new Map()).map((e) => e.name)).toEqual(['fixed']);
  });

  it('member names are the same whatever the order of the answer', () => {
    const a = expandEndpoints(config.endpoints, new Map([['vllm', ['10.0.0.5', '10.0.0.6']]]));
    const b = expandEndpoints(config.endpoints, new Map([['vllm', ['10.0.0.6', '10.0.0.5']]]));
    expect(a).toEqual(b);
    expect(memberName('x', '10.1.2.3', 80)).toBe('x@10.1.2.3:80');
  });
});
