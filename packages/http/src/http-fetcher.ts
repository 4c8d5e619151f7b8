import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { AccessDeniedError, ConfigError, InvalidRangeError, ObjectNotFoundError, OriginError, OriginTimeoutError, UnexpectedEncodingError, VersionChangedError } from '@rangecache/core';
import { abortError, checkFetchRange, Deadline, deadlineMs, MAX_TIMER_MS, offsetInContentRange, parseContentRange } from '@rangecache/core/fetcher-kit';
import type { ByteRange, FetchOptions, Fetcher, ObjectMeta, StatOptions } from '@rangecache/core';
import { header } from './headers.js';
import { followRedirects, isRedirect, nextHop } from './redirects.js';
import { changedSince, identity, metaOf } from './object-version.js';
import { type HeadVerdict, rangedGet } from './ranged-get.js';
import { type RetryPolicy, type ResolvedRetryPolicy, RetryableError, parseRetryAfter, resolveRetryPolicy, withRetries } from './retry.js';

/**
 * Timeouts of origin requests. Every duration is in ms, positive, finite and at most 2 147 483 647 (Node's
 * largest timer); `minBytesPerSecond` is positive and at most 2^40. An invalid value is a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * // A read of `length` bytes must complete within 10 s + length / (1 MiB/s):
 * new HttpFetcher({ timeouts: { requestMs: 10_000, minBytesPerSecond: 1 << 20 } });
 * ```
 */
export interface HttpTimeouts {
  /** TCP/TLS connect, ms. Default 5000. */
  connectMs?: number;
  /** From request sent to response headers, ms. Default 30000. undici checks it on timers of about 1 s resolution. */
  headersMs?: number;
  /** Longest pause between two body chunks, ms. Default 30000. */
  bodyMs?: number;
  /**
   * The base of each request's whole deadline (headers and body), ms. Default 30000. A request for `length` bytes
   * must complete within `requestMs + length / minBytesPerSecond` seconds; past it the request is aborted and
   * fails with an `OriginTimeoutError` (retried within the retry policy: no retry starts after
   * `retry.maxElapsedMs`, so a call takes at most about `retry.maxElapsedMs` plus one deadline). This bounds an
   * origin that trickles bytes slowly enough never to trip `bodyMs`, while a large read at a healthy rate never
   * hits it. (A server that ignores `Range` and answers 200 gets the time to send the bytes before the range too.)
   */
  requestMs?: number;
  /** The slowest transfer rate the deadline allows for, bytes per second. Default 65536 (64 KiB/s). */
  minBytesPerSecond?: number;
}

export interface HttpFetcherOptions {
  /**
   * Headers sent with every request (e.g. `authorization`). A function is called per request with the URL,
   * so tokens can rotate.
   */
  headers?: Record<string, string> | ((url: string) => Record<string, string> | Promise<Record<string, string>>);
  /** Retries on connection errors, timeouts, 429 and 5xx. Never on other 4xx. */
  retry?: RetryPolicy;
  timeouts?: HttpTimeouts;
  /** Keep-alive connections per origin. Default 16. */
  connections?: number;
  /** Redirects followed. Default 5. */
  maxRedirections?: number;
  /**
   * Which redirects to follow: called with the absolute URL of each `Location`, before it is requested. A redirect
   * it refuses fails the call with an `OriginError` (status 3xx) that does not name the target. Without it, every
   * redirect is followed (up to `maxRedirections`). A proxy sets it to its allow-list, so that an origin cannot send
   * it elsewhere.
   *
   * @example
   * ```ts
   * new HttpFetcher({ followRedirect: (url) => url.startsWith('https://data.example.com/') });
   * ```
   */
  followRedirect?: (url: string) => boolean;
  /**
   * Your own undici dispatcher (then `connections` and `timeouts.connectMs` are yours to set, and so are redirects,
   * unless `followRedirect` is given: then this fetcher follows them itself, and the dispatcher must not).
   */
  dispatcher?: Dispatcher;
}

