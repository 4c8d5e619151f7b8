/**
 * The reader's public option, stats and event types (what a caller passes to and gets from `AsyncCachingReader`),
 * and the check of its options.
 */
import type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
import { ConfigError } from './input-errors.js';
import type { Fetcher } from './fetcher.js';
import { type IntegrityOptions, IntegrityStore } from './integrity-store.js';
import { MemoryStore } from './memory-store.js';
import { durationOption, integerOption } from './read-input.js';
import { FetcherRouter } from './router.js';
import type { CacheStore } from './store.js';

/** `"block"`: aligned fixed-size blocks. `"chunk"`: the exact ranges asked for, one entry each. */
export type CacheMode = 'block' | 'chunk';

export interface AsyncCachingReaderOptions {
  /**
   * Where bytes come from on a miss: `FileFetcher`, `HttpFetcher`, `S3Fetcher`, or your own {@link Fetcher}. An
   * array of fetchers routes each path by its URL scheme (see {@link FetcherRouter}).
   */
  fetcher: Fetcher | readonly Fetcher[];
  /** Where cached bytes live. Default: a new in-process {@link MemoryStore}; use `RedisStore` to share. */
  store?: CacheStore;
  /** Default `"block"`. */
  mode?: CacheMode;
  /** Block size in bytes for block mode, and the piece size of `stream()`. Default 1 MiB; at most 512 MiB. */
  blockSize?: number;
  /** Time to live of cached bytes, in ms; `false`: they never expire. Default 3_600_000 (an hour). */
  ttlMs?: number | false;
  /**
   * Time to live of cached metadata (size and version), in ms. It bounds staleness: a changed object is seen at
   * most this long after it changed. Default 60_000.
   */
  metaTtlMs?: number;
  /** Separates tenants or datasets sharing one Redis. Default `"default"`. */
  namespace?: string;
  /** Misses at most this many bytes apart are fetched in one origin request. Default 64 KiB. */
  maxGap?: number;
  /** A merged origin request never exceeds this many bytes. Default 16 MiB. */
  maxRequest?: number;
  /** Origin requests in flight at once, per reader. Default 10. */
  maxConcurrentFetches?: number;
  /**
   * Cross-instance single flight, when the store offers leases (`RedisStore` does): of the processes that miss a
   * piece at the same time, the one holding its lease (for this many ms) fetches it and the others wait for it to
   * land, for at most about three lease periods, then fetch it themselves. A lease holder that dies costs the
   * waiters one lease period. `false` turns it off (each process fetches its own misses). Default 2000.
   */
  leaseMs?: number | false;
  /** Pieces this reader waits for other instances to fetch, at most, at once; beyond, it fetches them itself. Default 4096. */
  maxFleetWaiters?: number;
  /**
   * Stop asking a failing store for a while: after `failureThreshold` (5) failures in a row, store calls are
   * skipped for `cooldownMs` (5000), then one probe decides. `false` turns it off.
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Bytes of cache writes allowed to wait for the store at once. Writes beyond it are dropped (and counted), so
   * a slow store never holds fetched bytes in memory without bound, and never slows reads. Default 256 MiB.
   */
  maxPendingWriteBytes?: number;
  /**
   * Tag every cached value with an HMAC-SHA256 under this secret and verify it on read, so that whoever can
   * write to Redis without the secret cannot make readers accept forged bytes. See {@link IntegrityStore}.
   */
  integrity?: IntegrityOptions;
  /**
   * `"origin"`: before serving cached bytes of an object, check that this reader's fetcher (with its own
   * credentials) may read it, by a `stat` at the origin, remembered for `authorizeTtlMs`. Use it when readers with
   * different credentials share one cache: otherwise a reader can receive bytes that only another reader's
   * credentials allowed. Default `false` (no check).
   */
  authorize?: false | 'origin';
  /** How long an origin authorization is remembered, per path, in ms. Default 30_000. */
  authorizeTtlMs?: number;
  /**
   * Blocks fetched ahead of the reader: by `stream()` always, and by `readRange` in block mode when reads of an
   * object continue where the previous one ended and miss the cache (a cold sequential scan). Each block
   * fetched ahead is its own origin request, so they run in parallel. A scan's window grows with it (about 5% of
   * what it has read), up to this. Default 4.
   */
  readAhead?: number;
  /**
   * Publish this reader's counters (the numeric fields of {@link ReaderStats}) to the store, where every reader of
   * the namespace adds to one hash (`rangecache:v2:<namespace>:stats`) that `rangecache stats` shows: `true`
   * every 10 s, or `{ intervalMs }`; also on `close()`. Needs a store with `addCounters` (`RedisStore`,
   * `TieredStore` over one). A failed publication is kept and added to the next. Default `false`.
   */
  sharedStats?: boolean | { intervalMs?: number };
}

