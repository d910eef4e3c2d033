import type client from 'prom-client';

/**
 * The values prom-client keeps per series, by label hash (`hashMap`): the parts a bound series
 * writes. prom-client owns them, renders them and drops them on reset() and remove().
 */
interface CounterValue {
  value: number;
  readonly labels: Readonly<Record<string, string | number>>;
}
interface HistogramValue {
  sum: number;
  count: number;
  readonly bucketValues: Record<string, number>;
  /** Present when the histogram keeps exemplars: the latest one per bucket, by bound ('-1' for +Inf). */
  readonly bucketExemplars?: Record<string, Exemplar | null>;
  readonly labels: Readonly<Record<string, string | number>>;
}
/** The fields of prom-client's Exemplar that it renders and Sluice updates. */
interface Exemplar {
  labelSet: Readonly<Record<string, string>>;
  value: number;
  timestamp: number;
}
interface HeldValues<V> {
  readonly hashMap: Record<string, V | undefined>;
}

type Labels = Readonly<Record<string, string>>;

/**
 * The key under which prom-client holds the series of `labels`, found by its labels (once per
 * series, not per observation): no assumption on how prom-client hashes them.
 */
function keyOf(hashMap: Record<string, { readonly labels: Readonly<Record<string, string | number>> } | undefined>, labels: Labels): string | undefined {
  const names = Object.keys(labels);
  for (const key in hashMap) {
    const held = hashMap[key]?.labels;
    if (held && Object.keys(held).length === names.length && names.every((n) => String(held[n]) === labels[n])) return key;
  }
  return undefined;
}

/**
 * One series of a prom-client counter without exemplars, resolved once. prom-client's own `labels()` child
 * validates and hashes the labels again on every increment; this one adds to the value
 * prom-client holds for them. When prom-client has dropped the series (reset, remove), the next
 * increment goes through prom-client's API, which makes it again, and the series is found anew.
 */
export class BoundCounter {
  readonly #counter: client.Counter<string>;
  readonly #held: HeldValues<CounterValue>;
  readonly #labels: Labels;
  #key: string | undefined;

  constructor(counter: client.Counter<string>, labels: Labels) {
    this.#counter = counter;
    // prom-client's types do not show the values it holds per series (see HeldValues).
    this.#held = counter as unknown as HeldValues<CounterValue>;
    this.#labels = labels;
  }

  inc(amount = 1): void {
    const held = this.#key === undefined ? undefined : this.#held.hashMap[this.#key];
    if (held && amount >= 0 && Number.isFinite(amount)) {
      held.value += amount;
      return;
    }
    this.#counter.inc(this.#labels, amount);
    this.#key = keyOf(this.#held.hashMap, this.#labels);
  }
}

/** Where prom-client keeps the exemplar of a value above every bound (the +Inf bucket's). */
const INF_EXEMPLAR = '-1';

/**
 * One series of a prom-client histogram, resolved once (see BoundCounter): an observation finds
 * its bucket among the histogram's bounds and adds to the counts prom-client holds, where
 * prom-client's child re-validates and re-hashes the labels and turns the bound into a property
 * name each time. With a trace id (a histogram that keeps exemplars) it also becomes its bucket's
 * exemplar, as prom-client's `observe({ exemplarLabels })` would make it, without hashing the
 * labels twice and validating the exemplar's: a trace id is always 32 hex digits, well inside
 * OpenMetrics' 128 characters.
 */
export class BoundHistogram {
  readonly #histogram: client.Histogram<string>;
  readonly #held: HeldValues<HistogramValue>;
  readonly #labels: Labels;
  readonly #bounds: readonly number[];
  /** The bounds as prom-client's property names for them. */
  readonly #boundKeys: readonly string[];
  readonly #exemplars: boolean;
  #key: string | undefined;

  constructor(histogram: client.Histogram<string>, labels: Labels) {
    this.#histogram = histogram;
    // prom-client's types do not show the values it holds per series, nor its bounds (see HeldValues).
    this.#held = histogram as unknown as HeldValues<HistogramValue>;
    this.#labels = labels;
    this.#bounds = (histogram as unknown as { readonly upperBounds: readonly number[] }).upperBounds;
    this.#boundKeys = this.#bounds.map(String);
    this.#exemplars = (histogram as unknown as { readonly enableExemplars?: boolean }).enableExemplars === true;
  }

  /** Observes `value`; `traceId` (of a sampled trace) makes it its bucket's exemplar when the histogram keeps them. */
  observe(value: number, traceId?: string): void {
    const held = this.#key === undefined ? undefined : this.#held.hashMap[this.#key];
    if (!held || !Number.isFinite(value)) {
      if (traceId !== undefined && this.#exemplars) this.#histogram.observe({ labels: this.#labels, value, exemplarLabels: { trace_id: traceId } });
      // A child's observe takes the value alone, whether or not the histogram keeps exemplars.
      else this.#histogram.labels(this.#labels).observe(value);
      this.#key = keyOf(this.#held.hashMap, this.#labels);
      return;
    }
    held.sum += value;
    held.count += 1;
    // Above the last bound only the count (+Inf) moves, as in prom-client.
    const bounds = this.#bounds;
    let bucket = INF_EXEMPLAR;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        bucket = this.#boundKeys[i]!;
        held.bucketValues[bucket]! += 1;
        break;
      }
    }
    if (traceId === undefined || !held.bucketExemplars) return;
    const exemplar = held.bucketExemplars[bucket];
    // A bucket's first exemplar is prom-client's own object (its slow path, from another
    // BoundHistogram of the same series, say, expects its methods); later ones update it in place.
    if (!exemplar) return this.#updateExemplar(this.#labels, value, { trace_id: traceId });
    exemplar.labelSet = { trace_id: traceId };
    exemplar.value = value;
    exemplar.timestamp = Date.now() / 1000;
  }

  /** prom-client's own exemplar update (in its histogram, not in its types): makes the bucket's exemplar. */
  #updateExemplar(labels: Labels, value: number, exemplarLabels: Labels): void {
    (this.#histogram as unknown as { updateExemplar(labels: Labels, value: number, exemplarLabels: Labels): void }).updateExemplar(labels, value, exemplarLabels);
  }
}