const RETRY_STATUS = (s: number): boolean => s === 429 || s >= 500;
const RETRY_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * A {@link Fetcher} for `http://` and `https://` URLs on undici: pooled keep-alive connections, ranged GETs checked
 * against `Content-Range`, `If-Match` with the known ETag so that bytes of two versions never mix, bounded
 * retries with backoff and jitter, and a deadline on every request that grows with the bytes asked for
 * (`timeouts.requestMs`, `timeouts.minBytesPerSecond`).
 *
 * The object's version is its strong ETag; a weak ETag or `Last-Modified` (with the size) where there is none.
 * `ObjectMeta.weakVersion` is set where that version cannot tell two contents apart: a weak `W/` ETag, an
 * nginx-style `"<hex mtime>-<hex size>"` ETag, `Last-Modified` only, or no validator at all (size only).
 * `stat` uses `HEAD`, and falls back to `GET` of `bytes=0-0` where `HEAD` is refused (presigned URLs).
 *
 * Every request says `Accept-Encoding: identity`, and a 200/206 response with any other `Content-Encoding` (a
 * misconfigured server or CDN compressing ranges, or an object stored with `Content-Encoding: gzip`) is refused
 * with an `UnexpectedEncodingError`: its bytes are not the object's bytes at those offsets.
 *
 * @example
 * ```ts
 * import { AsyncCachingReader } from '@rangecache/core';
 * import { HttpFetcher } from '@rangecache/http';
 * const reader = new AsyncCachingReader({ fetcher: new HttpFetcher({ headers: { authorization: `Bearer ${token}` } }) });
 * const bytes = await reader.readRange('https://example.com/data.grib2', 0, 4096);
 * ```
 */
export class HttpFetcher implements Fetcher {
  readonly backend = 'http';
  readonly schemes = ['http', 'https'] as const;
  readonly retry: ResolvedRetryPolicy;
  #dispatcher: Dispatcher;
  #ownsDispatcher: boolean;
  #headers: HttpFetcherOptions['headers'];
  #headersMs: number;
  #bodyMs: number;
  #requestMs: number;
  #minBytesPerSecond: number;
  /** Set when this fetcher follows redirects itself (only those `followRedirect` allows). */
  #followRedirect: ((url: string) => boolean) | undefined;
  #maxRedirections: number;

