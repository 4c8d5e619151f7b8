import { ReadableStream } from 'node:stream/web';
import { EventEmitter, setMaxListeners } from 'node:events';
import { AbortFanout } from './abort-fanout.js';
import { setBounded } from './bounded-map.js';
import { CircuitBreaker, CircuitOpenError } from './circuit-breaker.js';
import { ChunkIndex } from './chunk-index.js';
import { FetcherRouter } from './router.js';
import { ConfigError, InvalidRangeError, OriginError, RangecacheError, VersionChangedError, abortError } from './errors.js';
import type { Fetcher, ObjectMeta } from './fetcher.js';
import { blockKey, chunkKey, sourcePrefix, versionPrefix } from './keys.js';
import { Limiter } from './limiter.js';
import { IntegrityStore } from './integrity-store.js';
import { MemoryStore } from './memory-store.js';
import { type ByteRange, blockRange, blockSpan, clampRange, coalesceRanges } from './ranges.js';
import type { CacheStore, StoreEntry } from './store.js';
import type { FetchCoordinator } from './coordinator.js';
import type { AsyncCachingReaderOptions, CacheMode, ReadOptions, ReaderEvents, ReaderStats, StreamOptions } from './reader-options.js';
import type { FetchTask, Flight, ObjectRef, Piece, ReadJob } from './read-job.js';
import { orAfter } from './late-answers.js';
import { checkPath, integerOption, numberOption, ownRange, signalOf } from './read-input.js';
import { PinnedObject, type PinnedReads, pieceStream } from './pinned-object.js';
import { WriteBehind } from './write-behind.js';
import { MetaCache } from './meta-cache.js';
import { FleetLoader } from './fleet.js';

export type { AsyncCachingReaderOptions, CacheMode, ReadOptions, ReaderEvents, ReaderStats, StreamOptions } from './reader-options.js';



