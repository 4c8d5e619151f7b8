import { LRUCache } from 'lru-cache';
import { ConfigError } from './input-errors.js';
import { LeaseTable, withLeases } from './memory-coordinator.js';
import type { CacheStore, GetManyOptions, StoreEntry } from './store.js';

export interface MemoryStoreOptions {
  /**
   * Upper bound of the memory held, in bytes: the values plus an estimate of each entry's own cost (its key and
   * bookkeeping, see {@link MemoryStore}). Least recently used entries go first. A positive safe integer;
   * default 256 MiB.
   */
  maxBytes?: number;
}

/**
 * Values up to this many bytes are held as one-byte strings (one V8 heap object of 16 bytes plus the bytes),
 * larger ones as an exactly sized Uint8Array. A typed array costs about 350 bytes of heap and native memory
 * beside its bytes (the view, its ArrayBuffer, the backing store and its malloc block), which is what made a
 * store of small values use several times `maxBytes`; above 16 KiB that is under 3 %.
 */
const STRING_MAX_BYTES = 16 * 1024;

/**
 * The estimated cost of one entry beside its value bytes and its key's characters (each counted twice: a key
 * may be a two-byte string, and the cache holds it besides whatever built it): lru-cache's Map entry and its
 * share of the hash table, its per-entry slots (key, value, links, size, TTL start and length), the string
 * header or the typed array's objects. Measured on Node 20 after gc, with 66-character keys and a TTL: about
 * 165 bytes of heap per entry beside a 100-byte value string and its key (200k entries); about 330 bytes of
 * heap and external memory, about 900 of RSS, beside a 20000-byte typed array and its key (20k entries).
 */
const STRING_ENTRY_OVERHEAD = 128;
const ARRAY_ENTRY_OVERHEAD = 512;

/**
 * An in-process LRU byte store bounded by bytes: the embedded default when no Redis is configured, and a fine
 * store for a single long-lived process. It is not shared between processes. The LRU order, the byte bound and
 * the per-entry TTLs are kept by `lru-cache` (`maxSize` with a per-entry size, `ttl` per entry).
 *
 * Values are copied on write into memory of exactly their size (never kept as views, which would pin the
 * caller's larger buffer) and copied again on read, so no caller can change what is cached and every returned
 * array is the caller's own. `maxBytes` bounds what the entries really cost, not only their value bytes: each
 * entry counts its value's length, twice its key's length and an estimated per-entry overhead (128 bytes for
 * values up to 16 KiB, held as strings; 512 bytes for larger ones), so the heap used stays within a small
 * factor of `maxBytes` however small the values are. An entry that alone costs more than `maxBytes` is not
 * kept (and replaces nothing but an older value under its own key). An entry's TTL counts from its write; an
 * expired entry reads as missing and is dropped when next looked at or evicted.
 *
 * @example
 * ```ts
 * const store = new MemoryStore({ maxBytes: 512 << 20 });
 * const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store });
 * await store.setMany([{ key: 'k', value: new Uint8Array([1, 2]), ttlMs: 60_000 }]);
 * const [v] = await store.getMany(['k']); // a new Uint8Array [1, 2], the caller's own
 * ```
 */
export class MemoryStore implements CacheStore {
  readonly maxBytes: number;
  // A string holds one byte per character (latin1). Sizes are positive integers: entryCost() is at least 128.
  readonly #cache: LRUCache<string, string | Uint8Array>;
  readonly #leases = new LeaseTable();

