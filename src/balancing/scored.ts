import type { LoadFacts } from '../load/index.js';
import { loadFirst, type CacheRegime } from './cache-regime.js';
import { blockHash64, hashString, unitInterval, type Hash64 } from './hash.js';
import type { RouteDecision, RouteReason } from './decision.js';
import type { PrefixIndex } from './prefix-index.js';
import { SmoothWeightedRoundRobin } from './round-robin.js';
import { ScoreSheet } from './score-sheet.js';
import { kvCacheScore, prefixScore, queueCost, queueRequests, queueScore, residentScore } from './scorers/index.js';
import type { Candidate, PickContext } from './selector.js';

/** How much each scorer counts in the total (`balancing.scorers`). */
export interface ScorerWeights {
  readonly queue: number;
  readonly kvCache: number;
  readonly prefix: number;
  readonly resident: number;
}

/** The load of an endpoint as the load board sees it, for a request for `model`. */
export type LoadLookup = (endpoint: string, model: string | undefined) => LoadFacts;

export interface PrefixRouting {
  readonly index: PrefixIndex;
  /**
   * The prefix choice is given up for the scores when its requests per unit of weight exceed
   * the least loaded candidate's both by this factor and by `maxImbalanceRequests` (SGLang's
   * cache-aware balance thresholds, relative and absolute), and its backend, if it reports its
   * queue, has requests waiting.
   */
  readonly maxImbalanceRatio: number;
  readonly maxImbalanceRequests: number;
  /**
   * When set and the recent working set fits every candidate's KV cache, the prefix is followed
   * only while its endpoint has no more requests per unit of weight than the least loaded (an
   * allowance of 0 requests: affinity must cost no queueing); otherwise the load chooses and the
   * prefix only breaks ties. Under pressure, or with no regime, as above.
   */
  readonly regime?: CacheRegime;
}

export interface ScoredOptions {
  readonly weights: ScorerWeights;
  /** Without it, every candidate is scored on Sluice's own counts. */
  readonly load?: LoadLookup;
  /** Set for prefix-aware routing. */
  readonly prefix?: PrefixRouting;
}

const NO_LOAD: LoadFacts = { requests: undefined, kvUsage: undefined, tokens: 0, resident: undefined, stale: false };
const TIE_TOLERANCE = 1e-9;

/**
 * The scoring strategies. `load-aware` takes the best weighted sum of the queue, KV-cache and
 * model-resident scores; the queue and KV-cache scores each compare one kind of count across the
 * candidates: the backends' own when every candidate has it, else Sluice's own for all of them.
 * `prefix-aware` first follows the prompt: to the endpoint that served its longest prefix, or,
 * when no endpoint is known for it, to the rendezvous choice of its first block (so independent
 * replicas agree); unless that endpoint is much busier than the least loaded one and queueing
 * requests, in which case the scores choose (the prefix score still counts there). While the
 * recent prompts fit every candidate's KV cache, "much busier" is any busier at all.
 * Equal totals rotate by smooth weighted round-robin, so idle endpoints share by weight.
 * It only reads the prefix index: the selector's `sent` writes the pick there once it is final.
 */
export class ScoredPicker {
  readonly #opts: ScoredOptions;
  readonly #tieBreaker = new SmoothWeightedRoundRobin();
  readonly #nameHashes = new Map<string, Hash64>();

  constructor(options: ScoredOptions) {
    this.#opts = options;
  }

  decide<T extends Candidate>(tier: readonly T[], ctx: PickContext | undefined): RouteDecision<T> {
    const count = tier.length;
    const { weights, load, prefix } = this.#opts;
    this.#reserve(count);
    const facts = this.#facts;
    const requests = this.#requests;
    const matched = this.#matched;
    let lowestCost = Infinity;
    let lowestRelative = Infinity;
    let lowestTokens = Infinity;
    let lowestUsage = Infinity;
    let allReportUsage = true;
    let allReportRequests = true;
    for (let i = 0; i < count; i++) {
      const candidate = tier[i]!;
      const fact = load ? load(candidate.name, ctx?.model) : NO_LOAD;
      facts[i] = fact;
      if (fact.requests === undefined) allReportRequests = false;
      lowestTokens = Math.min(lowestTokens, fact.tokens / candidate.weight);
      if (fact.kvUsage === undefined) allReportUsage = false;
      else lowestUsage = Math.min(lowestUsage, fact.kvUsage);
    }
    // Backend counts only when every candidate has one, else Sluice's own for all (see queueRequests).
    for (let i = 0; i < count; i++) {
      const candidate = tier[i]!;
      requests[i] = queueRequests(facts[i]!.requests, candidate.activeConnections, allReportRequests);
      lowestCost = Math.min(lowestCost, queueCost(requests[i]!, candidate.weight));
      lowestRelative = Math.min(lowestRelative, requests[i]! / candidate.weight);
    }
    const promptTokens = ctx?.prompt?.tokens ?? 0;

    const blocks = prefix ? (ctx?.prompt?.blocks ?? []) : [];
    let longest = 0;
    const names = this.#namesOf(tier);
    if (prefix && blocks.length > 0) longest = prefix.index.match(blocks, names, matched);
    else matched.fill(0, 0, count);

    const sheet = new ScoreSheet(names);
    for (let i = 0; i < count; i++) {
      const candidate = tier[i]!;
      const fact = facts[i]!;
      const queue = queueScore(requests[i]!, candidate.weight, lowestCost);
      const slack = fact.kvCapacityTokens ? promptTokens / fact.kvCapacityTokens : 0;
      const kvCache = kvCacheScore(fact.kvUsage, fact.tokens, candidate.weight, allReportUsage, lowestTokens, lowestUsage, slack);
      const prefixPart = prefixScore(matched[i]!, blocks.length);
      const resident = residentScore(fact.resident);
      const total = weights.queue * queue + weights.kvCache * kvCache + weights.prefix * prefixPart + weights.resident * resident;
      sheet.set(i, queue, kvCache, prefixPart, resident, total, fact.stale);
    }
    const scores = () => sheet.list();

    let reason: RouteReason = 'load';
    if (prefix && blocks.length > 0) {
      let fits = false;
      if (prefix.regime) {
        prefix.regime.observe(blocks);
        fits = prefix.regime.classify(facts, count) === 'fits';
      }
      const preferred = longest > 0 ? this.#best(tier, sheet, longest) : this.#rendezvous(tier, blocks[0]!);
      const relative = requests[preferred]! / tier[preferred]!.weight;
      // While the recent prompts fit every cache, the prefix is followed only where it costs no queueing.
      const leave = fits ? relative > lowestRelative : this.#overloaded(relative, lowestRelative, facts[preferred]!.waiting, prefix);
      if (!leave) {
        return { endpoint: tier[preferred]!, reason: longest > 0 ? 'prefix_match' : 'prefix_hash', scores, prefixBlocks: matched[preferred]!, prefixHit: longest > 0 };
      }
      if (fits) {
        const best = this.#best(tier, sheet, 0, loadFirst(sheet.list(), weights.prefix, matched, TIE_TOLERANCE));
        return { endpoint: tier[best]!, reason: 'prefix_fits', scores, prefixBlocks: matched[best]!, prefixHit: longest > 0 };
      }
      reason = 'prefix_imbalance';
    }
    const best = this.#best(tier, sheet, 0);
    const chosen = tier[best]!;
    if (!prefix || blocks.length === 0) return { endpoint: chosen, reason, scores };
    return { endpoint: chosen, reason, scores, prefixBlocks: matched[best]!, prefixHit: longest > 0 };
  }

