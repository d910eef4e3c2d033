import type { CandidateScore } from './decision.js';

/** Values kept per candidate: its four scores, their weighted total, and 1 when its load was stale. */
const FIELDS = 6;
const TOTAL = 4;
const STALE = 5;

/**
 * The scores of one decision's candidates, kept as numbers in one array: the per-candidate
 * `CandidateScore` objects are built only when asked for (for a recording span or a debug
 * log), not on every decision.
 */
export class ScoreSheet {
  readonly #names: readonly string[];
  readonly #values: number[];

  /** `names` must not change afterwards: the sheet reads them when its scores are asked for. */
  constructor(names: readonly string[]) {
    this.#names = names;
    this.#values = new Array<number>(names.length * FIELDS);
  }

  set(index: number, queue: number, kvCache: number, prefix: number, resident: number, total: number, staleLoad: boolean): void {
    const at = index * FIELDS;
    const values = this.#values;
    values[at] = queue;
    values[at + 1] = kvCache;
    values[at + 2] = prefix;
    values[at + 3] = resident;
    values[at + TOTAL] = total;
    values[at + STALE] = staleLoad ? 1 : 0;
  }

  total(index: number): number {
    return this.#values[index * FIELDS + TOTAL]!;
  }

  /** Every candidate's scores, in candidate order. */
  list(): CandidateScore[] {
    const values = this.#values;
    return this.#names.map((endpoint, index) => {
      const at = index * FIELDS;
      return {
        endpoint,
        total: values[at + TOTAL]!,
        queue: values[at]!,
        kvCache: values[at + 1]!,
        prefix: values[at + 2]!,
        resident: values[at + 3]!,
        staleLoad: values[at + STALE] === 1,
      };
    });
  }
}
