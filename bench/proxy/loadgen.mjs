// Load generator child for the proxy benchmark; prints one JSON result on stdout.
//   node loadgen.mjs '{"mode":"openloop", ...}'   constant-rate requests without coordinated
//     omission: request k is due at start + k/rate and its latency is counted from that
//     intended time, so a stall in the system under test shows in the latencies of every
//     request that should have been sent meanwhile.
//   node loadgen.mjs '{"mode":"slices", "urls": [...], ...}'  the same, side by side: `rounds`
//     rounds of one open-loop slice per URL (the order reversed every other round), in this one
//     process, after an unmeasured run through each URL at the rate; a fresh process per slice
//     measured its own start-up (at 3,000 req/s, a cold load generator fell hundreds of
//     milliseconds behind).
//   node loadgen.mjs '{"mode":"streams", ...}'    concurrent SSE streams from backend.mjs:
//     per-chunk delay (arrival minus the backend's send stamp), chunk counts, reads per chunk.
//     The delay is counted apart for chunks sent before every stream had its first chunk: while
//     streams are still being set up, chunks in flight wait behind the proxy's per-request work,
//     which is not what it adds per chunk (the throughput and latency sections measure that).
//   node loadgen.mjs '{"mode":"stream-slices", "urls": [...], ...}'  the same, side by side: a
//     warm-up run through each URL, then `rounds` rounds of one run per URL (the order reversed
//     every other round), in this one process.
import http from 'node:http';
import { newHistogram, summarise } from '../lib/proxy-hist.mjs';
import { turnOrder } from '../lib/turns.mjs';

const opts = JSON.parse(process.argv[2]);
const now = () => performance.now();
const wall = () => performance.timeOrigin + performance.now();

function openLoop({ url, rate, durationMs, warmupMs = 0, connections, body, timeoutMs = 10_000 }) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, scheduling: 'fifo', noDelay: true });
  const payload = Buffer.from(body);
  const headers = { 'content-type': 'application/json', 'content-length': payload.length };
  const hist = newHistogram();
  const intervalMs = 1000 / rate;
  const total = Math.round((rate * (warmupMs + durationMs)) / 1000);
  const measuredFrom = warmupMs;
  const statuses = {};
  let sent = 0;
  let done = 0;
  let errors = 0;
  let failed = 0;
  let measured = 0;
  const failures = [];
  const start = now() + 20;
  return new Promise((resolve) => {
    const finish = () => {
      agent.destroy();
      resolve({ rate, connections, sent, measured, errors, failed, statuses, achievedRate: (done * 1000) / (now() - start), failures: failures.slice(0, 20), latency: summarise(hist) });
    };
    const complete = (intended, status, error) => {
      done += 1;
      const counted = intended - start >= measuredFrom;
      if (error) errors += 1;
      if (error || status < 200 || status >= 300) {
        failed += 1;
        if (failures.length < 20) failures.push({ atMs: Math.round(intended - start), status, error });
      }
      if (status) statuses[status] = (statuses[status] ?? 0) + 1;
      if (counted) {
        measured += 1;
        hist.recordValue(Math.max(1, Math.round((now() - intended) * 1000)));
      }
      if (done === total) finish();
    };
    const fire = (intended) => {
      let settled = false;
      const settle = (status, error) => {
        if (settled) return;
        settled = true;
        complete(intended, status, error);
      };
      const req = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers }, (res) => {
        res.on('data', () => {});
        res.on('end', () => settle(res.statusCode ?? 0));
        res.on('error', (e) => settle(res.statusCode ?? 0, e.code ?? e.message));
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (e) => settle(0, e.code ?? e.message));
      req.end(payload);
    };
    const tick = () => {
      if (sent === 0) process.stderr.write('STARTED\n');
      const t = now();
      while (sent < total && start + sent * intervalMs <= t) {
        fire(start + sent * intervalMs);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, start + sent * intervalMs - now())));
    };
    setTimeout(tick, 20);
  });
}

