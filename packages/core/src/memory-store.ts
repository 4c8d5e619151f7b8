import { ConfigError } from './errors.js';
import type { CacheStore, StoreEntry } from './store.js';

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
 * may be a two-byte string, and the Map holds it besides whatever built it): the Map entry and its share of
 * the hash table, the slot object, the string header or the typed array's objects. Measured on Node 20 after
 * gc, per entry of 200k with 66-character keys: about 110 bytes of heap beside a value string and its key;
 * about 270 bytes of heap plus about 300 of native memory (seen only in RSS) beside a typed array and its key.
 */
const STRING_ENTRY_OVERHEAD = 128;
const ARRAY_ENTRY_OVERHEAD = 512;

interface Slot {
  value: string | Uint8Array; // a string holds one byte per character (latin1)
  expiresAt: number; // ms since epoch; Infinity for no expiry
  bytes: number; // what this entry counts against maxBytes
}

/**
 * An in-process LRU byte store bounded by bytes: the embedded default when no Redis is configured, and a fine
 * store for a single long-lived process. It is not shared between processes.
 *
 * Values are copied on write into memory of exactly their size (never kept as views, which would pin the
 * caller's larger buffer) and copied again on read, so no caller can change what is cached and every returned
 * array is the caller's own. `maxBytes` bounds what the entries really cost, not only their value bytes: each
 * entry counts its value's length, twice its key's length and an estimated per-entry overhead (128 bytes for
 * values up to 16 KiB, held as strings; 512 bytes for larger ones), so the heap used stays within a small
 * factor of `maxBytes` however small the values are.
 *
 * @example
 * ```ts
 * const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore({ maxBytes: 512 << 20 }) });
 * ```
 */
export class MemoryStore implements CacheStore {
  readonly maxBytes: number;
  #slots = new Map<string, Slot>(); // Map keeps insertion order: the first entry is the least recently used
  #bytes = 0;

  constructor(options: MemoryStoreOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigError(`MemoryStore: options must be an object, got ${options === null ? 'null' : typeof options}`);
    }
    const maxBytes = options.maxBytes === undefined ? 256 * 1024 * 1024 : options.maxBytes; // null is refused
    if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new ConfigError(`MemoryStore: maxBytes must be a positive integer, got ${describe(options.maxBytes)}`);
    }
    this.maxBytes = maxBytes;
  }

  /** Bytes currently counted against `maxBytes` (values, keys and the per-entry estimate). */
  get size(): number {
    return this.#bytes;
  }

  /** The number of entries held (expired ones not yet looked at included). */
  get entries(): number {
    return this.#slots.size;
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    const now = Date.now();
    return keys.map((key) => {
      const slot = this.#slots.get(key);
      if (slot === undefined) return null;
      this.#slots.delete(key);
      if (slot.expiresAt <= now) {
        this.#bytes -= slot.bytes;
        return null;
      }
      this.#slots.set(key, slot); // most recently used now
      return copyOut(slot.value);
    });
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    const now = Date.now();
    for (const { key, value, ttlMs } of entries) {
      this.#remove(key);
      const length = value.byteLength;
      const bytes = length + 2 * key.length + (length <= STRING_MAX_BYTES ? STRING_ENTRY_OVERHEAD : ARRAY_ENTRY_OVERHEAD);
      if (bytes > this.maxBytes) continue; // would evict everything and still not fit
      this.#slots.set(key, { value: copyIn(value), expiresAt: ttlMs === null ? Infinity : now + ttlMs, bytes });
      this.#bytes += bytes;
    }
    for (const [key] of this.#slots) {
      if (this.#bytes <= this.maxBytes) break;
      this.#remove(key);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#remove(key);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    let n = 0;
    for (const key of [...this.#slots.keys()]) {
      if (key.startsWith(prefix)) {
        this.#remove(key);
        n++;
      }
    }
    return n;
  }

  #remove(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
  }
}

/** A copy of `value` in memory of exactly its size, sharing nothing with the caller's buffer. */
function copyIn(value: Uint8Array): string | Uint8Array {
  if (value.byteLength <= STRING_MAX_BYTES) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  }
  return new Uint8Array(value); // copies into a new ArrayBuffer of exactly byteLength
}

/** A fresh, exactly sized Uint8Array of the held bytes (not a view into a pooled slab): the caller's own. */
function copyOut(value: string | Uint8Array): Uint8Array {
  if (typeof value !== 'string') return new Uint8Array(value);
  const out = new Uint8Array(value.length);
  Buffer.from(out.buffer, 0, out.length).write(value, 0, out.length, 'latin1');
  return out;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' && value !== null ? Object.prototype.toString.call(value) : String(value);
}
