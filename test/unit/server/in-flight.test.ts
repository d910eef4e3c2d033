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
    const id = `r${pending.length}`;
    res.writeHead(200);
    res.write('started');
    pending.push(res);
    return id;
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

  it('reports a cut request with the id its listener returned, its headers written in writeHead as Sluice writes them', async () => {
    const inFlight = new InFlight();
    const pending: http.ServerResponse[] = [];
    server = http.createServer(inFlight.track((_req, res) => {
      const id = `w${pending.length}`;
      // Sluice passes its headers to writeHead (getHeader does not see them afterwards).
      res.writeHead(200, { 'x-sluice-request-id': id, 'content-type': 'text/event-stream' });
      res.write('started');
      pending.push(res);
      return id;
    }));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    void request(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    while (pending.length < 1) await new Promise((r) => setTimeout(r, 10));
    const drained = inFlight.drain(server, 60_000);
    inFlight.endGrace();
    expect((await drained).map((c) => c.request_id)).toEqual(['w0']);
  });

  it('forgets a finished request wherever it sits, and lists the rest oldest first', async () => {
    const inFlight = new InFlight();
    const { pending, url } = await serve(inFlight);
    const done = [request(url), request(url), request(url), request(url)];
    while (pending.length < 4) await new Promise((r) => setTimeout(r, 10));
    expect(inFlight.size).toBe(4);
    // The newest, one in the middle, and the oldest end: the list is unlinked at each position.
    pending[3]!.end();
    pending[1]!.end();
    pending[0]!.end();
    await Promise.all([done[3], done[1], done[0]]);
    while (inFlight.size > 1) await new Promise((r) => setTimeout(r, 10));
    const drained = inFlight.drain(server!, 60_000);
    inFlight.endGrace();
    expect((await drained).map((c) => c.request_id)).toEqual(['r2']);
    pending[2]!.end();
    await done[2];
    expect(inFlight.size).toBe(0);
  });
});