function streams({ url, streams: count, body, chunks, rampPerBatch = count, rampEveryMs = 0, timeoutMs = 120_000 }) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity, noDelay: true });
  const payload = Buffer.from(body);
  const headers = { 'content-type': 'application/json', 'content-length': payload.length, accept: 'text/event-stream' };
  const hist = newHistogram();
  const startupHist = newHistogram();
  /** Streams that have had their first chunk, and when the last of them did (wall clock, as the stamps). */
  let flowing = 0;
  let steadyFrom = Infinity;
  let complete = 0;
  let errors = 0;
  let incomplete = 0;
  let events = 0;
  let reads = 0;
  let finished = 0;
  let firstEventAt = Infinity;
  let lastEventAt = 0;
  let peakOpen = 0;
  let open = 0;
  const failures = [];
  const start = now();
  return new Promise((resolve) => {
    const end = (outcome, detail) => {
      finished += 1;
      if (outcome === 'error') errors += 1;
      if (outcome === 'incomplete') incomplete += 1;
      if (outcome === 'complete') complete += 1;
      if (outcome !== 'complete' && failures.length < 20) failures.push(detail);
      if (finished === count) {
        agent.destroy();
        const spanMs = lastEventAt - firstEventAt;
        resolve({
          streams: count,
          complete,
          errors,
          incomplete,
          expectedEvents: count * chunks,
          events,
          readsPerEvent: events === 0 ? null : reads / events,
          chunksPerSecond: spanMs > 0 ? (events * 1000) / spanMs : null,
          peakOpen,
          elapsedMs: now() - start,
          failures,
          delay: summarise(hist),
          delayWhileStarting: summarise(startupHist),
        });
      }
    };
    const one = () => {
      let settled = false;
      let isOpen = false;
      const settle = (outcome, detail) => {
        if (settled) return;
        settled = true;
        if (isOpen) open -= 1;
        end(outcome, detail);
      };
      const req = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return settle('error', `status ${res.statusCode}`);
        }
        isOpen = true;
        open += 1;
        peakOpen = Math.max(peakOpen, open);
        let buffered = '';
        let mine = 0;
        let sawDone = false;
        res.setEncoding('utf8');
        res.on('data', (text) => {
          const arrived = wall();
          reads += 1;
          buffered += text;
          let cut;
          while ((cut = buffered.indexOf('\n\n')) !== -1) {
            const event = buffered.slice(0, cut);
            buffered = buffered.slice(cut + 2);
            if (!event.startsWith('data: ')) continue;
            const data = event.slice(6);
            if (data === '[DONE]') {
              sawDone = true;
              continue;
            }
            const t = Number(/"t":([\d.]+)/.exec(data)?.[1]);
            if (mine === 0 && (flowing += 1) === count) steadyFrom = arrived;
            mine += 1;
            events += 1;
            const at = now();
            if (at < firstEventAt) firstEventAt = at;
            if (at > lastEventAt) lastEventAt = at;
            if (Number.isFinite(t)) (t >= steadyFrom ? hist : startupHist).recordValue(Math.max(1, Math.round((arrived - t) * 1000)));
          }
        });
        res.on('end', () => {
          settle(mine === chunks && sawDone ? 'complete' : 'incomplete', `${mine}/${chunks} events${sawDone ? '' : ', no [DONE]'}`);
        });
        res.on('error', (e) => settle('error', e.code ?? e.message));
        res.on('close', () => settle(mine === chunks && sawDone ? 'complete' : 'incomplete', `closed after ${mine}/${chunks} events`));
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (e) => settle('error', e.code ?? e.message));
      req.end(payload);
    };
    let started = 0;
    const batch = () => {
      for (let i = 0; i < rampPerBatch && started < count; i += 1, started += 1) one();
      if (started < count) setTimeout(batch, rampEveryMs);
    };
    batch();
  });
}

/**
 * Open-loop slices over several URLs in turn: `warmMs` first, unmeasured, at each URL in turn (a
 * rate's first slice through a row read higher than its others, direct's included: the load
 * generator and the rows settling at the new rate), then `rounds` rounds of one slice per URL.
 * Each URL's slices, in order.
 */
async function slices({ urls, rounds, warmMs = 0, ...run }) {
  if (warmMs > 0) for (const url of urls) await openLoop({ ...run, url, warmupMs: warmMs, durationMs: 0 });
  const out = urls.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const i of turnOrder(urls.length, round)) out[i].push(await openLoop({ ...run, url: urls[i] }));
  }
  return { slices: out };
}

/** Stream runs over several URLs in turn: one of `warmupChunks` through each URL first (unmeasured), then `rounds` rounds of one per URL. Each URL's measured runs, in order. */
async function streamSlices({ urls, rounds, warmupChunks, warmupBody, ...run }) {
  if (warmupChunks > 0) for (const url of urls) await streams({ ...run, url, chunks: warmupChunks, body: warmupBody });
  const out = urls.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const i of turnOrder(urls.length, round)) out[i].push(await streams({ ...run, url: urls[i] }));
  }
  return { slices: out };
}

const MODES = { openloop: openLoop, slices, streams, 'stream-slices': streamSlices };
if (!MODES[opts.mode]) throw new Error(`unknown mode ${opts.mode}; known: ${Object.keys(MODES).join(', ')}`);
const result = await MODES[opts.mode](opts);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
