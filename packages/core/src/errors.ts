/**
 * Typed errors. Every error rangecache throws is a {@link RangecacheError} with a stable `code`, and has a static
 * `is()` type guard; an error about an object names its path and, where there is one, the backend, the byte range
 * and the origin's HTTP/S3 status, so a caller can log it or branch on `code` without parsing messages.
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
 * Base class of every error rangecache throws: origin failures, bad input, bad configuration and store failures.
 * `code` (always `ERR_RANGECACHE_…`) tells them apart without parsing messages; `path`, `backend` and `status`
 * are set where the error is about an object (`path`), was raised by a backend (`backend`) or carries an
 * origin's HTTP/S3 status (`status`), and are `undefined` otherwise (a {@link ConfigError}, a store error).
 *
 * Three of them keep the built-in parent that Node's own errors of that kind have: {@link InvalidRangeError} is
 * a `RangeError`, {@link InvalidPathError} and {@link ConfigError} are `TypeError`s. A class has only one parent,
 * so for those three `instanceof RangecacheError` holds through `RangecacheError[Symbol.hasInstance]`; they
 * carry the same fields, and the type checker accepts them wherever a `RangecacheError` is expected.
 *
 * `instanceof` recognises the classes of this copy of `@rangecache/core`; {@link RangecacheError.is} (and each
 * subclass's `is()`) checks the `code`, so it also recognises errors made by another installed copy.
 *
 * @example
 * ```ts
 * try { await reader.readRange(url, 0, 10); }
 * catch (e) { if (e instanceof RangecacheError) console.error(e.code, e.path, e.status); }
 * ```
 */
export class RangecacheError extends Error {
  /** A stable machine-readable code, e.g. `ERR_RANGECACHE_NOT_FOUND`. */
  declare readonly code: string;
  /** The object path or URL the error is about, where there is one. */
  declare readonly path: string | undefined;
  /** The backend that raised it (`"file"`, `"http"`, `"s3"`, …), where one did. */
  declare readonly backend: string | undefined;
  /** The origin's HTTP or S3 status code, where it answered with one. */
  declare readonly status: number | undefined;

  /**
   * @param code - `ERR_RANGECACHE_…`, stable across versions.
   * @param options - `path`, `backend` and `status` where the error has them, and the `cause`.
   */
  constructor(code: string, message: string, options: Partial<RangecacheErrorOptions> = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.path = options.path;
    this.backend = options.backend;
    this.status = options.status;
  }

  /**
   * Whether `e` is an error rangecache threw: `instanceof RangecacheError` (which includes
   * {@link InvalidRangeError}, {@link InvalidPathError} and {@link ConfigError}), or any `Error` whose `code`
   * starts with `ERR_RANGECACHE_`, so that it also holds for errors made by another installed copy of
   * `@rangecache/core`.
   *
   * @example
   * ```ts
   * try { await reader.readRange(url, 0, 10); }
   * catch (e) { if (RangecacheError.is(e)) console.error(e.code, e.path); else throw e; }
   * ```
   */
  static is(e: unknown): e is RangecacheError {
    if (e instanceof RangecacheError) return true;
    if (!(e instanceof Error)) return false;
    const code: unknown = (e as { code?: unknown }).code;
    return typeof code === 'string' && code.startsWith(CODE_PREFIX);
  }

  /**
   * `instanceof RangecacheError` holds for instances of its subclasses and of {@link InvalidRangeError},
   * {@link InvalidPathError} and {@link ConfigError} (which extend the built-in `RangeError` / `TypeError`).
   * `instanceof` a subclass is the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === RangecacheError && [...BUILT_IN_KIN].some((kin) => value instanceof kin);
  }
}

/** Error classes that extend a built-in error but count as RangecacheErrors (input-errors.ts registers them). */
const BUILT_IN_KIN = new Set<abstract new (...args: never[]) => Error>();

/** Makes `instanceof RangecacheError` hold for instances of `kin`, a class that must extend a built-in error. */
export function countAsRangecacheError(kin: abstract new (...args: never[]) => Error): void {
  BUILT_IN_KIN.add(kin);
}

const CODE_PREFIX = 'ERR_RANGECACHE_';

/**
 * Whether `e` is an `Error` whose `code` is one of `codes`: the half of every `is()` that also recognises errors
 * made by another installed copy of the package.
 *
 * @internal Not exported from the package.
 */
export function hasCode(e: unknown, ...codes: string[]): boolean {
  return e instanceof Error && codes.includes((e as { code?: unknown }).code as string);
}

/** The object does not exist at the origin (HTTP 404, S3 NoSuchKey, ENOENT). */
export class ObjectNotFoundError extends RangecacheError {
  declare readonly code: 'ERR_RANGECACHE_NOT_FOUND';
  declare readonly path: string;
  constructor(options: RangecacheErrorOptions) {
    super('ERR_RANGECACHE_NOT_FOUND', `${label(options)}object not found: ${options.path}`, options);
  }

