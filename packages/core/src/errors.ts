/**
 * Typed errors. Every error names the object path and, where there is one, the backend, the byte range and
 * the origin's HTTP/S3 status, so a caller can log it or branch on `code` without parsing messages.
 */

/** A byte range `[start, end)` as a caller asked for it (before validation, so fields may be anything). */
export interface RequestedRange {
  start: unknown;
  end: unknown;
}

export interface RangecacheErrorOptions {
  /** The object path or URL the operation was about. */
  path: string;
  /** The backend that raised it: `"file"`, `"http"`, `"s3"`, or `"cache"`. */
  backend?: string;
  /** The HTTP or S3 status code, where the origin answered with one. */
  status?: number;
  cause?: unknown;
}

/**
 * Base class of the errors rangecache throws for origin problems.
 *
 * @example
 * ```ts
 * try { await reader.readRange(url, 0, 10); }
 * catch (e) { if (e instanceof RangecacheError) console.error(e.code, e.path, e.status); }
 * ```
 */
export class RangecacheError extends Error {
  /** A stable machine-readable code, e.g. `ERR_RANGECACHE_NOT_FOUND`. */
  readonly code: string;
  readonly path: string;
  readonly backend: string | undefined;
  readonly status: number | undefined;

  constructor(code: string, message: string, options: RangecacheErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.path = options.path;
    this.backend = options.backend;
    this.status = options.status;
  }
}

/** The object does not exist at the origin (HTTP 404, S3 NoSuchKey, ENOENT). */
export class ObjectNotFoundError extends RangecacheError {
  constructor(options: RangecacheErrorOptions) {
    super('ERR_RANGECACHE_NOT_FOUND', `${label(options)}object not found: ${options.path}`, options);
  }
}

/** The origin refused access to the object (HTTP 401/403, S3 AccessDenied, EACCES). */
export class AccessDeniedError extends RangecacheError {
  constructor(options: RangecacheErrorOptions) {
    super('ERR_RANGECACHE_ACCESS_DENIED', `${label(options)}access denied: ${options.path}`, options);
  }
}

/**
 * The object changed at the origin while it was being read (ETag/version mismatch, HTTP 412). The reader
 * refreshes the object's metadata and retries once; this error reaches the caller only when the object keeps
 * changing, and it means no bytes of two versions were mixed into one result.
 */
export class VersionChangedError extends RangecacheError {
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  constructor(options: RangecacheErrorOptions & { expected?: string; actual?: string }) {
    super(
      'ERR_RANGECACHE_VERSION_CHANGED',
      `${label(options)}object changed during read: ${options.path}` +
        (options.expected !== undefined ? ` (expected version ${options.expected}` +
          (options.actual !== undefined ? `, found ${options.actual})` : ')') : ''),
      options,
    );
    this.expected = options.expected;
    this.actual = options.actual;
  }
}

/** Any other failure of the origin: a 5xx, a reset connection, a short body, an I/O error. */
export class OriginError extends RangecacheError {
  constructor(message: string, options: RangecacheErrorOptions) {
    super('ERR_RANGECACHE_ORIGIN', `${label(options)}${message}: ${options.path}`, options);
  }
}

/**
 * A byte range that cannot be served: negative, non-integer, inverted, or starting past the end of the object.
 * It is a `RangeError`, so `instanceof RangeError` holds, and it carries the path and the range.
 *
 * @example
 * ```ts
 * await reader.readRange(path, 10, 5); // throws InvalidRangeError: invalid range [10, 5) for path: end < start
 * ```
 */
export class InvalidRangeError extends RangeError {
  readonly code = 'ERR_RANGECACHE_RANGE';
  readonly path: string;
  readonly start: unknown;
  readonly end: unknown;
  /** The object's size, when the range was checked against it. */
  readonly size: number | undefined;
  readonly backend: string | undefined;
  readonly status: number | undefined;

  constructor(path: string, range: RequestedRange, reason: string, extra: { size?: number; backend?: string; status?: number } = {}) {
    super(`invalid range [${show(range.start)}, ${show(range.end)}) for ${path}: ${reason}`);
    this.name = 'InvalidRangeError';
    this.path = path;
    this.start = range.start;
    this.end = range.end;
    this.size = extra.size;
    this.backend = extra.backend;
    this.status = extra.status;
  }
}

/** A path that no fetcher can serve: an unknown URL scheme, or a URL missing its bucket or key. */
export class InvalidPathError extends TypeError {
  readonly code = 'ERR_RANGECACHE_PATH';
  constructor(readonly path: string, reason: string) {
    super(`invalid path ${JSON.stringify(path)}: ${reason}`);
    this.name = 'InvalidPathError';
  }
}

/** An option passed to a constructor is invalid; the message names the option. */
export class ConfigError extends TypeError {
  readonly code = 'ERR_RANGECACHE_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Thrown (as the rejection reason) when a caller's `AbortSignal` fires; matches the DOM `AbortError` name. */
export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

function label(o: RangecacheErrorOptions): string {
  const parts = [o.backend, o.status === undefined ? undefined : String(o.status)].filter((x) => x !== undefined);
  return parts.length ? `[${parts.join(' ')}] ` : '';
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * The origin answered with a `Content-Encoding` other than `identity` (e.g. a `gzip` body from a misconfigured
 * server or CDN). Those bytes are not the object's bytes, so they are refused rather than cached. It is an
 * {@link OriginError} (not retried: the origin's configuration will not change between attempts) with code
 * `ERR_RANGECACHE_ENCODING`.
 *
 * @example
 * ```ts
 * try { await reader.readRange(url, 0, 4096); }
 * catch (e) { if (e instanceof UnexpectedEncodingError) console.error(`${e.path} came ${e.encoding}-encoded (HTTP ${e.status})`); }
 * ```
 */
export class UnexpectedEncodingError extends OriginError {
  override readonly code = 'ERR_RANGECACHE_ENCODING';
  /** The `Content-Encoding` the origin sent, as it sent it. */
  readonly encoding: string;
  constructor(options: RangecacheErrorOptions & { encoding: string }) {
    super(`unexpected Content-Encoding ${JSON.stringify(options.encoding)} (only identity bodies are the object's bytes)`, options);
    this.encoding = options.encoding;
  }
}

/**
 * An origin request did not complete within its deadline: the whole request (headers and body), not the pause
 * between two chunks, so an origin that trickles bytes cannot keep a read pending. The deadline grows with the
 * bytes asked for (`requestMs + length / minBytesPerSecond`), so a large healthy read never hits it. It is an
 * {@link OriginError} with code `ERR_RANGECACHE_ORIGIN_TIMEOUT`; the request is aborted, and HttpFetcher
 * retries it within its retry policy's bounds.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof OriginTimeoutError) console.warn(`${e.path}: no answer within ${e.timeoutMs} ms`); }
 * ```
 */
export class OriginTimeoutError extends OriginError {
  override readonly code = 'ERR_RANGECACHE_ORIGIN_TIMEOUT';
  /** The deadline that expired, ms. */
  readonly timeoutMs: number;
  constructor(options: RangecacheErrorOptions & { timeoutMs: number }) {
    super(`request did not complete within its ${Math.round(options.timeoutMs)} ms deadline`, options);
    this.timeoutMs = options.timeoutMs;
  }
}
