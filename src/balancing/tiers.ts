import type { Candidate } from './selector.js';

/**
 * Narrows candidates to the preferred tier: primaries (backup=false) if any, else backups;
 * among them only the highest `priority` value.
 */
export function preferredTier<T extends Candidate>(candidates: readonly T[]): T[] {
  const hasPrimary = candidates.some((candidate) => !candidate.backup);
  let topPriority = -Infinity;
  for (const candidate of candidates) {
    if (candidate.backup === !hasPrimary && candidate.priority > topPriority) {
      topPriority = candidate.priority;
    }
  }
  return candidates.filter(
    (candidate) => candidate.backup === !hasPrimary && candidate.priority === topPriority,
  );
}
