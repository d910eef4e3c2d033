import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startModelServer, startSluice, stopAll, testConfig, waitFor, waitReady } from '../helpers/processes.js';
import { chatStream, sleep } from '../helpers/streams.js';

afterAll(stopAll);

const STREAMS = 200;

/** Established TCP connections that process `pid` holds to a local port. */
function establishedFrom(pid: number, port: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`127.0.0.1:${port}`) && l.includes(`pid=${pid},`)).length;
}

describe('fault matrix: lifecycle', () => {
  it('reload during 200 open streams (one endpoint removed, proxy.* changed): none dropped, the removed one drains and closes', async () => {
    const [a, b] = await Promise.all([startModelServer('a', ['m:1'], { TOKEN_DELAY: '40ms' }), startModelServer('b', ['m:1'], { TOKEN_DELAY: '40ms' })]);
    let port = 0;
    const sluice = await startSluice((p) => ((port = p), testConfig(p, [{ id: 'a', url: a.url }, { id: 'b', url: b.url }])));
    await waitReady(sluice.url, 2, ['m:1']);
    const streams = Array.from({ length: STREAMS }, () => chatStream(sluice.url, 60));
    await Promise.all(streams.map((s) => s.opened));
    // Sluice's own connections to b: the proxy's (one per open stream there) plus the pooled
    // keep-alive connections of its health checks and model discovery (global fetch), which the
    // backend's advertised keep-alive (65 s) holds open after b has left. Other processes' (this
    // test's readiness polls) do not count.
    const sluiceToB = () => establishedFrom(sluice.proc.child.pid!, b.port);
    const duringStreams = sluiceToB();
    expect(duringStreams).toBeGreaterThan(10);
    writeFileSync(sluice.configPath, testConfig(port, [{ id: 'a', url: a.url }], 'proxy:\n  connect_timeout: 3s\nbreaker:\n  failure_threshold: 9'));
    sluice.proc.child.kill('SIGHUP');
    const results = await Promise.all(streams.map((s) => s.done));
    expect(results.filter((r) => !(r.status === 200 && r.complete))).toEqual([]);
    expect(results.some((r) => r.endpoint === 'b')).toBe(true);
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'endpoint drained' && l.endpoint === 'b'), 10_000, 'b drained');
    // Every proxy connection to b is closed; at most the check and discovery connections remain.
    await waitFor(() => sluiceToB() <= 2, 10_000, 'no proxy sockets left to b');
  }, 120_000);

  it('SIGTERM during 200 open streams: readiness fails at once, new connections are refused, every stream finishes', async () => {
    const a = await startModelServer('a', ['m:1'], { TOKEN_DELAY: '40ms' });
    const admin = await freePort();
    const sluice = await startSluice((p) => testConfig(p, [{ id: 'a', url: a.url }]).replace('server:\n', `server:\n  admin_port: ${admin}\n  shutdown_grace: 60s\n`), {}, false);
    const adminUrl = `http://127.0.0.1:${admin}`;
    await waitReady(adminUrl, 1);
    await waitFor(async () => (await fetch(`${sluice.url}/v1/models`)).ok, 10_000, 'proxy up');
    await waitFor(async () => ((await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: unknown[] }).data.length > 0, 10_000, 'models');
    const streams = Array.from({ length: STREAMS }, () => chatStream(sluice.url, 60));
    await Promise.all(streams.map((s) => s.opened));
    const exited = new Promise<number | null>((r) => sluice.proc.child.once('exit', (code) => r(code)));
    sluice.proc.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${adminUrl}/internal/health`)).status === 503, 5000, 'readiness failing');
    await waitFor(async () => {
      try {
        await fetch(`${sluice.url}/v1/models`, { headers: { connection: 'close' } });
        return false;
      } catch {
        return true;
      }
    }, 5000, 'listener closed');
    const results = await Promise.all(streams.map((s) => s.done));
    expect(results.filter((r) => !(r.status === 200 && r.complete))).toEqual([]);
    expect(await exited).toBe(0);
    expect(sluice.proc.jsonLines().some((l) => l.message === 'request cut at shutdown')).toBe(false);
  }, 120_000);

  it('a SIGHUP while draining for shutdown is ignored, said so, and the drain goes on', async () => {
    const a = await startModelServer('a', ['m:1'], { TOKEN_DELAY: '20ms' });
    const sluice = await startSluice((p) => testConfig(p, [{ id: 'a', url: a.url }]).replace('server:\n', 'server:\n  shutdown_grace: 30s\n'));
    await waitReady(sluice.url, 1, ['m:1']);
    const stream = chatStream(sluice.url, 100);
    await stream.opened;
    const exited = new Promise<number | null>((r) => sluice.proc.child.once('exit', (code) => r(code)));
    sluice.proc.child.kill('SIGTERM');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'shutting down'), 5000, 'draining');
    sluice.proc.child.kill('SIGHUP');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'configuration reload ignored: shutting down'), 5000, 'the reload refused');
    expect((await stream.done).complete).toBe(true);
    expect(await exited).toBe(0);
    expect(sluice.proc.jsonLines().some((l) => l.message === 'configuration reloaded')).toBe(false);
  }, 60_000);

  it('SIGTERM with a short grace: a longer stream is cut, logged and counted', async () => {
    const a = await startModelServer('a', ['m:1'], { TOKEN_DELAY: '50ms' });
    const sluice = await startSluice((p) => testConfig(p, [{ id: 'a', url: a.url }]).replace('server:\n', 'server:\n  shutdown_grace: 1s\n'));
    await waitReady(sluice.url, 1, ['m:1']);
    const long = chatStream(sluice.url, 1000);
    await long.opened;
    const exited = new Promise<void>((r) => sluice.proc.child.once('exit', () => r()));
    sluice.proc.child.kill('SIGTERM');
    expect((await long.done).complete).toBe(false);
    await exited;
    const cut = sluice.proc.jsonLines().filter((l) => l.message === 'request cut at shutdown');
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    // The line names the request it cut (the id its access line and x-sluice-request-id carry).
    expect(cut[0]!.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // And it is recorded before the process goes, as Sluice's failure (503, endpoint none): its
    // client did not leave, and its endpoint did not fail it.
    const recorded = sluice.proc.jsonLines().filter((l) => l.message === 'request' && l.request_id === cut[0]!.request_id);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ status: 503, endpoint: 'none', error: 'shutdown_cut' });
  }, 60_000);

  it('slowloris: 200 connections sending a byte a second are cut; the cap closes the excess at once', async () => {
    const a = await startModelServer('a', ['m:1']);
    const sluice = await startSluice((p) => testConfig(p, [{ id: 'a', url: a.url }]).replace('server:\n', 'server:\n  headers_timeout: 2s\n  request_timeout: 4s\n  max_connections: 100\n'));
    await waitReady(sluice.url, 1, ['m:1']);
    const started = Date.now();
    const closedAt: number[] = [];
    const sockets = Array.from({ length: 200 }, () => {
      const s = net.connect(sluice.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedAt.push(Date.now() - started));
      s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
      return s;
    });
    const drip = setInterval(() => sockets.forEach((s) => s.writable && s.write('X')), 1000);
    try {
      await waitFor(() => closedAt.length === 200, 30_000, 'every slow connection cut');
    } finally {
      clearInterval(drip);
      sockets.forEach((s) => s.destroy());
    }
    // Over the cap: closed at once; the rest: cut by the header timeout, not held for minutes.
    const sorted = [...closedAt].sort((x, y) => x - y);
    expect(sorted[99]! * 2).toBeLessThan(sorted[199]!);
    await sleep(100);
    expect((await fetch(`${sluice.url}/v1/models`)).status).toBe(200);
  }, 60_000);
});
