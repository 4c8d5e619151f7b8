/**
 * The reader: the public front of the read path. It checks what callers pass, finds each object's metadata, and
 * hands reads to the batcher, which runs the stages (see the README's "How it works"). It owns no read state
 * of its own beyond the count of reads.
 */
import { EventEmitter } from 'node:events';
import type { ReadableStream } from 'node:stream/web';
import { AbortFanout } from './abort-fanout.js';
import { ChunkIndex } from './chunk-index.js';
import { RangecacheError, VersionChangedError } from './errors.js';
import { ConfigError, InvalidRangeError } from './input-errors.js';
import type { ObjectMeta } from './fetcher.js';
import { FleetLoader } from './fleet.js';
import { FlightTable } from './flight-table.js';
import { GuardedStore } from './guarded-store.js';
import { IntegrityStore } from './integrity-store.js';
import { sourcePrefix, statsKey } from './keys.js';
import { SharedStats } from './shared-stats.js';
import { Limiter } from './limiter.js';
import { StoreLookup } from './lookup.js';
import { MetaCache } from './meta-cache.js';
import { OriginLoader } from './origin-loader.js';
import { PinnedObject, type PinnedReads, pieceStream } from './pinned-object.js';
import type { ByteRange } from './ranges.js';
import { ReadBatcher } from './read-batcher.js';
import { checkPath, ownRange, signalOf } from './read-input.js';
import {
  type AsyncCachingReaderOptions, type CacheMode, type ReadOptions, type ReaderEvents, type ReaderStats, type ResolvedReaderOptions,
  type StreamOptions, resolveReaderOptions,
} from './reader-options.js';
import type { CacheStore } from './store.js';
import { WarmPrefetch } from './warm-prefetch.js';
import { WriteBehind } from './write-behind.js';

export type { AsyncCachingReaderOptions, CacheMode, ReadOptions, ReaderEvents, ReaderStats, StreamOptions } from './reader-options.js';

const ZERO_STATS: ReaderStats = {
  reads: 0, hits: 0, misses: 0, joins: 0, originRequests: 0, originBytes: 0, originStats: 0, cacheBytes: 0,
  bytesRead: 0, copiedBytes: 0, storeErrors: 0, corruptValues: 0, originErrors: 0, writeErrors: 0, fleetWaits: 0, fleetFallbacks: 0, aheadDropped: 0,
  storeSkipped: 0, circuitOpens: 0, writesDropped: 0, integrityRejected: 0, authorizations: 0,
};

/**
 * Reads byte ranges of remote objects through a shared cache.
 *
 * Reads issued in the same tick are batched: their cache lookups go to the store in one round trip, their
 * misses are coalesced into as few origin requests as `maxGap`/`maxRequest` allow, and what was fetched is
 * written back in one more round trip. Concurrent readers of a missing piece share one origin fetch, in this
 * process and, with a store that offers leases (`RedisStore`), across processes. A failing store never fails a
 * read: the reader counts the failure, emits a `storeError` event, and goes to the origin.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
 * import { RedisStore } from '@rangecache/redis';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true });
 * await client.connect();
 * const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new RedisStore({ client }), ttlMs: 3_600_000 });
 * const header = await reader.readRange('/data/file.bin', 0, 4096);
 * for await (const chunk of reader.stream('/data/file.bin', { start: 0, end: 1 << 26 })) process.stdout.write(chunk);
 * await reader.close();
 * await client.close();
 * ```
 */
export class AsyncCachingReader extends EventEmitter<ReaderEvents> {
  /** The options, checked, with defaults filled in (durations in ms; `false`: off). */
  readonly options: ResolvedReaderOptions;
  readonly fetcher: ResolvedReaderOptions['fetcher'];
  /** The store as given, wrapped in an {@link IntegrityStore} when `integrity` is set. */
  readonly store: CacheStore;
  readonly mode: CacheMode;
  readonly blockSize: number;
  readonly readAhead: number;
  /** The store with failure handling around it: every store call of the read path goes through it. */
  #store: GuardedStore;
  #meta: MetaCache;
  #batcher: ReadBatcher;
  #writeBehind: WriteBehind;
  #aborts = new AbortFanout();
  /** Chunk mode: which cached chunks contain which ranges (forgotten per object by invalidate). */
  #chunks = new ChunkIndex();
  #reads = 0;
  /** Each layer's own counters, added up by stats(). */
  #layers: Partial<ReaderStats>[];
  #closed = false;
  #onClose: () => void = () => {};
  /** What pinned handles and streams use of this reader. */
  #pinned: PinnedReads;
  /** Publishes the counters to the store, with `sharedStats`. */
  #shared: SharedStats | undefined;

