/**
 * `npm run bench:routing [-- --smoke] [-- --out DIR]`: the routing benchmark. Three simulated
 * engines; for each Sluice strategy (and real nginx `least_conn`) and each regime (with and without
 * cache pressure), the engines are restarted cold, the proxy started in front of them, and the
 * seeded workload replayed at stepped Poisson rates with streaming chat completions. A step lasts
 * 8 s with cache pressure and 16 s without: there the strategies differ by a few slow requests, and
 * at 4 req/s an 8 s step (about 33 requests) left TTFT p90 resting on three of them. `--step` sets
 * both.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BOOTSTRAP } from './bootstrap.js';
import { cacheCounters, replay } from './client.js';
import { resultJson } from './json.js';
import { ROOT, nginxAvailable, startEngines, startNginx, startSluice, stopAll, strategySupported, type Running } from './processes.js';
import { chartSvg, markdownTable, svgToPng, type Row } from './report.js';
import { hitRate, percentile } from './stats.js';
import { checkTargets, NGINX_TARGET, REPLICAS_TARGET, targetsTable } from './targets.js';
import { tenantsFor, type WorkloadOptions } from './workload.js';

const STRATEGIES = ['round-robin', 'least-connections', 'random-two', 'load-aware', 'prefix-aware'];
const REGIMES = ['pressure', 'no-pressure'] as const;
const ENGINES = 3;
/** The sample server's sim defaults (README), written out so the result file records them. */
const ENGINE_ENV = { MAX_NUM_SEQS: '16', KV_BLOCKS: '2048', BLOCK_SIZE: '16', MAX_BATCHED_TOKENS: '2048', PREFILL_MS_PER_TOKEN: '0.25', DECODE_MS_PER_STEP: '15', DECODE_MS_PER_SEQ: '0.5' };
const ENGINE_KV_TOKENS = Number(ENGINE_ENV.KV_BLOCKS) * Number(ENGINE_ENV.BLOCK_SIZE);

type Regime = (typeof REGIMES)[number];

interface Plan {
  readonly strategies: readonly string[];
  readonly regimes: readonly Regime[];
  readonly rates: readonly number[];
  /** How long each rate lasts, per regime. */
  readonly stepMs: Readonly<Record<Regime, number>>;
  readonly timeoutMs: number;
  /** Also run `prefix-aware` through two Sluice replicas (with cache pressure). */
  readonly replicas: boolean;
}

const FULL: Plan = { strategies: STRATEGIES, regimes: REGIMES, rates: [4, 8, 12], stepMs: { pressure: 8_000, 'no-pressure': 16_000 }, timeoutMs: 30_000, replicas: true };
const SMOKE: Plan = { strategies: ['round-robin', 'least-connections'], regimes: REGIMES, rates: [2], stepMs: { pressure: 2_000, 'no-pressure': 2_000 }, timeoutMs: 15_000, replicas: false };
/** The texts are the same in every step and every target of a run. */
const TEXT_SEED = 42;

const log = (message: string) => process.stdout.write(`[bench:routing] ${message}\n`);

function workloadFor(regime: Regime, rate: number, step: number, stepMs: number): WorkloadOptions {
  const systemPromptTokens = 2048;
  // A different seed per step: later steps bring new arrivals (and next rounds) of the same tenants.
  return { seed: 1000 + step, textSeed: TEXT_SEED, tenants: tenantsFor(regime, ENGINE_KV_TOKENS, systemPromptTokens), usersPerTenant: 4, systemPromptTokens, questionTokens: 64, outputTokens: 48, ratePerSecond: rate, durationMs: stepMs };
}

interface Target {
  readonly name: string;
  readonly regimes: readonly Regime[];
  /** The proxies the client sends to (several for replicas), in front of `engines`. */
  readonly start: (engines: Running[]) => Promise<Running[]>;
}

async function measure(target: Target, regime: Regime, plan: Plan): Promise<Row[]> {
  const engines = await startEngines(ENGINES, ENGINE_ENV);
  const rows: Row[] = [];
  try {
    const proxies = await target.start(engines);
    const rounds = new Map<string, number>();
    try {
      for (const [step, rate] of plan.rates.entries()) {
        const workload = workloadFor(regime, rate, step, plan.stepMs[regime]);
        const before = await cacheCounters(engines.map((e) => e.url));
        const result = await replay(proxies.map((p) => p.url), workload, plan.timeoutMs, rounds);
        const after = await cacheCounters(engines.map((e) => e.url));
        const ok = result.requests.filter((r) => r.ok);
        const ttft = ok.map((r) => r.ttftMs);
        const e2e = ok.map((r) => r.e2eMs);
        const row: Row = {
          target: target.name,
          regime,
          rate,
          requests: result.requests.length,
          failed: result.requests.length - ok.length,
          ttftMs: { p50: percentile(ttft, 50), p90: percentile(ttft, 90), p99: percentile(ttft, 99) },
          ttftSamplesMs: ttft.map((ms) => Math.round(ms * 10) / 10),
          e2eMs: { p50: percentile(e2e, 50), p90: percentile(e2e, 90) },
          outputTokensPerSecond: ok.reduce((sum, r) => sum + r.outputTokens, 0) / (result.wallMs / 1000),
          prefixCacheHitRate: hitRate(after.hits - before.hits, after.queries - before.queries),
        };
        const errors = [...new Set(result.requests.flatMap((r) => (r.error ? [r.error] : [])))];
        log(`${regime} ${target.name} @${rate}/s: ${row.requests} requests, ${row.failed} failed${errors.length ? ` (${errors.join(', ')})` : ''}, TTFT p90 ${row.ttftMs.p90.toFixed(0)} ms, hit rate ${(row.prefixCacheHitRate * 100).toFixed(1)}%`);
        rows.push(row);
      }
    } finally {
      await Promise.all(proxies.map((p) => p.stop()));
    }
  } finally {
    await Promise.all(engines.map((e) => e.stop()));
  }
  return rows;
}

