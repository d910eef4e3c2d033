// `npm run bench`: Sluice against nginx, HAProxy and two node:http reference proxies, side by side
// in one run, everything on 127.0.0.1. The proxy under test runs on one core, the backend and
// the load generator on the other. Writes bench/results/<date>.{json,md,svg,png}.
//
//   node bench/proxy/run.mjs [--smoke] [--out DIR]
//
// --smoke: a few seconds per row, few connections, 20 concurrent streams; rows whose tools are
// missing are skipped (the full run stops instead). --keep: keep the generated configs and the
// proxies' logs (the temp directory is printed). --only SECTION,... and --rows ROW,... run a part
// (sections: throughput, telemetry, latency, streaming, concurrent, failover; rows: direct, nginx,
// haproxy, sluice, sluice-2w, hpm, raw).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REQUEST_BODY, REQUEST_PATH, streamRequestBody } from '../lib/proxy-payloads.mjs';
import { mergeSummaries } from '../lib/proxy-hist.mjs';
import { readOverhead, summariseOverhead } from '../lib/own-time.mjs';
import { turnOrder } from '../lib/turns.mjs';
import { CORES, findTool, freePort, peakRss, runPinned, sleep, startPinned, stopAll, treeCpuSeconds, waitFor } from '../lib/proxy-procs.mjs';
import { telemetryShare } from './attribution.mjs';
import { renderMarkdown, renderPlot } from './report.mjs';
import { ROOT, ROWS, startNginxBackend, startNodeBackend } from './rows.mjs';

const HERE = join(ROOT, 'bench/proxy');

const FULL = {
  // Warm-up long enough for the JIT to settle in every Node row (Sluice was still speeding up after 4 s).
  // sideBySide: the target's comparison, Sluice and the bare middleware alive at once (see sluiceAgainstBareMiddleware).
  // nativeWarmupS: direct, nginx and HAProxy, which have no JIT to warm.
  throughput: { warmupS: 5, nativeWarmupS: 1, durationS: 5, connections: 64, sideBySide: { processes: 2, warmupS: 5, rounds: 5, sliceS: 2, connections: 64 } },
  // rounds × sliceS: the side-by-side measure; durationS: the profiled runs.
  // processes: fresh processes per setting, pooled (single Sluice processes differed by up to a fifth in CPU per request).
  telemetry: { warmupS: 5, durationS: 6, connections: 64, processes: 2, rounds: 4, sliceS: 2 },
  // prewarm: every row first serves 3 s at 1,000 req/s, unmeasured: after 7 s at 200 req/s, V8 was
  // still optimizing Sluice's request path for a second or two into the 1,000 req/s run, and that
  // transient, not the steady state, made most of its p99 there. Then, per rate, `rounds` slices
  // of each row side by side (see latency()).
  latency: { rates: [200, 1000, 3000], prewarm: { rate: 1000, ms: 3000 }, rounds: 4, rateWarmMs: 1000, sliceWarmupMs: 300, sliceMs: 1000, connections: 64 },
  streaming: { streams: 64, chunks: 100, rounds: 4, intervalMs: 10, warmupChunks: 200, rampPerBatch: 8, rampEveryMs: 10 },
  concurrent: { streams: 2000, chunks: 16, intervalMs: 500, rampPerBatch: 200, rampEveryMs: 50 },
  failover: { rate: 200, durationMs: 9000, killAtMs: 3000, connections: 32, backendDelayMs: 50 },
};
// The smoke's closed-loop runs last a second: a process served cold on a busy machine (another
// test file's load on the same cores) answered nothing in that second once, so each gets a second
// of warm-up first.
const SMOKE = {
  throughput: { warmupS: 1, nativeWarmupS: 0, durationS: 1, connections: 8, sideBySide: { processes: 1, warmupS: 1, rounds: 2, sliceS: 1, connections: 8 } },
  telemetry: { warmupS: 1, durationS: 1, connections: 8, processes: 1, rounds: 1, sliceS: 1 },
  latency: { rates: [100], prewarm: { rate: 100, ms: 200 }, rounds: 2, rateWarmMs: 0, sliceWarmupMs: 0, sliceMs: 500, connections: 8 },
  streaming: { streams: 4, chunks: 10, rounds: 2, intervalMs: 10, warmupChunks: 2, rampPerBatch: 4, rampEveryMs: 0 },
  concurrent: { streams: 20, chunks: 3, intervalMs: 100, rampPerBatch: 20, rampEveryMs: 0 },
  failover: { rate: 50, durationMs: 2000, killAtMs: 700, connections: 8, backendDelayMs: 20 },
};

