import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

export interface ScriptedBackend {
  readonly url: string;
  readonly server: http.Server;
  /** `METHOD path` of every request `handle` answered, in order. */
  readonly requests: string[];
  readonly bodies: string[];
}

/** Answers 200 with a small JSON body. */
export const ok: Handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');

/**
 * Backends on loopback scripted by the test: each passes health checks and lists model `t:1`,
 * and `handle` answers everything else once the body is read. `closeAll` (in afterEach) closes
 * every one started since.
 */
export function scriptedBackends(): { backend(handle: Handler): Promise<ScriptedBackend>; closeAll(): Promise<void> } {
  const open: http.Server[] = [];
  return {
    async backend(handle) {
      const requests: string[] = [];
      const bodies: string[] = [];
      const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          if (req.url === '/health') return res.end('ok');
          if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"t:1"}]}');
          requests.push(`${req.method} ${req.url}`);
          bodies.push(body);
          handle(req, res, body);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      open.push(server);
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests, bodies };
    },
    async closeAll() {
      for (const server of open.splice(0)) {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    },
  };
}
