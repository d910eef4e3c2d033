// The rows of the proxy benchmark: how each proxy is configured and started, in a temp directory
// of its own, and pinned to the proxy core once it answers. Every proxy forwards to the `upstreams` it is given
// (base URLs); each start() resolves once the proxy answers, to a handle with url, pid and stop().
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORES, findTool, freePort, pinTree, startPinned, waitFor } from '../lib/proxy-procs.mjs';
import { COMPLETION_BODY, HEALTH_BODY, MODEL, MODELS_BODY } from '../lib/proxy-payloads.mjs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Health-check interval for the proxies that check actively (Sluice, HAProxy). */
const CHECK_INTERVAL_MS = 500;
/** Generous: on a shared, busy machine a Node process can take many seconds to come up. */
const READY_TIMEOUT_MS = 60_000;

const hostPort = (url) => new URL(url).host;

/** nginx as a reverse proxy: one worker, keep-alive upstream, passive checks, retries of POSTs on error/timeout. */
export function nginxProxyConfig(dir, port, upstreams) {
  const servers = upstreams.map((u) => `    server ${hostPort(u)} max_fails=1 fail_timeout=10s;`).join('\n');
  return nginxMain(
    dir,
    `  upstream backends {
${servers}
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout non_idempotent;
      proxy_connect_timeout 5s;
      proxy_read_timeout 300s;
    }
  }`,
  );
}

/** nginx answering fixed JSON: the backend of the throughput and latency runs. */
export function nginxBackendConfig(dir, port, bodies) {
  const quote = (s) => `'${s.replace(/'/g, "\\'")}'`;
  return nginxMain(
    dir,
    `  server {
    listen 127.0.0.1:${port} backlog=4096;
    default_type application/json;
    location = /health { return 200 ${quote(bodies.health)}; }
    location = /v1/models { return 200 ${quote(bodies.models)}; }
    location / { return 200 ${quote(bodies.completion)}; }
  }`,
  );
}

function nginxMain(dir, httpBody) {
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { recursive: true });
  // As root, workers would switch to "nobody" and could not use the temp directory.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 10000; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
${httpBody}
}
`;
}

/** HAProxy: one thread, keep-alive, active checks, retries with redispatch on connection failures and empty responses. */
export function haproxyConfig(port, upstreams) {
  const servers = upstreams.map((u, i) => `  server b${i} ${hostPort(u)} check inter ${CHECK_INTERVAL_MS}ms fall 2 rise 2`).join('\n');
  return `global
  nbthread 1
  maxconn 8000

defaults
  mode http
  maxconn 8000
  timeout connect 5s
  timeout check 2s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 75s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
  option http-no-delay

frontend fe
  bind 127.0.0.1:${port}
  default_backend be

backend be
  balance roundrobin
  option httpchk GET /health
${servers}
`;
}

/** The fixed-JSON backend: nginx answering the benchmark's payloads on `port`, on the load core, its files in `dir`. */
export function startNginxBackend(dir, port) {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxBackendConfig(dir, port, { health: HEALTH_BODY, models: MODELS_BODY, completion: COMPLETION_BODY }));
  return startPinned({ name: 'nginx-backend', cmd: findTool('nginx'), args: ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf], core: CORES.load, logFile: join(dir, 'stdout.log') });
}

/** `bench/proxy/backend.mjs` (streamed, stamped events and a fixed answer after `delayMs`) on `port`, on the load core, its log in `dir`. */
export function startNodeBackend(dir, port, delayMs = 0) {
  return startPinned({ name: 'backend', cmd: process.execPath, args: [join(HERE, 'backend.mjs')], core: CORES.load, env: { PORT: String(port), DELAY_MS: String(delayMs) }, logFile: join(dir, `backend-${port}.log`), cwd: ROOT });
}

export function sluiceConfig(port, upstreams, { accessLog, workers = 1, retryNonIdempotent = false, checkInterval = `${CHECK_INTERVAL_MS}ms` }) {
  const endpoints = upstreams
    .map(
      (u, i) => `  - name: b${i}
    url: ${u}
    type: openai
    health_path: /health
    check_interval: ${checkInterval}
    check_timeout: 2s`,
    )
    .join('\n');
  return `server:
  host: 127.0.0.1
  port: ${port}
  workers: ${workers}
logging:
  level: info
  access_log: ${accessLog}
health:
  slow_start: 0s
