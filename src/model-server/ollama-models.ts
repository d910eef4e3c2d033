import { createHash } from 'node:crypto';

/** Metadata Ollama reports for a model, derived from its name since the sample has no weight files. */
export interface OllamaModelInfo {
  readonly name: string;
  readonly model: string;
  readonly size: number;
  readonly digest: string;
  readonly details: {
    readonly parent_model: string;
    readonly format: string;
    readonly family: string;
    readonly families: string[];
    readonly parameter_size: string;
    readonly quantization_level: string;
  };
}

/** Parameter count from a tag such as "1b", "0.5b" or "135m"; one billion when the tag has none. */
function parameterCount(name: string): number {
  const match = /:(?:.*?)(\d+(?:\.\d+)?)([bm])\b/i.exec(name);
  if (!match) return 1e9;
  return Number(match[1]) * (match[2]!.toLowerCase() === 'b' ? 1e9 : 1e6);
}

function formatParameters(count: number): string {
  return count >= 1e9 ? `${Number((count / 1e9).toFixed(1))}B` : `${Math.round(count / 1e6)}M`;
}

export function ollamaModelInfo(name: string): OllamaModelInfo {
  const parameters = parameterCount(name);
  // "llama3.2:1b" -> "llama": the family is the base name without its version.
  const family = name.split(':')[0]!.replace(/[\d.]+$/, '') || name;
  return {
    name,
    model: name,
    // About 4.5 bits per parameter, as a Q4_K_M file would take.
    size: Math.round((parameters * 4.5) / 8),
    digest: createHash('sha256').update(name).digest('hex'),
    details: { parent_model: '', format: 'gguf', family, families: [family], parameter_size: formatParameters(parameters), quantization_level: 'Q4_K_M' },
  };
}
