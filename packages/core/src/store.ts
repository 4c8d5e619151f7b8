/** The interface a cache store implements. Values are raw bytes; the reader checks their length. */
import type { FetchCoordinator } from './coordinator.js';

/** One value to write, with its time to live in milliseconds (`null`: never expires). */
export interface StoreEntry {
  key: string;
  value: Uint8Array;
  ttlMs: number | null;
}

/**
 * A byte store shared by readers. Implementations: `RedisStore` (shared across processes) and `MemoryStore`
 * (in-process). Every method works on a batch, so that a store can answer a batch in one round trip.
 *
 * @example
 * ```ts
 * const store: CacheStore = new MemoryStore({ maxBytes: 64 << 20 });
 * await store.setMany([{ key: 'k', value: new Uint8Array([1, 2]), ttlMs: 60_000 }]);
 * const [v] = await store.getMany(['k']); // Uint8Array [1, 2]
 * ```
 */
export interface CacheStore {
  /**
   * The values of `keys`, in order; `null` where a key is missing. One round trip. The returned arrays belong
   * to the caller (it may hand them to a user who changes them), so a store must not return its own storage.
   *
   * `options.expectedBytes[i]`, where given and > 0, is the length the caller expects for `keys[i]`. It is only
   * a hint (the caller still checks lengths): a networked store sizes its time budget and its batching by it,
   * so that a big read of a healthy store is not mistaken for a stalled one. Stores may ignore it.
   */
  getMany(keys: readonly string[], options?: { expectedBytes?: readonly number[] }): Promise<(Uint8Array | null)[]>;
  /**
   * Writes all entries, each with its own TTL. One round trip. The values must not be changed until it settles.
   * (A write that also releases leases is the coordinator's: `FetchCoordinator.writeAndRelease`.)
   */
  setMany(entries: readonly StoreEntry[]): Promise<void>;
  /** Deletes the given keys (missing ones are ignored). */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Deletes every key that starts with `prefix` and returns how many were deleted. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** Leases that let processes sharing this store fetch each missing piece once (absent: no fleet coordination). */
  readonly coordinator?: FetchCoordinator;
  /** Releases what the store opened itself (not a client you passed in). */
  close?(): Promise<void>;
}
