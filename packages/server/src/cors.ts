/**
 * CORS for browser clients (Fetch standard): which page origins may read through the proxy, the headers that let
 * their scripts see `Content-Range` and the validators, and the answer to a preflight for `Range`.
 */
import { ConfigError } from '@rangecache/core';

/** CORS settings. */
export interface CorsOptions {
  /** Page origins allowed to read (`https://app.example.com`), or `"*"` for any. */
  readonly origins: readonly string[] | '*';
  /** How long a browser may cache a preflight answer, seconds. Default 86400. */
  readonly maxAgeSeconds?: number;
}

/** The request headers a cross-origin reader may send. */
const ALLOWED_REQUEST_HEADERS = ['range', 'if-range', 'if-none-match', 'if-match', 'if-modified-since', 'cache-control'];
/** The response headers its script may read (beyond the CORS-safelisted ones). */
const EXPOSED_HEADERS = 'Accept-Ranges, Content-Length, Content-Range, Content-Type, ETag, Last-Modified';

/**
 * CORS as a handler applies it.
 *
 * @example
 * ```ts
 * const cors = new CorsPolicy({ origins: ['https://app.example.com'] });
 * cors.headers('https://app.example.com'); // { vary: 'Origin', 'access-control-allow-origin': 'https://app.example.com', … }
 * cors.preflight('https://app.example.com', 'GET', 'range'); // the 204's headers; undefined when refused
 * ```
 */
export class CorsPolicy {
  readonly #origins: ReadonlySet<string> | '*';
  readonly #maxAge: number;

  /** @throws {ConfigError} for an origin that is not `scheme://host[:port]`, or a negative max age. */
  constructor(options: CorsOptions) {
    if (options.origins === '*') this.#origins = '*';
    else if (Array.isArray(options.origins)) {
      this.#origins = new Set(options.origins.map((o) => {
        if (o === '*') throw new ConfigError('cors.origins: use "*" alone, not inside a list');
        let u: URL | undefined;
        try { u = new URL(o); } catch { /* checked below */ }
        if (!u || u.origin === 'null' || u.origin !== o.replace(/\/$/, '')) throw new ConfigError(`cors.origins: ${JSON.stringify(o)} is not an origin such as https://app.example.com`);
        return u.origin;
      }));
    } else throw new ConfigError('cors.origins must be an array of origins or "*"');
    const maxAge = options.maxAgeSeconds ?? 86_400;
    if (!Number.isSafeInteger(maxAge) || maxAge < 0) throw new ConfigError(`cors.maxAgeSeconds must be a whole number >= 0, got ${String(options.maxAgeSeconds)}`);
    this.#maxAge = maxAge;
  }

  /** The CORS headers for a response to a request with `Origin: origin` (none when it is not allowed). */
  headers(origin: string | null): Record<string, string> {
    if (this.#origins === '*') return { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED_HEADERS };
    const vary = { vary: 'Origin' };
    if (origin === null || !this.#origins.has(origin)) return vary;
    return { ...vary, 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS };
  }

  /**
   * The headers of a preflight answer, or `undefined` when it must be refused (origin not allowed, or a method or
   * header the proxy does not take).
   */
  preflight(origin: string | null, method: string | null, requestHeaders: string | null): Record<string, string> | undefined {
    const base = this.headers(origin);
    if (!('access-control-allow-origin' in base)) return undefined;
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const asked = (requestHeaders ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
    if (asked.some((h) => !ALLOWED_REQUEST_HEADERS.includes(h))) return undefined;
    return {
      ...base,
      'access-control-allow-methods': 'GET, HEAD',
      ...(asked.length ? { 'access-control-allow-headers': asked.join(', ') } : {}),
      'access-control-max-age': String(this.#maxAge),
    };
  }
}