export interface ReadOptions {
  /** Aborts this caller's wait. An origin fetch that other callers still wait on goes on for them. */
  signal?: AbortSignal;
}

export interface StreamOptions extends ReadOptions {
  /** First byte, default 0. */
  start?: number;
  /** End (exclusive), default the object's size; clamped to it. */
  end?: number;
}

/** Counters since the reader was built. Pieces are blocks in block mode and chunks in chunk mode. */
export interface ReaderStats {
  /** Reads (`readRange` calls, ranges of `readRanges`, pieces of `stream`) served. */
  reads: number;
  /** Pieces found in the store. */
  hits: number;
  /** Pieces fetched from the origin by this reader. */
  misses: number;
  /** Pieces that joined an origin fetch already in flight in this reader (single flight). */
  joins: number;
  /** Requests sent to the origin for data (not counting `stat`). */
  originRequests: number;
  /** Bytes received from the origin for data. */
  originBytes: number;
  /** Metadata lookups that went to the origin (`stat`). */
  originStats: number;
  /** Bytes served from the store. */
  cacheBytes: number;
  /** Bytes returned to callers. */
  bytesRead: number;
  /**
   * Bytes the reader copied to assemble what it returned: 0 where a stored or fetched value was handed over as it
   * is (or, for `readRangeInto`, was read straight into the caller's memory). A cost driver of warm reads.
   */
  copiedBytes: number;
  /** Store operations (other than writes) that failed or timed out; the reads went on to the origin. */
  storeErrors: number;
  /** Values found in the store with the wrong length or unreadable metadata; deleted and refetched. */
  corruptValues: number;
  /** Origin requests that failed. */
  originErrors: number;
  /** Writes to the store that failed. */
  writeErrors: number;
  /** Pieces another process was fetching, received from the store after waiting for it. */
  fleetWaits: number;
  /** Pieces waited for in vain (lease expired or holder failed), then fetched by this reader. */
  fleetFallbacks: number;
  /**
   * Read-ahead pieces another process held, let go once their holder released them, neither read nor fetched:
   * only read-ahead wanted them then. If the holder landed one, a read of it later reads it from the store (once,
   * rather than once for the read-ahead and again for the read); if it gave up on one (at the end of a scan, its
   * `close()` aborts its read-ahead), a read of it later goes to the store and the origin as usual.
   */
  aheadDropped: number;
  /** Store calls not made because the circuit breaker was open. */
  storeSkipped: number;
  /** Times the circuit breaker opened. */
  circuitOpens: number;
  /** Cache writes dropped because `maxPendingWriteBytes` were already waiting for the store. */
  writesDropped: number;
  /** Cached values (or metadata) whose integrity tag did not verify: rejected, deleted, fetched again. */
  integrityRejected: number;
  /** Origin checks made for `authorize: "origin"`. */
  authorizations: number;
}

/**
 * Events of an {@link AsyncCachingReader}. None of them is `error`: a failing cache never throws, not even
 * through an EventEmitter without listeners.
 */
