/** The interface a backend (file, HTTP, S3, …) implements to serve bytes from the origin. */
import type { ByteRange } from './ranges.js';

/**
 * What the reader knows about one version of an object.
 *
 * `version` is an opaque string that changes whenever the object's bytes change: the S3 VersionId, the
 * ETag, or `size+mtime` where neither exists. It is part of every cache key, so a changed object never serves
 * old bytes.
 */
export interface ObjectMeta {
  size: number;
  version: string;
  etag?: string;
  versionId?: string;
  /** Last modification time in milliseconds since the epoch, when the origin reports it. */
  lastModified?: number;
  /**
   * The media type the origin gives the object (HTTP `Content-Type`, S3 `ContentType`), when it gives one. Kept with
   * the cached metadata, so that a proxy in front of the cache can pass it on (`@rangecache/server`).
   */
  contentType?: string;
  /**
   * `true` when `version` cannot tell two contents apart, so that a same-size replacement may keep the same
   * version: a size-only version (no validator at all), a `Last-Modified` version (one-second resolution), a weak
   * `W/` ETag, or an nginx-style `"<hex mtime>-<hex size>"` ETag (its second part is the size in hex: a
   * second-resolution mtime plus the size). Absent or `false`: the version changes whenever the bytes do (a
   * content-hash ETag, an S3 VersionId, a file's nanosecond mtime + inode).
   *
   * The reader never assembles one read from cached and freshly fetched pieces of such an object, and caps the
   * TTL of its bytes at the metadata TTL.
   *
   * @example
   * ```ts
   * const meta = await fetcher.stat('https://host/data.bin');
   * if (meta.weakVersion) console.warn('the origin sends no strong validator; cached bytes expire with the metadata');
   * ```
   */
  weakVersion?: boolean;
}

export interface StatOptions {
  signal?: AbortSignal;
}

export interface FetchOptions {
  /**
   * The version the caller expects. A fetcher must not return bytes of any other version: it pins the
   * version (S3 `VersionId`, HTTP `If-Match`) or checks it, and throws `VersionChangedError` on a mismatch.
   */
  expect: ObjectMeta;
  signal?: AbortSignal;
}

/**
 * Reads objects from an origin. Implementations: `FileFetcher` (here), `HttpFetcher` (`@rangecache/http`),
 * `S3Fetcher` (`@rangecache/s3`).
 *
 * @example
 * ```ts
 * const fetcher: Fetcher = new FileFetcher();
 * const meta = await fetcher.stat('/data/file.bin');
 * const head = await fetcher.fetch('/data/file.bin', { start: 0, end: 16 }, { expect: meta });
 * ```
 */
export interface Fetcher {
  /** A short backend name for errors and stats: `"file"`, `"http"`, `"s3"`. */
  readonly backend: string;
  /** The URL schemes it serves (`["http", "https"]`), used when several fetchers are routed by scheme. */
  readonly schemes?: readonly string[];
  /** Size and version of the object; throws `ObjectNotFoundError` when it does not exist. */
  stat(path: string, options?: StatOptions): Promise<ObjectMeta>;
  /**
   * Exactly the bytes `[range.start, range.end)` of version `options.expect` of the object. The reader only
   * asks for non-empty ranges inside the object, so a fetcher may treat anything else as a bug.
   */
  fetch(path: string, range: ByteRange, options: FetchOptions): Promise<Uint8Array>;
}