  constructor(options: HttpFetcherOptions = {}) {
    const t = options.timeouts ?? {};
    const positive = (name: string, v: number | undefined, d: number, max: number): number => {
      if (v === undefined) return d;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
        throw new ConfigError(`HttpFetcher: ${name} must be a positive number at most ${max}, got ${String(v)}`);
      }
      return v;
    };
    const connectMs = positive('timeouts.connectMs', t.connectMs, 5000, MAX_TIMER_MS);
    this.#headersMs = positive('timeouts.headersMs', t.headersMs, 30_000, MAX_TIMER_MS);
    this.#bodyMs = positive('timeouts.bodyMs', t.bodyMs, 30_000, MAX_TIMER_MS);
    this.#requestMs = positive('timeouts.requestMs', t.requestMs, 30_000, MAX_TIMER_MS);
    this.#minBytesPerSecond = positive('timeouts.minBytesPerSecond', t.minBytesPerSecond, 65_536, 2 ** 40);
    const connections = positive('connections', options.connections, 16, 65_536);
    this.retry = resolveRetryPolicy(options.retry);
    this.#headers = options.headers;
    this.#maxRedirections = options.maxRedirections ?? 5;
    if (!Number.isSafeInteger(this.#maxRedirections) || this.#maxRedirections < 0) {
      throw new ConfigError(`HttpFetcher: maxRedirections must be a whole number >= 0, got ${String(options.maxRedirections)}`);
    }
    if (options.followRedirect !== undefined && typeof options.followRedirect !== 'function') {
      throw new ConfigError('HttpFetcher: followRedirect must be a function (url) => boolean');
    }
    this.#followRedirect = options.followRedirect;
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      const agent = new Agent({ connections, connect: { timeout: connectMs }, keepAliveTimeout: 30_000, pipelining: 1 });
      this.#dispatcher = this.#followRedirect ? agent : agent.compose(interceptors.redirect({ maxRedirections: this.#maxRedirections }));
      this.#ownsDispatcher = true;
    }
  }

  async stat(url: string, options: StatOptions = {}): Promise<ObjectMeta> {
    return withRetries(this.retry, options.signal, () => this.#withDeadline(url, 1, options.signal, async (deadline) => {
      const head = await this.#send(url, 'HEAD', {}, options.signal, deadline);
      await head.body.dump();
      if (head.statusCode === 200) {
        const size = Number(header(head.headers, 'content-length'));
        if (!Number.isSafeInteger(size) || size < 0) {
          throw new OriginError('HEAD response has no valid Content-Length', { path: url, backend: 'http', status: 200 });
        }
        return metaOf(size, identity(head.headers));
      }
      if (head.statusCode !== 403 && head.statusCode !== 405 && head.statusCode !== 501) this.#fail(url, head.statusCode);
      // HEAD refused (a presigned GET URL, or a server without HEAD): ask for the first byte instead.
      const get = await this.#send(url, 'GET', { range: 'bytes=0-0' }, options.signal, deadline);
      await get.body.dump();
      const cr = parseContentRange(header(get.headers, 'content-range'));
      if (get.statusCode === 206 && cr?.size !== undefined) return metaOf(cr.size, identity(get.headers));
      if (get.statusCode === 416 && cr?.size === 0) return metaOf(0, identity(get.headers));
      if (get.statusCode === 200) {
        const size = Number(header(get.headers, 'content-length'));
        if (Number.isSafeInteger(size) && size >= 0) return metaOf(size, identity(get.headers));
      }
      return this.#fail(url, get.statusCode);
    }));
  }

  async fetch(url: string, requested: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    const { expect, signal } = options;
    // Only these two numbers from here on: the caller's object may have getters or change after the call.
    const range = checkFetchRange(url, requested, expect.size, this.backend);
    const length = range.end - range.start;
    const extra: Record<string, string> = { range: `bytes=${range.start}-${range.end - 1}` };
    // If-Match needs a strong ETag (RFC 9110 §13.1.1); a weak one is compared on the response instead.
    if (expect.etag !== undefined && !expect.etag.startsWith('W/')) extra['if-match'] = expect.etag;
    const follow = this.#followRedirect;
    return withRetries(this.retry, signal, () => this.#withDeadline(url, length, signal, async (deadline) => {
      const headers = await this.#requestHeaders(url, extra, signal, deadline);
      let target = url;
      for (let hops = 0; ; hops++) {
        const got = await rangedGet({
          dispatcher: this.#dispatcher, target: new URL(target), headers, length, signal: deadline.signal,
          headersTimeout: this.#headersMs, bodyTimeout: this.#bodyMs,
          head: (status, h) => {
            const location = follow ? header(h, 'location') : undefined;
            if (follow && isRedirect(status, location)) return { redirect: location, status };
            return this.#rangeHead(url, range, expect, status, h, deadline);
          },
          requestError: (e) => this.#networkError(url, e, signal),
          bodyError: (e) => {
            if (signal?.aborted) return abortError(signal);
            return new RetryableError(new OriginError(`response body failed (${errorCode(e) ?? String(e)})`, { path: url, backend: 'http', cause: e }));
          },
        });
        if ('redirect' in got) {
          target = nextHop(url, target, got.status, got.redirect, hops, this.#maxRedirections, follow!);
          continue;
        }
        if (got.received !== length) {
          throw new RetryableError(new OriginError(`response body ended after ${got.received} of ${length} bytes`, { path: url, backend: 'http' }));
        }
        return got.bytes;
      }
    }));
  }

  /**
   * What the head of a response to a ranged GET means: the body to read (the bytes asked for start after `skip`
   * bytes of it, and the deadline grows to cover those), or the error the request fails with.
   */
  #rangeHead(url: string, range: ByteRange, expect: ObjectMeta, status: number, headers: Dispatcher.ResponseData['headers'], deadline: Deadline): HeadVerdict {
    refuseHead(url, status, headers);
    if (status === 412) throw new VersionChangedError({ path: url, backend: 'http', status, expected: expect.version });
    if (status === 416) {
      const size = parseContentRange(header(headers, 'content-range'))?.size;
      throw new InvalidRangeError(url, range, `the origin refused the range (416${size === undefined ? '' : `, size ${size}`})`, {
        backend: 'http', status, ...(size === undefined ? {} : { size }),
      });
    }
    if (status !== 200 && status !== 206) return this.#fail(url, status);
    if (changedSince(expect, headers, status)) {
      throw new VersionChangedError({ path: url, backend: 'http', status, expected: expect.version, actual: metaOf(expect.size, identity(headers)).version });
    }
    let skip = range.start; // a 200: the server ignored Range and sends the whole object from byte 0
    if (status === 206) {
      const contentRange = header(headers, 'content-range');
      const offset = offsetInContentRange(parseContentRange(contentRange), range.start, range.end);
      if (offset === undefined) {
        throw new OriginError(`asked for bytes ${range.start}-${range.end - 1} but got Content-Range ${contentRange ?? '(none)'}`,
          { path: url, backend: 'http', status });
      }
      skip = offset;
    }
    // Bytes before the range (a 200, or a Content-Range that starts earlier) must be read too: more time for them.
    deadline.extendTo(deadlineMs(this.#requestMs, this.#minBytesPerSecond, skip + range.end - range.start));
    return { skip };
  }

  /** Closes the connection pool (only when this fetcher created it). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Runs one attempt under its deadline (`requestMs + length / minBytesPerSecond`). When the deadline expires, the
   * request is aborted and whatever it failed with becomes a retryable {@link OriginTimeoutError}.
   */
  async #withDeadline<T>(url: string, length: number, signal: AbortSignal | undefined, attempt: (deadline: Deadline) => Promise<T>): Promise<T> {
    const deadline = new Deadline(deadlineMs(this.#requestMs, this.#minBytesPerSecond, length), signal);
    try {
      return await attempt(deadline);
    } catch (e) {
      if (deadline.expired && !signal?.aborted) {
        throw new RetryableError(new OriginTimeoutError({ path: url, backend: 'http', timeoutMs: deadline.ms, cause: e instanceof RetryableError ? e.error : e }));
      }
      throw e;
    } finally {
      deadline.dispose();
    }
  }

  /** A request for `url`, through the redirects `followRedirect` allows where it is given (see {@link #sendOnce}). */
  async #send(url: string, method: 'GET' | 'HEAD', extra: Record<string, string>, signal: AbortSignal | undefined, deadline: Deadline): Promise<Dispatcher.ResponseData> {
    const follow = this.#followRedirect;
    const sendTo = (target: string): Promise<Dispatcher.ResponseData> => this.#sendOnce(url, target, method, extra, signal, deadline);
    return follow ? followRedirects(url, follow, this.#maxRedirections, sendTo) : sendTo(url);
  }

  /**
   * One request to `target` (`url` names the object in errors and goes to the headers function), aborted by
   * `deadline.signal` (the caller's signal or the deadline). `signal` is the caller's, to tell an abort from a
   * failure. A 200/206 with a `Content-Encoding` other than identity is refused here.
   */
  async #sendOnce(url: string, target: string, method: 'GET' | 'HEAD', extra: Record<string, string>, signal: AbortSignal | undefined, deadline: Deadline): Promise<Dispatcher.ResponseData> {
    const headers = await this.#requestHeaders(url, extra, signal, deadline);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(target, {
        method, headers, dispatcher: this.#dispatcher, signal: deadline.signal,
        headersTimeout: this.#headersMs, bodyTimeout: this.#bodyMs,
        // undici closes the connection after a HEAD by default, and undici 7's Agent then gave every later request
        // to that origin a connection of its own, closed after it: a TCP (and TLS) handshake per origin request.
        ...(method === 'HEAD' ? { reset: false } : {}),
      });
    } catch (e) {
      throw this.#networkError(url, e, signal);
    }
    try {
      refuseHead(url, res.statusCode, res.headers);
    } catch (e) {
      if (e instanceof RetryableError) await res.body.dump().catch(() => {});
      else discard(res.body);
      throw e;
    }
    return res;
  }

  /**
   * A request's headers: the caller's (`headers`, called per request where it is a function), `extra`, and
   * `Accept-Encoding: identity` whatever the caller's say (the object's bytes, not an encoding of them). Throws if
   * `signal` (the caller's) or the deadline has fired.
   */
  async #requestHeaders(url: string, extra: Record<string, string>, signal: AbortSignal | undefined, deadline: Deadline): Promise<Record<string, string>> {
    signal?.throwIfAborted();
    const base = typeof this.#headers === 'function' ? await this.#headers(url) : this.#headers;
    deadline.signal.throwIfAborted();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(base ?? {})) if (k.toLowerCase() !== 'accept-encoding') headers[k] = v;
    Object.assign(headers, extra, { 'accept-encoding': 'identity' });
    return headers;
  }

  #networkError(url: string, e: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return abortError(signal);
    const code = errorCode(e);
    const error = new OriginError(`request failed (${code ?? String(e)})`, { path: url, backend: 'http', cause: e });
    return code !== undefined && RETRY_CODES.has(code) ? new RetryableError(error) : error;
  }

  #fail(url: string, status: number): never {
    if (status === 404 || status === 410) throw new ObjectNotFoundError({ path: url, backend: 'http', status });
    if (status === 401 || status === 403) throw new AccessDeniedError({ path: url, backend: 'http', status });
    throw new OriginError(`unexpected HTTP ${status}`, { path: url, backend: 'http', status });
  }
}

/**
 * Refuses a response head that no request may use: a status worth retrying (429, 5xx; as a {@link RetryableError}
 * that carries `Retry-After`), or a 200/206 whose body is encoded (`UnexpectedEncodingError`): its bytes are not
 * the object's bytes at those offsets.
 */
function refuseHead(url: string, status: number, headers: Dispatcher.ResponseData['headers']): void {
  if (RETRY_STATUS(status)) {
    const error = new OriginError(`HTTP ${status} from origin`, { path: url, backend: 'http', status });
    throw new RetryableError(error, parseRetryAfter(header(headers, 'retry-after')));
  }
  const encoding = header(headers, 'content-encoding')?.trim();
  if ((status === 200 || status === 206) && encoding !== undefined && encoding !== '' && encoding.toLowerCase() !== 'identity') {
    throw new UnexpectedEncodingError({ path: url, backend: 'http', status, encoding });
  }
}

/** A failure's `code` (`ECONNRESET`, `UND_ERR_SOCKET`…), where it has a string one. */
function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Closes a body we will not read to the end. undici's body emits 'error' when destroyed early: expected here. */
function discard(body: Dispatcher.ResponseData['body']): void {
  if (body.destroyed) return;
  body.on('error', () => {});
  body.destroy();
}
