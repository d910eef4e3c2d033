// Reference row: a bare http-proxy-middleware proxy on node:http, one backend, keep-alive agent
// (the same engine and agent settings as Sluice, none of its logic). Environment: PORT, TARGET.
import http from 'node:http';
import { createProxyMiddleware } from 'http-proxy-middleware';

const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo', noDelay: true });
const proxy = createProxyMiddleware({ target: process.env.TARGET, agent, changeOrigin: true });
const server = http.createServer({ noDelay: true, keepAliveTimeout: 75_000 }, (req, res) => {
  void proxy(req, res, () => {
    res.statusCode = 404;
    res.end();
  });
});
server.requestTimeout = 0;
server.listen({ port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
