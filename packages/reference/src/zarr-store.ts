/**
 * `ZarrStore`: a plain Zarr hierarchy (v2 or v3) under a URL prefix on S3, HTTP or disk, as a zarrita.js store
 * that reads every key through a rangecache reader.
 */
import type { AsyncCachingReader } from '@rangecache/core';
import { ConfigError, InvalidPathError, ObjectNotFoundError } from '@rangecache/core';
import type { GetOptions } from './reference-store.js';
import { type RangeQuery, windowOf } from './target-reads.js';

export interface ZarrStoreOptions {
  /** The reader every byte goes through (block or chunk mode). */
  reader: AsyncCachingReader;
}

/**
 * A Zarr store over a URL prefix: key `/temp/.zarray` (or `/temp/zarr.json`, `/temp/c/0/0` in Zarr v3) is read
 * from `<prefix>temp/.zarray` through `reader`. A missing object returns `undefined`, as zarrita expects; the
 * reader does not remember that it was missing, so an object written later is found at once. Keys with `..`
 * or empty segments, or with `\`, `?`, `#` or `%`, are refused, so a key can never reach outside the prefix.
 *
 * @example
 * ```ts
 * const store = new ZarrStore('https://host/data.zarr', { reader });
 * const arr = await zarr.open.v2(zarr.root(store).resolve('temp'), { kind: 'array' });
 * ```
 */
export class ZarrStore {
  readonly #reader: AsyncCachingReader;
  /** The prefix, ending with `/`. */
  readonly prefix: string;

  constructor(prefix: string | URL, options: ZarrStoreOptions) {
    const reader = options?.reader;
    if (!reader || typeof reader.readRange !== 'function') throw new ConfigError('ZarrStore: options.reader (an AsyncCachingReader) is required');
    const text = prefix instanceof URL ? prefix.href : prefix;
    if (typeof text !== 'string' || text === '') throw new ConfigError('ZarrStore: prefix must be a non-empty URL or path');
    this.#reader = reader;
    this.prefix = text.endsWith('/') ? text : `${text}/`;
  }

  #url(key: string): string {
    const relative = typeof key === 'string' && key.startsWith('/') ? key.slice(1) : key;
    // A key stays inside the prefix: no empty, "." or ".." segment, and nothing a URL would read as more than a
    // path (a query, a fragment, an escape, a backslash).
    if (typeof relative !== 'string' || relative === '' || relative.split('/').some((s) => s === '' || s === '.' || s === '..') || /[\\?#%]/.test(relative)) {
      throw new InvalidPathError(String(key), 'ZarrStore: not a Zarr key (empty, ".", ".." segments and \\ ? # % are refused)');
    }
    return this.prefix + relative;
  }

  /** The bytes of `key`, or `undefined` when there is no such object. zarrita's `AsyncReadable.get`. */
  async get(key: string, options: GetOptions = {}): Promise<Uint8Array | undefined> {
    return this.getRange(key, undefined, options);
  }

  /** Part of the bytes of `key` (`{offset, length}` or `{suffixLength}`), or `undefined` when there is no such object. */
  async getRange(key: string, range: RangeQuery | undefined, options: GetOptions = {}): Promise<Uint8Array | undefined> {
    const url = this.#url(key);
    try {
      const file = await this.#reader.open(url, options);
      const { start, end } = windowOf(key, file.byteLength, range);
      return end > start ? await file.read(start, end, options) : new Uint8Array(0);
    } catch (e) {
      if (ObjectNotFoundError.is(e)) return undefined;
      throw e;
    }
  }
}
