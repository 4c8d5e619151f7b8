/**
 * Two tiers: a small in-process store in front of a shared one. A service that serves the same hot chunks many
 * times reads them from its own memory (about 20 µs for 64 KiB) instead of Redis (a round trip, about 250 µs on
 * the benchmark machine), and still shares what it fetches with the fleet.
 */
import { ConfigError } from './input-errors.js';
import type { FetchCoordinator, LookupAndClaimOptions, LookupClaimResult } from './coordinator.js';
import { mapLateAnswer } from './late-answers.js';
import type { CacheStore, GetManyOptions, StoreEntry } from './store.js';

export interface TieredStoreOptions {
  /** The in-process tier, usually a `MemoryStore` bounded by `maxBytes`. Its values must be copies (MemoryStore's are). */
  near: CacheStore;
  /** The shared tier (a `RedisStore`): the one that counts. Its failures are the tiered store's failures. */
  far: CacheStore;
  /**
   * How long a value read from `far` stays in `near`, ms (default 60000, the reader's default `metaTtlMs`). A value
   * written through this store stays in `near` for its own TTL, capped at this. Data keys name the object's
   * version, so a changed object never reads old bytes from `near`; where the origin's validators are weak (the
   * reader caps TTLs at `metaTtlMs` then), keep this at or below the reader's `metaTtlMs`. Another process's
   * `invalidate()` reaches this process's `near` only when this cap has passed.
   */
  maxAgeMs?: number;
}

/**
 * A {@link CacheStore} of two tiers: lookups try `near` first and go to `far` for the rest, filling `near` with
 * what `far` had; writes and deletes go to both. The coordinator (leases) is `far`'s, with writes filling `near`
 * too and lease lookups answered from `near` where it can.
 *
 * @example
 * ```ts
 * const store = new TieredStore({ near: new MemoryStore({ maxBytes: 256 << 20 }), far: new RedisStore({ client }) });
 * const reader = new AsyncCachingReader({ fetcher: new HttpFetcher(), store });
 * ```
 */
export class TieredStore implements CacheStore {
  readonly near: CacheStore;
  readonly far: CacheStore;
  readonly maxAgeMs: number;
  /** Keys found in `near`, and keys that went on to `far` (whether `far` had them or not). */
  readonly counters = { nearHits: 0, nearMisses: 0 };
  readonly coordinator: FetchCoordinator | undefined;
  /** The far tier's shared counters, where it keeps them (see {@link CacheStore.addCounters}). */
  readonly addCounters?: (key: string, counters: Readonly<Record<string, number>>) => Promise<void>;

  constructor(options: TieredStoreOptions) {
    for (const tier of ['near', 'far'] as const) {
      const store = options?.[tier] as Partial<CacheStore> | undefined;
      for (const m of ['getMany', 'setMany', 'deleteMany', 'deleteByPrefix'] as const) {
        if (typeof store?.[m] !== 'function') throw new ConfigError(`TieredStore: options.${tier} must implement CacheStore (missing ${m})`);
      }
    }
    const maxAgeMs = options.maxAgeMs ?? 60_000;
    if (typeof maxAgeMs !== 'number' || !(maxAgeMs > 0) || !Number.isFinite(maxAgeMs)) {
      throw new ConfigError(`TieredStore: maxAgeMs must be a positive finite number of ms (got ${String(maxAgeMs)})`);
    }
    if (options.near.coordinator) throw new ConfigError('TieredStore: options.near must not offer leases (use a MemoryStore without withLeases())');
    this.near = options.near;
    this.far = options.far;
    this.maxAgeMs = maxAgeMs;
    this.coordinator = this.far.coordinator ? this.#tieredCoordinator(this.far.coordinator) : undefined;
    const far = this.far;
    if (far.addCounters) this.addCounters = (key, counters) => far.addCounters!(key, counters);
  }

