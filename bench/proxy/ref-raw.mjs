// Reference row: the least a node:http proxy can do (request piped to a keep-alive agent,
// response piped back), showing the ceiling of Node's HTTP stack. Environment: PORT, TARGET.
import http from 'node:http';

const target = new URL(process.env.TARGET);
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo', noDelay: true });
const server = http.createServer({ noDelay: true, keepAliveTimeout: 75_000 }, (req, res) => {
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"bad gateway"}}');
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
});
server.requestTimeout = 0;
server.listen({ port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
