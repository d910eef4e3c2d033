import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InFlight } from '../../../src/server/index.js';

let server: http.Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

/** A server whose responses end when the test says so. */
async function serve(inFlight: InFlight) {
  const pending: http.ServerResponse[] = [];
  server = http.createServer(inFlight.track((_req, res) => {
    res.setHeader('x-sluice-request-id', `r${pending.length}`);
    res.writeHead(200);
    res.write('started');
    pending.push(res);
  }));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { pending, url };
}

function request(url: string): Promise<string> {
  return new Promise((resolve) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`complete:${body}`));
      res.on('error', () => resolve(`cut:${body}`));
      res.on('aborted', () => resolve(`cut:${body}`));
    });
  });
}

describe('InFlight', () => {
  it('drain waits for running responses and reports none cut', async () => {
    const inFlight = new InFlight();
    const { pending, url } = await serve(inFlight);
    const done = [request(url), request(url)];
    while (pending.length < 2) await new Promise((r) => setTimeout(r, 10));
    server!.close();
    const drained = inFlight.drain(server!, 60_000);
    pending.forEach((res) => res.end(' done'));
    expect(await drained).toEqual([]);
    expect(await Promise.all(done)).toEqual(['complete:started done', 'complete:started done']);
  });

  it('endGrace reports what is still running', async () => {
    const inFlight = new InFlight();
    const { pending, url } = await serve(inFlight);
    void request(url);
    while (pending.length < 1) await new Promise((r) => setTimeout(r, 10));
    const drained = inFlight.drain(server!, 60_000);
    inFlight.endGrace();
    const cut = await drained;
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({ method: 'GET', path: '/', request_id: 'r0' });
  });
});