  async getMany(keys: readonly string[], options?: GetManyOptions): Promise<(Uint8Array | null)[]> {
    const into = options?.into;
    const expected = options?.expectedBytes;
    return this.#nearThenFar(keys, into ? { into, intoSignal: options.intoSignal } : undefined, (missing) => {
      const farOptions: GetManyOptions = { intoSignal: options?.intoSignal };
      if (expected) farOptions.expectedBytes = pick(expected, missing, 0);
      if (into) farOptions.into = pick(into, missing, undefined);
      return this.far.getMany(pick(keys, missing, ''), farOptions);
    });
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    this.#fillWritten(entries);
    await this.far.setMany(entries);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    await Promise.all([this.near.deleteMany(keys), this.far.deleteMany(keys)]);
  }

  /** Deletes from both tiers; the count is `far`'s (the shared tier's). */
  async deleteByPrefix(prefix: string): Promise<number> {
    const [, deleted] = await Promise.all([this.near.deleteByPrefix(prefix), this.far.deleteByPrefix(prefix)]);
    return deleted;
  }

  /** Closes both tiers (each closes only what it opened itself). */
  async close(): Promise<void> {
    await Promise.all([this.near.close?.(), this.far.close?.()]);
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** `near`'s values for `keys` (a failing near tier is empty: `far` still answers). */
  async #fromNear(keys: readonly string[], options?: GetManyOptions): Promise<(Uint8Array | null)[]> {
    let out: (Uint8Array | null)[];
    try {
      out = await this.near.getMany(keys, options);
    } catch {
      out = keys.map(() => null);
    }
    for (const v of out) v ? this.counters.nearHits++ : this.counters.nearMisses++;
    return out;
  }

  /**
   * `keys` from `near`, and those it lacks from `far` (`askFar` gets their positions), keeping in `near` for
   * `maxAgeMs` the values `far` had.
   */
  async #nearThenFar<R>(keys: readonly string[], nearOptions: GetManyOptions | undefined, askFar: (missing: number[]) => Promise<readonly R[]>): Promise<(Uint8Array | R | null)[]> {
    const out: (Uint8Array | R | null)[] = await this.#fromNear(keys, nearOptions);
    const missing = indexesOf(out, (v) => v === null);
    if (missing.length === 0) return out;
    let answers: readonly R[];
    try {
      answers = await askFar(missing);
    } catch (e) {
      // A late answer of `far` covers only the keys `near` lacked: in place among near's, it answers for every key.
      throw mapLateAnswer(e, (late) => {
        if (!Array.isArray(late) || late.length !== missing.length) return undefined;
        const all = [...out];
        missing.forEach((i, k) => { all[i] = (late[k] as R | undefined) ?? null; });
        return all;
      });
    }
    const fill: StoreEntry[] = [];
    missing.forEach((i, k) => {
      const answer = answers[k] ?? null;
      out[i] = answer;
      if (answer instanceof Uint8Array) fill.push({ key: keys[i]!, value: answer, ttlMs: this.maxAgeMs });
    });
    this.#fill(fill);
    return out;
  }

  /** Writes to `near`, never failing the caller: it is a cache of a cache. */
  #fill(entries: readonly StoreEntry[]): void {
    if (entries.length > 0) this.near.setMany(entries).catch(() => {});
  }

  /** What is written to `far` goes to `near` too, for its own TTL capped at `maxAgeMs`. */
  #fillWritten(entries: readonly StoreEntry[]): void {
    this.#fill(entries.map((e) => ({ ...e, ttlMs: e.ttlMs === null ? this.maxAgeMs : Math.min(e.ttlMs, this.maxAgeMs) })));
  }

  /** `far`'s coordinator, with lease lookups tried in `near` first and landed values kept in `near` too. */
  #tieredCoordinator(far: FetchCoordinator): FetchCoordinator {
    const tiered: FetchCoordinator = {
      claim: (keys, ttlMs) => far.claim(keys, ttlMs),
      release: (keys) => far.release(keys),
      waitForRelease: (keys, timeoutMs, signal) => far.waitForRelease(keys, timeoutMs, signal),
      close: () => far.close(),
    };
    if (far.extend) tiered.extend = (keys, ttlMs) => far.extend!(keys, ttlMs);
    if (far.writeAndRelease) {
      tiered.writeAndRelease = async (entries) => {
        this.#fillWritten(entries);
        await far.writeAndRelease!(entries);
      };
    }
    if (far.lookupAndClaim) {
      tiered.lookupAndClaim = async (keys: readonly string[], ttlMs: number, options?: LookupAndClaimOptions): Promise<LookupClaimResult[]> => {
        const expected = options?.expectedBytes;
        const out = await this.#nearThenFar(keys, undefined, (missing) =>
          far.lookupAndClaim!(pick(keys, missing, ''), ttlMs, expected ? { expectedBytes: pick(expected, missing, 0) } : undefined));
        return out as LookupClaimResult[]; // every key answered: by near, or by far (a value, landed, claimed or busy)
      };
    }
    return tiered;
  }
}

/** `values` at `positions` (`fallback` where a position is past the end). */
function pick<T>(values: readonly T[], positions: readonly number[], fallback: T): T[] {
  return positions.map((i) => values[i] ?? fallback);
}

function indexesOf<T>(values: readonly T[], test: (v: T) => boolean): number[] {
  const out: number[] = [];
  values.forEach((v, i) => { if (test(v)) out.push(i); });
  return out;
}
