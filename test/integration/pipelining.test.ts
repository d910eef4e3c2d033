import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scriptedBackends } from '../helpers/backends.js';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { startSluice, stopAll, waitFor, type SluiceProc } from '../helpers/processes.js';

// HTTP/1.1 pipelining: Node calls the request listener for every pipelined request as soon as it
// is parsed, while their responses go out in order. Before requests were run in their turn, one
// connection ran any number of them on the backends at once, and a response queued behind another
// was never closed when its client left: its request was not cancelled, was counted as answered,
// and stayed in memory (and in the shutdown's in-flight count) until the process ended.

const backends = scriptedBackends();
afterEach(async () => {
  await stopAll();
  await backends.closeAll();
});

const BODY = JSON.stringify({ model: 't:1', messages: [{ role: 'user', content: 'hi' }] });
const REQUEST = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`;

/** A backend that answers each request after `delayMs` and records how many it ran at once. */
async function slowBackend(delayMs: number) {
  let running = 0;
  const seen = { peak: 0, started: 0, cancelled: 0 };
  const b = await backends.backend((_req, res) => {
    running++;
    seen.started++;
    seen.peak = Math.max(seen.peak, running);
    const timer = setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), delayMs);
    res.on('close', () => {
      running--;
      if (!res.writableFinished) {
        seen.cancelled++;
        clearTimeout(timer);
      }
    });
  });
  return { url: b.url, seen };
}

async function sluiceFor(url: string): Promise<SluiceProc> {
  const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\n  shutdown_grace: 3s\nhealth:\n  slow_start: 0s\nendpoints:\n  - name: a\n    url: ${url}\n    check_interval: 1s\n    check_timeout: 5s\n`);
  await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length > 0, 30_000, 'the model listed');
  return sluice;
}

async function counted(sluice: SluiceProc, labels: Record<string, string>): Promise<number> {
  return findSample(parseExposition(await (await fetch(`${sluice.url}/metrics`)).text()), 'sluice_requests_total', labels) ?? 0;
}

/** Writes `text` on one connection; resolves with what came back once `until` holds of it (or the connection closed). */
function pipeline(sluice: SluiceProc, text: string, until: (got: string) => boolean, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = net.connect(Number(new URL(sluice.url).port), '127.0.0.1', () => socket.write(text));
    socket.setEncoding('latin1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out; got ${(got.match(/HTTP\/1\.1 \d+/g) ?? []).length} responses`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    socket.on('data', (d: string) => {
      got += d;
      if (until(got)) done();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
  });
}

const statuses = (text: string) => (text.match(/HTTP\/1\.1 \d+/g) ?? []).map((s) => Number(s.slice(9)));

describe('pipelined requests', () => {
  it('run one at a time on the backends, each answered in order', async () => {
    const backend = await slowBackend(50);
    const sluice = await sluiceFor(backend.url);
    const got = await pipeline(sluice, REQUEST.repeat(10), (text) => statuses(text).length === 10);
    expect(statuses(got)).toEqual(Array(10).fill(200));
    expect(backend.seen.started).toBe(10);
    // Before: 10 at once.
    expect(backend.seen.peak).toBe(1);
    // Sluice's own time leaves out the requests that waited their turn (it would hold the wait).
    const exposition = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
    expect(findSample(exposition, 'sluice_overhead_seconds_count', { endpoint: 'a' })).toBe(1);
  });

  it('whose client leaves before their turn are not run, are counted as 499, and are not left in flight', async () => {
    const backend = await slowBackend(5000);
    const sluice = await sluiceFor(backend.url);
    // Model lists are answered at once, their answers queued behind the first request's.
    const socket = net.connect(Number(new URL(sluice.url).port), '127.0.0.1', () => socket.write(REQUEST.repeat(10) + 'GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3)));
    socket.on('error', () => undefined);
    await waitFor(() => backend.seen.started >= 1, 5000, 'the first request sent on');
    socket.destroy();
    await waitFor(async () => (await counted(sluice, { endpoint: 'a', model: 't:1', code: '499' })) + (await counted(sluice, { endpoint: 'none', model: 'none', code: '499' })) === 10, 5000, 'all ten counted as 499');
    // The first was cancelled; before, all ten ran to their end on the backend, counted as 200.
    await waitFor(() => backend.seen.cancelled === 1, 5000, 'the running one cancelled');
    expect(backend.seen.started).toBe(1);
    expect(await counted(sluice, { endpoint: 'a', model: 't:1', code: '200' })).toBe(0);
    // Nothing is left in flight: before, the twelve queued responses stayed there until the shutdown grace ran out.
    sluice.proc.child.kill('SIGTERM');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'shutting down'), 10_000, 'shutting down');
    expect(sluice.proc.jsonLines().find((l) => l.message === 'shutting down')?.in_flight).toBe(0);
  });

  it('behind a request that asks for a protocol upgrade are not left waiting: it is answered and its connection closed', async () => {
    const backend = await slowBackend(20);
    const sluice = await sluiceFor(backend.url);
    // Node's parser drops what follows such a request in the same read (Sluice switches no
    // protocols): the pipelined request gets no answer, and before, the connection stayed open.
    const upgrade = REQUEST.replace('Host: x\r\n', 'Host: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n');
    const got = await pipeline(sluice, upgrade + REQUEST, () => false, 5000);
    expect(statuses(got)).toEqual([200]);
    expect(got).toMatch(/\r\nconnection: close\r\n/i);
    // Asked alone, the next request on a new connection is answered as usual.
    expect(statuses(await pipeline(sluice, REQUEST, (text) => statuses(text).length === 1))).toEqual([200]);
  });

  it('past 32 waiting on one connection, the next is refused with a 429 in its turn and the connection closed', async () => {
    const backend = await slowBackend(20);
    const sluice = await sluiceFor(backend.url);
    const got = await pipeline(sluice, REQUEST.repeat(40), () => false);
    const answers = statuses(got);
    // The first runs at once; 32 wait their turn; the 34th is refused and closes the connection.
    expect(answers).toEqual([...Array(33).fill(200), 429]);
    expect(got).toContain('"code":"too_many_pipelined"');
    expect(backend.seen.peak).toBe(1);
    expect(backend.seen.started).toBe(33);
  });
});
