/**
 * The routing benchmark's workload, after kubernetes-sigs/inference-perf's shared-prefix workload
 * and vLLM production-stack's multi-round QA: tenants with a long shared system prompt, several
 * users each, multi-turn conversations whose history grows, Poisson arrivals. Pure and seeded: the
 * same options give the same schedule and the same texts.
 */
import { createRandom } from '../../src/model-server/prng.js';

export interface WorkloadOptions {
  /** Seeds the arrivals (which user asks when). */
  readonly seed: number;
  /**
   * Seeds the texts: the tenants' system prompts and the users' questions. Kept the same across
   * the steps of a run, so that a tenant met in one step brings the same prompt in the next.
   */
  readonly textSeed: number;
  readonly tenants: number;
  readonly usersPerTenant: number;
  /** Tokens of each tenant's system prompt (four characters a token, as the simulated engine counts). */
  readonly systemPromptTokens: number;
  /** Tokens of each user question. */
  readonly questionTokens: number;
  readonly outputTokens: number;
  /** Offered load in requests per second, and how long it lasts. */
  readonly ratePerSecond: number;
  readonly durationMs: number;
}

export interface Arrival {
  readonly atMs: number;
  readonly tenant: number;
  readonly user: number;
  /** 0 for a user's first question; the history then holds `round` earlier turns. */
  readonly round: number;
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

const WORDS = ['ledger', 'invoice', 'quarter', 'audit', 'policy', 'region', 'forecast', 'vendor', 'budget', 'review', 'report', 'margin', 'account', 'claim', 'ticket', 'refund'];

/** Deterministic text of about `tokens` tokens (4 characters each). */
export function text(seed: number, tokens: number): string {
  const random = createRandom(seed);
  let out = '';
  while (out.length < tokens * 4) out += `${WORDS[Math.floor(random() * WORDS.length)]} `;
  return out.slice(0, tokens * 4);
}

/**
 * Poisson arrivals at `ratePerSecond` over `durationMs`, each on a random user's next round.
 * `rounds` holds each user's next round; pass the same map to the steps of one run so that
 * conversations go on from one step to the next.
 */
export function schedule(options: WorkloadOptions, rounds = new Map<string, number>()): Arrival[] {
  const random = createRandom(options.seed);
  const arrivals: Arrival[] = [];
  for (let at = 0; ; ) {
    at += (-Math.log(1 - random()) / options.ratePerSecond) * 1000;
    if (at >= options.durationMs) break;
    const tenant = Math.floor(random() * options.tenants);
    const user = Math.floor(random() * options.usersPerTenant);
    const key = `${tenant}/${user}`;
    const round = rounds.get(key) ?? 0;
    rounds.set(key, round + 1);
    arrivals.push({ atMs: at, tenant, user, round });
  }
  return arrivals;
}

/**
 * The messages of an arrival: the tenant's system prompt, then the user's earlier questions with
 * the answers they got (`answers`, in order; a placeholder of the output length where none was
 * recorded), then the new question.
 */
export function messagesFor(options: WorkloadOptions, arrival: Arrival, answers: readonly string[] = []): ChatMessage[] {
  const { textSeed: seed, tenants, usersPerTenant } = options;
  const messages: ChatMessage[] = [{ role: 'system', content: text(seed * 7919 + arrival.tenant, options.systemPromptTokens) }];
  const question = (round: number) => text(seed + 1 + (arrival.tenant * usersPerTenant + arrival.user) * 1009 + round * tenants * usersPerTenant * 1009, options.questionTokens);
  for (let round = 0; round < arrival.round; round++) {
    messages.push({ role: 'user', content: question(round) });
    messages.push({ role: 'assistant', content: answers[round] ?? text(seed + round, options.outputTokens) });
  }
  messages.push({ role: 'user', content: question(arrival.round) });
  return messages;
}

/**
 * Sizes the tenants for a regime. With cache pressure the system prompts in play need more than
 * one engine's KV cache (`PRESSURE_FACTOR` times it, in tokens), so an engine that sees every
 * tenant evicts and prefills them again, while a fleet that gives each engine its share of the
 * tenants holds them all (with three engines, half of each engine's cache). Without pressure
 * they need a fraction of one engine's cache, and every strategy hits.
 */
export const PRESSURE_FACTOR = 1.5;
export const NO_PRESSURE_FACTOR = 0.3;

export function tenantsFor(regime: 'pressure' | 'no-pressure', engineKvTokens: number, systemPromptTokens: number): number {
  const factor = regime === 'pressure' ? PRESSURE_FACTOR : NO_PRESSURE_FACTOR;
  return Math.max(1, Math.round((factor * engineKvTokens) / systemPromptTokens));
}