  /**
   * Index of the highest total among the candidates matching at least `minMatched` prompt blocks
   * (0 admits all; the longest match admits only the candidates holding it); ties rotate by weight.
   */
  #best<T extends Candidate>(tier: readonly T[], sheet: ScoreSheet, minMatched: number, eligible?: (index: number) => boolean): number {
    const matched = this.#matched;
    const admits = (i: number) => matched[i]! >= minMatched && (eligible === undefined || eligible(i));
    let highest = -Infinity;
    for (let i = 0; i < tier.length; i++) if (admits(i)) highest = Math.max(highest, sheet.total(i));
    const limit = highest - TIE_TOLERANCE * Math.max(1, Math.abs(highest));
    let firstTied = -1;
    let tiedCount = 0;
    for (let i = 0; i < tier.length; i++) {
      if (admits(i) && sheet.total(i) >= limit) {
        if (firstTied === -1) firstTied = i;
        tiedCount++;
      }
    }
    if (tiedCount === 1) return firstTied;
    const tied = tier.filter((_, i) => admits(i) && sheet.total(i) >= limit);
    return tier.indexOf(this.#tieBreaker.pick(tied));
  }

  /** Grows the per-decision working arrays to hold `count` candidates; they are reused from one decision to the next. */
  #reserve(count: number): void {
    if (this.#requests.length >= count) return;
    this.#requests = new Float64Array(count);
    this.#matched = new Int32Array(count);
    this.#facts = new Array<LoadFacts>(count);
  }

  #requests = new Float64Array(0);
  #matched = new Int32Array(0);
  #facts: LoadFacts[] = [];

  /**
   * The candidates' names, for the score sheets and the prefix index. The tier is the same from
   * one request to the next until the fleet or its health changes, so one array serves while the
   * names are the same, in order (sheets and the index keep it, so it is replaced, never changed).
   */
  #namesOf(tier: readonly Candidate[]): readonly string[] {
    const names = this.#names;
    let same = names.length === tier.length;
    for (let i = 0; same && i < tier.length; i++) same = names[i] === tier[i]!.name;
    if (!same) this.#names = tier.map((candidate) => candidate.name);
    return this.#names;
  }

  #names: readonly string[] = [];

  /** Weighted rendezvous (highest random weight) of the first block: the same on every replica. */
  #rendezvous<T extends Candidate>(tier: readonly T[], firstBlock: number): number {
    const key = blockHash64(firstBlock);
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < tier.length; i++) {
      const candidate = tier[i]!;
      const score = -candidate.weight / Math.log(unitInterval(key, this.#nameHash(candidate.name)));
      if (score > bestScore || (score === bestScore && candidate.name < tier[best]!.name)) {
        best = i;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * Whether the prefix's endpoint is too busy to follow: more requests per weight than the least
   * loaded by both thresholds, and, when its backend reports its queue, requests waiting there.
   * A continuous-batching engine with none waiting schedules a new request at its next step: the
   * extra requests it runs lengthen each step a little, while leaving costs the prefill of the
   * prompt's cached part elsewhere (a whole conversation, a system prompt: hundreds of ms for the
   * request and for those queued behind it there).
   */
  #overloaded(relative: number, lowestRelative: number, waiting: number | undefined, prefix: PrefixRouting): boolean {
    if (waiting !== undefined && waiting <= 0) return false;
    return relative - lowestRelative > prefix.maxImbalanceRequests && relative > lowestRelative * prefix.maxImbalanceRatio;
  }

  #nameHash(name: string): Hash64 {
    let hash = this.#nameHashes.get(name);
    if (!hash) {
      // Bounded by the endpoint names seen: a reload that renames everything starts afresh.
      if (this.#nameHashes.size > 4096) this.#nameHashes.clear();
      this.#nameHashes.set(name, (hash = hashString(name)));
    }
    return hash;
  }
}
