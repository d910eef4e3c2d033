/**
 * Prompt tokens that count as one request's worth when scoring by Sluice's own token counts:
 * it keeps an idle endpoint and one with a short prompt in flight close together.
 */
export const TOKENS_SMOOTHING = 1024;

/**
 * KV-cache scorer: free cache share, 1 − usage (llm-d's kv-cache-utilization scorer), when
 * every candidate reports its usage. Otherwise, to compare like with like, all candidates are
 * scored on the prompt tokens Sluice has in flight there, relative to the lightest.
 *
 * @param usage the endpoint's KV usage 0-1; undefined when it does not report it
 * @param tokens prompt tokens Sluice has in flight there
 * @param lowestTokens the smallest `tokens` among the candidates (per unit of weight)
 */
export function kvCacheScore(usage: number | undefined, tokens: number, weight: number, allReportUsage: boolean, lowestTokens: number): number {
  if (allReportUsage && usage !== undefined) return 1 - Math.min(1, Math.max(0, usage));
  return (lowestTokens + TOKENS_SMOOTHING) / (tokens / weight + TOKENS_SMOOTHING);
}
