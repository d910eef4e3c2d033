import type { Candidate } from '../../../src/balancing/index.js';

/** A candidate whose load the tests can change between picks. */
export interface MutableCandidate extends Candidate {
  activeConnections: number;
}

export function candidate(
  name: string,
  overrides: Partial<Omit<MutableCandidate, 'name'>> = {},
): MutableCandidate {
  return { name, weight: 1, activeConnections: 0, priority: 0, backup: false, ...overrides };
}

/** Idle primaries named a, b, c, ... with the given weights. */
export function weighted(...weights: number[]): MutableCandidate[] {
  return weights.map((weight, index) => candidate(String.fromCharCode(97 + index), { weight }));
}

export function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

export function shareOf(counts: Map<string, number>, name: string, total: number): number {
  return (counts.get(name) ?? 0) / total;
}
