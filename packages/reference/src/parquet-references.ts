/**
 * Kerchunk references in the Parquet layout that fsspec's `LazyReferenceMapper` writes and reads:
 *
 * - `<root>/.zmetadata`: `{"metadata": {".zgroup": {…}, "temp/.zarray": {…}, …}, "record_size": N}`;
 * - `<root>/<var>/refs.<n>.parq`: one row per chunk of `var`, in C order over its chunk grid, `record_size` rows
 *   per file, with columns `path`, `offset`, `size` and `raw`.
 *
 * Record files are read (through the cache) only when a key in them is first asked for, and the last
 * `recordCacheSize` of them are kept decoded in an LRU.
 */
import type { AsyncCachingReader, ReadOptions } from '@rangecache/core';
import { ObjectNotFoundError } from '@rangecache/core';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { LRUCache } from 'lru-cache';
import { ReferenceFormatError, ReferenceTargetError } from './errors.js';
import { type Reference, isMetadataKey, resolveTarget } from './references.js';

/** The columns of one record file, decoded. */
interface RecordRows {
  readonly path: readonly (string | null)[];
  readonly offset: readonly number[];
  readonly size: readonly number[];
  readonly raw: readonly (Uint8Array | null)[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads one whole object through the reader, pinned to one version. */
export async function readWhole(reader: AsyncCachingReader, url: string, options: ReadOptions): Promise<Uint8Array> {
  const file = await reader.open(url, options);
  return file.byteLength === 0 ? new Uint8Array(0) : file.read(0, file.byteLength, options);
}

function toNumber(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/** A lazily loaded Parquet reference set. Make one with {@link ParquetReferences.open}. */
export class ParquetReferences {
  readonly #reader: AsyncCachingReader;
  readonly #root: string;
  readonly #metadata: Readonly<Record<string, unknown>>;
  readonly #zmetadata: Uint8Array;
  readonly #recordSize: number;
  readonly #records: LRUCache<string, Promise<RecordRows | undefined>>;
  readonly #grids = new Map<string, number[]>();

  private constructor(reader: AsyncCachingReader, root: string, zmetadata: Uint8Array, recordCacheSize: number) {
    this.#reader = reader;
    this.#root = root.endsWith('/') ? root : `${root}/`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(zmetadata));
    } catch (e) {
      throw new ReferenceFormatError(`${this.#root}.zmetadata is not JSON`, { path: `${this.#root}.zmetadata`, cause: e });
    }
    const { metadata, record_size: recordSize } = (parsed ?? {}) as { metadata?: unknown; record_size?: unknown };
    if (metadata === null || typeof metadata !== 'object' || typeof recordSize !== 'number' || !Number.isSafeInteger(recordSize) || recordSize < 1) {
      throw new ReferenceFormatError(`${this.#root}.zmetadata needs "metadata" (an object) and "record_size" (a whole number >= 1)`, { path: `${this.#root}.zmetadata` });
    }
    this.#metadata = metadata as Record<string, unknown>;
    this.#zmetadata = zmetadata;
    this.#recordSize = recordSize;
    this.#records = new LRUCache({ max: recordCacheSize });
  }

  /**
   * Reads `<root>/.zmetadata` through the reader.
   *
   * @example
   * ```ts
   * const refs = await ParquetReferences.open('s3://bucket/dataset.parq', reader);
   * await refs.lookup('temp/0.0.0'); // { kind: 'range', url: 's3://…/file.nc', offset: …, length: … }
   * ```
   */
  static async open(root: string, reader: AsyncCachingReader, options: { recordCacheSize?: number; signal?: AbortSignal } = {}): Promise<ParquetReferences> {
    const base = root.endsWith('/') ? root : `${root}/`;
    const bytes = await readWhole(reader, `${base}.zmetadata`, { signal: options.signal });
    return new ParquetReferences(reader, base, bytes, options.recordCacheSize ?? 128);
  }

  /** The reference of `key`, or `undefined` when the set has none (a missing chunk: the reader uses the fill value). */
  async lookup(key: string, signal?: AbortSignal): Promise<Reference | undefined> {
    if (key === '.zmetadata') return { kind: 'inline', bytes: this.#zmetadata };
    const meta = this.#metadata[key];
    if (meta !== undefined) return { kind: 'inline', bytes: encoder.encode(typeof meta === 'string' ? meta : JSON.stringify(meta)) };
    const slash = key.lastIndexOf('/');
    if (slash <= 0) return undefined;
    const field = key.slice(0, slash);
    const grid = this.#grid(field);
    if (!grid) return undefined;
    const chunk = this.#chunkNumber(key.slice(slash + 1), grid);
    if (chunk === undefined) return undefined;
    const record = Math.floor(chunk / this.#recordSize);
    const row = chunk % this.#recordSize;
    const rows = await this.#record(field, record, key, signal);
    if (!rows || row >= rows.path.length) return undefined;
    const raw = rows.raw[row];
    if (raw) return { kind: 'inline', bytes: raw };
    const path = rows.path[row];
    if (path === null || path === undefined || path === '') return undefined;
    const url = resolveTarget(path, this.#root, key);
    const offset = rows.offset[row]!;
    const length = rows.size[row]!;
    return offset === 0 && length === 0 ? { kind: 'whole', url } : { kind: 'range', url, offset, length };
  }

  /** The keys of the Zarr metadata documents in `.zmetadata`. */
  metadataKeys(): string[] {
    return Object.keys(this.#metadata).filter(isMetadataKey);
  }

  /** The number of chunks along each axis of `field`, from its `.zarray`; `[1]` for a scalar (as fsspec). */
  #grid(field: string): number[] | undefined {
    const known = this.#grids.get(field);
    if (known) return known;
    const zarray = this.#metadata[`${field}/.zarray`];
    if (zarray === undefined) return undefined;
    const { shape, chunks } = (typeof zarray === 'string' ? JSON.parse(zarray) : zarray) as { shape?: unknown; chunks?: unknown };
    if (!Array.isArray(shape) || !Array.isArray(chunks) || shape.length !== chunks.length) {
      throw new ReferenceFormatError(`${field}/.zarray in ${this.#root}.zmetadata has no matching "shape" and "chunks"`);
    }
    const grid = shape.map((s: number, i) => Math.ceil(s / (chunks[i] as number)));
    const result = grid.length === 0 ? [1] : grid;
    this.#grids.set(field, result);
    return result;
  }

  /** The C-order index of chunk key `0.3.1` in `grid` (numpy's `ravel_multi_index`), or undefined if it is not one. */
  #chunkNumber(name: string, grid: readonly number[]): number | undefined {
    const parts = name.split('.');
    if (parts.length !== grid.length || parts.some((p) => !/^\d+$/.test(p))) return undefined;
    let n = 0;
    for (let d = 0; d < grid.length; d++) {
      const i = Number(parts[d]);
      if (i >= grid[d]!) return undefined;
      n = n * grid[d]! + i;
    }
    return n;
  }

  #record(field: string, record: number, key: string, signal: AbortSignal | undefined): Promise<RecordRows | undefined> {
    const url = `${this.#root}${field}/refs.${record}.parq`;
    let rows = this.#records.get(url);
    if (!rows) {
      const loading = this.#load(url, key, signal);
      this.#records.set(url, loading);
      loading.then(
        (found) => {
          // A record file that does not exist is remembered no longer than the reader's metadata TTL.
          if (found === undefined) setTimeout(() => this.#records.get(url) === loading && this.#records.delete(url), this.#reader.options.metaTtlMs).unref();
        },
        () => this.#records.get(url) === loading && this.#records.delete(url), // a failed load is tried again next time
      );
      rows = loading;
    }
    return rows;
  }

  async #load(url: string, key: string, signal: AbortSignal | undefined): Promise<RecordRows | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await readWhole(this.#reader, url, { signal });
    } catch (e) {
      if (ObjectNotFoundError.is(e)) return undefined; // as fsspec: no record file, no references in it
      if (signal?.aborted) throw e;
      throw new ReferenceTargetError(key, url, e);
    }
    let objects: Record<string, unknown>[];
    try {
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      objects = await parquetReadObjects({ file, columns: ['path', 'offset', 'size', 'raw'], compressors, utf8: false });
    } catch (e) {
      throw new ReferenceFormatError(`${url} is not a readable references Parquet file: ${e instanceof Error ? e.message : String(e)}`, { path: url, cause: e });
    }
    return {
      path: objects.map((o) => (o.path instanceof Uint8Array ? decoder.decode(o.path) : typeof o.path === 'string' ? o.path : null)),
      offset: objects.map((o) => toNumber(o.offset)),
      size: objects.map((o) => toNumber(o.size)),
      raw: objects.map((o) => (o.raw instanceof Uint8Array ? o.raw : typeof o.raw === 'string' ? encoder.encode(o.raw) : null)),
    };
  }
}
