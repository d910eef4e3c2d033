import type { IncomingMessage } from 'node:http';
import type { ResponseDirectory } from '../affinity/index.js';
import type { Endpoint } from '../endpoints/index.js';
import { API, isApi, isApiOrUnder, responsesSegment } from './api-paths.js';
import { firstString } from './json-bytes.js';
import type { UsageTap } from './usage-tap.js';

/** The longest response id read, in characters (OpenAI's, vLLM's and LM Studio's are about 50). */
const ID_MAX = 200;
const ID_KEY = Buffer.from('"id"');
/** The Responses API's own paths under `/v1/responses/`, which name no response. */
const NOT_IDS: ReadonlySet<string> = new Set(['input_tokens', 'compact']);

/**
 * The stored response a request names, whose server alone can answer it: the `{id}` of
 * `/v1/responses/{id}` and of the paths under it (`/cancel`, `/input_items`; the request may be
 * a GET or DELETE, with no body), or the `previous_response_id` of a Responses API body (a new
 * response continuing a stored one, or its tokens counted); not the API's own paths under it
 * (`/v1/responses/input_tokens`, `/v1/responses/compact`).
 */
export function namedResponse(path: string, json: unknown): string | undefined {
  if (!isApiOrUnder(path, API.responses)) return undefined;
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const previous = (json as { previous_response_id?: unknown }).previous_response_id;
    if (typeof previous === 'string') return plausibleId(previous);
  }
  const id = responsesSegment(path)?.segment;
  return id === undefined || NOT_IDS.has(id) ? undefined : plausibleId(id);
}

/** `id` when it could be an id Sluice learnt (1 to ID_MAX characters): a longer one is never looked up, here or in Redis. */
function plausibleId(id: string): string | undefined {
  return id.length > 0 && id.length <= ID_MAX ? id : undefined;
}

/**
 * A successful answer of `endpoint` to a request that creates a response it stores (`POST
 * /v1/responses` without `"store": false`): the response is the endpoint's from the moment its id
 * passes in the answer's first bytes, before those reach the client (whose follow-up, on another
 * connection, may reach another worker).
 */
export function watchCreatedResponse(directory: ResponseDirectory, tap: UsageTap, req: Pick<IncomingMessage, 'method' | 'url'>, json: unknown, endpoint: Endpoint, status: number): void {
  if (status < 200 || status > 299 || req.method !== 'POST' || !isApi(req.url ?? '', API.responses)) return;
  if ((json as { store?: unknown } | undefined)?.store === false) return;
  tap.watchHead((head) => {
    const id = createdResponseId(head);
    if (id !== undefined) directory.remember(id, { endpoint: endpoint.name, backend: endpoint.baseUrl.href });
    return id !== undefined;
  });
}

/** A successful `DELETE /v1/responses/{id}`: the response is no one's. */
export function forgetDeletedResponse(directory: ResponseDirectory, req: Pick<IncomingMessage, 'method' | 'url'>, status: number): void {
  if (status < 200 || status > 299 || req.method !== 'DELETE') return;
  const id = namedResponse(req.url ?? '', undefined);
  if (id !== undefined) directory.forget(id);
}

/**
 * The id of the response created, read from the first bytes of its answer: the body's first
 * `"id"` member, which is the response's own both in a JSON answer (`{"id": "resp_...", ...}`)
 * and in a stream, whose first event (`response.created`) carries the response with its id first.
 */
export function createdResponseId(head: Buffer | undefined): string | undefined {
  return head === undefined ? undefined : firstString(head, ID_KEY, ID_MAX);
}
