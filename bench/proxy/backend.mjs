// A small inference-like backend for the proxy benchmark.
//   GET  /health, GET /v1/models      what Sluice's health checks and catalog read
//   POST with {"stream": true, "bench": {"chunks": N, "interval_ms": I}}
//        N server-sent events, one every I ms, each stamped with its send time ("t", ms since
//        the epoch, sub-millisecond) and index ("i"), then `data: [DONE]`
//   POST otherwise                    a fixed chat completion, after DELAY_MS (default 0)
// Environment: PORT, HOST (127.0.0.1), DELAY_MS.
import http from 'node:http';
import { COMPLETION_BODY as COMPLETION, HEALTH_BODY, MODEL, MODELS_BODY as MODELS } from '../lib/proxy-payloads.mjs';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const delayMs = Number(process.env.DELAY_MS ?? 0);

const now = () => performance.timeOrigin + performance.now();

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function stream(req, res, chunks, intervalMs) {
  // X-Accel-Buffering: what SSE servers send so that nginx forwards each event as it comes.
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  let i = 0;
  let timer;
  const send = () => {
    if (res.destroyed) return;
    if (i >= chunks) {
      res.end('data: [DONE]\n\n');
      return;
    }
    res.write(`data: {"object":"chat.completion.chunk","model":"${MODEL}","choices":[{"index":0,"delta":{"content":"tok"}}],"i":${i},"t":${now().toFixed(3)}}\n\n`);
    i += 1;
    timer = setTimeout(send, intervalMs);
  };
  res.on('close', () => clearTimeout(timer));
  send();
}

const server = http.createServer({ noDelay: true, keepAliveTimeout: 75_000 }, (req, res) => {
  if (req.method === 'GET' && req.url === '/health') return json(res, 200, HEALTH_BODY);
  if (req.method === 'GET' && req.url === '/v1/models') return json(res, 200, MODELS);
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    let body = {};
    try {
      body = JSON.parse(Buffer.concat(parts).toString() || '{}');
    } catch {
      return json(res, 400, '{"error":{"message":"invalid JSON","type":"invalid_request_error"}}');
    }
    if (body.stream) return stream(req, res, Number(body.bench?.chunks ?? 10), Number(body.bench?.interval_ms ?? 10));
    if (delayMs > 0) setTimeout(() => json(res, 200, COMPLETION), delayMs);
    else json(res, 200, COMPLETION);
  });
});
server.headersTimeout = 60_000;
server.requestTimeout = 0;
server.listen({ port, host, backlog: 4096 }, () => console.log(`backend listening on ${host}:${port}`));
process.on('SIGTERM', () => process.exit(0));
