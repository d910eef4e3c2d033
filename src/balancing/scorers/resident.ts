/**
 * Model-resident scorer: 1 where the requested model is loaded now, 0 where it would have to
 * be loaded first (a cold Ollama model pays seconds of load time), 0.5 when unknown.
 */
export function residentScore(resident: boolean | undefined): number {
  if (resident === undefined) return 0.5;
  return resident ? 1 : 0;
}
