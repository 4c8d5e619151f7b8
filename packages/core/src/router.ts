import { ConfigError, InvalidPathError } from './input-errors.js';
import type { FetchOptions, Fetcher, ObjectMeta, StatOptions } from './fetcher.js';
import type { ByteRange } from './ranges.js';

/** A URL scheme name (RFC 3986 section 3.1). */
const SCHEME = /^[a-z][a-z0-9+.-]*$/i;

/**
 * A {@link Fetcher} that sends each path to the fetcher registered for its URL scheme: `s3://bucket/key` to an
 * `S3Fetcher`, `https://…` to an `HttpFetcher`, `file://…` and absolute paths to a `FileFetcher`. Each fetcher
 * declares its schemes (`schemes`); nothing registers itself on import. Giving the reader an array of fetchers
 * builds one of these.
 *
 * Fetchers that cannot be routed (one that declares no scheme, two that claim the same one) are a configuration
 * mistake: the constructor throws a `ConfigError`. A path whose scheme no fetcher serves is an
 * `InvalidPathError`, thrown when it is read.
 *
 * @example
 * ```ts
 * const reader = new AsyncCachingReader({ fetcher: [new FileFetcher(), new HttpFetcher(), new S3Fetcher({ client })] });
 * await reader.readRange('s3://bucket/key', 0, 100);
 * ```
 */
export class FetcherRouter implements Fetcher {
  readonly backend = 'router';
  readonly schemes: readonly string[];
  #byScheme = new Map<string, Fetcher>();

  /**
   * @throws {@link ConfigError} when `fetchers` is not a non-empty array of fetchers, when a fetcher declares no
   * URL scheme or one that is not a scheme name (`"https"`, not `"https:"`), or when two claim the same one.
   */
  constructor(fetchers: readonly Fetcher[]) {
    if (!Array.isArray(fetchers) || fetchers.length === 0) {
      throw new ConfigError('FetcherRouter: fetchers must be a non-empty array of fetchers');
    }
    for (const [i, f] of fetchers.entries()) {
      if (f === null || typeof f !== 'object' || typeof f.fetch !== 'function' || typeof f.stat !== 'function') {
        throw new ConfigError(`FetcherRouter: fetchers[${i}] must implement Fetcher (stat and fetch)`);
      }
      if (!Array.isArray(f.schemes) || f.schemes.length === 0) {
        throw new ConfigError(`FetcherRouter: fetcher "${f.backend}" declares no URL schemes, so it cannot be routed to`);
      }
      for (const s of f.schemes) {
        if (typeof s !== 'string' || !SCHEME.test(s)) {
          throw new ConfigError(`FetcherRouter: fetcher "${f.backend}" declares ${JSON.stringify(s)}, which is not a URL scheme name (such as "https", without ":")`);
        }
        const scheme = s.toLowerCase();
        if (this.#byScheme.has(scheme)) throw new ConfigError(`FetcherRouter: two fetchers claim the URL scheme "${scheme}"`);
        this.#byScheme.set(scheme, f);
      }
    }
    this.schemes = [...this.#byScheme.keys()];
  }

  /** The fetcher for `path`; a path without a scheme (`/data/x.bin`) is a `file` path. */
  fetcherFor(path: string): Fetcher {
    const m = /^([a-z][a-z0-9+.-]*):/i.exec(path);
    const scheme = m ? m[1]!.toLowerCase() : path.startsWith('/') ? 'file' : undefined;
    const f = scheme === undefined ? undefined : this.#byScheme.get(scheme);
    if (f === undefined) {
      throw new InvalidPathError(path, scheme === undefined
        ? `not a URL or an absolute path (schemes served: ${this.schemes.join(', ')})`
        : `no fetcher for the scheme "${scheme}" (schemes served: ${this.schemes.join(', ')})`);
    }
    return f;
  }

  stat(path: string, options?: StatOptions): Promise<ObjectMeta> {
    return this.fetcherFor(path).stat(path, options);
  }

  fetch(path: string, range: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    return this.fetcherFor(path).fetch(path, range, options);
  }
}