  constructor(options: MemoryStoreOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigError(`MemoryStore: options must be an object, got ${options === null ? 'null' : typeof options}`);
    }
    const maxBytes = options.maxBytes === undefined ? 256 * 1024 * 1024 : options.maxBytes; // null is refused
    if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new ConfigError(`MemoryStore: maxBytes must be a positive integer, got ${describe(options.maxBytes)}`);
    }
    this.maxBytes = maxBytes;
    this.#cache = new LRUCache<string, string | Uint8Array>({
      maxSize: maxBytes, // maxEntrySize defaults to it: a bigger entry is not kept
      // Read the clock at every TTL check. The default (1) keeps a reading until a 1 ms timer fires: a clock that
      // stands still while the event loop is busy, and a pending timer that keeps the cache reachable.
      ttlResolution: 0,
      sizeCalculation: (value, key) => entryCost(key, value.length),
    });
  }

  /** Bytes currently counted against `maxBytes` (values, keys and the per-entry estimate). */
  get size(): number {
    return this.#cache.calculatedSize;
  }

  /** The number of entries held (expired ones not yet looked at included). */
  get entries(): number {
    return this.#cache.size;
  }

  /**
   * This store with leases, for one reader of a fleet in this process: readers built on views from the same store
   * fetch each missing piece once between them, as processes sharing a `RedisStore` do (see {@link MemoryCoordinator}).
   *
   * @example
   * ```ts
   * const shared = new MemoryStore();
   * const readers = [1, 2, 3].map(() => new AsyncCachingReader({ fetcher, store: shared.withLeases() }));
   * ```
   */
  withLeases(): CacheStore {
    return withLeases(this, this.#leases);
  }

  /** Values are copies; a value is copied into `options.into[i]` where that has its exact length. */
  async getMany(keys: readonly string[], options?: GetManyOptions): Promise<(Uint8Array | null)[]> {
    const into = options?.intoSignal?.aborted ? undefined : options?.into;
    return keys.map((key, i) => {
      const value = this.#cache.get(key); // most recently used now; an expired entry is dropped, undefined
      return value === undefined ? null : copyOut(value, into?.[i]);
    });
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    for (const { key, value, ttlMs } of entries) {
      // lru-cache reads a ttl of 0 as "no expiry": a TTL that is already over is a delete instead, as is an
      // entry bigger than the store (checked before copying it). null, Infinity and NaN never expire.
      if (entryCost(key, value.byteLength) > this.maxBytes || (ttlMs !== null && ttlMs <= 0)) {
        this.#cache.delete(key);
        continue;
      }
      const ttl = ttlMs === null || !Number.isFinite(ttlMs) ? 0 : ttlMs;
      this.#cache.set(key, copyIn(value), { ttl }); // evicts least recently used entries until it fits
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#cache.delete(key);
  }

  /** Drops every entry (the store holds nothing else to release). */
  async close(): Promise<void> {
    this.#cache.clear();
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    this.#cache.purgeStale(); // expired entries are gone already: dropped here, not counted
    let n = 0;
    for (const key of [...this.#cache.keys()]) {
      if (key.startsWith(prefix) && this.#cache.delete(key)) n++;
    }
    return n;
  }
}

/** What an entry of `key` with a value of `length` bytes counts against `maxBytes`. */
function entryCost(key: string, length: number): number {
  return length + 2 * key.length + (length <= STRING_MAX_BYTES ? STRING_ENTRY_OVERHEAD : ARRAY_ENTRY_OVERHEAD);
}

/** A copy of `value` in memory of exactly its size, sharing nothing with the caller's buffer. */
function copyIn(value: Uint8Array): string | Uint8Array {
  if (value.byteLength <= STRING_MAX_BYTES) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  }
  return new Uint8Array(value); // copies into a new ArrayBuffer of exactly byteLength
}

/**
 * The held bytes in the caller's `into` where it has their exact length, else in a fresh, exactly sized
 * Uint8Array (not a view into a pooled slab): the caller's own either way.
 */
function copyOut(value: string | Uint8Array, into: Uint8Array | undefined): Uint8Array {
  const out = into?.byteLength === value.length ? into : new Uint8Array(value.length);
  if (typeof value !== 'string') out.set(value);
  else Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(value, 0, out.byteLength, 'latin1');
  return out;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' && value !== null ? Object.prototype.toString.call(value) : String(value);
}