const MiB = 1024 * 1024;
const MAX_VALUE = 512 * MiB; // Redis's largest string
const MAX_META_ENTRIES = 10_000;
const MAX_SCANS = 1000;
/** How many lease periods a holder keeps its leases alive for a timed-out write that may still land. */
const UNKNOWN_WRITE_HOLD_LEASES = 5;

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
 * import { AsyncCachingReader, FileFetcher, RedisStore } from '@rangecache/core';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true });
 * await client.connect();
 * const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new RedisStore({ client }), ttl: 3600 });
 * const header = await reader.readRange('/data/file.bin', 0, 4096);
 * for await (const chunk of reader.stream('/data/file.bin', { start: 0, end: 1 << 26 })) process.stdout.write(chunk);
 * await reader.close();
 * await client.close();
 * ```
 */
export class AsyncCachingReader extends EventEmitter<ReaderEvents> {
  readonly fetcher: Fetcher;
  readonly store: CacheStore;
  readonly mode: CacheMode;
  readonly blockSize: number;
  readonly ttl: number | null;
  readonly metaTtl: number;
  readonly namespace: string;
  readonly maxGap: number;
  readonly maxRequest: number;
  readonly readAhead: number;
  readonly leaseMs: number | null;
  readonly maxFleetWaiters: number;
  #fleet: FleetLoader | undefined;

  #stats: ReaderStats = {
    reads: 0, hits: 0, misses: 0, joins: 0, originRequests: 0, originBytes: 0, originStats: 0, cacheBytes: 0,
    bytesRead: 0, storeErrors: 0, corruptValues: 0, originErrors: 0, writeErrors: 0, fleetWaits: 0, fleetFallbacks: 0,
    storeSkipped: 0, circuitOpens: 0, writesDropped: 0, integrityRejected: 0, authorizations: 0,
  };
  readonly authorize: 'none' | 'origin';
  readonly authorizeTtl: number;
  #breaker: CircuitBreaker | undefined;
  readonly maxPendingWriteBytes: number;
  #limiter: Limiter;
  #meta: MetaCache;
  #inflight = new Map<string, Flight>();
  #chunks = new ChunkIndex();
  #queue: ReadJob[] = [];
  #writeBehind: WriteBehind;
  #aborts = new AbortFanout();
  /** What pinned handles and streams use of this reader. */
  #pinned: PinnedReads = ((reader: AsyncCachingReader): PinnedReads => ({
    get blockSize() { return reader.blockSize; },
    get readAhead() { return reader.readAhead; },
    readAt: (path, meta, ranges, signal) => reader.#read(path, meta, ranges, signal),
    countReads: (n) => { reader.#stats.reads += n; },
    onAbort: (signal, onAbort) => reader.#aborts.subscribe(signal, onAbort),
    checkOpen: (path) => reader.#checkOpen(path),
  }))(this);
  /** Where the last readRange of each recently read path ended, in which batch, and how long its scan is. */
  #scanEnds = new Map<string, { end: number; batch: number; scanned: number }>();
  /** Counts batches run: reads queued in the same tick see the same number. */
  #batches = 0;
  #closed = false;
  /** Resolves (false) once close() is called: waits on a slow store that only keep leases alive end then. */
  #whenClosed: Promise<false>;
  #onClose: () => void = () => {};
  /** Objects (version prefixes) whose last lookup missed: their next lookup takes leases in the same round trip. */
  #expectMisses = new Map<string, true>();
  /** Read-ahead jobs in progress: nobody awaits them, so close() ends them. */
  #aheadJobs = new Set<ReadJob>();
  /** Origins already reported by a `weakVersion` event. */
  #weakOrigins = new Map<string, true>();

  constructor(options: AsyncCachingReaderOptions) {
    super();
    this.#whenClosed = new Promise<false>((resolve) => { this.#onClose = () => resolve(false); });
    if (options === null || typeof options !== 'object') throw new ConfigError('AsyncCachingReader: options object is required');
    const fetcher = Array.isArray(options.fetcher) ? new FetcherRouter(options.fetcher) : (options.fetcher as Fetcher);
    if (fetcher === null || typeof fetcher !== 'object' || typeof fetcher.fetch !== 'function' || typeof fetcher.stat !== 'function') {
      throw new ConfigError('AsyncCachingReader: options.fetcher must implement Fetcher (stat and fetch)');
    }
    this.fetcher = fetcher;
    const store = options.store ?? new MemoryStore();
    for (const m of ['getMany', 'setMany', 'deleteMany', 'deleteByPrefix'] as const) {
      if (typeof store[m] !== 'function') throw new ConfigError(`AsyncCachingReader: options.store must implement CacheStore (missing ${m})`);
    }
    this.store = options.integrity === undefined ? store : new IntegrityStore(store, options.integrity, () => { this.#stats.integrityRejected++; });
    this.authorize = options.authorize ?? 'none';
    if (this.authorize !== 'none' && this.authorize !== 'origin') {
      throw new ConfigError(`AsyncCachingReader: authorize must be "none" or "origin", got ${JSON.stringify(options.authorize)}`);
    }
    this.authorizeTtl = numberOption('authorizeTtl', options.authorizeTtl, 30);
    this.mode = options.mode ?? 'block';
    if (this.mode !== 'block' && this.mode !== 'chunk') {
      throw new ConfigError(`AsyncCachingReader: mode must be "block" or "chunk", got ${JSON.stringify(options.mode)}`);
    }
    this.blockSize = integerOption('blockSize', options.blockSize, MiB, 1, MAX_VALUE);
    this.ttl = options.ttl === null ? null : numberOption('ttl', options.ttl, 3600);
    this.metaTtl = numberOption('metaTtl', options.metaTtl, 60);
    this.namespace = options.namespace ?? 'default';
    if (typeof this.namespace !== 'string' || this.namespace.length > 256) {
      throw new ConfigError(`AsyncCachingReader: namespace must be a string of at most 256 characters, got ${typeof this.namespace === 'string' ? `${this.namespace.length} characters` : typeof this.namespace}`);
    }
    this.maxGap = integerOption('maxGap', options.maxGap, 64 * 1024, 0, Number.MAX_SAFE_INTEGER);
    this.maxRequest = integerOption('maxRequest', options.maxRequest, 16 * MiB, 1, Number.MAX_SAFE_INTEGER);
    this.readAhead = integerOption('readAhead', options.readAhead, 4, 1, 1024);
    this.leaseMs = options.leaseMs === null ? null : integerOption('leaseMs', options.leaseMs, 2000, 10, 600_000);
    this.maxFleetWaiters = integerOption('maxFleetWaiters', options.maxFleetWaiters, 4096, 0, 1_000_000);
    this.maxPendingWriteBytes = integerOption('maxPendingWriteBytes', options.maxPendingWriteBytes, 256 * MiB, 0, Number.MAX_SAFE_INTEGER);
    this.#writeBehind = new WriteBehind(this.maxPendingWriteBytes, {
      setMany: (entries, releaseLeases) =>
        this.#safely(() => this.store.setMany(entries, releaseLeases.length > 0 ? { releaseLeases } : undefined), 'setMany'),
      failed: (e) => { if (!CircuitOpenError.is(e)) this.#stats.writeErrors++; }, // a write the open circuit skipped is storeSkipped only
      dropped: (bytes) => {
        this.#stats.writesDropped++;
        this.emit('writeDropped', bytes);
      },
    });
    this.#meta = new MetaCache({
      fetcher: this.fetcher, namespace: this.namespace, metaTtlMs: this.metaTtl * 1000,
      authorize: this.authorize, authorizeTtlMs: this.authorizeTtl * 1000,
      lookup: async (key) => (await this.#safely(() => this.store.getMany([key]), 'getMany'))[0] ?? null,
      write: (key, value, ttlMs) => void this.#writeBehind.write([{ key, value, ttlMs }]),
      race: (promise, signal) => this.#aborts.race(promise, signal),
      counted: (what) => {
        if (what === 'corrupt') this.#stats.corruptValues++;
        else if (what === 'originStat') this.#stats.originStats++;
        else this.#stats.authorizations++;
      },
    });
    if (options.circuitBreaker !== false) {
      const cb = options.circuitBreaker ?? {};
      if (typeof cb !== 'object') throw new ConfigError(`AsyncCachingReader: circuitBreaker must be an object or false, got ${typeof cb}`);
      integerOption('circuitBreaker.failureThreshold', cb.failureThreshold, 5, 1, 1_000_000);
      integerOption('circuitBreaker.cooldownMs', cb.cooldownMs, 5000, 1, 3_600_000);
      this.#breaker = new CircuitBreaker(cb, (state, failures) => {
        if (state === 'open') this.#stats.circuitOpens++;
        this.emit('circuit', state, failures);
      });
    }
    this.#limiter = new Limiter(integerOption('maxConcurrentFetches', options.maxConcurrentFetches, 10, 1, 1024));
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
    this.#stats.reads += ranges.length;
    const known = this.#meta.metaFor(path, signal);
    let meta = known instanceof Promise ? await known : known; // no await when cached: no extra microtask hop
    const scanned = this.#continuesScan(path, ranges);
    try {
      return await this.#read(path, meta, ranges, signal, { scanned });
    } catch (e) {
      if (!(e instanceof VersionChangedError)) throw e;
      // The object changed since its metadata was cached: refresh it from the origin and read once more.
      // Results of the failed attempt are discarded, so versions never mix.
      meta = await this.#meta.load(path, signal, true);
      return this.#read(path, meta, ranges, signal, { scanned });
    }
  }

  /**
   * A web `ReadableStream` of the bytes `[start, end)`, in pieces of at most `blockSize` bytes aligned to
   * block boundaries. It fetches at most `readAhead` pieces ahead of the consumer, honours backpressure, and
   * stops fetching when the consumer cancels. All pieces come from one version of the object. If the object has
   * changed since its metadata was cached, a stream that has delivered nothing yet starts over on the new version
   * (as `readRange` does); one that has delivered pieces errors with `VersionChangedError` (and the metadata is
   * refreshed, so the next call reads the new version).
   *
   * @example
   * ```ts
   * for await (const chunk of reader.stream('s3://bucket/key', { start: 0, end: 1 << 26 })) consume(chunk);
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

  /** A snapshot of the counters. */
  stats(): ReaderStats {
    return { ...this.#stats };
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
    if (this.authorize === 'origin') await this.#meta.authorize(path, undefined);
    this.#meta.forget(path);
    const prefix = sourcePrefix(this.namespace, path);
    this.#chunks.dropPrefix(prefix);
    await this.flush();
    return this.#safely(() => this.store.deleteByPrefix(prefix), 'deleteByPrefix');
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
    for (const job of [...this.#aheadJobs]) {
      const { path } = job.object;
      this.#settle(job, undefined, new RangecacheError('ERR_RANGECACHE_CLOSED', `reader closed while reading ahead in ${path}`, { path }));
    }
    await this.flush();
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


  // ------------------------------------------------------------------ metadata

  /**
   * How many bytes the sequential scan this single-range read continues has read, this read included; 0 when it
   * does not start where the previous readRange of `path` ended in an earlier batch (reads issued together are
   * batched and coalesced already, so they are no scan). Remembers its end.
   */
  #continuesScan(path: string, ranges: readonly ByteRange[]): number {
    if (this.mode !== 'block' || ranges.length !== 1) return 0;
    const { start, end } = ranges[0]!;
    const previous = this.#scanEnds.get(path);
    const continues = previous !== undefined && previous.end === start && start > 0 && previous.batch !== this.#batches;
    const scanned = (continues ? previous.scanned : 0) + (end - start);
    setBounded(this.#scanEnds, path, { end, batch: this.#batches, scanned }, MAX_SCANS);
    return continues ? scanned : 0;
  }

  // ------------------------------------------------------------------ reads

  #read(
    path: string, meta: ObjectMeta, ranges: readonly ByteRange[], signal: AbortSignal | undefined,
    kind: { scanned?: number; ahead?: boolean } = {},
  ): Promise<Uint8Array[]> {
    const clamped = ranges.map((r) => clampRange(path, r.start, r.end, meta.size));
    if (clamped.every((r) => r.end === r.start)) return Promise.resolve(clamped.map(() => new Uint8Array(0)));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const object: ObjectRef = { path, meta, prefix: versionPrefix(this.namespace, path, meta.version) };
    return new Promise<Uint8Array[]>((resolve, reject) => {
      const job: ReadJob = {
        object, ranges: clamped, signal, settled: false, resolve, reject, tasks: new Set(), pieces: [], fallbacks: [], unsubscribe: undefined,
        ahead: kind.ahead ?? false, scanned: kind.scanned ?? 0,
      };
      if (signal) job.unsubscribe = this.#aborts.subscribe(signal, () => this.#settle(job, undefined, abortError(signal)));
      if (job.ahead) this.#aheadJobs.add(job);
      // Reads issued in the same tick share one batch: one store lookup, coalesced origin requests.
      if (this.#queue.push(job) === 1) queueMicrotask(() => void this.#runBatch());
    });
  }

  async #runBatch(): Promise<void> {
    const jobs = this.#queue;
    this.#queue = [];
    this.#batches++;
    try {
      await this.#serve(jobs);
    } catch (e) {
      // A bug or a misbehaving store or fetcher must not leave reads hanging.
      for (const job of jobs) this.#settle(job, undefined, e);
    }
  }

  async #serve(jobs: ReadJob[]): Promise<void> {
    const pieces = new Map<string, Piece>();
    let ahead = true;
    const piece = (object: ObjectRef, key: string, range: ByteRange): Piece => {
      let p = pieces.get(key);
      if (p === undefined) {
        p = { key, range, object, consumers: 0, ahead };
        pieces.set(key, p);
      } else if (!ahead) {
        p.ahead = false; // a caller waits for it too
      }
      return p;
    };
    for (const job of jobs) {
      if (job.settled) continue;
      const { object } = job;
      ahead = job.ahead;
      job.fallbacks = job.ranges.map(() => undefined);
      job.pieces = job.ranges.map((r, i) => {
        if (r.end === r.start) return [];
        if (this.mode === 'chunk') {
          const container = this.#chunks.findContaining(object.prefix, r);
          if (container === undefined) return [piece(object, chunkKey(object.prefix, r.start, r.end), r)];
          job.fallbacks[i] = piece(object, chunkKey(object.prefix, r.start, r.end), r);
          return [piece(object, chunkKey(object.prefix, container.start, container.end), container)];
        }
        const { first, last } = blockSpan(r.start, r.end, this.blockSize);
        const list: Piece[] = [];
        for (let i = first; i <= last; i++) {
          list.push(piece(object, blockKey(object.prefix, this.blockSize, i), blockRange(i, this.blockSize, object.meta.size)));
        }
        return list;
      });
    }

    // Pieces this reader is already fetching join that fetch at once (and hold it, so that another caller's
    // abort cannot cancel it during the store lookup); the rest go to the store in one batch.
    // Exact-range fallbacks are not looked up: they are only used when their containing chunk is gone.
    const used = new Set<Piece>();
    for (const job of jobs) if (!job.settled) for (const list of job.pieces) for (const p of list) used.add(p);
    const lookups = [...used].filter((p) => !this.#joinFlight(p));
    this.#attachFlights(jobs);
    let values: (Uint8Array | null)[] = [];
    if (lookups.length > 0) {
      try {
        values = await this.#safely(() => this.#lookupOrClaim(lookups), 'getMany');
      } catch {
        values = lookups.map(() => null); // all misses: the reads go on to the origin
      }
    }
    const corrupt: string[] = [];
    const missed = new Set<Piece>();
    const missedObjects = new Set<string>();
    lookups.forEach((p, i) => {
      const v = values[i];
      if (this.#acceptStored(p, v, corrupt)) p.value = v;
      else {
        missed.add(p);
        missedObjects.add(p.object.prefix);
      }
    });
    this.#deleteCorrupt(corrupt);
    // The next lookup of an object that missed here takes leases at once (one round trip on a cold scan).
    for (const p of lookups) {
      if (missedObjects.has(p.object.prefix)) setBounded(this.#expectMisses, p.object.prefix, true, MAX_META_ENTRIES);
      else this.#expectMisses.delete(p.object.prefix);
    }
    this.#unsplice(jobs);

    // Decide what to fetch. A containing chunk that is gone is fetched only if some read needs exactly it;
    // the reads that only used it as a shortcut fall back to their own exact ranges.
    const live = jobs.filter((j) => !j.settled);
    const whole = neededWhole(live);
    const needed = new Set<Piece>();
    for (const job of live) {
      job.pieces.forEach((list, i) => {
        const fallback = job.fallbacks[i];
        const container = list[0];
        if (fallback && container && !container.value && !container.flight && missed.has(container) && !whole.has(container)) {
          this.#chunks.remove(container.object.prefix, container.range);
          list[0] = fallback;
        }
        for (const p of list) if (!p.value && !p.flight) needed.add(p);
      });
    }
    // Leases the lookup took for pieces no read needs any more (a chunk shortcut replaced by its exact range).
    const unneeded = lookups.filter((p) => p.lease === 'claimed' && !needed.has(p)).map((p) => p.key);
    if (unneeded.length > 0) this.#release(this.store.coordinator!, unneeded);
    this.#startFetches([...needed]);
    this.#attachFlights(live);
    for (const job of live) if (job.scanned > 0 && job.pieces.some((list) => list.some((p) => !p.value))) this.#readAheadOf(job);
    // Who will take bytes from each piece and each flight: bytes go to a caller without a copy only when it is
    // the one taker (read-ahead takes nothing).
    for (const job of live) {
      if (job.ahead) continue;
      for (const list of job.pieces) {
        for (const p of list) {
          p.consumers++;
          if (p.flight && !p.flight.joined) p.flight.consumers++;
        }
      }
    }
    for (const job of live) void this.#complete(job);
  }

  /**
   * Where an object's version cannot tell two contents apart (`weakVersion`: no strong validator), a read must
   * not be assembled from cached and freshly fetched pieces: after a same-size replacement that would splice two
   * versions. Such a read drops its cached pieces and fetches them all; pieces are shared by reads, so this runs
   * until no read mixes.
   */
  #unsplice(jobs: readonly ReadJob[]): void {
    const weak = jobs.filter((j) => !j.settled && !j.ahead && j.object.meta.weakVersion);
    if (weak.length === 0) return;
    this.#noticeWeak(weak[0]!.object);
    for (let changed = true; changed;) {
      changed = false;
      for (const job of weak) {
        const pieces = job.pieces.flat();
        if (!pieces.some((p) => p.value) || pieces.every((p) => p.value)) continue;
        for (const p of pieces) {
          if (p.value) {
            p.value = undefined;
            p.refetch = true;
            changed = true;
          }
        }
      }
    }
  }

  /** Emits `weakVersion` the first time this reader meets an object without a strong validator on an origin. */
  #noticeWeak(object: ObjectRef): void {
    const origin = originOf(object.path);
    if (this.#weakOrigins.has(origin)) return;
    setBounded(this.#weakOrigins, origin, true, MAX_META_ENTRIES);
    this.emit('weakVersion', object.path, object.meta.version);
  }

  /**
   * Fetches blocks after a sequential read that missed, into the cache; nobody waits on them. The window grows
   * with the scan: at most about 5% of what it has read so far (at least one block, at most `readAhead`), so a
   * scan that stops makes the origin send little more than it read.
   */
  #readAheadOf(job: ReadJob): void {
    const { path, meta } = job.object;
    const start = job.ranges[0]!.end;
    const window = Math.max(1, Math.min(this.readAhead, Math.floor((0.05 * job.scanned) / this.blockSize)));
    const end = Math.min(meta.size, (Math.floor((start - 1) / this.blockSize) + 1 + window) * this.blockSize);
    if (end <= start) return;
    this.#read(path, meta, [{ start, end }], undefined, { ahead: true }).catch(() => {});
  }

  /** Joins the fetch of `p` this reader already has in flight, if there is one. */
  #joinFlight(p: Piece): boolean {
    const flight = this.#inflight.get(p.key);
    if (!flight) return false;
    p.flight = flight;
    flight.joined = true;
    this.#stats.joins++;
    return true;
  }

  /**
   * Whether `v`, read from the store for `p`, is its value: the expected length, counted as a hit. A value of
   * another length is never returned: its key goes to `corrupt`, to be deleted (and the piece fetched again).
   */
  #acceptStored(p: Piece, v: Uint8Array | null | undefined, corrupt: string[]): v is Uint8Array {
    const expected = p.range.end - p.range.start;
    if (v && v.byteLength === expected) {
      this.#stats.hits++;
      this.#stats.cacheBytes += expected;
      if (this.mode === 'chunk') this.#chunks.add(p.object.prefix, p.range);
      return true;
    }
    if (v) {
      corrupt.push(p.key);
      this.#stats.corruptValues++;
    }
    return false;
  }

  #deleteCorrupt(keys: string[]): void {
    if (keys.length > 0) this.#writeBehind.track(this.#safely(() => this.store.deleteMany(keys), 'deleteMany').catch(() => {}));
  }

  /** Counts each read once in the interest of every origin request it now waits on. */
  #attachFlights(jobs: readonly ReadJob[]): void {
    for (const job of jobs) {
      if (job.settled) continue;
      for (const list of job.pieces) {
        for (const p of list) {
          const task = p.flight?.task;
          if (task && !job.tasks.has(task)) {
            job.tasks.add(task);
            task.interest++;
          }
        }
      }
    }
  }

  /**
   * Gets the missing pieces: each becomes a flight in this process at once (so concurrent reads here join it),
   * then, with a coordinating store, is claimed across processes: claimed pieces are fetched from the origin,
   * pieces another process is fetching are awaited, and pieces that landed meanwhile are read from the store.
   */
  #startFetches(misses: Piece[]): void {
    // Another batch may have started fetching some of these while this one waited for the store: join it, and
    // hand back a lease this batch's lookup took, so that other instances are not kept waiting for it.
    const fresh: Piece[] = [];
    const handBack: string[] = [];
    for (const p of misses) {
      if (!this.#joinFlight(p)) fresh.push(p);
      else if (p.lease === 'claimed') handBack.push(p.key);
    }
    if (handBack.length > 0) this.#release(this.store.coordinator!, handBack);
    if (fresh.length === 0) return;
    const task: FetchTask = { controller: new AbortController(), interest: 0, done: false, keys: fresh.map((p) => p.key) };
    // Our own signal, shared by every origin request and queued slot of this batch: no listener limit applies.
    setMaxListeners(0, task.controller.signal);
    // Done once every piece has its bytes (or failed): from then on nothing is left to abort, writes included.
    let unsettled = fresh.length;
    const settledOne = (): void => { if (--unsettled === 0) task.done = true; };
    for (const p of fresh) {
      let resolve!: (bytes: Uint8Array) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<Uint8Array>((res, rej) => { resolve = res; reject = rej; });
      promise.then(settledOne, settledOne);
      const flight: Flight = { task, promise, resolve, reject, persisted: false, consumers: 0, joined: false };
      p.flight = flight;
      this.#inflight.set(p.key, flight);
      // A failed piece is not remembered: the next reader tries again.
      promise.catch(() => this.#forgetFlight(p));
    }
    const coordinator = this.leaseMs === null ? undefined : this.store.coordinator;
    // Pieces whose cached value a weak-version read refused must come from the origin, not from the store again.
    const leased = coordinator ? fresh.filter((p) => !p.refetch) : [];
    const direct = coordinator ? fresh.filter((p) => p.refetch) : fresh;
    const signal = task.controller.signal;
    const work = Promise.all([
      leased.length > 0 ? this.#fleetOf(coordinator!, this.leaseMs!).load(leased, signal) : undefined,
      direct.length > 0 ? this.#fetchPieces(direct, signal) : undefined,
    ]);
    this.#writeBehind.track(work.catch((e: unknown) => { for (const p of fresh) p.flight!.reject(e); }));
  }

  /** The fleet stage for `coordinator` (made once: it counts this reader's waiters across batches). */
  #fleetOf(coordinator: FetchCoordinator, leaseMs: number): FleetLoader {
    if (this.#fleet?.coordinator === coordinator && this.#fleet.leaseMs === leaseMs) return this.#fleet;
    this.#fleet = new FleetLoader({
      maxFleetWaiters: this.maxFleetWaiters,
      fetchPieces: (pieces, signal, c) => this.#fetchPieces(pieces, signal, c),
      fromStore: (pieces, signal) => this.#fromStore(pieces, signal),
      safely: (call, operation) => this.#safely(call, operation),
      acceptStored: (p, v, corrupt): v is Uint8Array => this.#acceptStored(p, v, corrupt),
      resolveStored: (p, value) => this.#resolveStored(p, value),
      deleteCorrupt: (keys) => this.#deleteCorrupt(keys),
      count: (what, n) => { this.#stats[what] += n; },
    }, coordinator, leaseMs);
    return this.#fleet;
  }

  /** Releases this reader's leases on `keys`, in the background. */
  #release(coordinator: FetchCoordinator, keys: string[]): void {
    if (keys.length > 0) void this.#safely(() => coordinator.release(keys), 'release').catch(() => {});
  }

  /** Resolves pieces from the store; returns those it could not (missing or the wrong length). */
  async #fromStore(pieces: Piece[], signal: AbortSignal): Promise<Piece[]> {
    if (pieces.length === 0) return [];
    signal.throwIfAborted();
    let values: (Uint8Array | null)[];
    try {
      values = await this.#safely(() => this.#lookup(pieces), 'getMany');
    } catch {
      return pieces;
    }
    const rest: Piece[] = [];
    const corrupt: string[] = [];
    pieces.forEach((p, i) => {
      const v = values[i];
      if (this.#acceptStored(p, v, corrupt)) this.#resolveStored(p, v);
      else rest.push(p);
    });
    this.#deleteCorrupt(corrupt);
    return rest;
  }

  /** Resolves the flight of `p` with a value read from the store (the store keeps its own copy). */
  #resolveStored(p: Piece, value: Uint8Array): void {
    p.flight!.persisted = true;
    this.#forgetFlight(p);
    p.flight!.resolve(value);
  }

  /** Takes the flight of `p` out of the in-flight map (if it is still the one there): new reads go to the store. */
  #forgetFlight(p: Piece): void {
    if (this.#inflight.get(p.key) === p.flight) this.#inflight.delete(p.key);
  }

  /** The stored values of `pieces`, in order; a store that answers with another count has failed. */
  async #lookup(pieces: readonly Piece[]): Promise<(Uint8Array | null)[]> {
    const values = await this.store.getMany(pieces.map((p) => p.key), { expectedBytes: pieces.map((p) => p.range.end - p.range.start) });
    if (!Array.isArray(values) || values.length !== pieces.length) throw new Error('store returned the wrong number of values');
    return values;
  }

  /**
   * The batch's first lookup. Where misses are expected (the last lookup of the object missed) and the store
   * offers it, the lookup takes the leases of what is missing in the same round trip (`lookupAndClaim`), so a
   * cold read costs one round trip before its origin request; the pieces then carry what the claim found.
   */
  async #lookupOrClaim(pieces: readonly Piece[]): Promise<(Uint8Array | null)[]> {
    const coordinator = this.leaseMs === null ? undefined : this.store.coordinator;
    if (!coordinator?.lookupAndClaim || !pieces.some((p) => this.#expectMisses.has(p.object.prefix))) return this.#lookup(pieces);
    const expectedBytes = pieces.map((p) => p.range.end - p.range.start);
    const results = await coordinator.lookupAndClaim(pieces.map((p) => p.key), this.leaseMs!, { expectedBytes });
    if (!Array.isArray(results) || results.length !== pieces.length) throw new Error('lease lookup returned the wrong number of results');
    return results.map((r, i) => {
      if (r !== 'claimed' && r !== 'busy') return r;
      pieces[i]!.lease = r;
      return null;
    });
  }

  /**
   * Fetches pieces from the origin, coalesced per object (blocks fetched ahead one request each, so they arrive in
   * parallel). Each origin response lands on its own, as soon as it arrives: its flights resolve, and its pieces
   * are written to the store and their leases released in one round trip, so other instances waiting for them read
   * them while the rest is still in flight. With a `coordinator`, the leases are extended while the fetch goes on.
   */
  async #fetchPieces(pieces: Piece[], signal: AbortSignal, coordinator?: FetchCoordinator): Promise<void> {
    if (pieces.length === 0) return;
    const byObject = new Map<string, Piece[]>();
    for (const p of pieces) {
      const group = `${p.ahead ? 'ahead' : 'read'}:${p.object.prefix}`;
      const list = byObject.get(group);
      if (list) list.push(p);
      else byObject.set(group, [p]);
    }
    const held = new Set(coordinator ? pieces.map((p) => p.key) : []);
    const stopExtending = coordinator ? this.#extendWhileHeld(coordinator, held) : () => {};
    const fetches: Promise<void>[] = [];
    for (const list of byObject.values()) {
      const object = list[0]!.object;
      const maxRequest = list[0]!.ahead ? Math.min(this.blockSize, this.maxRequest) : this.maxRequest;
      for (const group of coalesceRanges(list.map((p) => p.range), { maxGap: this.maxGap, maxRequest })) {
        const members = group.members.map((i) => list[i]!);
        this.#stats.misses += members.length;
        fetches.push(this.#limiter.run(() => this.#fetchFromOrigin(object, group, signal), signal).then(
          (buf) => this.#land(object, group.start, members, buf, coordinator, held),
          (e: unknown) => {
            for (const p of members) {
              p.flight!.reject(e);
              held.delete(p.key);
            }
            if (coordinator) this.#release(coordinator, members.map((p) => p.key));
          },
        ));
      }
    }
    try {
      await Promise.all(fetches);
    } finally {
      stopExtending();
    }
  }

  /**
   * One origin response's pieces: their flights resolve, then they are written and their leases released in the
   * same round trip. A piece stays joinable until its write has finished, so a read in between neither misses nor
   * fetches it again.
   */
  async #land(object: ObjectRef, offset: number, members: Piece[], buf: Uint8Array, coordinator: FetchCoordinator | undefined, held: Set<string>): Promise<void> {
    const ttlMs = this.#dataTtlMs(object);
    const entries: StoreEntry[] = [];
    for (const p of members) {
      const value = buf.subarray(p.range.start - offset, p.range.end - offset);
      if (value.byteLength <= MAX_VALUE && this.#isKeyOf(p, value)) entries.push({ key: p.key, value, ttlMs });
      if (this.mode === 'chunk') this.#chunks.add(object.prefix, p.range);
      p.flight!.resolve(value);
    }
    const { outcome, completed } = await this.#writeBehind.write(entries, coordinator ? entries.map((e) => e.key) : []);
    // A write that timed out on a busy machine usually lands late, releasing its leases with it. Until it has (or
    // has failed), its leases stay held and extended: waiters are neither woken to an empty store nor let go to
    // fetch the pieces again. A Redis that never answers stops the extensions too, so the leases lapse anyway.
    const written = outcome === 'written' ||
      (outcome === 'unknown' && coordinator !== undefined && completed !== undefined &&
        (await orAfter(Promise.race([completed.catch(() => false), this.#whenClosed]), UNKNOWN_WRITE_HOLD_LEASES * (this.leaseMs ?? 0), false)));
    for (const p of members) held.delete(p.key);
    if (coordinator) {
      // What was not written (and so not released with the write): let its waiters go now, not at lease expiry.
      const released = new Set(written ? entries.map((e) => e.key) : []);
      this.#release(coordinator, members.filter((p) => !released.has(p.key)).map((p) => p.key));
    }
    for (const p of members) {
      if (written) p.flight!.persisted = true;
      this.#forgetFlight(p);
    }
  }

  /**
   * Extends this reader's leases on `held` (keys still being fetched) every third of a lease period, until the
   * returned function is called: a slow but live holder keeps its leases, one that dies loses them within a period.
   */
  #extendWhileHeld(coordinator: FetchCoordinator, held: Set<string>): () => void {
    const leaseMs = this.leaseMs;
    if (!coordinator.extend || leaseMs === null) return () => {};
    const timer = setInterval(() => {
      if (held.size > 0) void this.#safely(() => coordinator.extend!([...held], leaseMs), 'extend').catch(() => {});
    }, Math.max(10, Math.floor(leaseMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Defence in depth before a value goes to the shared cache: `p.key` is the key its range gives in this mode
   * (a whole aligned block, or the exact chunk) and the value has the range's length. Nothing else is written.
   */
  #isKeyOf(p: Piece, value: Uint8Array): boolean {
    const { start, end } = p.range;
    if (value.byteLength !== end - start || start < 0 || end > p.object.meta.size) return false;
    if (this.mode === 'chunk') return p.key === chunkKey(p.object.prefix, start, end);
    const B = this.blockSize;
    return start % B === 0 && end === Math.min(start + B, p.object.meta.size) && p.key === blockKey(p.object.prefix, B, start / B);
  }

  /**
   * How long fetched bytes of `object` live in the store. When its version cannot tell two contents apart (a
   * weak validator), no longer than its metadata: a same-size replacement is then seen within `metaTtl`.
   */
  #dataTtlMs(object: ObjectRef): number | null {
    if (!object.meta.weakVersion) return this.ttl === null ? null : this.ttl * 1000;
    return Math.min(this.ttl ?? Infinity, this.metaTtl) * 1000;
  }

  async #fetchFromOrigin(object: ObjectRef, range: ByteRange, signal: AbortSignal): Promise<Uint8Array> {
    this.#stats.originRequests++;
    try {
      const bytes = await this.fetcher.fetch(object.path, { start: range.start, end: range.end }, { expect: object.meta, signal });
      if (bytes.byteLength !== range.end - range.start) {
        throw new OriginError(`origin returned ${bytes.byteLength} bytes for [${range.start}, ${range.end})`,
          { path: object.path, backend: this.fetcher.backend });
      }
      this.#stats.originBytes += bytes.byteLength;
      return bytes;
    } catch (e) {
      if (!signal.aborted) this.#stats.originErrors++;
      throw e;
    }
  }

  async #complete(job: ReadJob): Promise<void> {
    try {
      if (job.ahead) {
        for (const list of job.pieces) for (const p of list) if (!p.value) await p.flight!.promise;
        return this.#settle(job, [], undefined);
      }
      const results: Uint8Array[] = [];
      for (let i = 0; i < job.ranges.length; i++) {
        const range = job.ranges[i]!;
        const list = job.pieces[i]!;
        const parts: Uint8Array[] = [];
        for (const p of list) parts.push(p.value ?? (await p.flight!.promise));
        results.push(this.#assemble(range, list, parts));
      }
      this.#settle(job, results, undefined);
    } catch (e) {
      this.#settle(job, undefined, e);
    }
  }

  /**
   * The caller's bytes for `range`. Bytes are handed over as they are (or as a view) only when this caller is
   * sure to be their one owner: a store value read by this batch for this caller alone, or fetched bytes that
   * the store has finished keeping a copy of and that no other read takes. They must also have their own memory
   * (not a slice of a shared socket, pool or coalesced buffer), and the caller must keep most of them, so that
   * a small read does not pin a whole block. Anything else is copied, so no caller can change what another
   * caller or the cache sees.
   */
  #assemble(range: ByteRange, list: Piece[], parts: Uint8Array[]): Uint8Array {
    if (range.end === range.start) return new Uint8Array(0);
    const only = list[0]!;
    const v = parts[0]!;
    if (list.length === 1 && v.byteOffset === 0 && v.buffer.byteLength === v.byteLength && 2 * (range.end - range.start) >= v.byteLength) {
      const flight = only.flight;
      const owned = only.value !== undefined ? only.consumers === 1 : flight !== undefined && flight.persisted && !flight.joined && flight.consumers === 1;
      if (owned) return v.subarray(range.start - only.range.start, range.end - only.range.start);
    }
    const out = Buffer.allocUnsafeSlow(range.end - range.start); // never a slice of Node's shared pool
    list.forEach((p, k) => {
      const from = Math.max(range.start, p.range.start);
      const to = Math.min(range.end, p.range.end);
      out.set(parts[k]!.subarray(from - p.range.start, to - p.range.start), from - range.start);
    });
    return out;
  }

  #settle(job: ReadJob, values: Uint8Array[] | undefined, error: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.unsubscribe?.();
    if (job.ahead) this.#aheadJobs.delete(job);
    for (const task of job.tasks) {
      // The last interested caller gone: stop the origin request nobody waits for.
      if (--task.interest === 0 && !task.done) {
        for (const key of task.keys) if (this.#inflight.get(key)?.task === task) this.#inflight.delete(key);
        task.controller.abort(abortError(job.signal ?? AbortSignal.abort()));
      }
    }
    if (values) {
      for (const v of values) this.#stats.bytesRead += v.byteLength;
      job.resolve(values);
    } else {
      job.reject(error);
    }
  }

  /** Writes entries in the background (tracked for flush); resolves true when the store took them. */
  /**
   * Every call to the store or its coordinator goes through here: a synchronous throw becomes a rejection, the
   * circuit breaker may skip the call (counted as `storeSkipped`), and failures are counted (`storeErrors`, or
   * `writeErrors` for writes) and emitted, once, here; the caller then does without.
   */
  #safely<T>(call: () => Promise<T>, operation = 'store'): Promise<T> {
    const attempt = (): Promise<T> => {
      try {
        return Promise.resolve(call());
      } catch (e) {
        return Promise.reject(e);
      }
    };
    const run = this.#breaker ? this.#breaker.run(operation, attempt) : attempt();
    return run.catch((e: unknown) => {
      if (CircuitOpenError.is(e)) {
        this.#stats.storeSkipped++; // not asked, so not an error of the store
      } else {
        if (operation !== 'setMany') this.#stats.storeErrors++; // failed writes count as writeErrors, in #write
        this.emit('storeError', e, operation);
      }
      throw e;
    });
  }

  #checkOpen(path: string): void {
    if (this.#closed) throw new RangecacheError('ERR_RANGECACHE_CLOSED', `reader is closed (reading ${path})`, { path });
  }
}

/** The origin part of a URL (`https://host:port`), or the whole path where it is no URL (a local file). */
function originOf(path: string): string {
  try {
    const url = new URL(path);
    return url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin;
  } catch {
    return 'file';
  }
}

/** The pieces some read needs whole (it asked for exactly that range, with no fallback): one pass over the batch. */
function neededWhole(jobs: readonly ReadJob[]): Set<Piece> {
  const out = new Set<Piece>();
  for (const job of jobs) job.pieces.forEach((list, i) => { if (!job.fallbacks[i]) for (const p of list) out.add(p); });
  return out;
}
