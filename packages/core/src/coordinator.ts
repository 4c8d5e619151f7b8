/**
 * Cross-instance single flight: the interface a store offers so that, of many processes missing the same piece
 * at once, one fetches it from the origin and the others wait for it to land in the store.
 */

/** What a claim found for one key. */
export type ClaimResult = 'claimed' | 'busy' | 'landed';

/**
 * Leases on pieces, shared by every process using the same store.
 *
 * @example
 * ```ts
 * const [r] = await coordinator.claim(['k'], 2000);
 * if (r === 'claimed') { await fetchAndWrite(); await coordinator.release(['k']); }
 * else if (r === 'busy') await coordinator.waitForRelease(['k'], 2000);
 * ```
 */
export interface FetchCoordinator {
  /**
   * For each key: `landed` if its value is in the store already, else `claimed` if this caller now holds the
   * lease to fetch it (for `ttlMs`), else `busy` (someone else holds it). One round trip. Once this resolves, a
   * release of any `busy` key is sure to wake `waitForRelease`.
   */
  claim(keys: readonly string[], ttlMs: number): Promise<ClaimResult[]>;
  /** Drops this caller's leases on `keys` (values written, or the fetch failed) and wakes their waiters. */
  release(keys: readonly string[]): Promise<void>;
  /** Resolves when one of `keys` is released by anyone, or after `timeoutMs`; never rejects. */
  waitForRelease(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Stops listening for releases (closes the subscriber connection it opened). */
  close(): Promise<void>;
}
