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
 * Reported usage is compared with a slack of one prompt's worth (`slack`, the prompt being
 * routed as a share of this endpoint's cache): usage within it of the lowest scores as the
 * lowest. Below that, a difference says when the requests there started rather than how much
 * room is left: a queued request holds no blocks yet, one being prefilled holds its prompt, one
 * decoding its prompt and its output so far. Ranked strictly, the emptiest-looking endpoint at
 * equal queues is the one whose requests are youngest, the one still prefilling, where a new
 * prompt waits longest for its first token. Such near-ties are left to the queue score and the
 * rotation of equal totals, like least-connections; larger differences count in full, less the slack.
 *
 * @param usage the endpoint's KV usage 0-1; undefined when it does not report it
 * @param tokens prompt tokens Sluice has in flight there
 * @param lowestTokens the smallest `tokens` among the candidates (per unit of weight)
 * @param lowestUsage the smallest `usage` among the candidates (when all report it)
 * @param slack the routed prompt's tokens as a share of this endpoint's KV cache, 0 when unknown
 */
export function kvCacheScore(usage: number | undefined, tokens: number, weight: number, allReportUsage: boolean, lowestTokens: number, lowestUsage = 0, slack = 0): number {
  if (allReportUsage && usage !== undefined) {
    const compared = Math.max(Math.min(usage, lowestUsage), usage - Math.max(0, slack));
    return 1 - Math.min(1, Math.max(0, compared));
  }
  return (lowestTokens + TOKENS_SMOOTHING) / (tokens / weight + TOKENS_SMOOTHING);
}