  /**
   * Whether `e` is an {@link ObjectNotFoundError} (code `ERR_RANGECACHE_NOT_FOUND`), also one made by another
   * installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (ObjectNotFoundError.is(e)) return undefined; else throw e; }
   * ```
   */
  static override is(e: unknown): e is ObjectNotFoundError {
    return e instanceof ObjectNotFoundError || hasCode(e, 'ERR_RANGECACHE_NOT_FOUND');
  }
}

/** The origin refused access to the object (HTTP 401/403, S3 AccessDenied, EACCES). */
export class AccessDeniedError extends RangecacheError {
  declare readonly code: 'ERR_RANGECACHE_ACCESS_DENIED';
  declare readonly path: string;
  constructor(options: RangecacheErrorOptions) {
    super('ERR_RANGECACHE_ACCESS_DENIED', `${label(options)}access denied: ${options.path}`, options);
  }

  /**
   * Whether `e` is an {@link AccessDeniedError} (code `ERR_RANGECACHE_ACCESS_DENIED`), also one made by another
   * installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (AccessDeniedError.is(e)) console.error(`${e.path}: refused (${e.status})`); }
   * ```
   */
  static override is(e: unknown): e is AccessDeniedError {
    return e instanceof AccessDeniedError || hasCode(e, 'ERR_RANGECACHE_ACCESS_DENIED');
  }
}

/**
 * The object changed at the origin while it was being read (ETag/version mismatch, HTTP 412). The reader
 * refreshes the object's metadata and retries once; this error reaches the caller only when the object keeps
 * changing, and it means no bytes of two versions were mixed into one result.
 */
export class VersionChangedError extends RangecacheError {
  declare readonly code: 'ERR_RANGECACHE_VERSION_CHANGED';
  declare readonly path: string;
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

  /**
   * Whether `e` is a {@link VersionChangedError} (code `ERR_RANGECACHE_VERSION_CHANGED`), also one made by
   * another installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (VersionChangedError.is(e)) console.warn(`${e.path} changed: ${e.expected} -> ${e.actual}`); }
   * ```
   */
  static override is(e: unknown): e is VersionChangedError {
    return e instanceof VersionChangedError || hasCode(e, 'ERR_RANGECACHE_VERSION_CHANGED');
  }
}

/**
 * Any other failure of the origin: a 5xx, a reset connection, a short body, an I/O error. Code
 * `ERR_RANGECACHE_ORIGIN`, or that of its subclasses {@link UnexpectedEncodingError} and {@link OriginTimeoutError}.
 */
export class OriginError extends RangecacheError {
  declare readonly path: string;
  constructor(message: string, options: RangecacheErrorOptions) {
    super('ERR_RANGECACHE_ORIGIN', `${label(options)}${message}: ${options.path}`, options);
  }

  /**
   * Whether `e` is an {@link OriginError} or one of its subclasses (code `ERR_RANGECACHE_ORIGIN`,
   * `ERR_RANGECACHE_ENCODING` or `ERR_RANGECACHE_ORIGIN_TIMEOUT`), also one made by another installed copy of
   * `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (OriginError.is(e)) console.error(`${e.backend} ${e.status ?? ''}: ${e.message}`, e.cause); }
   * ```
   */
  static override is(e: unknown): e is OriginError {
    return e instanceof OriginError || hasCode(e, 'ERR_RANGECACHE_ORIGIN', 'ERR_RANGECACHE_ENCODING', 'ERR_RANGECACHE_ORIGIN_TIMEOUT');
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

  /**
   * Whether `e` is an {@link UnexpectedEncodingError} (code `ERR_RANGECACHE_ENCODING`), also one made by another
   * installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (UnexpectedEncodingError.is(e)) console.error(`${e.path} came ${e.encoding}-encoded`); }
   * ```
   */
  static override is(e: unknown): e is UnexpectedEncodingError {
    return e instanceof UnexpectedEncodingError || hasCode(e, 'ERR_RANGECACHE_ENCODING');
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

  /**
   * Whether `e` is an {@link OriginTimeoutError} (code `ERR_RANGECACHE_ORIGIN_TIMEOUT`), also one made by another
   * installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (OriginTimeoutError.is(e)) console.warn(`${e.path}: no answer within ${e.timeoutMs} ms`); }
   * ```
   */
  static override is(e: unknown): e is OriginTimeoutError {
    return e instanceof OriginTimeoutError || hasCode(e, 'ERR_RANGECACHE_ORIGIN_TIMEOUT');
  }
}