const { values: args } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, out: { type: 'string' }, keep: { type: 'boolean', default: false }, only: { type: 'string' }, rows: { type: 'string' } } });
const P = args.smoke ? SMOKE : FULL;
/** The rate whose latency distribution is plotted: 1,000 req/s, or the highest rate run. */
const PLOT_RATE = P.latency.rates.includes(1000) ? 1000 : Math.max(...P.latency.rates);
const t0 = Date.now();
const log = (msg) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);

const tools = Object.fromEntries(['nginx', 'haproxy', 'wrk', 'taskset'].map((t) => [t, findTool(t)]));
const missing = Object.entries(tools).filter(([, path]) => !path).map(([t]) => t);
if (!existsSync(join(ROOT, 'dist/cli.js'))) {
  log('dist/cli.js is missing: run `npm run build` first.');
  process.exit(1);
}
if (missing.length > 0 && !args.smoke) {
  log(`missing tools: ${missing.join(', ')}. Install them (Debian: apt-get install nginx haproxy wrk util-linux) and run again.`);
  process.exit(1);
}
const SECTIONS = ['throughput', 'telemetry', 'latency', 'streaming', 'concurrent', 'failover'];
const only = new Set(args.only ? args.only.split(',') : SECTIONS);
const wanted = new Set(args.rows ? args.rows.split(',') : ROWS.map((r) => r.id));
for (const name of [...only].filter((s) => !SECTIONS.includes(s))) throw new Error(`unknown section ${name}; known: ${SECTIONS.join(', ')}`);
const rows = ROWS.filter((r) => wanted.has(r.id) && r.needs.every((t) => tools[t]));
const work = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const rowDir = (section, id) => {
  const dir = join(work, `${section}-${id}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

// ---------------------------------------------------------------------------------------------
// Backends (on the load core)

/** The cheap fixed-JSON backend: nginx when present, else the Node backend. */
async function startJsonBackend() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = rowDir('backend', `json-${port}`);
  let proc;
  if (tools.nginx) {
    proc = startNginxBackend(dir, port);
  } else {
    proc = startNodeBackend(dir, port);
  }
  await waitFor(async () => (await fetch(`${url}/health`)).ok, 60_000, 'json backend', proc);
  return { url, proc, kind: tools.nginx ? 'nginx (fixed JSON)' : 'node (fixed JSON)' };
}

async function startNodeBackends(count, delayMs, section) {
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = startNodeBackend(rowDir('backend', section), port, delayMs);
    await waitFor(async () => (await fetch(`${url}/health`)).ok, 60_000, 'node backend', proc);
    out.push({ url, proc });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Load generators (on the load core)

/** Runs the load generator; `onStart` is called when it sends its first request. */
async function loadgen(opts, onStart) {
  const proc = startPinned({ name: 'loadgen', cmd: process.execPath, args: [join(HERE, 'loadgen.mjs'), JSON.stringify(opts)], core: CORES.load, cwd: ROOT, capture: true });
  if (onStart) {
    let seen = '';
    const watch = (chunk) => {
      seen += chunk;
      if (!seen.includes('STARTED')) return;
      proc.child.stderr.off('data', watch);
      onStart();
    };
    proc.child.stderr.on('data', watch);
  }
  const { code, signal } = await proc.exited;
  const { stdout, stderr } = proc.output();
  if (code !== 0) throw new Error(`loadgen exited with ${code ?? signal}: ${stderr.slice(-2000)}`);
  return JSON.parse(stdout.trim().split('\n').pop());
}

function wrkScript() {
  const file = join(work, 'post.lua');
  const lua = `wrk.method = "POST"
wrk.body = [[${REQUEST_BODY}]]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nBENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
`;
  writeFileSync(file, lua);
  return file;
}

async function wrk(url, connections, seconds) {
  const script = wrkScript();
  const { stdout } = await runPinned({ name: 'wrk', cmd: tools.wrk, args: ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, `${url}${REQUEST_PATH}`], core: CORES.load });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no result: ${stdout.slice(-500)}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length));
  const errors = r.connect_errors + r.read_errors + r.write_errors + r.status_errors + r.timeouts;
  return { rps: (r.requests * 1e6) / r.duration_us, requests: r.requests, errors, p50: r.p50_us / 1000, p99: r.p99_us / 1000, p999: r.p999_us / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Sections

/** Starts each row in turn on `upstreams`, runs `measure` against it, records peak RSS, stops it. */
async function perRow(section, list, upstreams, measure, extra = {}) {
  const out = [];
  for (const row of list) {
    log(`${section}: ${row.id}`);
    let h;
    try {
      h = await row.start({ dir: extra.dir ?? rowDir(section, row.id), upstreams, ...extra });
      const result = await measure(h, row);
      out.push({ row: row.id, ...result, peakRssBytes: h.pid ? peakRss(h.pid) : null });
    } catch (err) {
      log(`${section}: ${row.id} failed: ${err.message}`);
      out.push({ row: row.id, error: String(err.message ?? err) });
    } finally {
      await h?.stop();
    }
  }
  return out;
}

/** Rows with no JIT to warm: they get `nativeWarmupS`; Node rows the full warm-up (V8 optimizes their request path as it runs). */
const NATIVE_ROWS = new Set(['direct', 'nginx', 'haproxy']);

async function throughput(backend) {
  return perRow('throughput', rows, [backend.url], (h, row) => closedLoop(h, NATIVE_ROWS.has(row.id) ? { ...P.throughput, warmupS: P.throughput.nativeWarmupS } : P.throughput));
}

/** One closed-loop run after the warm-up: wrk's figures and the CPU the proxy's processes used per request (from /proc). */
async function closedLoop(h, { warmupS, durationS, connections }) {
  if (warmupS > 0) await wrk(h.url, connections, warmupS);
  const before = h.pid ? treeCpuSeconds(h.pid) : undefined;
  const result = await wrk(h.url, connections, durationS);
  const cpu = before === undefined ? undefined : treeCpuSeconds(h.pid) - before;
  return { ...result, cpuUsPerRequest: cpu !== undefined && result.requests > 0 ? (cpu * 1e6) / result.requests : null };
}

const sum = (values) => values.reduce((a, b) => a + b, 0);
const mean = (values) => (values.length === 0 ? null : sum(values) / values.length);

/**
 * Proxies alive at once, each warmed up, then measured in turn: `rounds` rounds of one
 * `sliceS` slice each, the order reversed every other round. Run one after the other, a minute
 * apart, two runs of the same build had differed by up to a fifth in CPU per request, the
 * machine's speed drifting between them; measured this way, slices a few seconds apart, three
 * Sluice processes agreed within 1%. Each handle's CPU per request is the CPU its processes used
 * from the first slice to the last (work deferred past a slice, such as a batch of spans exported
 * later, included; the idle processes' health checks are a small fraction of a per cent) over
 * the requests its slices served.
 */
async function sideBySide(handles, { warmupS, rounds, sliceS, connections }) {
  if (warmupS > 0) for (const h of handles) await wrk(h.url, connections, warmupS);
  const cpuAtStart = handles.map((h) => treeCpuSeconds(h.pid));
  const slices = handles.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const i of turnOrder(handles.length, round)) {
      const before = treeCpuSeconds(handles[i].pid);
      const r = await wrk(handles[i].url, connections, sliceS);
      slices[i].push({ rps: r.rps, requests: r.requests, errors: r.errors, cpuSeconds: treeCpuSeconds(handles[i].pid) - before });
    }
  }
  return handles.map((h, i) => {
    const requests = sum(slices[i].map((x) => x.requests));
    const cpuSeconds = treeCpuSeconds(h.pid) - cpuAtStart[i];
    return { rps: sum(slices[i].map((x) => x.rps)) / rounds, requests, errors: sum(slices[i].map((x) => x.errors)), cpuSeconds, cpuUsPerRequest: requests > 0 ? (cpuSeconds * 1e6) / requests : null, slices: slices[i] };
  });
}

/**
 * Starts each entry ({ label, row, dir, options }) on `upstreams`, measures them side by side, and
 * stops them all, also when a start or the measure fails; the measured results, in entry order.
 */
async function startSideBySide(section, entries, upstreams, measure) {
  const handles = [];
  try {
    for (const { label, row, dir, options } of entries) {
      log(`${section}: ${label}`);
      handles.push(await row.start({ dir, upstreams, ...options }));
    }
    log(`${section}: ${measure.rounds} rounds of ${handles.length} slices of ${measure.sliceS} s`);
    return await sideBySide(handles, measure);
  } finally {
    for (const h of handles) await h.stop();
  }
}

/** CPU µs per request over several measured processes (or slices) together. */
function pooledCpuUs(parts) {
  const requests = sum(parts.map((p) => p.requests));
  return requests > 0 ? (sum(parts.map((p) => p.cpuSeconds)) * 1e6) / requests : null;
}

/** Several measured processes of one kind as one: mean req/s, requests and errors added up, CPU per request pooled. */
function pooled(list) {
  return { cpuUsPerRequest: pooledCpuUs(list), rps: mean(list.map((m) => m.rps)), requests: sum(list.map((m) => m.requests)), errors: sum(list.map((m) => m.errors)) };
}

/**
 * The throughput target compares Sluice with the bare middleware by CPU per request (on a
 * saturated pinned core, the inverse of throughput; the load generator's own speed does not move
 * it), `processes` fresh processes of each, alive side by side and measured in turn (sideBySide).
 * The verdict is the pooled ratio; each round's ratio shows how far it could swing. Sluice with
 * two workers (not pinned) takes its slices in the same rounds, and is compared with one Sluice
 * process by requests per second: what the second core adds.
 */
async function sluiceAgainstBareMiddleware(backend) {
  const { processes, ...measure } = P.throughput.sideBySide;
  const pair = ['sluice', 'hpm'].map((id) => rows.find((r) => r.id === id));
  if (pair.some((r) => !r)) return undefined;
  const entries = [];
  for (let k = 1; k <= processes; k++) for (const row of pair) entries.push({ label: `${row.id} (${k}/${processes})`, row, dir: rowDir('throughput', `side-by-side-${row.id}-${k}`) });
  const workers = rows.find((r) => r.id === 'sluice-2w');
  if (workers) entries.push({ label: workers.id, row: workers, dir: rowDir('throughput', 'side-by-side-sluice-2w') });
  try {
    const measured = await startSideBySide('throughput, side by side', entries, [backend.url], measure);
    const of = (id) => measured.filter((_, i) => entries[i].row.id === id);
    const [sluice, hpm] = [of('sluice'), of('hpm')];
    const roundRatio = (round) => pooledCpuUs(hpm.map((m) => m.slices[round])) / pooledCpuUs(sluice.map((m) => m.slices[round]));
    const twoWorkers = of('sluice-2w');
    const result = { processes, rounds: measure.rounds, sliceS: measure.sliceS, warmupS: measure.warmupS, sluice: pooled(sluice), hpm: pooled(hpm), ...(twoWorkers.length ? { twoWorkers: pooled(twoWorkers) } : {}), perProcess: measured.map((m, i) => ({ row: entries[i].row.id, ...m })) };
    return {
      ...result,
      workersRatio: result.twoWorkers ? result.twoWorkers.rps / result.sluice.rps : null,
      cpuRatio: result.hpm.cpuUsPerRequest / result.sluice.cpuUsPerRequest,
      rpsRatio: result.sluice.rps / result.hpm.rps,
      roundCpuRatios: Array.from({ length: measure.rounds }, (_, round) => roundRatio(round)),
    };
  } catch (err) {
    log(`throughput, side by side failed: ${err.message}`);
    return { error: String(err.message ?? err) };
  }
}

/** The share of traces kept in the telemetry section's sampled row. */
const SAMPLED_RATIO = 0.1;

/** How Sluice is started for a telemetry setting: `off`, `on` (every trace) or `sampled` (SAMPLED_RATIO of traces). */
function sluiceTelemetry(mode, sinkUrl) {
  return { telemetry: mode !== 'off', otlpUrl: sinkUrl, sampleRatio: mode === 'sampled' ? SAMPLED_RATIO : undefined };
}

/**
 * Telemetry cost: Sluice with the access log and tracing to a local OTLP receiver (every trace,
 * and `SAMPLED_RATIO` of them), against both off: `processes` fresh processes of each setting,
 * alive side by side and measured in turn (sideBySide), so that a slow spell of a busy machine
 * falls on all of them, and pooled per setting, as the throughput target's are (two Sluice
 * processes started alike differed by up to a fifth in CPU per request). Each setting reports
 * its throughput and the CPU it spent per request (from /proc), which does not move when the
 * load generator is slowed down.
 */
async function telemetry(backend) {
  const { warmupS, rounds, sliceS, connections, processes } = P.telemetry;
  const sluice = rows.find((r) => r.id === 'sluice');
  const sinkPort = await freePort();
  const sink = startPinned({ name: 'otlp-sink', cmd: process.execPath, args: [join(HERE, 'otlp-sink.mjs')], core: CORES.load, env: { PORT: String(sinkPort) }, logFile: join(work, 'otlp-sink.log') });
  const sinkUrl = `http://127.0.0.1:${sinkPort}`;
  await waitFor(async () => (await fetch(`${sinkUrl}/stats`)).ok, 60_000, 'otlp sink', sink);
  const modes = ['off', 'on', 'sampled'];
  const entries = [];
  for (let k = 1; k <= processes; k++) for (const mode of modes) entries.push({ mode, label: `${mode}: sluice (${k}/${processes})`, row: sluice, dir: rowDir('telemetry', `${mode}-${k}`), options: sluiceTelemetry(mode, sinkUrl) });
  try {
    const out = { processes, rounds, sliceS, warmupS, sampledRatio: SAMPLED_RATIO };
    try {
      const measured = await startSideBySide('telemetry, side by side', entries, [backend.url], { warmupS, rounds, sliceS, connections });
      for (const mode of modes) {
        const list = measured.filter((_, i) => entries[i].mode === mode);
        out[mode] = { ...pooled(list), perProcess: list };
      }
    } catch (err) {
      log(`telemetry failed: ${err.message}`);
      for (const mode of modes) out[mode] ??= { error: String(err.message ?? err) };
    }
    const onLog = join(entries.find((e) => e.mode === 'on').dir, 'sluice.log');
    out.accessLogLines = existsSync(onLog) ? readFileSync(onLog, 'utf8').split('\n').filter((l) => l.includes('"request_id"')).length : 0;
    // The same two settings once more each, under a CPU profile: telemetry's share of that one process's CPU.
    out.profiled = {};
    for (const mode of ['on', 'sampled']) out.profiled[mode] = await profiledShare(sluice, backend, mode, sinkUrl);
    await sleep(args.smoke ? 200 : 1000);
    out.sink = await (await fetch(`${sinkUrl}/stats`)).json();
    const rpsOver = (a, b) => (a?.rps && b?.rps ? a.rps / b.rps : null);
    const cpuOver = (a, b) => (a?.cpuUsPerRequest && b?.cpuUsPerRequest ? a.cpuUsPerRequest / b.cpuUsPerRequest : null);
    out.ratio = rpsOver(out.on, out.off);
    out.cpuRatio = cpuOver(out.off, out.on);
    out.sampledRatioRps = rpsOver(out.sampled, out.off);
    out.sampledCpuRatio = cpuOver(out.off, out.sampled);
    return out;
  } finally {
    await sink.stop();
  }
}

/**
 * Telemetry's share of the CPU of one Sluice process (`mode`: every trace, or the sampled
 * ratio), from a V8 CPU profile of its measured run (see attribution.mjs); null when the run or
 * the profile failed. The profiler slows the process, so nothing else is read from this run.
 */
async function profiledShare(sluice, backend, mode, sinkUrl) {
  const { warmupS, durationS, connections } = P.telemetry;
  const dir = rowDir('telemetry', `${mode}-profiled`);
  const profiles = join(dir, 'profile');
  const startedAt = performance.now();
  let window;
  const [r] = await perRow(`telemetry ${mode}, CPU profile`, [sluice], [backend.url], async (h) => {
    if (warmupS > 0) await wrk(h.url, connections, warmupS);
    const from = (performance.now() - startedAt) / 1000;
    const result = await wrk(h.url, connections, durationS);
    window = { fromS: from, toS: (performance.now() - startedAt) / 1000 };
    return result;
  }, { ...sluiceTelemetry(mode, sinkUrl), dir, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profiles}`] });
  if (r.error || !window) return null;
  try {
    // One file per process that wrote one: the largest is Sluice's own (a cluster would write more).
    const [file] = readdirSync(profiles).map((f) => join(profiles, f)).sort((a, b) => statSync(b).size - statSync(a).size);
    // The profile starts with the process, a little after it was spawned: the window is taken as is.
    return { ...telemetryShare(JSON.parse(readFileSync(file, 'utf8')), window), window };
  } catch (err) {
    log(`telemetry ${mode}, CPU profile: ${err.message}`);
    return null;
  }
}

/**
 * Open-loop latency with every row alive at once and measured in turn, as the throughput target
 * is: each row pre-warmed, then for each rate `rounds` rounds of one slice per row (the order
 * reversed every other round), the slices' histograms added up per row. Measured one row after
 * the other, a slow spell of the machine fell on whichever row ran in it (the bare middleware once
 * read +63 ms at p99 where it had read +2 ms); side by side it falls on every row alike. A row
 * that fails to start is reported as failed; a rate whose load generator fails fails every row.
 */
async function latency(backend) {
  const { rates, prewarm, rounds, rateWarmMs, sliceWarmupMs, sliceMs, connections } = P.latency;
  let entries = [];
  try {
    entries = await startRows('latency', [backend.url], (h) => loadgen({ mode: 'openloop', url: `${h.url}${REQUEST_PATH}`, rate: prewarm.rate, warmupMs: prewarm.ms, durationMs: 0, connections, body: REQUEST_BODY }));
    for (const e of entries) {
      e.slices = Object.fromEntries(rates.map((rate) => [rate, []]));
      e.ownTime = {};
    }
    const live = entries.filter((e) => !e.error);
    for (const rate of rates) {
      log(`latency, side by side: ${rate} req/s, ${rounds} rounds of ${live.length} slices of ${sliceMs} ms`);
      try {
        const ownBefore = await ownTimes(live);
        // One load generator for the rate's slices, not started cold per slice, warmed at the rate through every row first.
        const { slices } = await loadgen({ mode: 'slices', urls: live.map((e) => `${e.h.url}${REQUEST_PATH}`), rounds, warmMs: rateWarmMs, rate, warmupMs: sliceWarmupMs, durationMs: sliceMs, connections, body: REQUEST_BODY });
        live.forEach((e, i) => (e.slices[rate] = slices[i]));
        const ownAfter = await ownTimes(live);
        live.forEach((e, i) => {
          if (ownBefore[i] && ownAfter[i]) e.ownTime[rate] = summariseOverhead(ownBefore[i], ownAfter[i]);
        });
      } catch (err) {
        log(`latency at ${rate} req/s failed: ${err.message}`);
        for (const e of live) e.error = String(err.message ?? err);
      }
    }
    return entries.map((e) => (e.error ? { row: e.row.id, error: e.error } : { row: e.row.id, byRate: Object.fromEntries(rates.map((rate) => [rate, { ...mergeSlices(e.slices[rate]), ownTime: e.ownTime[rate] ?? null }])), peakRssBytes: e.h.pid ? peakRss(e.h.pid) : null }));
  } finally {
    for (const e of entries) await e.h?.stop();
  }
}

/**
 * Each entry's `sluice_overhead_seconds` buckets (Sluice's rows; null for the others). Read
 * between runs, so a rate's figure covers all its slices, their unmeasured starts included.
 */
function ownTimes(entries) {
  const read = (e) =>
    readOverhead(e.h.metricsUrl).catch((err) => {
      log(`latency: ${e.row.id}'s own time unread: ${err.message}`);
      return null;
    });
  return Promise.all(entries.map((e) => (e.h.metricsUrl ? read(e) : null)));
}

