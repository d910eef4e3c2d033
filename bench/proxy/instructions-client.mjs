// Load for bench/proxy/instructions.mjs: `node instructions-client.mjs URL N CONNECTIONS` sends N
// benchmark POSTs over that many keep-alive connections and prints {"ok": answered 200}.
import http from 'node:http';
import { REQUEST_BODY } from '../lib/proxy-payloads.mjs';

const [url, total, connections] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 8)];
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(REQUEST_BODY) };
let sent = 0;
let ok = 0;

function one() {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) ok++;
        resolve();
      });
    });
    req.on('error', () => resolve());
    req.end(REQUEST_BODY);
  });
}

await Promise.all(
  Array.from({ length: connections }, async () => {
    while (sent < total) {
      sent++;
      await one();
    }
  }),
);
agent.destroy();
process.stdout.write(`${JSON.stringify({ ok })}\n`);