  constructor(options: AsyncCachingReaderOptions) {
    super();
    const o = (this.options = Object.freeze(resolveReaderOptions(options)));
    ({ fetcher: this.fetcher, mode: this.mode, blockSize: this.blockSize, readAhead: this.readAhead } = o);
    this.store = o.store;
    const integrity = o.store instanceof IntegrityStore ? o.store : undefined;
    this.#store = new GuardedStore(this.store, {
      circuitBreaker: o.circuitBreaker,
      onError: (e, operation) => this.emit('storeError', e, operation),
      onCircuit: (state, failures) => this.emit('circuit', state, failures),
    });
    const whenClosed = new Promise<false>((resolve) => { this.#onClose = () => resolve(false); });
    this.#writeBehind = new WriteBehind(o.maxPendingWriteBytes, {
      // Leases go with the write where the coordinator can (one round trip), else right after it.
      setMany: (entries, releaseLeases) => {
        const leases = releaseLeases ? this.#store.coordinator : undefined;
        if (!leases) return this.#store.setMany(entries);
        if (leases.writeAndRelease) return leases.writeAndRelease(entries);
        return this.#store.setMany(entries).then(() => leases.release(entries.map((e) => e.key)));
      },
      dropped: (bytes) => this.emit('writeDropped', bytes),
    });
    const track = (work: Promise<unknown>): void => this.#writeBehind.track(work);
    this.#meta = new MetaCache({
      fetcher: o.fetcher, namespace: o.namespace, metaTtlMs: o.metaTtlMs, authorize: o.authorize, authorizeTtlMs: o.authorizeTtlMs,
      lookup: async (key) => (await this.#store.getMany([key]))[0] ?? null,
      write: (key, value, ttlMs) => void this.#writeBehind.write([{ key, value, ttlMs }]),
      race: (promise, signal) => this.#aborts.race(promise, signal),
    });
    const chunks = this.#chunks;
    const flights = new FlightTable();
    const coordinator = o.leaseMs === false ? undefined : this.#store.coordinator;
    const lookup = new StoreLookup({ store: this.#store, flights, chunks, mode: o.mode, leaseMs: o.leaseMs, track });
    const loader = new OriginLoader({
      ...o, limiter: new Limiter(o.maxConcurrentFetches), flights, writeBehind: this.#writeBehind, chunks, whenClosed,
    });
    const fleet = coordinator ? new FleetLoader({ maxFleetWaiters: o.maxFleetWaiters, loader, lookup, flights }, coordinator, o.leaseMs as number) : undefined;
    // Warm scans look ahead as far as cold ones fetch ahead: readAhead blocks, for all scans together.
    const prefetch = new WarmPrefetch(this.#store, o.readAhead * o.blockSize, track);
    this.#batcher = new ReadBatcher({
      ...o, chunks, flights, lookup, loader, fleet, prefetch, coordinator, aborts: this.#aborts, track,
      onWeakVersion: (path, version) => this.emit('weakVersion', path, version),
    });
    this.#layers = [flights.counters, lookup.counters, loader.counters, this.#batcher.counters, this.#store.counters,
      this.#writeBehind.counters, this.#meta.counters, ...(fleet ? [fleet.counters] : []), ...(integrity ? [integrity.counters] : [])];
    this.#pinned = {
      blockSize: o.blockSize,
      readAhead: o.readAhead,
      readAt: (path, meta, ranges, signal) => this.#batcher.read(path, meta, ranges, signal),
      countReads: (n) => { this.#reads += n; },
      onAbort: (signal, onAbort) => this.#aborts.subscribe(signal, onAbort),
      checkOpen: (path) => this.#checkOpen(path),
    };
    // The caller's own store keeps the counters (an integrity wrapper has nothing to verify in them).
    if (o.sharedStatsMs !== false) this.#shared = new SharedStats(options.store!, statsKey(o.namespace), o.sharedStatsMs, () => this.stats());
  }

  /**
   * The bytes `[start, end)` of the object at `path` (end exclusive, like `slice()`; an `end` past the end of
   * the object is clamped to its size).
   *
   * @throws InvalidRangeError (a `RangeError`) for a negative, non-integer or inverted range, or a start past EOF.
   * @throws ObjectNotFoundError when the object does not exist; other `RangecacheError`s for origin failures.
   * @example
   * ```ts
   * const bytes = await reader.readRange('https://host/data.bin', 0, 4096);
   * ```
   */
  async readRange(path: string, start: number, end: number, options: ReadOptions = {}): Promise<Uint8Array> {
    const [bytes] = await this.readRanges(path, [{ start, end }], options);
    return bytes!;
  }

  /**
   * Reads the bytes `[start, end)` of the object at `path` into `target` (from its offset 0) and returns how many
   * were written: `end - start`, or fewer where `end` is past the end of the object. A consumer that reuses one
   * buffer, as with `fs.read`, saves an allocation per read: where the store can (`RedisStore` over its own
   * lookup connection, `MemoryStore`), a cached value is read straight into `target`. Bytes in `target` past the
   * count are left alone. If the read fails or is aborted, `target`'s first `end - start` bytes are unspecified,
   * but nothing writes into it once the promise has settled.
   *
   * @throws InvalidRangeError for a range `readRange` refuses, or a `target` with fewer than `end - start` bytes.
   * @throws ConfigError when `target` is not a Uint8Array.
   * @example
   * ```ts
   * const buffer = new Uint8Array(1 << 20);
   * for (let at = 0; at < size; at += buffer.byteLength) {
   *   const n = await reader.readRangeInto(path, at, at + buffer.byteLength, buffer);
   *   consume(buffer.subarray(0, n));
   * }
   * ```
   */
  async readRangeInto(path: string, start: number, end: number, target: Uint8Array, options: ReadOptions = {}): Promise<number> {
    checkPath(path);
    this.#checkOpen(path);
    const signal = signalOf('readRangeInto', path, options);
    const range = ownRange(path, { start, end });
    if (!(target instanceof Uint8Array)) {
      throw new ConfigError(`readRangeInto(${path}): target must be a Uint8Array, got ${target === null ? 'null' : typeof target === 'object' ? Object.prototype.toString.call(target) : typeof target}`);
    }
    if (target.byteLength < range.end - range.start) {
      throw new InvalidRangeError(path, range, `target has room for ${target.byteLength} bytes, the range asks for ${range.end - range.start}`);
    }
    signal?.throwIfAborted();
    this.#reads++;
    const [bytes] = await this.#read(path, [range], signal, target);
    return bytes!.byteLength;
  }

  /**
   * Several ranges of one object in one batch: one store round trip for all lookups, misses coalesced.
   * Every result comes from the same version of the object.
   *
   * @example
   * ```ts
   * const [a, b] = await reader.readRanges(path, [{ start: 0, end: 100 }, { start: 5000, end: 5100 }]);
   * ```
   */
  async readRanges(path: string, ranges: readonly ByteRange[], options: ReadOptions = {}): Promise<Uint8Array[]> {
    checkPath(path);
    this.#checkOpen(path);
    const signal = signalOf('readRanges', path, options);
    // Each range is read from the caller's objects once, into numbers of our own: a caller that reuses its
    // objects (or passes getters) cannot change a range after it was validated.
    if (!Array.isArray(ranges)) throw new InvalidRangeError(path, { start: undefined, end: undefined }, 'ranges must be an array of { start, end }');
    ranges = ranges.map((r: unknown) => ownRange(path, r));
    signal?.throwIfAborted();
    this.#reads += ranges.length;
    return this.#read(path, ranges, signal, undefined);
  }

  /** Checked `ranges` of `path` at its current version; into `target` for `readRangeInto`. */
  async #read(path: string, ranges: readonly ByteRange[], signal: AbortSignal | undefined, into: Uint8Array | undefined): Promise<Uint8Array[]> {
    const known = this.#meta.metaFor(path, signal);
    let meta = known instanceof Promise ? await known : known; // no await when cached: no extra microtask hop
    const scanned = this.#batcher.continuesScan(path, ranges);
    try {
      return await this.#batcher.read(path, meta, ranges, signal, { scanned, into });
    } catch (e) {
      if (!(e instanceof VersionChangedError)) throw e;
      // The object changed since its metadata was cached: refresh it from the origin and read once more.
      // Results of the failed attempt are discarded, so versions never mix.
      meta = await this.#meta.load(path, signal, true);
      return this.#batcher.read(path, meta, ranges, signal, { scanned, into });
    }
  }

  /**
   * A web `ReadableStream` of the bytes `[start, end)`, in pieces of at most `blockSize` bytes aligned to
   * block boundaries. It is a byte stream: `getReader({ mode: 'byob' })` reads into buffers of the consumer's own
   * (a piece bigger than the buffer is handed over in parts). It fetches at most `readAhead` pieces ahead of the consumer, honours backpressure, and
   * stops fetching when the consumer cancels. All pieces come from one version of the object. If the object has
   * changed since its metadata was cached, a stream that has delivered nothing yet starts over on the new version
   * (as `readRange` does); one that has delivered pieces errors with `VersionChangedError` (and the metadata is
   * refreshed, so the next call reads the new version).
   *
   * @example
   * ```ts
   * for await (const chunk of reader.stream('s3://bucket/key', { start: 0, end: 1 << 26 })) consume(chunk);
   * // Or into one buffer, reused:
   * const byob = reader.stream('s3://bucket/key').getReader({ mode: 'byob' });
   * let buffer = new Uint8Array(1 << 20);
   * for (let r = await byob.read(buffer); !r.done; r = await byob.read(buffer)) { consume(r.value); buffer = new Uint8Array(r.value.buffer); }
   * ```
   */
  stream(path: string, options: StreamOptions = {}): ReadableStream<Uint8Array> {
    checkPath(path);
    this.#checkOpen(path);
    const outer = signalOf('stream', path, options);
    return pieceStream(this.#pinned, path, options, outer, async (signal) => this.#meta.metaFor(path, signal), (signal) => this.#meta.load(path, signal, true));
  }

  /**
   * A handle pinned to the object's current version: its `read`, `readRanges` and `stream` all serve that
   * version, and reject with `VersionChangedError` once the origin holds another (open it again to read that).
   *
   * @example
   * ```ts
   * const file = await reader.open('s3://bucket/data.parquet');
   * const footer = await file.read(file.byteLength - 8, file.byteLength);
   * ```
   */
  async open(path: string, options: ReadOptions = {}): Promise<PinnedObject> {
    checkPath(path);
    this.#checkOpen(path);
    const signal = signalOf('open', path, options);
    signal?.throwIfAborted();
    return new PinnedObject(this.#pinned, path, await this.#meta.metaFor(path, signal));
  }

  /**
   * Size and version of the object, from the reader's memory, the store, or the origin (in that order).
   *
   * @example
   * ```ts
   * const { size, etag } = await reader.stat('https://host/data.bin');
   * ```
   */
  async stat(path: string, options: ReadOptions = {}): Promise<ObjectMeta> {
    checkPath(path);
    this.#checkOpen(path);
    const signal = signalOf('stat', path, options);
    signal?.throwIfAborted();
    const known = this.#meta.metaFor(path, signal);
    return { ...(known instanceof Promise ? await known : known) };
  }

  /** A snapshot of the counters: each layer counts its own, and they are added up here. */
  stats(): ReaderStats {
    const stats: ReaderStats = { ...ZERO_STATS, reads: this.#reads };
    for (const counters of this.#layers) {
      for (const [name, n] of Object.entries(counters) as [keyof ReaderStats, number][]) stats[name] += n;
    }
    return stats;
  }

  /**
   * Removes every cached entry of `path` (all versions, both modes, and its metadata) from the store, walking
   * keys with `SCAN`, and forgets what this reader remembered about it. Returns the number of keys deleted.
   *
   * @example
   * ```ts
   * await reader.invalidate('s3://bucket/key'); // after overwriting the object
   * ```
   */
  async invalidate(path: string): Promise<number> {
    checkPath(path);
    this.#checkOpen(path);
    // Deleting what others read is an act on the object too: with authorize "origin", only a reader that may read it.
    if (this.options.authorize === 'origin') await this.#meta.authorize(path, undefined);
    this.#meta.forget(path);
    const prefix = sourcePrefix(this.options.namespace, path);
    this.#chunks.dropPrefix(prefix);
    this.#batcher.forget(prefix);
    await this.flush();
    return this.#store.deleteByPrefix(prefix);
  }

  /** Waits until every write to the store started so far has finished (or failed). */
  async flush(): Promise<void> {
    await this.#writeBehind.flush();
  }

  /**
   * Refuses further reads, stops fetching ahead (origin requests that only read-ahead wanted are aborted), and
   * waits for reads in progress and pending writes to finish. The store's client is the caller's to close.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#onClose();
    this.#batcher.stopReadAhead();
    await this.flush();
    // Counters of the last interval still count; a store that fails them does not fail the close.
    await this.#shared?.close().catch(() => {});
  }
  /**
   * `close()`, for `await using` (TypeScript 5.2+): the reader closes when the block that declared it ends.
   *
   * @example
   * ```ts
   * await using reader = new AsyncCachingReader({ fetcher: new FileFetcher() });
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }


  #checkOpen(path: string): void {
    if (this.#closed) throw new RangecacheError('ERR_RANGECACHE_CLOSED', `reader is closed (reading ${path})`, { path });
  }
}
