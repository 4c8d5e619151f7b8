/**
 * Cross-instance single flight: the interface a store offers so that, of many processes missing the same piece
 * at once, one fetches it from the origin and the others wait for it to land in the store.
 */

import type { StoreEntry } from './store.js';

/** What a claim found for one key. */
export type ClaimResult = 'claimed' | 'busy' | 'landed';

/**
 * What {@link FetchCoordinator.lookupAndClaim} found for one key: the stored value itself (raw bytes), or
 * `'landed'` (stored, but not returned: read it with the store's `getMany`), else `'claimed'` (this caller now
 * holds the lease), else `'busy'` (someone else holds it).
 */
export type LookupClaimResult = Uint8Array | 'landed' | 'claimed' | 'busy';

/** Options of {@link FetchCoordinator.lookupAndClaim}. */
export interface LookupAndClaimOptions {
  /**
   * `expectedBytes[i]` is the length the caller expects for `keys[i]` if it is stored (0 or absent: unknown). It
   * sizes the call's time budget, as for `CacheStore.getMany`: a batch that may bring many MiB back is not
   * declared failed for being big.
   */
  expectedBytes?: readonly number[];
}

/**
 * Leases on pieces, shared by every process using the same store.
 *
 * A waiter is told about a release only if Redis counted it as a waiter: a `claim` or `lookupAndClaim` that
 * answered `busy` for the key. So after a wake-up, check the keys you still wait for again with one of those
 * (not with a plain lookup) before waiting again.
 *
 * @example
 * ```ts
 * // The classic cycle: claim, then fetch or wait.
 * const [r] = await coordinator.claim(['k'], 2000);
 * if (r === 'claimed') { await fetchAndWrite(); await coordinator.release(['k']); }
 * else if (r === 'busy') await coordinator.waitForRelease(['k'], 2000);
 * ```
 *
 * @example
 * ```ts
 * // Cold path in one round trip where the coordinator offers it.
 * if (coordinator.lookupAndClaim) {
 *   const results = await coordinator.lookupAndClaim(keys, leaseMs, { expectedBytes });
 *   const mine = keys.filter((_, i) => results[i] === 'claimed');
 *   const busy = keys.filter((_, i) => results[i] === 'busy');
 *   // results[i] instanceof Uint8Array: the value, already read.
 * }
 * ```
 */
export interface FetchCoordinator {
  /**
   * For each key: `landed` if its value is in the store already, else `claimed` if this caller now holds the
   * lease to fetch it (for `ttlMs`), else `busy` (someone else holds it). One round trip. Once this resolves, a
   * release of any `busy` key is sure to wake `waitForRelease`. A lease not extended for `ttlMs` may be taken by
   * another caller: when its TTL runs out (`MemoryCoordinator`), or once that caller has watched it go unextended
   * for `ttlMs` over several claims (`RedisCoordinator`, whose leases so survive a stalled Redis).
   */
  claim(keys: readonly string[], ttlMs: number): Promise<ClaimResult[]>;
  /**
   * Lookup and claim together, in one round trip for a batch of ordinary size (`RedisCoordinator`: up to
   * 32 MiB of `expectedBytes`; bigger batches go in 16 MiB parts, two at a time): for each key, its stored value
   * (raw bytes, byte-exact) if it has one, or `'landed'` where the coordinator leaves a stored value to
   * `getMany` (`RedisCoordinator`: past 256 KiB of values per script); else `'claimed'` if this caller now holds the
   * lease to fetch it (for `ttlMs`), else `'busy'` (someone else holds it; this caller is counted as a waiter, as
   * by `claim`). Once this resolves, a release of any `busy` key is sure to wake `waitForRelease`. The value is
   * returned as stored: checking its length is the caller's job. Optional: a coordinator without it offers
   * `claim` only.
   *
   * @example
   * ```ts
   * const [a, b] = await coordinator.lookupAndClaim!(['k1', 'k2'], 5000, { expectedBytes: [65536, 65536] });
   * if (a instanceof Uint8Array) use(a);
   * if (a === 'landed') use((await store.getMany(['k1']))[0]);
   * if (b === 'claimed') { const v = await fetchFromOrigin(); await coordinator.writeAndRelease!([{ key: 'k2', value: v, ttlMs }]); }
   * if (b === 'busy') await coordinator.waitForRelease(['k2'], 5000);
   * ```
   */
  lookupAndClaim?(keys: readonly string[], ttlMs: number, options?: LookupAndClaimOptions): Promise<LookupClaimResult[]>;
  /**
   * For each key whose lease this caller still holds, extends it to `ttlMs` from now and answers `true`; `false`
   * where the lease is gone or someone else's. One round trip. Call it every third of a lease period or so while a
   * fetch of those keys is still in progress: a slow but live holder keeps its lease, while a dead one stops
   * extending and loses it within a period. Optional.
   *
   * @example
   * ```ts
   * const timer = setInterval(() => void coordinator.extend?.(held, leaseMs).catch(() => {}), leaseMs / 3);
   * try { await fetchFromOrigin(); } finally { clearInterval(timer); }
   * ```
   */
  extend?(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
  /**
   * Writes `entries` to the store (as `CacheStore.setMany`) and then releases this caller's leases on their keys,
   * waking their waiters, in one round trip: a waiter woken by the release finds the value in place. Optional:
   * without it, a caller writes with `setMany` and then calls `release`.
   *
   * @example
   * ```ts
   * const [r] = await coordinator.claim(['k'], 2000);
   * if (r === 'claimed') await coordinator.writeAndRelease!([{ key: 'k', value: await fetchFromOrigin(), ttlMs: 3_600_000 }]);
   * ```
   */
  writeAndRelease?(entries: readonly StoreEntry[]): Promise<void>;
  /** Drops this caller's leases on `keys` (values written, or the fetch failed) and wakes their waiters. */
  release(keys: readonly string[]): Promise<void>;
  /**
   * Resolves when one of `keys` is released by anyone, or after `timeoutMs`, or when `signal` aborts; never
   * rejects. The value names the keys (among `keys`) whose release woke it: all the keys of one release message
   * (a release of many keys wakes a waiter once, not once per key), plus any released since this caller's last
   * `claim`/`lookupAndClaim` of them. It is empty after a timeout or an abort, and holds every key of `keys` when
   * releases may have been missed (the release listener reconnected or failed). Callers that ignore the value
   * keep working.
   *
   * @example
   * ```ts
   * const woken = await coordinator.waitForRelease(pending, leaseMs, signal);
   * const check = woken.length > 0 ? woken : pending; // empty: timed out, check everything
   * const results = await coordinator.lookupAndClaim!(check, leaseMs);
   * ```
   */
  waitForRelease(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<readonly string[]>;
  /** Stops listening for releases (closes the subscriber connection it opened). */
  close(): Promise<void>;
}
