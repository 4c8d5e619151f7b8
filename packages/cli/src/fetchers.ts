/**
 * The origins the CLI reads from: local files (paths and `file://`), `http(s)://` and `s3://`, as one array of
 * fetchers that the reader routes by URL scheme. The HTTP and S3 fetchers (and their libraries, the AWS SDK
 * above all) are loaded when a URL of theirs is first read, so that a command that never needs them starts fast.
 */
import { FileFetcher, type FetchOptions, type Fetcher, type ObjectMeta, type StatOptions } from '@rangecache/core';
import type { ByteRange } from '@rangecache/core';
import type { S3Settings } from './config.js';

/** The fetchers, and how to release their connections. */
export interface Origins {
  readonly fetchers: readonly Fetcher[];
  close(): Promise<void>;
}

type Closable = Fetcher & { close?(): Promise<void> };

/** A fetcher made on first use (its module imported then), for the URL schemes it will serve. */
class LazyFetcher implements Fetcher {
  readonly backend: string;
  readonly schemes: readonly string[];
  #make: () => Promise<Closable>;
  #made: Promise<Closable> | undefined;

  constructor(backend: string, schemes: readonly string[], make: () => Promise<Closable>) {
    this.backend = backend;
    this.schemes = schemes;
    this.#make = make;
  }

  #fetcher(): Promise<Closable> {
    return (this.#made ??= this.#make());
  }

  async stat(path: string, options?: StatOptions): Promise<ObjectMeta> {
    return (await this.#fetcher()).stat(path, options);
  }

  async fetch(path: string, range: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    return (await this.#fetcher()).fetch(path, range, options);
  }

  /** Closes the fetcher, if it was made. */
  async close(): Promise<void> {
    const made = await this.#made?.catch(() => undefined);
    await made?.close?.();
  }
}

/**
 * A `FileFetcher`, an `HttpFetcher` and an `S3Fetcher`. The S3 client takes its credentials from the AWS SDK's
 * default chain (environment, shared config and credentials files, SSO, container and instance roles), unless
 * `s3.anonymous` asks for unsigned requests; with an `endpoint` it addresses buckets path-style, as
 * S3-compatible servers expect. `http.followRedirect` decides which redirects the HTTP fetcher follows (default: all).
 *
 * @example
 * ```ts
 * const origins = makeOrigins({ region: 'us-east-1', endpoint: undefined, anonymous: true });
 * const reader = new AsyncCachingReader({ fetcher: origins.fetchers });
 * ```
 */
export function makeOrigins(s3: S3Settings, http: { followRedirect?: (url: string) => boolean } = {}): Origins {
  const httpFetcher = new LazyFetcher('http', ['http', 'https'], async () => new (await import('@rangecache/http')).HttpFetcher(
    http.followRedirect ? { followRedirect: http.followRedirect } : {},
  ));
  const s3Fetcher = new LazyFetcher('s3', ['s3'], async () => new (await import('@rangecache/s3')).S3Fetcher({
    clientConfig: { region: s3.region, ...(s3.endpoint ? { endpoint: s3.endpoint, forcePathStyle: true } : {}) },
    anonymous: s3.anonymous,
  }));
  return {
    fetchers: [new FileFetcher(), httpFetcher, s3Fetcher],
    close: async () => {
      await Promise.all([httpFetcher.close(), s3Fetcher.close()]);
    },
  };
}