export interface ReaderEvents {
  /** A store or lease operation failed or timed out; the read went on without it. */
  storeError: [error: unknown, operation: string];
  /** The circuit breaker changed state (`open`: the store is skipped; `closed`: it is used again). */
  circuit: [state: CircuitState, consecutiveFailures: number];
  /** A cache write was dropped to keep pending writes under `maxPendingWriteBytes`. */
  writeDropped: [bytes: number];
  /**
   * The first object of an origin (scheme, host and port; the backend for other paths) whose version cannot tell
   * two contents apart: no ETag and no Last-Modified, a weak or second-resolution ETag. Its cached bytes then
   * live no longer than its metadata (`metaTtlMs`), and no read mixes bytes found in the cache with bytes fetched
   * for it. Emitted once per origin.
   */
  weakVersion: [path: string, version: string];
}

/** The reader's settings after checking, with every duration in milliseconds and `false` for "off". */
export interface ResolvedReaderOptions {
  readonly fetcher: Fetcher;
  readonly store: CacheStore;
  readonly mode: CacheMode;
  readonly blockSize: number;
  readonly ttlMs: number | false;
  readonly metaTtlMs: number;
  readonly namespace: string;
  readonly maxGap: number;
  readonly maxRequest: number;
  readonly maxConcurrentFetches: number;
  readonly leaseMs: number | false;
  readonly maxFleetWaiters: number;
  readonly circuitBreaker: CircuitBreakerOptions | false;
  readonly maxPendingWriteBytes: number;
  /** Whether values are tagged and verified (`store` is then an {@link IntegrityStore}); the secret is not kept here. */
  readonly integrity: boolean;
  readonly authorize: false | 'origin';
  readonly authorizeTtlMs: number;
  readonly readAhead: number;
  /** How often counters are published to the store, in ms; `false`: never (see {@link AsyncCachingReaderOptions.sharedStats}). */
  readonly sharedStatsMs: number | false;
}

const MiB = 1024 * 1024;
/** Redis's largest string, and so the largest block. */
const MAX_BLOCK = 512 * MiB;

/**
 * Checks the options a caller passed and fills in defaults. Every mistake is a `ConfigError` naming the option.
 *
 * @example
 * ```ts
 * const o = resolveReaderOptions({ fetcher: new FileFetcher() }); // o.blockSize === 1048576
 * ```
 */
