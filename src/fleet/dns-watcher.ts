import { lookup } from 'node:dns/promises';
import type { EndpointConfig } from '../config/index.js';
import { hostToResolve, type Answers } from './members.js';

/** Resolves a host name to its addresses; injectable so tests control the answers. */
export type Resolver = (host: string) => Promise<string[]>;

/**
 * The system resolver (getaddrinfo: /etc/hosts, then DNS): the host's addresses of one family
 * (see oneFamily).
 */
export const systemResolver: Resolver = async (host) => oneFamily(await lookup(host, { all: true }));

/**
 * The IPv4 addresses of an answer, or its IPv6 ones when it has none. A dual-stack host (a pod
 * of a dual-stack Kubernetes cluster, behind a headless Service) has one address of each family:
 * taking both made every backend two endpoints, each checked, counted and given its share of the
 * traffic apart. IPv4 first, as Envoy's `V4_PREFERRED` lookup family does (its clusters default
 * to `AUTO`, IPv6 first).
 */
export function oneFamily(answer: ReadonlyArray<{ readonly address: string; readonly family: number }>): string[] {
  const v4 = answer.filter((a) => a.family === 4);
  return (v4.length > 0 ? v4 : answer).map((a) => a.address);
}

export interface DnsWatcherOptions {
  readonly resolver: Resolver;
  readonly now: () => number;
  /** Called after a refresh that changed some endpoint's set of addresses. */
  readonly onChange: () => void;
  readonly log: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

interface Target {
  readonly host: string;
  readonly intervalMs: number;
  nextAt: number;
}

/**
 * Re-resolves the host of every `discover: dns` endpoint on its interval and keeps the last
 * answer of each. A name that has no address (ENOTFOUND) is an answer: no members. A lookup that
 * gets no answer keeps the previous one: a DNS outage must not empty the
 * fleet. Time comes from the injected clock; `refreshDue()` does one round, so tests drive it
 * without timers, and `start()` only calls it on a short tick.
 */
export class DnsWatcher {
  readonly #opts: DnsWatcherOptions;
  readonly #targets = new Map<string, Target>();
  readonly #answers = new Map<string, readonly string[]>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(opts: DnsWatcherOptions) {
    this.#opts = opts;
  }

  /** The endpoints to watch (those with `discover: dns`); answers of the others are forgotten. */
  setTargets(configs: readonly EndpointConfig[]): void {
    const wanted = new Map(configs.filter((c) => c.discover === 'dns').map((c) => [c.name, c]));
    for (const name of [...this.#targets.keys()]) {
      if (!this.#keeps(name, wanted)) {
        this.#targets.delete(name);
        this.#answers.delete(name);
      }
    }
    for (const [name, config] of wanted) {
      const host = hostToResolve(config.url);
      const existing = this.#targets.get(name);
      if (existing && existing.intervalMs === config.discover_interval) continue;
      this.#targets.set(name, { host, intervalMs: config.discover_interval, nextAt: existing ? Math.min(existing.nextAt, this.#opts.now() + config.discover_interval) : this.#opts.now() });
    }
  }

  get answers(): Answers {
    return this.#answers;
  }

  /** The answers `setTargets(configs)` would keep (those of endpoints still watched for the same host), changing nothing. */
  answersFor(configs: readonly EndpointConfig[]): Answers {
    const wanted = new Map(configs.filter((c) => c.discover === 'dns').map((c) => [c.name, c]));
    return new Map([...this.#answers].filter(([name]) => this.#keeps(name, wanted)));
  }

  /** Whether the watched endpoint `name` stays watched, for the same host, among `wanted` (by name). */
  #keeps(name: string, wanted: ReadonlyMap<string, EndpointConfig>): boolean {
    const config = wanted.get(name);
    const target = this.#targets.get(name);
    return config !== undefined && target !== undefined && hostToResolve(config.url) === target.host;
  }

  /** Resolves every target whose time has come; one round at a time. */
  refreshDue(): Promise<void> {
    this.#running ??= this.#refresh(false).finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Resolves every target now (at start, before the first requests). */
  async refreshAll(): Promise<void> {
    await this.#running;
    await this.#refresh(true);
  }

  start(tickMs = 1000): void {
    this.#timer = setInterval(() => void this.refreshDue(), tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #refresh(all: boolean): Promise<void> {
    const now = this.#opts.now();
    const due = [...this.#targets.entries()].filter(([, t]) => all || t.nextAt <= now);
    const changed = await Promise.all(due.map(([name, target]) => this.#resolve(name, target)));
    if (changed.some(Boolean)) this.#opts.onChange();
  }

  /** True when the endpoint's addresses changed. */
  async #resolve(name: string, target: Target): Promise<boolean> {
    target.nextAt = this.#opts.now() + target.intervalMs;
    let addresses: string[];
    try {
      addresses = [...new Set(await this.#opts.resolver(target.host))].sort();
    } catch (err) {
      if (!hasNoAddresses(err)) {
        this.#opts.log('warn', 'endpoint address lookup failed; keeping the last answer', { endpoint: name, host: target.host, error: (err as Error).message });
        return false;
      }
      // The name exists no longer, or has no address: a headless Service whose last ready pod has
      // left. That is an answer, not an outage: its members leave, and drain.
      addresses = [];
    }
    // The target may have been dropped while the lookup ran.
    if (this.#targets.get(name) !== target) return false;
    const before = this.#answers.get(name);
    if (before && before.length === addresses.length && before.every((a, i) => a === addresses[i])) return false;
    this.#answers.set(name, addresses);
    this.#opts.log('info', 'endpoint addresses changed', { endpoint: name, host: target.host, addresses, previous: before ?? [] });
    return true;
  }
}

/**
 * Whether a failed lookup is the DNS's answer that the name has no address (NXDOMAIN, or no
 * record of its type: Node reports both as ENOTFOUND), rather than a failure to get an answer
 * (EAI_AGAIN: a server failure or a timeout), which keeps the last answer.
 */
function hasNoAddresses(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'ENOTFOUND';
}
