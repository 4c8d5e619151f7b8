/**
 * `ReferenceStore`: a kerchunk reference set as a zarrita.js store (`AsyncReadable`), reading every chunk through
 * a rangecache reader, so that all instances share one cache of the target files' bytes.
 */
import type { AsyncCachingReader } from '@rangecache/core';
import { ConfigError } from '@rangecache/core';
import { ReferenceFormatError } from './errors.js';
import { ParquetReferences, readWhole } from './parquet-references.js';
import { type Reference, type ReferenceSpec, isMetadataKey, parseReferences } from './references.js';
import { type RangeQuery, readTargets } from './target-reads.js';

export interface ReferenceStoreOptions {
  /** The reader every byte goes through. It must be in chunk mode (`mode: "chunk"`): each reference is cached by its exact range. */
  reader: AsyncCachingReader;
  /**
   * Where the references live, to resolve relative target URLs, when `refs` is given as an object. When `refs`
   * is a URL, that URL is the base.
   */
  base?: string;
  /**
   * `"json"` or `"parquet"` (a directory with `.zmetadata` and `<var>/refs.<n>.parq`). Default: from the URL,
   * JSON when it ends in `.json`, else Parquet.
   */
  format?: 'json' | 'parquet';
  /** Parquet record files kept decoded in memory. Default 128 (fsspec's default). */
  recordCacheSize?: number;
  /** Aborts loading the references. */
  signal?: AbortSignal;
}

/** Options of one read, as zarrita passes them. */
export interface GetOptions {
  signal?: AbortSignal;
}

/** A reference table: all in memory (JSON), or loaded lazily (Parquet). */
interface ReferenceTable {
  lookup(key: string, signal?: AbortSignal): Reference | undefined | Promise<Reference | undefined>;
  /** The keys of Zarr metadata documents (`.zgroup`, `.zattrs`, `.zarray`) in the set. */
  metadataKeys(): string[];
}

/** zarrita asks for `/temp/.zarray`; references are keyed `temp/.zarray`. */
function keyOf(key: string): string {
  return key.startsWith('/') ? key.slice(1) : key;
}

/**
 * A kerchunk reference set (JSON version 0 or 1, or the Parquet layout) as a store that zarrita.js opens. Chunk
 * bytes are read through `reader`, keyed by their exact byte range of the target file, so two reference sets
 * that point at the same bytes share cache entries, and every instance of a fleet reads what one of them
 * fetched. Inline data is served from the references and never touches the origin or Redis. A key with no
 * reference returns `undefined` (zarrita then uses the array's fill value).
 *
 * @example
 * ```ts
 * import * as zarr from 'zarrita';
 * import { ReferenceStore } from '@rangecache/reference';
 * const reader = new AsyncCachingReader({ fetcher: [new S3Fetcher(), new HttpFetcher()], store, mode: 'chunk' });
 * const store = await ReferenceStore.open('s3://bucket/ocean.json', { reader });
 * const temp = await zarr.open.v2(zarr.root(store).resolve('temp'), { kind: 'array' });
 * const slab = await zarr.get(temp, [0, 0, null, null]);
 * ```
 */
export class ReferenceStore {
  readonly #reader: AsyncCachingReader;
  readonly #table: ReferenceTable;

  private constructor(reader: AsyncCachingReader, table: ReferenceTable) {
    this.#reader = reader;
    this.#table = table;
  }

