/**
 * `npm run bench:routing [-- --smoke] [-- --out DIR]`: the routing benchmark. Three simulated
 * engines; for each Sluice strategy (and real nginx `least_conn`) and each regime (with and without
 * cache pressure), the engines are restarted cold, the proxy started in front of them, and the
 * seeded workload replayed at stepped Poisson rates with streaming chat completions.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheCounters, replay } from './client.js';
import { ROOT, nginxAvailable, startEngines, startNginx, startSluice, stopAll, strategySupported, type Running } from './processes.js';
import { chartSvg, markdownTable, svgToPng, type Row } from './report.js';
import { hitRate, percentile } from './stats.js';
import { tenantsFor, type WorkloadOptions } from './workload.js';

const STRATEGIES = ['round-robin', 'least-connections', 'random-two', 'load-aware', 'prefix-aware'];
const NGINX = 'nginx least_conn';
const REGIMES = ['pressure', 'no-pressure'] as const;
const ENGINES = 3;
/** The sample server's sim defaults (README), written out so the result file records them. */
const ENGINE_ENV = { MAX_NUM_SEQS: '16', KV_BLOCKS: '2048', BLOCK_SIZE: '16', MAX_BATCHED_TOKENS: '2048', PREFILL_MS_PER_TOKEN: '0.25', DECODE_MS_PER_STEP: '15', DECODE_MS_PER_SEQ: '0.5' };
const ENGINE_KV_TOKENS = Number(ENGINE_ENV.KV_BLOCKS) * Number(ENGINE_ENV.BLOCK_SIZE);

interface Plan {
  readonly strategies: readonly string[];
  readonly rates: readonly number[];
  readonly stepMs: number;
  readonly timeoutMs: number;
}

const FULL: Plan = { strategies: STRATEGIES, rates: [2, 4, 6], stepMs: 8_000, timeoutMs: 30_000 };
const SMOKE: Plan = { strategies: ['round-robin', 'least-connections'], rates: [2], stepMs: 2_000, timeoutMs: 15_000 };

const log = (message: string) => process.stdout.write(`[bench:routing] ${message}\n`);

function workloadFor(regime: (typeof REGIMES)[number], rate: number, step: number, stepMs: number): WorkloadOptions {
  const systemPromptTokens = 2048;
  // A different seed per step: later steps bring new arrivals (and next rounds) of the same tenants.
  return { seed: 1000 + step, tenants: tenantsFor(regime, ENGINE_KV_TOKENS, systemPromptTokens), usersPerTenant: 4, systemPromptTokens, questionTokens: 64, outputTokens: 48, ratePerSecond: rate, durationMs: stepMs };
}

async function measure(target: string, regime: (typeof REGIMES)[number], plan: Plan, start: (engines: Running[]) => Promise<Running>): Promise<Row[]> {
  const engines = await startEngines(ENGINES, ENGINE_ENV);
  const rows: Row[] = [];
  try {
    const proxy = await start(engines);
    try {
      for (const [step, rate] of plan.rates.entries()) {
        const workload = workloadFor(regime, rate, step, plan.stepMs);
        const before = await cacheCounters(engines.map((e) => e.url));
        const result = await replay(proxy.url, workload, plan.timeoutMs);
        const after = await cacheCounters(engines.map((e) => e.url));
        const ok = result.requests.filter((r) => r.ok);
        const ttft = ok.map((r) => r.ttftMs);
        const e2e = ok.map((r) => r.e2eMs);
        const row: Row = {
          target,
          regime,
          rate,
          requests: result.requests.length,
          failed: result.requests.length - ok.length,
          ttftMs: { p50: percentile(ttft, 50), p90: percentile(ttft, 90), p99: percentile(ttft, 99) },
          e2eMs: { p50: percentile(e2e, 50), p90: percentile(e2e, 90) },
          outputTokensPerSecond: ok.reduce((sum, r) => sum + r.outputTokens, 0) / (result.wallMs / 1000),
          prefixCacheHitRate: hitRate(after.hits - before.hits, after.queries - before.queries),
        };
        const errors = [...new Set(result.requests.flatMap((r) => (r.error ? [r.error] : [])))];
        log(`${regime} ${target} @${rate}/s: ${row.requests} requests, ${row.failed} failed${errors.length ? ` (${errors.join(', ')})` : ''}, TTFT p90 ${row.ttftMs.p90.toFixed(0)} ms, hit rate ${(row.prefixCacheHitRate * 100).toFixed(1)}%`);
        rows.push(row);
      }
    } finally {
      await proxy.stop();
    }
  } finally {
    await Promise.all(engines.map((e) => e.stop()));
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, out: { type: 'string' } } });
  const plan = values.smoke ? SMOKE : FULL;
  const outDir = values.out ?? join(ROOT, 'bench/results');
  const started = Date.now();
  const targets: Array<{ name: string; start: (engines: Running[]) => Promise<Running> }> = [];
  const skipped: Array<{ target: string; reason: string }> = [];
  for (const strategy of plan.strategies) {
    const check = strategySupported(strategy);
    if (check.ok) targets.push({ name: strategy, start: (engines) => startSluice(strategy, engines) });
    else {
      skipped.push({ target: strategy, reason: `not accepted by sluice check-config: ${check.reason}` });
      log(`skipping ${strategy}: not accepted by this build's check-config`);
    }
  }
  const nginx = nginxAvailable();
  if (nginx.ok) targets.push({ name: NGINX, start: startNginx });
  else {
    skipped.push({ target: NGINX, reason: nginx.reason });
    log(`skipping ${NGINX}: ${nginx.reason}`);
  }

  const rows: Row[] = [];
  for (const regime of REGIMES) {
    for (const target of targets) rows.push(...(await measure(target.name, regime, plan, target.start)));
  }

  // The decision micro-benchmark (64 endpoints, full prefix index), on the same build.
  let decisionCost: unknown[] = [];
  if (!values.smoke) {
    const micro = spawnSync(process.execPath, [join(ROOT, 'bench/routing/decision-cost.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    decisionCost = micro.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown);
    log(micro.status === 0 ? `decision cost: ${micro.stdout.trim()}` : `decision cost failed: ${micro.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }

  const date = new Date().toISOString().slice(0, 16).replace(':', '');
  const base = join(outDir, `routing-${values.smoke ? 'smoke-' : ''}${date}`);
  mkdirSync(outDir, { recursive: true });
  const workloads = Object.fromEntries(REGIMES.map((regime) => [regime, { ...workloadFor(regime, 0, 0, plan.stepMs), seed: undefined, ratePerSecond: undefined }]));
  const result = { date: new Date().toISOString(), smoke: values.smoke, machine: { cpus: cpus().length, node: process.version }, engines: ENGINES, engine: ENGINE_ENV, workloads, plan, skipped, rows, decisionCost, durationSeconds: (Date.now() - started) / 1000 };
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const table = markdownTable(rows);
  writeFileSync(`${base}.md`, `# Routing benchmark, ${result.date}\n\n${table}${skipped.length ? `\nSkipped: ${skipped.map((s) => `${s.target} (${s.reason})`).join('; ')}\n` : ''}`);
  const svg = await chartSvg(rows);
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.png`, svgToPng(svg));
  process.stdout.write(`\n${table}\n`);
  log(`wrote ${base}.{json,md,svg,png} in ${result.durationSeconds.toFixed(0)} s`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`[bench:routing] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
