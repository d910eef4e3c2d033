/**
 * Loopback variants of the shipped stack files, generated (never hand-copied) so the
 * end-to-end test exercises the real jobs, rules and dashboards: prometheus.yml with targets
 * rewritten, alerts.yml with `for:` shortened, and a Sluice config from config/compose.yaml.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { PROMETHEUS_DIR, ROOT } from './dashboard-queries.js';

interface ScrapeConfig {
  job_name: string;
  static_configs: Array<{ targets: string[] }>;
  [key: string]: unknown;
}
interface PrometheusConfig {
  global: Record<string, unknown>;
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}

/**
 * The shipped prometheus.yml with each job's targets replaced (`targets` maps every job name
 * to its loopback addresses; a job missing from it is an error), rule files replaced, and
 * scrapes and rule evaluations every second.
 */
export function loopbackPrometheusConfig(targets: Readonly<Record<string, string[]>>, ruleFiles: string[]): string {
  const config = parseYaml(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as PrometheusConfig;
  config.global = { ...config.global, scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' };
  config.rule_files = ruleFiles;
  for (const job of config.scrape_configs) {
    const loopback = targets[job.job_name];
    if (!loopback) throw new Error(`no loopback targets for job ${job.job_name} of prometheus.yml`);
    job.static_configs = [{ targets: loopback }];
  }
  return stringifyYaml(config);
}

/** alerts.yml with every `for:` set to `forDuration`, so alerts fire within a test's time. */
export function shortenedAlertRules(forDuration: string): string {
  const rules = parseYaml(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ for?: string }> }> };
  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = forDuration;
  return stringifyYaml(rules);
}

export interface ComposeModelServer {
  readonly service: string;
  readonly id: string;
  readonly models: string[];
  readonly tokenDelay: string;
}

/** The model servers of docker-compose.yml, in order. */
export function composeModelServers(): ComposeModelServer[] {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string> }>;
  };
  return Object.entries(compose.services)
    .filter(([name]) => name.startsWith('model-server-'))
    .map(([service, s]) => ({ service, id: s.environment!.SERVER_ID!, models: s.environment!.MODELS!.split(','), tokenDelay: s.environment!.TOKEN_DELAY! }));
}

/**
 * config/compose.yaml on loopback: Sluice on 127.0.0.1:`port`, each endpoint's URL replaced
 * through `urls` (endpoint name -> URL), and faster health checks.
 */
export function loopbackSluiceConfig(port: number, urls: Readonly<Record<string, string>>): string {
  const config = parseYaml(readFileSync(join(ROOT, 'config/compose.yaml'), 'utf8')) as {
    server: Record<string, unknown>;
    endpoints: Array<{ name: string; url: string; check_interval?: string; check_timeout?: string }>;
  };
  config.server = { ...config.server, host: '127.0.0.1', port };
  for (const endpoint of config.endpoints) {
    const url = urls[endpoint.name];
    if (!url) throw new Error(`no loopback URL for endpoint ${endpoint.name} of config/compose.yaml`);
    Object.assign(endpoint, { url, check_interval: '500ms', check_timeout: '400ms' });
  }
  return stringifyYaml(config);
}

export interface PrometheusProcess {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Starts Debian's (or any PATH) `prometheus` binary on loopback with exemplar storage. */
export function startPrometheus(configPath: string, dataDir: string, port: number): PrometheusProcess {
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  child.on('error', (err) => (output += `spawn failed: ${err.message}\n`));
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
