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
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of res.body) {
    bytes += chunk.byteLength;
    if (bytes > maxBytes) {
      await res.body.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, bytes).toString('utf8');
}
