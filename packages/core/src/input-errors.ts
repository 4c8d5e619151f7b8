/**
 * Errors about what a caller passed in: a byte range that cannot be served, a path the reader cannot use, an
 * option that is not valid. Each is also a built-in error (`RangeError`, `TypeError`) and counts as a
 * {@link RangecacheError} for `instanceof` and `RangecacheError.is()`.
 */
import { type RangecacheError, type RequestedRange, countAsRangecacheError, hasCode } from './errors.js';

/**
 * A byte range that cannot be served: negative, non-integer, inverted, or starting past the end of the object.
 * It is a `RangeError` (as Node's `ERR_OUT_OF_RANGE` is), so `instanceof RangeError` holds, and a
 * {@link RangecacheError}: `instanceof RangecacheError` and `RangecacheError.is()` hold too. It carries the path
 * and the range.
 *
 * @example
 * ```ts
 * await reader.readRange(path, 10, 5); // throws InvalidRangeError: invalid range [10, 5) for path: end < start
 * ```
 */
export class InvalidRangeError extends RangeError implements RangecacheError {
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

  /**
   * Whether `e` is an {@link InvalidRangeError} (code `ERR_RANGECACHE_RANGE`), also one made by another installed
   * copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (InvalidRangeError.is(e)) console.error(`bad range [${e.start}, ${e.end}) of ${e.path}`); }
   * ```
   */
  static is(e: unknown): e is InvalidRangeError {
    return e instanceof InvalidRangeError || hasCode(e, 'ERR_RANGECACHE_RANGE');
  }
}

/**
 * A path that no fetcher can serve: not a string, empty or too long, an unknown URL scheme, or a URL missing its
 * bucket or key. It is a `TypeError` (as Node's `ERR_INVALID_ARG_VALUE` is) and a {@link RangecacheError}:
 * `instanceof TypeError`, `instanceof RangecacheError` and `RangecacheError.is()` all hold.
 *
 * @example
 * ```ts
 * await reader.readRange('gs://bucket/key', 0, 10); // throws InvalidPathError: no fetcher for the scheme "gs"
 * ```
 */
export class InvalidPathError extends TypeError implements RangecacheError {
  readonly code = 'ERR_RANGECACHE_PATH';
  readonly backend: undefined = undefined;
  readonly status: undefined = undefined;
  constructor(readonly path: string, reason: string) {
    super(`invalid path ${JSON.stringify(path)}: ${reason}`);
    this.name = 'InvalidPathError';
  }

  /**
   * Whether `e` is an {@link InvalidPathError} (code `ERR_RANGECACHE_PATH`), also one made by another installed
   * copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (InvalidPathError.is(e)) console.error(`cannot read ${e.path}: ${e.message}`); }
   * ```
   */
  static is(e: unknown): e is InvalidPathError {
    return e instanceof InvalidPathError || hasCode(e, 'ERR_RANGECACHE_PATH');
  }
}

/**
 * A configuration mistake: an option passed to a constructor is invalid (the message names the option), or
 * parts given to one do not fit together (two fetchers claiming one URL scheme, an unsupported Redis client).
 * It is a `TypeError` (as Node's `ERR_INVALID_ARG_TYPE` is) and a {@link RangecacheError}: `instanceof
 * TypeError`, `instanceof RangecacheError` and `RangecacheError.is()` all hold.
 *
 * @example
 * ```ts
 * new AsyncCachingReader({ fetcher, blockSize: 0 }); // throws ConfigError: options.blockSize must be an integer from 1 …
 * ```
 */
export class ConfigError extends TypeError implements RangecacheError {
  readonly code = 'ERR_RANGECACHE_CONFIG';
  readonly path: undefined = undefined;
  readonly backend: undefined = undefined;
  readonly status: undefined = undefined;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }

  /**
   * Whether `e` is a {@link ConfigError} (code `ERR_RANGECACHE_CONFIG`), also one made by another installed copy
   * of `@rangecache/core`.
   *
   * @example
   * ```ts
   * try { reader = new AsyncCachingReader(options); }
   * catch (e) { if (ConfigError.is(e)) process.exitCode = 78; throw e; }
   * ```
   */
  static is(e: unknown): e is ConfigError {
    return e instanceof ConfigError || hasCode(e, 'ERR_RANGECACHE_CONFIG');
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

countAsRangecacheError(InvalidRangeError);
countAsRangecacheError(InvalidPathError);
countAsRangecacheError(ConfigError);
