/**
 * Leases in one process: the fleet's single flight over a {@link MemoryStore}, so that several readers in one
 * process (or tests of fleet behaviour without Redis) share each missing piece's origin fetch the way processes
 * sharing a Redis do.
 */
import type { ClaimResult, FetchCoordinator, LookupClaimResult } from './coordinator.js';
import type { CacheStore, StoreEntry } from './store.js';

interface Lease {
  owner: MemoryCoordinator;
  expiresAt: number;
}

/** The leases and waiters shared by the coordinators of one store. */
export class LeaseTable {
  readonly leases = new Map<string, Lease>();
  /** Per key: the coordinators counted as its waiters (their claim found it busy). */
  readonly waiters = new Map<string, Set<MemoryCoordinator>>();

  /** The live lease on `key`, if any (an expired one is dropped). */
  live(key: string): Lease | undefined {
    const lease = this.leases.get(key);
    if (lease && lease.expiresAt <= Date.now()) {
      this.leases.delete(key);
      return undefined;
    }
    return lease;
  }
}

/**
 * A {@link FetchCoordinator} over a store in this process: one per reader, all sharing the store's
 * {@link LeaseTable}. Semantics as `RedisCoordinator`'s: a lease expires unless extended, a release wakes the
 * coordinators that found the key busy, and an expiry wakes nobody (waiters look again after their timeout).
 *
 * @example
 * ```ts
 * const shared = new MemoryStore();
 * const a = new AsyncCachingReader({ fetcher, store: shared.withLeases() });
 * const b = new AsyncCachingReader({ fetcher, store: shared.withLeases() });
 * await Promise.all([a.readRange(url, 0, 1 << 20), b.readRange(url, 0, 1 << 20)]); // one origin fetch
 * ```
 */
export class MemoryCoordinator implements FetchCoordinator {
  readonly #store: CacheStore;
  readonly #table: LeaseTable;
  /** Keys released since this coordinator last claimed them, not yet reported by waitForRelease. */
  #released = new Set<string>();
  /** Waits in progress: each looks whether a release concerns it. */
  #wakes = new Set<() => void>();
  #closed = false;

  constructor(store: CacheStore, table: LeaseTable) {
    this.#store = store;
    this.#table = table;
  }

  async claim(keys: readonly string[], ttlMs: number): Promise<ClaimResult[]> {
    const values = await this.#store.getMany(keys);
    return keys.map((key, i) => (values[i] ? 'landed' : this.#take(key, ttlMs)));
  }

  async lookupAndClaim(keys: readonly string[], ttlMs: number): Promise<LookupClaimResult[]> {
    const values = await this.#store.getMany(keys);
    return keys.map((key, i) => values[i] ?? this.#take(key, ttlMs));
  }

  async extend(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    return keys.map((key) => {
      const lease = this.#table.live(key);
      if (lease?.owner !== this) return false;
      lease.expiresAt = Date.now() + ttlMs;
      return true;
    });
  }

  async writeAndRelease(entries: readonly StoreEntry[]): Promise<void> {
    await this.#store.setMany(entries);
    await this.release(entries.map((e) => e.key));
  }

  async release(keys: readonly string[]): Promise<void> {
    const woken = new Set<MemoryCoordinator>();
    for (const key of keys) {
      if (this.#table.live(key)?.owner !== this) continue;
      this.#table.leases.delete(key);
      for (const waiter of this.#table.waiters.get(key) ?? []) {
        waiter.#released.add(key);
        woken.add(waiter);
      }
      this.#table.waiters.delete(key);
    }
    for (const waiter of woken) for (const wake of [...waiter.#wakes]) wake();
  }

  waitForRelease(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<readonly string[]> {
    return new Promise((resolve) => {
      const done = (): void => {
        const released = keys.filter((k) => this.#released.has(k));
        if (released.length === 0 && !finished()) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wakes.delete(done);
        for (const k of released) this.#released.delete(k);
        resolve(released);
      };
      // The timer itself says the time is up: Date.now() may still read a millisecond short when it fires, and a
      // wait that then returned unresolved would never be woken again.
      let timedOut = timeoutMs <= 0;
      const finished = (): boolean => this.#closed || signal?.aborted === true || timedOut;
      // Not unref'd: a read waiting for a release keeps the process alive, as Redis's subscriber socket does.
      const timer = setTimeout(() => { timedOut = true; done(); }, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done);
      this.#wakes.add(done);
      done();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of [...this.#wakes]) wake();
  }

  #take(key: string, ttlMs: number): 'claimed' | 'busy' {
    const lease = this.#table.live(key);
    if (lease === undefined || lease.owner === this) {
      this.#table.leases.set(key, { owner: this, expiresAt: Date.now() + ttlMs });
      this.#released.delete(key);
      return 'claimed';
    }
    let waiters = this.#table.waiters.get(key);
    if (!waiters) this.#table.waiters.set(key, (waiters = new Set()));
    waiters.add(this);
    this.#released.delete(key);
    return 'busy';
  }
}

/**
 * `store` seen by one reader of a fleet in this process: its values, with a coordinator of its own over the
 * shared `table`.
 */
export function withLeases(store: CacheStore, table: LeaseTable): CacheStore {
  const coordinator = new MemoryCoordinator(store, table);
  return {
    coordinator,
    getMany: (keys, options) => store.getMany(keys, options),
    setMany: (entries: readonly StoreEntry[]) => store.setMany(entries),
    deleteMany: (keys) => store.deleteMany(keys),
    deleteByPrefix: (prefix) => store.deleteByPrefix(prefix),
  };
}
