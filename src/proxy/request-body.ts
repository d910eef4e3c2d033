import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import type { BodyBudget } from './body-budget.js';
import { SluiceError } from './errors.js';

const EMPTY = Buffer.alloc(0);
const CONTINUE = /^100-continue$/i;

/** Where a body read is accounted while its request lasts (see BodyBudget). */
export interface BodyHold {
  readonly budget: BodyBudget;
  /** limits.max_body_total */
  readonly limit: number;
}

/**
 * Reads the whole request body once (up to `limit` bytes) so the model can be read and the
 * request replayed on another endpoint. Over the limit is a 413, whatever Content-Length says.
 * With `hold` (and `res`), the body counts against the process's total until the response
 * closes: a body that would take it over is refused (503 `overloaded`) before a byte of it is read.
 */
export async function readBody(req: IncomingMessage, limit: number, res?: ServerResponse, hold?: BodyHold): Promise<Buffer> {
  const length = req.headers['content-length'];
  if (length === undefined && req.headers['transfer-encoding'] === undefined) return EMPTY;
  if (length !== undefined && Number(length) > limit) throw tooLarge(limit);
  const held = hold === undefined || res === undefined ? undefined : holdFor(hold, length === undefined ? limit : Number(length), res);
  // A client that sent `Expect: 100-continue` waits for it before it sends the body (the proxy
  // port leaves the 100 to the request path: see the listeners' checkContinue).
  const expectation = req.headers.expect;
  if (res !== undefined && expectation !== undefined && CONTINUE.test(expectation)) res.writeContinue();
  try {
    const body = await getRawBody(req, { limit, length });
    held?.shrinkTo(body.length);
    return body;
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw tooLarge(limit);
    // The client went away, or sent less than it announced: its mistake, answered as such. Gone
    // before the body was read (it waited for an asynchronous rate limit), the stream is no longer readable.
    if (type === 'request.aborted' || type === 'stream.not.readable') throw new SluiceError('client_closed', 'the client closed the connection while sending the body');
    if (type === 'request.size.invalid') throw new SluiceError('invalid_request', 'request body length does not match Content-Length');
    throw err;
  }
}

/**
 * Takes `bytes` from the budget until the response closes (a body of unknown length: as much as
 * it may grow to, until it is read), or throws `overloaded` when they do not fit.
 */
function holdFor({ budget, limit }: BodyHold, bytes: number, until: ServerResponse): { shrinkTo(read: number): void } {
  if (!budget.take(bytes, limit)) throw new SluiceError('overloaded', `the request bodies this process holds are at limits.max_body_total (${limit} bytes); try again shortly`, { retryAfterSeconds: 1 });
  let held = bytes;
  let released = false;
  // `on`, not `once`: a response closes once, and `once` would wrap the listener in two more objects per request.
  until.on('close', () => {
    released = true;
    budget.give(held);
  });
  return {
    shrinkTo(read: number) {
      if (released) return;
      budget.give(held - read);
      held = read;
    },
  };
}

function tooLarge(limit: number): SluiceError {
  return new SluiceError('body_too_large', `request body is larger than the limit of ${limit} bytes (limits.max_body)`);
}

/** What routing reads of a request body: the `model` it names and the decoded JSON. */
export interface BodyFacts {
  readonly model: string | undefined;
  readonly json: unknown;
}

const NO_FACTS: BodyFacts = { model: undefined, json: undefined };

/**
 * The JSON of a body and the `model` it names, if any. A body that claims to be JSON and is
 * not is a client error (400); other bodies are forwarded untouched with no model.
 */
export function bodyFacts(req: IncomingMessage, body: Buffer): BodyFacts {
  if (body.length === 0) return NO_FACTS;
  // A compressed body is forwarded as sent; Sluice does not inflate it just to find the model.
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return NO_FACTS;
  const type = req.headers['content-type'] ?? '';
  const claimsJson = type.includes('json');
  if (!claimsJson && body[0] !== 0x7b /* { */) return NO_FACTS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    if (!claimsJson) return NO_FACTS;
    throw new SluiceError('invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed === 'object' && parsed !== null && 'model' in parsed) {
    const model = (parsed as { model: unknown }).model;
    if (typeof model === 'string') return { model: model.length > 0 ? model : undefined, json: parsed };
    if (model !== null) throw new SluiceError('invalid_request', `"model" must be a string, not ${Array.isArray(model) ? 'an array' : typeof model}`);
  }
  return { model: undefined, json: parsed };
}

/** The `model` named in a JSON body, if any (see bodyFacts). */
export function modelOf(req: IncomingMessage, body: Buffer): string | undefined {
  return bodyFacts(req, body).model;
}