/**
 * Starts every row on `upstreams`, one after the other, and runs `ready(handle)` on each (a
 * warm-up); a row that fails to start or warm is kept with its error. The caller stops the
 * handles (`entry.h`).
 */
async function startRows(section, upstreams, ready) {
  const entries = [];
  for (const row of rows) {
    log(`${section}: ${row.id}`);
    const entry = { row };
    entries.push(entry);
    try {
      entry.h = await row.start({ dir: rowDir(section, row.id), upstreams });
      if (ready) await ready(entry.h);
    } catch (err) {
      log(`${section}: ${row.id} failed: ${err.message}`);
      entry.error = String(err.message ?? err);
    }
  }
  return entries;
}

/** One rate's slices of one row as one run: counts summed, histograms added; each slice's p99 kept. */
function mergeSlices(slices) {
  const statuses = {};
  for (const s of slices) for (const [code, n] of Object.entries(s.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const total = (key) => sum(slices.map((s) => s[key]));
  return {
    rate: slices[0]?.rate,
    slices: slices.length,
    sent: total('sent'),
    measured: total('measured'),
    errors: total('errors'),
    failed: total('failed'),
    statuses,
    achievedRate: mean(slices.map((x) => x.achievedRate)),
    failures: slices.flatMap((s) => s.failures).slice(0, 20),
    sliceP99s: slices.map((s) => s.latency.p99),
    latency: mergeSummaries(slices.map((s) => s.latency)),
  };
}

/**
 * Streams through every row alive at once, measured in turn as the latency section is: a warm-up
 * run through each row, then `rounds` rounds of one run of `streams` streams per row (the order
 * reversed every other round), one load generator for all, each row's per-chunk delays added up
 * into one histogram. Measured one row after the other, direct's own p99 moved between 3 and 5 ms
 * from run to run, more than the target, and whichever row ran in a slow spell took it.
 * Streams start over a few intervals (8 every 10 ms) rather than all in one millisecond, and the
 * target's figure counts only chunks sent once every stream of the run has had its first: the delay
 * a proxy adds to chunks in flight, not how long it takes to set up 64 requests (its per-request
 * cost, which chunks sent meanwhile wait behind; reported apart, as `delayWhileStarting`).
 */
async function streaming() {
  const { streams, chunks, intervalMs, warmupChunks, rounds, rampPerBatch, rampEveryMs } = P.streaming;
  const [backend] = await startNodeBackends(1, 0, 'stream');
  let entries = [];
  try {
    entries = await startRows('streaming', [backend.url]);
    const live = entries.filter((e) => !e.error);
    log(`streaming, side by side: ${rounds} rounds of ${live.length} runs of ${chunks} chunks`);
    try {
      const { slices } = await loadgen({ mode: 'stream-slices', urls: live.map((e) => `${e.h.url}${REQUEST_PATH}`), rounds, streams, chunks, rampPerBatch, rampEveryMs, body: streamRequestBody(chunks, intervalMs), warmupChunks, warmupBody: streamRequestBody(warmupChunks, intervalMs) });
      live.forEach((e, i) => (e.slices = slices[i]));
    } catch (err) {
      log(`streaming failed: ${err.message}`);
      for (const e of live) e.error = String(err.message ?? err);
    }
    const out = entries.map((e) => (e.error ? { row: e.row.id, error: e.error } : { row: e.row.id, ...mergeStreamRuns(e.slices), peakRssBytes: e.h.pid ? peakRss(e.h.pid) : null }));
    return { offeredChunksPerSecond: (streams * 1000) / intervalMs, streams, chunks, rounds, intervalMs, warmupChunks, rampPerBatch, rampEveryMs, rows: out };
  } finally {
    for (const e of entries) await e.h?.stop();
    await backend.proc.stop();
  }
}

/** One row's stream runs as one: counts summed, delay histograms added (steady and while starting apart), chunks per second averaged; each run's steady p99 kept. */
function mergeStreamRuns(runs) {
  const total = (key) => sum(runs.map((r) => r[key]));
  const reads = sum(runs.map((r) => (r.readsPerEvent ?? 0) * r.events));
  const events = total('events');
  return {
    runs: runs.length,
    streams: total('streams'),
    complete: total('complete'),
    errors: total('errors'),
    incomplete: total('incomplete'),
    expectedEvents: total('expectedEvents'),
    events,
    readsPerEvent: events === 0 ? null : reads / events,
    chunksPerSecond: mean(runs.map((r) => r.chunksPerSecond).filter((v) => v !== null)),
    failures: runs.flatMap((r) => r.failures).slice(0, 20),
    runP99s: runs.map((r) => r.delay.p99),
    delay: mergeSummaries(runs.map((r) => r.delay)),
    delayWhileStarting: mergeSummaries(runs.map((r) => r.delayWhileStarting)),
  };
}

async function concurrentStreams() {
  const { streams, chunks, intervalMs, rampPerBatch, rampEveryMs } = P.concurrent;
  const [backend] = await startNodeBackends(1, 0, 'concurrent');
  try {
    const out = await perRow('concurrent', rows, [backend.url], (h) =>
      loadgen({ mode: 'streams', url: `${h.url}${REQUEST_PATH}`, streams, chunks, rampPerBatch, rampEveryMs, body: streamRequestBody(chunks, intervalMs) }),
    );
    return { streams, holdMs: chunks * intervalMs, rows: out };
  } finally {
    await backend.proc.stop();
  }
}

async function failover() {
  const { rate, durationMs, killAtMs, connections, backendDelayMs } = P.failover;
  const out = [];
  for (const row of rows.filter((r) => !r.singleUpstream && r.id !== 'direct')) {
    const backends = await startNodeBackends(3, backendDelayMs, `failover-${row.id}`);
    try {
      // The requests are POSTs that a killed backend may have read: nginx is configured to send
      // them again (`non_idempotent`), and Sluice is given the same opt-in (proxy.retry_non_idempotent).
      const [r] = await perRow('failover', [row], backends.map((b) => b.url), async (h) => {
        let killer;
        const result = await loadgen({ mode: 'openloop', url: `${h.url}${REQUEST_PATH}`, rate, durationMs, connections, body: REQUEST_BODY, timeoutMs: 10_000 }, () => {
          killer = setTimeout(() => backends[0].proc.child.kill('SIGKILL'), killAtMs);
        });
        clearTimeout(killer);
        if (backends[0].proc.alive()) throw new Error('the run ended before the backend was killed');
        return { sent: result.sent, failed: result.failed, errors: result.errors, statuses: result.statuses, failures: result.failures, latency: result.latency };
      }, { retryNonIdempotent: true });
      out.push(r);
    } finally {
      await Promise.all(backends.map((b) => b.proc.stop()));
    }
  }
  return { rate, durationMs, killAtMs, backendDelayMs, rows: out };
}

// ---------------------------------------------------------------------------------------------

function version(cmd, flag, pattern) {
  if (!cmd) return null;
  // nginx and haproxy print their version on stderr, wrk on stdout with a non-zero status.
  const r = spawnSync(cmd, [flag], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return pattern.exec(text)?.[1] ?? null;
}

function meta() {
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    smoke: args.smoke,
    commit,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    pinning: tools.taskset ? { proxy: CORES.proxy, backendAndLoad: CORES.load } : null,
    loadavgStart: loadavg(),
    versions: {
      node: process.version,
      nginx: version(tools.nginx, '-v', /nginx\/(\S+)/),
      haproxy: version(tools.haproxy, '-v', /HAProxy version (\S+)/),
      wrk: version(tools.wrk, '-v', /wrk (\S+)/),
    },
    skippedRows: ROWS.filter((r) => wanted.has(r.id) && !rows.includes(r)).map((r) => ({ row: r.id, missing: r.needs.filter((t) => !tools[t]) })),
    params: P,
    plotRate: PLOT_RATE,
  };
}

async function main() {
  const started = Date.now();
  const results = { meta: meta(), rows: rows.map(({ id, label, means }) => ({ id, label, means })) };
  if (only.has('throughput') || only.has('telemetry') || only.has('latency')) {
    const backend = await startJsonBackend();
    results.meta.backend = backend.kind;
    try {
      if (!tools.wrk) log('wrk is missing: throughput and telemetry runs skipped');
      if (tools.wrk && only.has('throughput')) {
        results.throughput = await throughput(backend);
        results.throughputSideBySide = await sluiceAgainstBareMiddleware(backend);
      }
      if (tools.wrk && only.has('telemetry') && rows.some((r) => r.id === 'sluice')) results.telemetry = await telemetry(backend);
      if (only.has('latency')) results.latency = await latency(backend);
    } finally {
      await backend.proc.stop();
    }
  }
  if (only.has('streaming')) results.streaming = await streaming();
  if (only.has('concurrent')) results.concurrent = await concurrentStreams();
  if (only.has('failover')) results.failover = await failover();
  results.meta.loadavgEnd = loadavg();
  results.meta.elapsedS = (Date.now() - started) / 1000;

  const outDir = args.out ?? join(ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  // Date and time (2026-12-06T1800), so that a second run on one day keeps the first.
  const base = join(outDir, `${results.meta.date.slice(0, 16).replace(':', '')}${args.smoke ? '-smoke' : ''}`);
  const markdown = renderMarkdown(results, PLOT_RATE);
  const { svg, png } = await renderPlot(results, PLOT_RATE);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.png`, png);
  process.stdout.write(`${markdown}\n`);
  log(`wrote ${base}.{json,md,svg,png} in ${results.meta.elapsedS.toFixed(0)} s`);
}

try {
  await main();
} finally {
  await stopAll();
  if (args.keep) log(`kept configs and logs in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
