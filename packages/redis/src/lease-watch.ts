/**
 * When a waiter may take a lease over: not when Redis's TTL runs out, but when this process has watched the lease
 * go unextended for a lease period.
 *
 * Redis expires keys by its own clock. A Redis that gets no CPU for a second (a 2-core machine running it beside
 * dozens of busy processes, a fork, a failover pause) lets that clock run on while it answers nobody, holders'
 * extensions included; when it runs again, a lease whose TTL ran out meanwhile is gone, and the first waiter's
 * queued claim takes it over from a holder that is alive and about to write. The same block is then fetched twice.
 *
 * So every extension gives the lease a new version (`<owner>:<version>`), a busy answer carries the holder's
 * version, and this watch remembers, per key, the version this process last saw and since when. A key may be taken
 * over once the same version was seen for at least a lease period, over at least {@link LEASE_CHECKS_BEFORE_TAKEOVER}
 * answers: a stall shows up as at most one answer that comes before the holder's queued extensions (Redis serves
 * the sockets that woke it in any order), so one more answer after the stall sees the new version. Redis's TTL on the
 * lease (a few lease periods) is a backstop for leases nobody waits on.
 *
 * @example
 * ```ts
 * const watch = new LeaseWatch();
 * const stale = watch.staleVersions(keys, leaseMs); // '' where a key may not be taken over
 * // … a claim script sends `stale` per key, and answers -version for a busy key …
 * watch.saw(key, version); // after each busy answer
 * watch.forget(key); // after a claim or a landed value
 * ```
 */
import { setBounded } from '@rangecache/core/store-kit';

/** Answers with the same version, at least a lease apart in all, before a waiter takes the lease over. */
export const LEASE_CHECKS_BEFORE_TAKEOVER = 3;
/** Keys watched at most (the oldest are forgotten first: a forgotten key is watched again from its next answer). */
const MAX_WATCHED_KEYS = 16_384;

interface Sighting {
  readonly version: number;
  /** When this process first saw the version (ms, monotonic). */
  readonly since: number;
  /** Answers that showed it. */
  seen: number;
}

export class LeaseWatch {
  readonly #sightings = new Map<string, Sighting>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /**
   * Records a busy answer for `key` whose holder's lease has `version`; version 0 (this process's own lease, or one
   * without a version) is never taken over, and is not watched.
   */
  saw(key: string, version: number): void {
    if (version === 0) {
      this.#sightings.delete(key);
      return;
    }
    const s = this.#sightings.get(key);
    if (s !== undefined && s.version === version) {
      s.seen++;
      return;
    }
    setBounded(this.#sightings, key, { version, since: this.#now(), seen: 1 }, MAX_WATCHED_KEYS);
  }

  /** Drops what was seen of `key` (this process claimed it, or its value landed). */
  forget(key: string): void {
    this.#sightings.delete(key);
  }

  /**
   * Per key, the version this process may take over (as a decimal string), or `''`; `undefined` when no key may
   * be (the common case: the claim then sends no per-key arguments).
   */
  staleVersions(keys: readonly string[], leaseMs: number): string[] | undefined {
    if (this.#sightings.size === 0) return undefined;
    const now = this.#now();
    let out: string[] | undefined;
    keys.forEach((key, i) => {
      const s = this.#sightings.get(key);
      if (s === undefined || s.seen < LEASE_CHECKS_BEFORE_TAKEOVER || now - s.since < leaseMs) return;
      out ??= new Array<string>(keys.length).fill('');
      out[i] = String(s.version);
    });
    return out;
  }
}
