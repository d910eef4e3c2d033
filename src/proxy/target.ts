import { SluiceError } from './errors.js';

/**
 * Which request targets Sluice forwards: origin-form paths (`/...`) with no dot-segments, on
 * the allowed list (`proxy.allowed_paths`: exact paths, or prefixes written with a trailing `*`).
 * Anything else is refused before an endpoint is chosen.
 */
export class TargetPolicy {
  readonly #exact: ReadonlySet<string>;
  readonly #prefixes: readonly string[];

  constructor(allowedPaths: readonly string[]) {
    this.#exact = new Set(allowedPaths.filter((p) => !p.endsWith('*')));
    this.#prefixes = allowedPaths.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  }

  /** Why this target is not forwarded, or undefined when it is. */
  refusal(target: string | undefined): SluiceError | undefined {
    // `*` (OPTIONS *, GET *) and absolute-form targets name no path on a backend.
    if (!target || target[0] !== '/') return new SluiceError('invalid_request', 'the request target must be a path starting with "/"');
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    // Dot-segments are refused, not resolved: "/v1/../admin" must not slip past the allowed paths.
    if (hasDotSegment(path)) return new SluiceError('invalid_request', 'the request path must not contain "." or ".." segments');
    if (this.#exact.has(path) || this.#prefixes.some((prefix) => path.startsWith(prefix))) return undefined;
    return new SluiceError('path_not_allowed', `path ${JSON.stringify(path.slice(0, 200))} is not forwarded (proxy.allowed_paths)`);
  }
}

/**
 * A `.` or `..` segment, its dots plain or percent-encoded, between separators as a backend may
 * read them: `/`, and also `%2F`, `\` and `%5C` (nginx decodes `%2F` before it resolves
 * dot-segments, so `/v1/..%2Fadmin` reaches `/admin` behind it; Windows servers take `\` for `/`),
 * and `;` after the dots (Tomcat and Spring read `/..;/` as `/../`).
 */
const DOT_SEGMENT = /(^|\/|%2f|\\|%5c)(\.|%2e){1,2}(\/|%2f|\\|%5c|;|$)/i;

function hasDotSegment(path: string): boolean {
  return DOT_SEGMENT.test(path);
}