const list = (value: string | undefined) => value?.split(',').map((v) => v.trim()).filter((v) => v !== '');

/** The plan, narrowed by --strategies, --regimes, --rates, --step (seconds, both regimes) and --no-replicas (to explore one part). */
function planFrom(values: { smoke?: boolean; strategies?: string; regimes?: string; rates?: string; step?: string; 'no-replicas'?: boolean }): Plan {
  const base = values.smoke ? SMOKE : FULL;
  const regimes = list(values.regimes) ?? base.regimes;
  for (const r of regimes) if (!(REGIMES as readonly string[]).includes(r)) throw new Error(`unknown regime ${r}; known: ${REGIMES.join(', ')}`);
  const rates = list(values.rates)?.map(Number) ?? base.rates;
  if (rates.some((r) => !(r > 0))) throw new Error('--rates takes positive numbers, e.g. 4,8,12');
  const stepSeconds = Number(values.step);
  if (values.step !== undefined && !(stepSeconds > 0)) throw new Error('--step takes seconds, e.g. 8');
  const stepMs = values.step === undefined ? base.stepMs : { pressure: stepSeconds * 1000, 'no-pressure': stepSeconds * 1000 };
  return { ...base, strategies: list(values.strategies) ?? base.strategies, regimes: regimes as Regime[], rates, stepMs, replicas: base.replicas && !values['no-replicas'] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      strategies: { type: 'string' },
      regimes: { type: 'string' },
      rates: { type: 'string' },
      step: { type: 'string' },
      'no-replicas': { type: 'boolean', default: false },
    },
  });
  const plan = planFrom(values);
  const outDir = values.out ?? join(ROOT, 'bench/results');
  const started = Date.now();
  const targets: Target[] = [];
  const skipped: Array<{ target: string; reason: string }> = [];
  const wantNginx = plan.strategies.includes('nginx') || !values.strategies;
  for (const strategy of plan.strategies.filter((s) => s !== 'nginx')) {
    const check = strategySupported(strategy);
    if (check.ok) targets.push({ name: strategy, regimes: plan.regimes, start: async (engines) => [await startSluice(strategy, engines)] });
    else {
      skipped.push({ target: strategy, reason: `not accepted by sluice check-config: ${check.reason}` });
      log(`skipping ${strategy}: not accepted by this build's check-config`);
    }
  }
  if (wantNginx) {
    const nginx = nginxAvailable();
    if (nginx.ok) targets.push({ name: NGINX_TARGET, regimes: plan.regimes, start: async (engines) => [await startNginx(engines)] });
    else {
      skipped.push({ target: NGINX_TARGET, reason: nginx.reason });
      log(`skipping ${NGINX_TARGET}: ${nginx.reason}`);
    }
  }
  // Two replicas that share nothing but the configuration: their prefix choices must agree.
  if (plan.replicas && plan.regimes.includes('pressure') && targets.some((t) => t.name === 'prefix-aware')) {
    targets.push({ name: REPLICAS_TARGET, regimes: ['pressure'], start: async (engines) => Promise.all([startSluice('prefix-aware', engines), startSluice('prefix-aware', engines)]) });
  }

  const rows: Row[] = [];
  for (const regime of plan.regimes) {
    for (const target of targets.filter((t) => t.regimes.includes(regime))) rows.push(...(await measure(target, regime, plan)));
  }
  const targetChecks = checkTargets(rows);

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
  const workloads = Object.fromEntries(plan.regimes.map((regime) => [regime, { ...workloadFor(regime, 0, 0, plan.stepMs[regime]), seed: undefined, ratePerSecond: undefined }]));
  const result = { date: new Date().toISOString(), smoke: values.smoke, machine: { cpus: cpus().length, node: process.version }, engines: ENGINES, engine: ENGINE_ENV, workloads, plan, skipped, rows, bootstrap: BOOTSTRAP, targets: targetChecks, decisionCost, durationSeconds: (Date.now() - started) / 1000 };
  writeFileSync(`${base}.json`, resultJson(result));
  const table = markdownTable(rows);
  const targetLines = values.smoke ? '' : `\n## Targets\n\n${targetsTable(targetChecks)}`;
  writeFileSync(`${base}.md`, `# Routing benchmark, ${result.date}\n\n${table}${skipped.length ? `\nSkipped: ${skipped.map((s) => `${s.target} (${s.reason})`).join('; ')}\n` : ''}${targetLines}`);
  const svg = await chartSvg(rows);
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.png`, svgToPng(svg));
  process.stdout.write(`\n${table}${targetLines}\n`);
  log(`wrote ${base}.{json,md,svg,png} in ${result.durationSeconds.toFixed(0)} s`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`[bench:routing] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
