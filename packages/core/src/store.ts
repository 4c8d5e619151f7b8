/** The interface a cache store implements. Values are raw bytes; the reader checks their length. */
import type { FetchCoordinator } from './coordinator.js';

/** One value to write, with its time to live in milliseconds (`null`: never expires). */
export interface StoreEntry {
  key: string;
  value: Uint8Array;
  ttlMs: number | null;
}

/**
 * Tells a store to stop writing into a caller's memory (see {@link GetManyOptions.into}). Lighter than an
 * AbortSignal, which costs microseconds per listener on every warm read.
 */
export interface IntoSignal {
  readonly aborted: boolean;
  /** Calls `listener` once, when the signal aborts (at once if it has). Returns a function that unsubscribes. */
  subscribe(listener: () => void): () => void;
}

/**
 * An {@link IntoSignal} to abort.
 *
 * @example
 * ```ts
 * const stop = new IntoStop();
 * const values = store.getMany(keys, { into: buffers, intoSignal: stop });
 * stop.abort(); // the caller gave up: nothing more is written into `buffers`
 * ```
 */
export class IntoStop implements IntoSignal {
  #aborted = false;
  #listeners: (() => void)[] = [];

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    for (const listener of this.#listeners.splice(0)) listener();
  }

  subscribe(listener: () => void): () => void {
    if (this.#aborted) {
      listener();
      return () => {};
    }
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }
}

/** Options of {@link CacheStore.getMany}. */
export interface GetManyOptions {
  /**
   * `expectedBytes[i]`, where given and > 0, is the length the caller expects for `keys[i]`. It is only a hint
   * (the caller still checks lengths): a networked store sizes its time budget and its batching by it, so that a
   * big read of a healthy store is not mistaken for a stalled one. Stores may ignore it.
   */
  expectedBytes?: readonly number[];
  /**
   * `into[i]`, where given, is the caller's memory for `keys[i]`'s value: a store may write the value there,
   * when it has exactly `into[i].byteLength` bytes, and return `into[i]` itself (or a view of the same memory)
   * instead of a new array; it saves an allocation and a copy. A store never writes into `into` once
   * `intoSignal` has aborted or its call has settled (a late reply goes to memory of its own, or is dropped).
   * Stores may ignore it.
   */
  into?: readonly (Uint8Array | undefined)[];
  /** Aborted when the caller no longer wants `into` written (its read was aborted or given up). */
  intoSignal?: IntoSignal;
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
   * See {@link GetManyOptions} for the size hints and the caller's memory a store may read values into.
   */
  getMany(keys: readonly string[], options?: GetManyOptions): Promise<(Uint8Array | null)[]>;
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
  /**
   * Adds `counters` to the integer fields of the hash at `key` (Redis `HINCRBY`), where many readers add up their
   * counters for operators (`ReaderOptions.sharedStats`, `rangecache stats`). Absent: the store keeps no shared
   * counters.
   */
  addCounters?(key: string, counters: Readonly<Record<string, number>>): Promise<void>;
  /** Releases what the store opened itself (not a client you passed in). */
  close?(): Promise<void>;
}