  /**
   * Opens a reference set: a URL (`s3://`, `https://`, `file://` or a local path, read through the reader) of a
   * JSON file or a Parquet reference directory, or an already parsed JSON object.
   */
  static async open(refs: string | URL | ReferenceSpec, options: ReferenceStoreOptions): Promise<ReferenceStore> {
    const reader = options?.reader;
    if (!reader || typeof reader.readRanges !== 'function') throw new ConfigError('ReferenceStore.open: options.reader (an AsyncCachingReader) is required');
    if (reader.options.mode !== 'chunk') {
      throw new ConfigError('ReferenceStore.open: the reader must be in chunk mode (new AsyncCachingReader({ mode: "chunk", … })), so that each reference is cached by its exact byte range');
    }
    if (options.format !== undefined && options.format !== 'json' && options.format !== 'parquet') throw new ConfigError(`ReferenceStore.open: format must be "json" or "parquet", got ${JSON.stringify(options.format)}`);
    const { recordCacheSize = 128 } = options;
    if (!Number.isSafeInteger(recordCacheSize) || recordCacheSize < 1) throw new ConfigError(`ReferenceStore.open: recordCacheSize must be a whole number >= 1, got ${String(recordCacheSize)}`);
    if (typeof refs !== 'string' && !(refs instanceof URL)) {
      if (refs === null || typeof refs !== 'object') throw new ConfigError('ReferenceStore.open: refs must be a URL, a path or a parsed reference object');
      return new ReferenceStore(reader, parsed(parseReferences(refs, options.base)));
    }
    const url = refs instanceof URL ? refs.href : refs;
    const format = options.format ?? (/\.json$/i.test(url.replace(/[?#].*$/, '')) ? 'json' : 'parquet');
    if (format === 'parquet') return new ReferenceStore(reader, await ParquetReferences.open(url, reader, { recordCacheSize, signal: options.signal }));
    const bytes = await readWhole(reader, url, { signal: options.signal });
    let spec: unknown;
    try {
      spec = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new ReferenceFormatError(`${url} is not JSON: ${e instanceof Error ? e.message : String(e)}`, { path: url, cause: e });
    }
    return new ReferenceStore(reader, parsed(parseReferences(spec as ReferenceSpec, url)));
  }

  /** The reference of `key` (`temp/0.0.0` or `/temp/0.0.0`), or `undefined` when the set has none. */
  async resolve(key: string, options: GetOptions = {}): Promise<Reference | undefined> {
    return this.#table.lookup(keyOf(key), options.signal);
  }

  /** The bytes of `key`, or `undefined` when the reference set has no such key. zarrita's `AsyncReadable.get`. */
  async get(key: string, options: GetOptions = {}): Promise<Uint8Array | undefined> {
    return (await this.#read([keyOf(key)], undefined, options.signal))[0];
  }

  /** Part of the bytes of `key`: `{offset, length}` or `{suffixLength}`. zarrita's `AsyncReadable.getRange`. */
  async getRange(key: string, range: RangeQuery, options: GetOptions = {}): Promise<Uint8Array | undefined> {
    return (await this.#read([keyOf(key)], range, options.signal))[0];
  }

  /**
   * The bytes of many keys at once: the ranges of each target file are read in one call to the reader, which
   * fetches its misses coalesced, and different files are read concurrently.
   *
   * @example
   * ```ts
   * const [a, b] = await store.getMany(['temp/0.0.0.0', 'temp/0.0.0.1']);
   * ```
   */
  async getMany(keys: readonly string[], options: GetOptions = {}): Promise<(Uint8Array | undefined)[]> {
    return this.#read(keys.map(keyOf), undefined, options.signal);
  }

  /**
   * The set's Zarr v2 metadata as one consolidated `.zmetadata` document (`{"zarr_consolidated_format": 1,
   * "metadata": {…}}`), as xpublish serves it, so that clients such as xarray open the whole dataset in one
   * request. `undefined` when the set holds no Zarr metadata.
   *
   * @example
   * ```ts
   * const zmetadata = JSON.parse(new TextDecoder().decode(await store.consolidatedMetadata()));
   * ```
   */
  async consolidatedMetadata(options: GetOptions = {}): Promise<Uint8Array | undefined> {
    const keys = this.#table.metadataKeys();
    if (keys.length === 0) return undefined;
    const values = await this.getMany(keys, options);
    const metadata: Record<string, unknown> = {};
    keys.forEach((key, i) => {
      try {
        metadata[key] = JSON.parse(new TextDecoder().decode(values[i]));
      } catch (e) {
        throw new ReferenceFormatError(`reference ${JSON.stringify(key)} is not JSON metadata`, { cause: e });
      }
    });
    return new TextEncoder().encode(JSON.stringify({ zarr_consolidated_format: 1, metadata }));
  }

  async #read(keys: readonly string[], range: RangeQuery | undefined, signal: AbortSignal | undefined): Promise<(Uint8Array | undefined)[]> {
    const refs = await Promise.all(keys.map((key) => this.#table.lookup(key, signal)));
    const found = keys.flatMap((key, i) => (refs[i] ? [{ key, ref: refs[i], range, i }] : []));
    const bytes = await readTargets(this.#reader, found, signal);
    const out = new Array<Uint8Array | undefined>(keys.length).fill(undefined);
    found.forEach(({ i }, n) => (out[i] = bytes[n]));
    return out;
  }
}

function parsed(table: Map<string, Reference>): ReferenceTable {
  return { lookup: (key) => table.get(key), metadataKeys: () => [...table.keys()].filter(isMetadataKey) };
}
