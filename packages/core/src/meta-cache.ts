/**
 * Object metadata (size, version) for the reader: from this process's memory, else the shared store, else the
 * origin's `stat`, with one load per path at a time; and, with `authorize: "origin"`, the check that this
 * reader's credentials may read a path before cached bytes are served to it.
 */
import { setBounded } from './bounded-map.js';
import type { Fetcher, ObjectMeta } from './fetcher.js';
import { metaKey } from './keys.js';
import { decodeMeta, encodeMeta } from './meta-codec.js';
import { checkMeta } from './read-input.js';

/** Paths remembered (metadata, authorizations): the oldest are forgotten past this. */
const MAX_ENTRIES = 10_000;

export interface MetaCacheOptions {
  fetcher: Fetcher;
  namespace: string;
  /** How long metadata is trusted, in ms (in memory and in the store). */
  metaTtlMs: number;
  /** `origin`: check each path at the origin with this reader's credentials before serving it. */
  authorize: false | 'origin';
  /** How long an authorization is remembered, in ms. */
  authorizeTtlMs: number;
  /** Reads one key from the store: null when missing; rejects when the store failed (already counted). */
  lookup(key: string): Promise<Uint8Array | null>;
  /** Writes one entry to the store in the background. */
  write(key: string, value: Uint8Array, ttlMs: number): void;
  /** `promise`, or a rejection as soon as `signal` aborts (the load itself goes on for others). */
  race<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T>;
}

export class MetaCache {
  /** Stored entries that did not decode, origin stats, authorization checks. */
  readonly counters = { corruptValues: 0, originStats: 0, authorizations: 0 };
  #o: MetaCacheOptions;
  #cache = new Map<string, { meta: ObjectMeta; expiresAt: number }>();
  #loads = new Map<string, Promise<ObjectMeta>>();
  #authorized = new Map<string, number>(); // path -> expiry (ms)

  constructor(options: MetaCacheOptions) {
    this.#o = options;
  }

  /**
   * What every entry point needs before it reads: the authorization (with `authorize: "origin"`), then the
   * object's metadata from memory, the store or the origin. Cached metadata comes back without a promise, and
   * callers must not await it then: an extra microtask hop would let a caller's abort land before this read
   * joins the fetch it shares (the batching tests check this timing).
   */
  metaFor(path: string, signal: AbortSignal | undefined): ObjectMeta | Promise<ObjectMeta> {
    if (this.#o.authorize === 'origin') {
      return this.authorize(path, signal).then(() => this.#fresh(path) ?? this.load(path, signal, false));
    }
    return this.#fresh(path) ?? this.load(path, signal, false);
  }

  /** Loads metadata once per path at a time; `fromOrigin` skips the store (after a version change). */
  load(path: string, signal: AbortSignal | undefined, fromOrigin: boolean): Promise<ObjectMeta> {
    const loadKey = fromOrigin ? `origin:${path}` : `any:${path}`;
    let load = this.#loads.get(loadKey);
    if (load === undefined) {
      load = this.#fetch(path, fromOrigin).finally(() => this.#loads.delete(loadKey));
      this.#loads.set(loadKey, load);
    }
    // The load is shared and not aborted by one caller: this caller just stops waiting.
    return this.#o.race(load, signal);
  }

  /** Forgets what this process remembers of `path`'s metadata. */
  forget(path: string): void {
    this.#cache.delete(path);
  }

  /** Checks at the origin, with this reader's credentials, that it may read `path` (remembered `authorizeTtlMs`). */
  async authorize(path: string, signal: AbortSignal | undefined): Promise<void> {
    const until = this.#authorized.get(path);
    if (until !== undefined && until > Date.now()) return;
    this.counters.authorizations++;
    // The same kind of request serving would make: an origin may protect GET but not HEAD, so after the stat,
    // one byte is read with this reader's credentials. Throws AccessDeniedError / ObjectNotFoundError.
    const { fetcher } = this.#o;
    const meta = await fetcher.stat(path, signal ? { signal } : {});
    checkMeta(meta, path, fetcher.backend);
    if (meta.size > 0) await fetcher.fetch(path, { start: 0, end: 1 }, signal ? { expect: meta, signal } : { expect: meta });
    setBounded(this.#authorized, path, Date.now() + this.#o.authorizeTtlMs, MAX_ENTRIES);
  }

  #fresh(path: string): ObjectMeta | undefined {
    const entry = this.#cache.get(path);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > Date.now()) return entry.meta;
    this.#cache.delete(path);
    return undefined;
  }

  async #fetch(path: string, fromOrigin: boolean): Promise<ObjectMeta> {
    const key = metaKey(this.#o.namespace, path);
    const ttlMs = this.#o.metaTtlMs;
    if (!fromOrigin) {
      try {
        const raw = await this.#o.lookup(key);
        if (raw) {
          const stored = decodeMeta(raw);
          if (stored === undefined) {
            this.counters.corruptValues++;
          } else if (stored.checkedAt + ttlMs > Date.now() && stored.checkedAt <= Date.now() + 60_000) {
            setBounded(this.#cache, path, { meta: stored.meta, expiresAt: stored.checkedAt + ttlMs }, MAX_ENTRIES);
            return stored.meta;
          }
        }
      } catch {
        // counted where the store was called; the metadata comes from the origin instead
      }
    }
    this.counters.originStats++;
    const meta = await this.#o.fetcher.stat(path);
    checkMeta(meta, path, this.#o.fetcher.backend);
    const checkedAt = Date.now();
    setBounded(this.#cache, path, { meta, expiresAt: checkedAt + ttlMs }, MAX_ENTRIES);
    this.#o.write(key, encodeMeta(meta, checkedAt), ttlMs);
    return meta;
  }
}
