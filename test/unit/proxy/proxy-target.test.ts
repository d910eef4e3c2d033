import { parse } from 'node:url';
import { describe, expect, it } from 'vitest';
import { proxyTarget } from '../../../src/proxy/proxy-target.js';

// http-proxy parses a string target with the legacy url.parse and reads protocol, host,
// hostname, port and path from it: the object made once per endpoint must give the same.
describe('proxyTarget', () => {
  it.each([
    'http://127.0.0.1:8000/',
    'http://localhost/',
    'https://models.example.com/',
    'https://models.example.com:8443/base/',
    'http://10.0.0.7:11434/ollama',
    'http://[::1]:8000/',
    'http://[fe80::1]/v1?tenant=a',
    'http://MODELS.Example.com:80/Path',
  ])('%s reads as url.parse reads it', (raw) => {
    const url = new URL(raw);
    const legacy = parse(url.href);
    const target = proxyTarget(url);
    expect({ protocol: target.protocol, host: target.host, hostname: target.hostname, port: target.port, path: target.path }).toEqual({
      protocol: legacy.protocol,
      host: legacy.host,
      hostname: legacy.hostname,
      port: legacy.port,
      path: legacy.path,
    });
  });
});
