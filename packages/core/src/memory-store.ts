import { ConfigError } from './errors.js';
import type { CacheStore, StoreEntry } from './store.js';

export interface MemoryStoreOptions {
  /** Upper bound of the bytes held (values plus key lengths); least recently used entries go first. Default 256 MiB. */
  maxBytes?: number;
}

interface Slot {
  value: Uint8Array;
  expiresAt: number; // ms since epoch; Infinity for no expiry
  bytes: number;
}

/**
 * An in-process LRU byte store bounded by bytes: the embedded default when no Redis is configured, and a fine
 * store for a single long-lived process. It is not shared between processes.
 *
 * Values are copied on write and on read, so no caller can change what is cached.
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
    const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new ConfigError(`MemoryStore: maxBytes must be a positive integer, got ${String(options.maxBytes)}`);
    }
    this.maxBytes = maxBytes;
  }

  /** Bytes currently held. */
  get size(): number {
    return this.#bytes;
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
      return new Uint8Array(slot.value); // a copy (Buffer#slice is a view): the caller may change it
    });
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    const now = Date.now();
    for (const { key, value, ttlMs } of entries) {
      this.#remove(key);
      const bytes = value.byteLength + key.length;
      if (bytes > this.maxBytes) continue; // would evict everything and still not fit
      this.#slots.set(key, { value: new Uint8Array(value), expiresAt: ttlMs === null ? Infinity : now + ttlMs, bytes });
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
