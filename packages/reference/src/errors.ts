/**
 * The errors of `@rangecache/reference`. Both are {@link RangecacheError}s with a stable `code` and an `is()`
 * that also recognises errors made by another installed copy of the package.
 */
import { RangecacheError } from '@rangecache/core';

/**
 * A reference set that cannot be read as kerchunk references: not JSON, an unknown `version`, a reference that
 * is not `data`, `[url]` or `[url, offset, length]`, a bad template or `gen` entry, or a Parquet layout without
 * its `.zmetadata`. The message names the key, template or file that was wrong.
 *
 * @example
 * ```ts
 * try { await ReferenceStore.open(refs, { reader }); }
 * catch (e) { if (ReferenceFormatError.is(e)) console.error(e.message); } // e.g. template "{{ t * }}": the expression ends too early
 * ```
 */
export class ReferenceFormatError extends RangecacheError {
  declare readonly code: 'ERR_RANGECACHE_REFERENCE_FORMAT';
  constructor(message: string, options: { path?: string; cause?: unknown } = {}) {
    super('ERR_RANGECACHE_REFERENCE_FORMAT', message, options);
  }

  /** Whether `e` is a {@link ReferenceFormatError} (code `ERR_RANGECACHE_REFERENCE_FORMAT`). */
  static override is(e: unknown): e is ReferenceFormatError {
    return e instanceof ReferenceFormatError || (RangecacheError.is(e) && e.code === 'ERR_RANGECACHE_REFERENCE_FORMAT');
  }
}

/**
 * A reference whose target could not be read: the file is missing or refused, the origin failed, or the
 * reference's range lies beyond the end of the file. `key` is the reference's key, `path` its target URL, and
 * `cause` the reader's error (an `ObjectNotFoundError`, `OriginError`, `InvalidRangeError`, …).
 *
 * @example
 * ```ts
 * catch (e) { if (ReferenceTargetError.is(e)) console.error(`${e.key} -> ${e.path}: ${e.message}`); }
 * ```
 */
export class ReferenceTargetError extends RangecacheError {
  declare readonly code: 'ERR_RANGECACHE_REFERENCE_TARGET';
  declare readonly path: string;
  /** The key of the reference (e.g. `temp/0.0.0`) whose target failed. */
  readonly key: string;
  constructor(key: string, target: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('ERR_RANGECACHE_REFERENCE_TARGET', `reference ${JSON.stringify(key)}: target ${target} is not reachable: ${reason}`, { path: target, cause });
    this.key = key;
  }

  /** Whether `e` is a {@link ReferenceTargetError} (code `ERR_RANGECACHE_REFERENCE_TARGET`). */
  static override is(e: unknown): e is ReferenceTargetError {
    return e instanceof ReferenceTargetError || (RangecacheError.is(e) && e.code === 'ERR_RANGECACHE_REFERENCE_TARGET');
  }
}
