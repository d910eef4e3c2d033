/** The sample model server: a stand-in for Ollama / OpenAI-compatible replicas behind Sluice. */
export { startModelServer, type RunningModelServer } from './server.js';
export { MODEL_SERVER_DEFAULTS, DEFAULT_MAX_TOKENS, MAX_TOKENS_CAP, type ModelServerOptions } from './options.js';
export { parseModelServerEnv, type EnvParseResult } from './env.js';
export { parseDuration } from './duration.js';
export { DEFAULT_FAULT, FAULT_MODES, FaultController, parseFaultRequest, type FaultAction, type FaultMode, type FaultSpec } from './fault.js';
export { analyzeSentiment, type SentimentLabel, type SentimentResult } from './sentiment.js';
export { trainTextGenerator, type TextGenerator } from './ngram.js';
export { embedText, EMBEDDING_DIMENSIONS } from './embeddings.js';
export { tokenize, countTokens } from './tokenize.js';
