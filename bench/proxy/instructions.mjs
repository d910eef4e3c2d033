// `npm run bench:instructions`: what a request, and a streamed chunk, cost Sluice and the bare
// http-proxy-middleware in machine instructions, counted by valgrind's callgrind. Unlike CPU time,
// the count does not move with what else the machine does: it compares builds to about 1%, where
// the side-by-side CPU measure of `npm run bench` needs rounds and still moves by several percent
// between runs.
//
//   node bench/proxy/instructions.mjs [--dist DIR ...] [--warmup N] [--requests N] [--stream-chunks N]
//
// Rows: the bare middleware (bench/proxy/ref-hpm.mjs), and Sluice from dist/ (or from each
// `--dist`, to compare builds), access log off and no tracing. Each runs under callgrind twice:
// - requests: counting off until `--warmup` small JSON POSTs have been served (8 keep-alive
//   connections, nginx answering a fixed body), then `--requests` more counted;
// - streamed chunks: 4 streams of `--stream-chunks` server-sent events, one every 20 ms, from the
//   Node backend of `npm run bench`, twice unmeasured and once counted; the count is divided by
//   the events the client read (the streams' four requests are in it: about 1% of it).
//
// What is counted is the main thread, the one that serves requests. V8's helper threads
// (optimizing compilation, concurrent marking) are reported apart: how much of their work falls
// into the counted window depends on the warm-up's length more than on the request path (a
// whole-process count of Sluice read 625k instructions per request after 5,000 requests of
// warm-up and 937k after 30,000; its main thread read 478k and 479k).
//
// Under valgrind a request takes about 40 times as long, so work done per second or per turn of
// the event loop weighs that much more per request: Sluice's health checks run once a minute
// here, and telemetry (an access-log write per turn, span batches exported on a timer) is left
// to `npm run bench`, whose side-by-side measure runs at full speed. Needs valgrind and nginx.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REQUEST_BODY, REQUEST_PATH, streamRequestBody } from '../lib/proxy-payloads.mjs';
import { CORES, findTool, freePort, stopAll, waitFor } from '../lib/proxy-procs.mjs';
import { ROOT, sluiceConfig, startNginxBackend, startNodeBackend } from './rows.mjs';

const HERE = join(ROOT, 'bench/proxy');

const { values: args } = parseArgs({ options: { dist: { type: 'string', multiple: true }, warmup: { type: 'string', default: '10000' }, requests: { type: 'string', default: '2000' }, 'stream-chunks': { type: 'string', default: '400' } } });
const builds = args.dist ?? [join(ROOT, 'dist')];
/** The rows: the bare middleware, then Sluice from each build. */
const rows = [{ label: 'bare http-proxy-middleware', reference: true }, ...builds.map((dir) => ({ label: builds.length > 1 ? `Sluice (${dir})` : 'Sluice', dist: resolve(dir) }))];
const warmup = Number(args.warmup);
const requests = Number(args.requests);
const STREAMS = 4;
const streamChunks = Number(args['stream-chunks']);
/** One event every 20 ms on each of 4 streams: 200 a second, which Sluice under valgrind keeps up with. */
const STREAM_INTERVAL_MS = 20;
for (const tool of ['valgrind', 'callgrind_control', 'nginx', 'taskset']) if (!findTool(tool)) throw new Error(`${tool} is needed (Debian: apt-get install valgrind nginx util-linux)`);
for (const row of rows) if (row.dist && !existsSync(join(row.dist, 'cli.js'))) throw new Error(`no ${join(row.dist, 'cli.js')}: build it first (npm run build)`);

const work = mkdtempSync(join(tmpdir(), 'sluice-instructions-'));
const log = (msg) => process.stderr.write(`[instructions] ${msg}\n`);

/** What is counted: a unit of work, the backend that serves it, how to warm a row up and how to count (returns the units served). */
const WORKLOADS = [
  {
    unit: 'request',
    title: `Instructions per request (callgrind; ${warmup} requests of warm-up, then ${requests} counted, 8 connections)`,
    startBackend: () => startBackend(startNginxBackend, 'nginx backend'),
    warm: (url) => load(url, warmup),
    measure: (url, label) => {
      const served = load(url, requests);
      if (served !== requests) throw new Error(`${label}: ${served} of ${requests} counted requests answered 200`);
      return served;
    },
  },
  {
    unit: 'streamed chunk',
    title: `Instructions per streamed chunk (callgrind; ${STREAMS} streams of ${streamChunks} events, one every ${STREAM_INTERVAL_MS} ms: two runs of warm-up, then one counted)`,
    // `npm run bench`'s Node backend, which streams stamped events.
    startBackend: () => startBackend(startNodeBackend, 'stream backend'),
    warm: (url) => {
      streamLoad(url);
      streamLoad(url);
    },
    measure: (url, label) => {
      const { events, complete } = streamLoad(url);
      if (complete !== STREAMS || events !== STREAMS * streamChunks) throw new Error(`${label}: ${complete} of ${STREAMS} streams complete, ${events} of ${STREAMS * streamChunks} events`);
      return events;
    },
  },
];

