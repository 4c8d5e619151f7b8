import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from './input-errors.js';
import { mapLateAnswer } from './late-answers.js';
import type { FetchCoordinator, LookupAndClaimOptions, LookupClaimResult } from './coordinator.js';
import type { CacheStore, GetManyOptions, StoreEntry } from './store.js';

const TAG = 32; // HMAC-SHA256

export interface IntegrityOptions {
  /** The shared secret of the readers that trust each other (at least 16 bytes). Keep it out of Redis. */
  secret: string | Uint8Array;
}

/**
 * A {@link CacheStore} decorator that stores an HMAC-SHA256 tag after every value, computed over the key and the
 * value, and verifies it on every read. Someone who can write to Redis but lacks the secret cannot make readers
 * accept forged bytes (or metadata): a value whose tag does not verify reads as a miss, is deleted, and is
 * fetched from the origin again. The tag covers the key, so a valid value copied under another key is rejected
 * too. Costs one HMAC per value written and read, and one copy each way (measured in the benchmark).
 *
 * @example
 * ```ts
 * const reader = new AsyncCachingReader({ fetcher, store: new RedisStore({ client }), integrity: { secret: process.env.CACHE_SECRET! } });
 * ```
 */
export class IntegrityStore implements CacheStore {
  readonly inner: CacheStore;
  /** Values (and metadata) whose tag did not verify: rejected, deleted, read as misses. */
  readonly counters = { integrityRejected: 0 };
  #secret: Buffer;
  #onReject: (key: string) => void;

  readonly coordinator: FetchCoordinator | undefined;

  constructor(inner: CacheStore, options: IntegrityOptions, onReject: (key: string) => void = () => {}) {
    const secret = typeof options?.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options?.secret ? Buffer.from(options.secret) : undefined;
    if (!secret || secret.byteLength < 16) throw new ConfigError('integrity.secret must be a string or bytes of at least 16 bytes');
    this.inner = inner;
    this.#secret = secret;
    this.#onReject = onReject;
    // The coordinator's lookup returns stored values too: they are verified like getMany's, never passed on raw.
    this.coordinator = inner.coordinator
      ? verifyingCoordinator(inner.coordinator, (keys, results) => this.#verifyResults(keys, results), (entries) => this.#tagged(entries))
      : undefined;
  }

  async getMany(keys: readonly string[], options?: GetManyOptions): Promise<(Uint8Array | null)[]> {
    let values: (Uint8Array | null)[];
    try {
      values = await this.inner.getMany(keys, withTags(options));
    } catch (e) {
      throw mapLateAnswer(e, (a) => this.#verifiedValues(keys, a as (Uint8Array | null)[]));
    }
    return this.#verifiedValues(keys, values);
  }

  /** Stored values with their tags checked and removed; a forged one is a miss (and is deleted). */
  #verifiedValues(keys: readonly string[], values: readonly (Uint8Array | null)[]): (Uint8Array | null)[] {
    const forged: string[] = [];
    const out = values.map((v, i) => (v === null ? null : this.#verified(keys[i]!, v, forged)));
    this.#dropForged(forged);
    return out;
  }

  /** A lease lookup's results with each value verified; a forged one becomes an empty value (and is deleted). */
  #verifyResults(keys: readonly string[], results: readonly LookupClaimResult[]): LookupClaimResult[] {
    const forged: string[] = [];
    const out = results.map((r, i) => (typeof r === 'string' ? r : this.#verified(keys[i]!, r, forged) ?? new Uint8Array(0)));
    this.#dropForged(forged);
    return out;
  }

  #verified(key: string, v: Uint8Array, forged: string[]): Uint8Array | null {
    if (v.byteLength >= TAG) {
      const data = v.subarray(0, v.byteLength - TAG);
      if (timingSafeEqual(this.#tag(key, data), v.subarray(v.byteLength - TAG))) return data;
    }
    forged.push(key);
    this.counters.integrityRejected++;
    this.#onReject(key);
    return null;
  }

  #dropForged(forged: string[]): void {
    if (forged.length > 0) this.inner.deleteMany(forged).catch(() => {});
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    await this.inner.setMany(this.#tagged(entries));
  }

  /** Each entry with its tag appended. */
  #tagged(entries: readonly StoreEntry[]): StoreEntry[] {
    return entries.map((e) => {
      const tagged = Buffer.allocUnsafe(e.value.byteLength + TAG);
      tagged.set(e.value, 0);
      tagged.set(this.#tag(e.key, e.value), e.value.byteLength);
      return { key: e.key, value: tagged, ttlMs: e.ttlMs };
    });
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    return this.inner.deleteMany(keys);
  }

  deleteByPrefix(prefix: string): Promise<number> {
    return this.inner.deleteByPrefix(prefix);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #tag(key: string, data: Uint8Array): Buffer {
    return createHmac('sha256', this.#secret).update(key, 'utf8').update('\0').update(data).digest();
  }
}

/** Stored values carry their tag, so the inner store should expect that much more of each known length. */
function withTags(options?: { expectedBytes?: readonly number[] }): { expectedBytes: readonly number[] } | undefined {
  const expected = options?.expectedBytes;
  return expected ? { expectedBytes: expected.map((n) => (n > 0 ? n + TAG : 0)) } : undefined;
}

/**
 * `inner` with a `lookupAndClaim` whose values are verified: a value whose tag fails comes back as an empty
 * value (the reader sees the wrong length, counts it corrupt and fetches the piece itself, without a lease) and
 * is deleted. A late answer of a timed-out lookup (`StoreTimeoutError.answer`) is verified the same way.
 */
function verifyingCoordinator(
  inner: FetchCoordinator,
  verify: (keys: readonly string[], results: readonly LookupClaimResult[]) => LookupClaimResult[],
  tag: (entries: readonly StoreEntry[]) => StoreEntry[],
): FetchCoordinator {
  const lookupAndClaim = inner.lookupAndClaim;
  const wrapped: FetchCoordinator = {
    claim: (keys, ttlMs) => inner.claim(keys, ttlMs),
    release: (keys) => inner.release(keys),
    waitForRelease: (keys, timeoutMs, signal) => inner.waitForRelease(keys, timeoutMs, signal),
    close: () => inner.close(),
  };
  if (inner.extend) wrapped.extend = (keys, ttlMs) => inner.extend!(keys, ttlMs);
  // Values written with a lease release are tagged like setMany's: an untagged value would read as forged.
  if (inner.writeAndRelease) wrapped.writeAndRelease = (entries) => inner.writeAndRelease!(tag(entries));
  if (lookupAndClaim) {
    wrapped.lookupAndClaim = async (keys: readonly string[], ttlMs: number, options?: LookupAndClaimOptions) => {
      try {
        return verify(keys, await lookupAndClaim.call(inner, keys, ttlMs, withTags(options)));
      } catch (e) {
        throw mapLateAnswer(e, (a) => verify(keys, a as LookupClaimResult[]));
      }
    };
  }
  return wrapped;
}
