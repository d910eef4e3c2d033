/**
 * Prefix scorer: the share of the prompt's blocks the endpoint is believed to hold in its
 * prefix cache (llm-d's approximate prefix-cache scorer). 0 for a prompt without blocks.
 */
export function prefixScore(matchedBlocks: number, totalBlocks: number): number {
  return totalBlocks === 0 ? 0 : Math.min(1, matchedBlocks / totalBlocks);
}