${retryNonIdempotent ? 'proxy:\n  retry_non_idempotent: true\n' : ''}endpoints:
${endpoints}
`;
}

async function answers(url) {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.ok;
}

/** Waits for `check`, then hands the proxy over (pinned to the proxy core unless `pin` is false); stops it if it never gets ready. */
async function ready(proc, url, check, what, { pin = true } = {}) {
  try {
    await waitFor(check, READY_TIMEOUT_MS, what, proc);
    if (pin) pinTree(proc.pid, CORES.proxy);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, pid: proc.pid, proc, stop: () => proc.stop() };
}

async function startNginx({ dir, upstreams }) {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxProxyConfig(dir, port, upstreams));
  const proc = startPinned({ name: 'nginx', cmd: findTool('nginx'), args: ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf], logFile: join(dir, 'stdout.log') });
  const url = `http://127.0.0.1:${port}`;
  return ready(proc, url, () => answers(`${url}/health`), 'nginx');
}

async function startHaproxy({ dir, upstreams }) {
  const port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, haproxyConfig(port, upstreams));
  const proc = startPinned({ name: 'haproxy', cmd: findTool('haproxy'), args: ['-db', '-f', conf], logFile: join(dir, 'haproxy.log') });
  const url = `http://127.0.0.1:${port}`;
  return ready(proc, url, () => answers(`${url}/health`), 'haproxy');
}

/**
 * Sluice from dist/; `telemetry` adds access logs and trace export to `otlpUrl` (every trace, or
 * `sampleRatio` of them); `nodeArgs` go to node before the script (a CPU profile). One process
 * pinned to the proxy core, or with `workers` > 1 a cluster left free to use every core.
 */
async function startSluice({ dir, upstreams, telemetry = false, otlpUrl, sampleRatio, workers = 1, retryNonIdempotent = false, nodeArgs = [] }) {
  const port = await freePort();
  const conf = join(dir, 'sluice.yaml');
  writeFileSync(conf, sluiceConfig(port, upstreams, { accessLog: telemetry, workers, retryNonIdempotent }));
  // `sampleRatio`: keep that share of traces (the standard ratio sampler, as an operator would set it).
  const sampling = sampleRatio === undefined ? {} : { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(sampleRatio) };
  const env = telemetry ? { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_SERVICE_NAME: 'sluice-bench', ...sampling } : { OTEL_SDK_DISABLED: 'true' };
  const proc = startPinned({ name: 'sluice', cmd: process.execPath, args: [...nodeArgs, join(ROOT, 'dist/cli.js'), '--config', conf], env, logFile: join(dir, 'sluice.log'), cwd: ROOT });
  const url = `http://127.0.0.1:${port}`;
  // Ready when every endpoint takes traffic (healthy, or degraded by slow checks on a busy machine).
  const handle = await ready(
    proc,
    url,
    async () => {
      const health = await (await fetch(`${url}/internal/health`)).json();
      if (health.endpoints.healthy + health.endpoints.degraded < upstreams.length) return false;
      const models = await (await fetch(`${url}/v1/models`)).json();
      return models.data.some((m) => m.id === MODEL);
    },
    'sluice ready',
    { pin: workers === 1 },
  );
  // Where Sluice reports its own time per request (sluice_overhead_seconds).
  return { ...handle, metricsUrl: `${url}/metrics` };
}

function startNodeReference(script) {
  return async ({ dir, upstreams }) => {
    const port = await freePort();
    const proc = startPinned({ name: script, cmd: process.execPath, args: [join(HERE, script)], env: { PORT: String(port), TARGET: upstreams[0] }, logFile: join(dir, `${script}.log`), cwd: ROOT });
    const url = `http://127.0.0.1:${port}`;
    return ready(proc, url, () => answers(`${url}/health`), script);
  };
}

/**
 * The rows, in report order. `needs`: executables without which the row is skipped;
 * `singleUpstream`: reference rows forward to one backend only (no failover row).
 */
export const ROWS = [
  { id: 'direct', label: 'direct', means: 'load generator straight to the backend: the floor every proxy adds to', needs: [], start: async ({ upstreams }) => ({ url: upstreams[0], pid: undefined, stop: async () => {} }) },
  { id: 'nginx', label: 'nginx', means: 'nginx, one worker, keep-alive upstream', needs: ['nginx'], start: startNginx },
  { id: 'haproxy', label: 'HAProxy', means: 'HAProxy, nbthread 1', needs: ['haproxy'], start: startHaproxy },
  { id: 'sluice', label: 'Sluice', means: 'Sluice, one process, access log off, no tracing', needs: [], start: startSluice },
  {
    id: 'sluice-2w',
    label: 'Sluice, 2 workers',
    means: 'Sluice with server.workers: 2, not pinned: its workers share the cores with the backend and the load generator',
    needs: [],
    start: (options) => startSluice({ ...options, workers: 2 }),
  },
  { id: 'hpm', label: 'http-proxy-middleware', means: 'reference: bare http-proxy-middleware on node:http', needs: [], singleUpstream: true, start: startNodeReference('ref-hpm.mjs') },
  { id: 'raw', label: 'node:http pipe', means: 'reference: raw node:http proxy (request and response piped)', needs: [], singleUpstream: true, start: startNodeReference('ref-raw.mjs') },
];