try {
  for (const workload of WORKLOADS) {
    const backend = await workload.startBackend();
    const results = [];
    for (const row of rows) {
      log(`${row.label}: ${workload.unit}s`);
      results.push({ row, ...(await count(row, backend.url, workload)) });
    }
    await backend.proc.stop();
    process.stdout.write(`${table(workload, results)}\n`);
  }
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}

/** A backend that `start(dir, port)` starts, on a free port, once it answers /health. */
async function startBackend(start, what) {
  const port = await freePort();
  const proc = start(work, port);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health`)).ok, 20_000, what, proc);
  return { url, proc };
}

/** Runs one row under callgrind through `workload` and returns its instructions per unit, main thread and helper threads. */
async function count(row, backendUrl, workload) {
  const port = await freePort();
  const dir = mkdtempSync(join(work, 'row-'));
  let script;
  let env;
  if (row.reference) {
    script = [join(HERE, 'ref-hpm.mjs')];
    env = { PORT: String(port), TARGET: backendUrl };
  } else {
    const conf = join(dir, 'sluice.yaml');
    // Health checks once a minute: under valgrind, checks every 500 ms (as in `npm run bench`) added
    // about 30k instructions per request, against about 1k at full speed.
    writeFileSync(conf, sluiceConfig(port, [backendUrl], { accessLog: false, checkInterval: '60s' }));
    script = [join(row.dist, 'cli.js'), '--config', conf];
    env = { OTEL_SDK_DISABLED: 'true' };
  }
  const valgrind = ['--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', '--smc-check=all-non-file', `--callgrind-out-file=${join(dir, 'callgrind.out')}.%p`];
  const proc = spawn(findTool('taskset'), ['-c', CORES.proxy, findTool('valgrind'), ...valgrind, process.execPath, ...script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise((done) => proc.once('exit', done));
  try {
    const url = `http://127.0.0.1:${port}${REQUEST_PATH}`;
    await waitFor(async () => (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: REQUEST_BODY })).status === 200, 180_000, `${row.label} serving`);
    workload.warm(url);
    execFileSync('callgrind_control', ['--instr=on', String(proc.pid)], { stdio: 'ignore' });
    const served = workload.measure(url, row.label);
    execFileSync('callgrind_control', ['--instr=off', String(proc.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['--dump', String(proc.pid)], { stdio: 'ignore' });
    return threads(dir, served);
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
}

/** Sends `n` POSTs over 8 keep-alive connections from the load core; returns how many answered 200. */
function load(url, n) {
  const out = execFileSync(findTool('taskset'), ['-c', CORES.load, process.execPath, join(HERE, 'instructions-client.mjs'), url, String(n), '8'], { encoding: 'utf8' });
  return JSON.parse(out).ok;
}

/** Runs `npm run bench`'s load generator for one round of streams from the load core; returns its result (events read, streams complete). */
function streamLoad(url) {
  const options = { mode: 'streams', url, streams: STREAMS, chunks: streamChunks, rampPerBatch: STREAMS, rampEveryMs: 0, body: streamRequestBody(streamChunks, STREAM_INTERVAL_MS) };
  const out = execFileSync(findTool('taskset'), ['-c', CORES.load, process.execPath, join(HERE, 'loadgen.mjs'), JSON.stringify(options)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Instructions per unit in the dump's main thread (callgrind numbers threads from 1) and in all the others. */
function threads(dir, served) {
  let main = 0;
  let helpers = 0;
  for (const file of readdirSync(dir).filter((f) => f.startsWith('callgrind.out'))) {
    const totals = /^totals:\s*(\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
    if (!totals) continue;
    if (/-01(\.\d+)?$/.test(file)) main += Number(totals[1]);
    else helpers += Number(totals[1]);
  }
  return { main: main / served, helpers: helpers / served };
}

function table(workload, results) {
  const reference = results.find((r) => r.row.reference)?.main;
  const k = (n) => `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k`;
  const lines = [
    workload.title,
    '',
    '| row | main thread | helper threads | against the bare middleware (its main-thread count over this row\'s) |',
    '|---|---:|---:|---:|',
  ];
  for (const r of results) lines.push(`| ${r.row.label} | ${k(r.main)} | ${k(r.helpers)} | ${(reference / r.main).toFixed(2)}× |`);
  return `${lines.join('\n')}\n`;
}
