import { InvalidPathError } from './errors.js';
import type { FetchOptions, Fetcher, ObjectMeta, StatOptions } from './fetcher.js';
import type { ByteRange } from './ranges.js';

/**
 * A {@link Fetcher} that sends each path to the fetcher registered for its URL scheme: `s3://bucket/key` to an
 * `S3Fetcher`, `https://…` to an `HttpFetcher`, `file://…` and absolute paths to a `FileFetcher`. Each fetcher
 * declares its schemes (`schemes`); nothing registers itself on import. Giving the reader an array of fetchers
 * builds one of these.
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

  constructor(fetchers: readonly Fetcher[]) {
    for (const f of fetchers) {
      if (!f.schemes || f.schemes.length === 0) {
        throw new InvalidPathError(String(f.backend), `fetcher "${f.backend}" declares no URL schemes, so it cannot be routed to`);
      }
      for (const s of f.schemes) {
        const scheme = s.toLowerCase();
        if (this.#byScheme.has(scheme)) throw new InvalidPathError(scheme, `two fetchers claim the URL scheme "${scheme}"`);
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
