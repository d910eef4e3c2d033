/** Small helpers for talking HTTP to an endpoint (health checks, model discovery). */

/**
 * `base` + `path`, keeping any base path the endpoint URL carries (http://h/v1 + /models ->
 * /v1/models). A query in `path` (`/health?ready=1`) is the URL's query, not part of its path.
 */
export function joinUrl(base: URL, path: string): URL {
  const url = new URL(base.href);
  const query = path.indexOf('?');
  const pathname = query === -1 ? path : path.slice(0, query);
  url.pathname = `${url.pathname.replace(/\/$/, '')}${pathname.startsWith('/') ? pathname : `/${pathname}`}`;
  url.search = query === -1 ? '' : path.slice(query);
  return url;
}

/** A short, loggable reason for a failed fetch: `timeout`, an errno code, or the message. */
export function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timeout';
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return cause.code;
    return shortened(cause?.message ?? err.message);
  }
  return shortened(String(err));
}

/** The most characters of an error's message kept: a parser's message may quote what the backend sent, a 64 KiB line. */
const MAX_ERROR_CHARS = 300;

function shortened(message: string): string {
  return message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS)}…` : message;
}

/** The most Sluice reads of an endpoint's answer to its own requests (model lists, load reports): a few KiB is usual. */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** The body as text; refused, its stream cancelled, once it passes `maxBytes` (rather than read whole, then measured). */
export async function readTextCapped(res: Response, maxBytes = MAX_ANSWER_BYTES): Promise<string> {
  const tooLarge = () => new Error(`answer larger than ${maxBytes} bytes`);
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const body = await readUpTo(res, maxBytes + 1);
  if (body.length > maxBytes) throw tooLarge();
  return body.toString('utf8');
}

/**
 * The first `maxBytes` of the body as text, the rest never read: its stream is cancelled once they
 * have come (a body that never ends, or one of gigabytes, costs no more than they do).
 */
export async function readTextPrefix(res: Response, maxBytes: number): Promise<string> {
  const body = await readUpTo(res, maxBytes);
  return body.subarray(0, maxBytes).toString('utf8');
}

/** Reads the body until it ends or at least `limit` bytes have come, then cancels what is left. */
async function readUpTo(res: Response, limit: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    while (bytes < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      bytes += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks, bytes);
}

/**
 * The deepest nesting of arrays and objects read from an endpoint's own answers (model lists,
 * load reports): theirs is 5 or so. `JSON.parse` of a few MiB of `[[[[...` builds millions of
 * arrays, blocking the event loop, and so every proxied request, for a second or more.
 */
export const MAX_ANSWER_DEPTH = 32;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Text refused by parseJsonShallow: nested too deep to be parsed. */
export class JsonTooDeepError extends SyntaxError {}

/** JSON.parse, refused (before any parsing) for text nested deeper than `maxDepth`. */
export function parseJsonShallow(text: string, maxDepth = MAX_ANSWER_DEPTH): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) throw new JsonTooDeepError(`JSON nested deeper than ${maxDepth}`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return JSON.parse(text) as unknown;
}
