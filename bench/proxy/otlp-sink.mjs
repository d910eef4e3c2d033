// A minimal OTLP/HTTP receiver for the telemetry-cost run: accepts trace exports (protobuf or
// JSON) on POST /v1/traces, answers with an empty success, and counts exports and bytes
// (GET /stats). Environment: PORT.
import http from 'node:http';

let exports = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, bytes }));
    return;
  }
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => {
    if (req.url !== '/v1/traces') return res.writeHead(404).end();
    exports += 1;
    const json = (req.headers['content-type'] ?? '').includes('json');
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
