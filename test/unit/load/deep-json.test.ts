import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listModels } from '../../../src/discovery/model-lister.js';
import { MAX_ANSWER_DEPTH, parseJsonShallow } from '../../../src/endpoints/endpoint-http.js';
import { LOAD_SOURCE_READERS } from '../../../src/load/sources.js';

/** About 4 MiB of nesting (under the 4 MiB cap on what is read): JSON.parse took over a second on it, and hundreds of MB. */
const BOMB = '['.repeat(2_000_000) + ']'.repeat(2_000_000);

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

describe('parseJsonShallow', () => {
  it('parses what endpoints answer, brackets and quotes inside strings included', () => {
    expect(parseJsonShallow('{"models":[{"name":"a[[[{{","details":{"families":["x"]}}]}')).toEqual({ models: [{ name: 'a[[[{{', details: { families: ['x'] } }] });
    expect(parseJsonShallow('["\\"[[[", "\\\\"]', 1)).toEqual(['"[[[', '\\']);
    expect(parseJsonShallow('[[[1]]]', 3)).toEqual([[[1]]]);
  });

  it('refuses text nested deeper than the limit without parsing it', () => {
    expect(() => parseJsonShallow('[[[[1]]]]', 3)).toThrow(/nested deeper than 3/);
    const started = performance.now();
    expect(() => parseJsonShallow(BOMB)).toThrow(`JSON nested deeper than ${MAX_ANSWER_DEPTH}`);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('a backend answering a nesting bomb', () => {
  it('as its load report (Ollama /api/ps, LM Studio, read every load.interval): a failed read, at once', () => {
    for (const source of [LOAD_SOURCE_READERS.ollama, LOAD_SOURCE_READERS.lmstudio]) {
      const started = performance.now();
      // Before, the whole bomb was parsed (over a second with the event loop blocked) and then refused for its shape.
      expect(() => source.parse(BOMB)).toThrow(/nested deeper/);
      expect(performance.now() - started).toBeLessThan(300);
    }
  });

  it('as its model list: a failed listing that says why', async () => {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(BOMB));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const target = { name: 'bomb', baseUrl: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), modelsPath: '/v1/models' };
    await expect(listModels(target, 10_000, 1000)).rejects.toThrow(`GET /v1/models: JSON nested deeper than ${MAX_ANSWER_DEPTH}`);
  });
});
