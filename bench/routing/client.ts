/**
 * The benchmark's client: replays a schedule of arrivals as streaming chat completions and
 * measures, per request, the time to the first SSE event carrying content and to the last byte.
 */
import { Agent, request } from 'node:http';
import { MODEL } from './processes.js';
import { messagesFor, schedule, type Arrival, type WorkloadOptions } from './workload.js';

export interface RequestResult {
  readonly ok: boolean;
  readonly ttftMs: number;
  readonly e2eMs: number;
  readonly outputTokens: number;
  readonly error?: string;
}

export interface StepResult {
  readonly requests: RequestResult[];
  /** From the first send to the last answer. */
  readonly wallMs: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

function streamChat(baseUrl: string, body: string, timeoutMs: number): Promise<RequestResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let ttft = Number.NaN;
    let tokens = 0;
    let usageTokens: number | undefined;
    let buffer = '';
    let settled = false;
    const finish = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const e2e = performance.now() - started;
      resolve(ok ? { ok, ttftMs: ttft, e2eMs: e2e, outputTokens: usageTokens ?? tokens } : { ok, ttftMs: Number.NaN, e2eMs: e2e, outputTokens: 0, error });
    };
    const url = new URL('/v1/chat/completions', baseUrl);
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', () => finish(false, `status ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of event.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') continue;
            try {
              const parsed = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }>; usage?: { completion_tokens?: number } | null };
              if (parsed.choices?.some((c) => (c.delta?.content ?? '') !== '')) {
                if (Number.isNaN(ttft)) ttft = performance.now() - started;
                tokens++;
              }
              if (parsed.usage?.completion_tokens !== undefined) usageTokens = parsed.usage.completion_tokens;
            } catch {
              // a partial or foreign line: not a token
            }
          }
        }
      });
      res.on('end', () => (Number.isNaN(ttft) ? finish(false, 'no content streamed') : finish(true)));
      res.on('error', (err) => finish(false, err.message));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(false, 'timeout');
    }, timeoutMs);
    req.on('error', (err) => finish(false, err.message));
    req.end(body);
  });
}

/**
 * Replays the workload's Poisson schedule, open loop (arrivals do not wait for answers). Arrival
 * `i` goes to `baseUrls[i % n]`: with several Sluice replicas, a conversation's turns reach them
 * in turn, as they would behind a Service that spreads connections. `rounds` carries each
 * user's next round from one step to the next.
 */
export async function replay(baseUrls: readonly string[], workload: WorkloadOptions, timeoutMs: number, rounds?: Map<string, number>): Promise<StepResult> {
  const arrivals: Arrival[] = schedule(workload, rounds);
  const started = performance.now();
  const pending = arrivals.map(async (arrival, i) => {
    const body = JSON.stringify({ model: MODEL, messages: messagesFor(workload, arrival), stream: true, stream_options: { include_usage: true }, max_tokens: workload.outputTokens });
    const wait = arrival.atMs - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    return streamChat(baseUrls[i % baseUrls.length]!, body, timeoutMs);
  });
  const requests = await Promise.all(pending);
  return { requests, wallMs: performance.now() - started };
}

/** Sum of a counter's samples in a Prometheus text exposition. */
export function counterSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export interface CacheCounters {
  readonly hits: number;
  readonly queries: number;
}

export async function cacheCounters(engineUrls: readonly string[]): Promise<CacheCounters> {
  let hits = 0;
  let queries = 0;
  for (const url of engineUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    hits += counterSum(text, 'vllm:prefix_cache_hits_total');
    queries += counterSum(text, 'vllm:prefix_cache_queries_total');
  }
  return { hits, queries };
}