export function resolveReaderOptions(options: AsyncCachingReaderOptions): ResolvedReaderOptions {
  if (options === null || typeof options !== 'object') throw new ConfigError('AsyncCachingReader: options object is required');
  const fetcher = Array.isArray(options.fetcher) ? new FetcherRouter(options.fetcher) : (options.fetcher as Fetcher);
  if (fetcher === null || typeof fetcher !== 'object' || typeof fetcher.fetch !== 'function' || typeof fetcher.stat !== 'function') {
    throw new ConfigError('AsyncCachingReader: options.fetcher must implement Fetcher (stat and fetch)');
  }
  const store = options.store ?? new MemoryStore();
  for (const m of ['getMany', 'setMany', 'deleteMany', 'deleteByPrefix'] as const) {
    if (typeof store[m] !== 'function') throw new ConfigError(`AsyncCachingReader: options.store must implement CacheStore (missing ${m})`);
  }
  refuseRenamed(options);
  const authorize = options.authorize ?? false;
  if (authorize !== false && authorize !== 'origin') {
    throw new ConfigError(`AsyncCachingReader: authorize must be false or "origin", got ${JSON.stringify(options.authorize)}`);
  }
  const mode = options.mode ?? 'block';
  if (mode !== 'block' && mode !== 'chunk') {
    throw new ConfigError(`AsyncCachingReader: mode must be "block" or "chunk", got ${JSON.stringify(options.mode)}`);
  }
  const namespace = options.namespace ?? 'default';
  if (typeof namespace !== 'string' || namespace.length > 256) {
    throw new ConfigError(`AsyncCachingReader: namespace must be a string of at most 256 characters, got ${typeof namespace === 'string' ? `${namespace.length} characters` : typeof namespace}`);
  }
  const circuitBreaker = options.circuitBreaker ?? {};
  if (circuitBreaker !== false) {
    if (typeof circuitBreaker !== 'object') throw new ConfigError(`AsyncCachingReader: circuitBreaker must be an object or false, got ${typeof circuitBreaker}`);
    integerOption('circuitBreaker.failureThreshold', circuitBreaker.failureThreshold, 5, 1, 1_000_000);
    integerOption('circuitBreaker.cooldownMs', circuitBreaker.cooldownMs, 5000, 1, 3_600_000);
  }
  return {
    fetcher,
    store: options.integrity === undefined ? store : new IntegrityStore(store, options.integrity),
    mode,
    blockSize: integerOption('blockSize', options.blockSize, MiB, 1, MAX_BLOCK),
    ttlMs: options.ttlMs === false ? false : durationOption('ttlMs', options.ttlMs, 3_600_000),
    metaTtlMs: durationOption('metaTtlMs', options.metaTtlMs, 60_000),
    namespace,
    maxGap: integerOption('maxGap', options.maxGap, 64 * 1024, 0, Number.MAX_SAFE_INTEGER),
    maxRequest: integerOption('maxRequest', options.maxRequest, 16 * MiB, 1, Number.MAX_SAFE_INTEGER),
    maxConcurrentFetches: integerOption('maxConcurrentFetches', options.maxConcurrentFetches, 10, 1, 1024),
    leaseMs: options.leaseMs === false ? false : integerOption('leaseMs', options.leaseMs, 2000, 10, 600_000),
    maxFleetWaiters: integerOption('maxFleetWaiters', options.maxFleetWaiters, 4096, 0, 1_000_000),
    circuitBreaker,
    maxPendingWriteBytes: integerOption('maxPendingWriteBytes', options.maxPendingWriteBytes, 256 * MiB, 0, Number.MAX_SAFE_INTEGER),
    integrity: options.integrity !== undefined,
    authorize,
    authorizeTtlMs: durationOption('authorizeTtlMs', options.authorizeTtlMs, 30_000),
    readAhead: integerOption('readAhead', options.readAhead, 4, 1, 1024),
    sharedStatsMs: sharedStatsOption(options.sharedStats, store),
  };
}

/** `sharedStats` as an interval in ms, or `false`; the store must be able to keep shared counters. */
function sharedStatsOption(value: AsyncCachingReaderOptions['sharedStats'], store: CacheStore): number | false {
  if (value === undefined || value === false) return false;
  if (value !== true && (value === null || typeof value !== 'object')) {
    throw new ConfigError(`AsyncCachingReader: sharedStats must be true, false or { intervalMs }, got ${JSON.stringify(value)}`);
  }
  if (typeof store.addCounters !== 'function') {
    throw new ConfigError('AsyncCachingReader: sharedStats needs a store that keeps shared counters (addCounters), such as RedisStore');
  }
  return value === true ? 10_000 : integerOption('sharedStats.intervalMs', value.intervalMs, 10_000, 100, 86_400_000);
}

/** Options of earlier versions, and what replaced them: passing one is a mistake worth naming. */
const RENAMED: Record<string, string> = {
  ttl: 'ttlMs (milliseconds; false for no expiry)',
  metaTtl: 'metaTtlMs (milliseconds)',
  authorizeTtl: 'authorizeTtlMs (milliseconds)',
};

/** Refuses options that were renamed (durations in seconds became `…Ms`) and `null`/`"none"` where `false` means off. */
function refuseRenamed(options: AsyncCachingReaderOptions): void {
  for (const [old, now] of Object.entries(RENAMED)) {
    if (old in options) throw new ConfigError(`AsyncCachingReader: option ${old} was renamed ${now}`);
  }
  for (const name of ['ttlMs', 'leaseMs', 'authorize', 'circuitBreaker'] as const) {
    const value: unknown = options[name];
    if (value === null || value === 'none') throw new ConfigError(`AsyncCachingReader: ${name}: ${JSON.stringify(value)} is not accepted; false turns it off`);
  }
}
