/**
 * Batching: reads issued in the same tick become one batch, which runs the stages in order. Plan the pieces,
 * join flights already in the air, look the rest up in one store round trip, fetch what missed (through the
 * fleet stage where leases are on, else straight from the loader), then assemble each read's bytes.
 */
import type { AbortFanout } from './abort-fanout.js';
import { assemble, assembleInto } from './assemble.js';
import { setBounded } from './bounded-map.js';
import type { ChunkIndex } from './chunk-index.js';
import { RangecacheError, abortError } from './errors.js';
import type { ObjectMeta } from './fetcher.js';
import type { FleetLoader } from './fleet.js';
import type { FlightTable } from './flight-table.js';
import { versionPrefix } from './keys.js';
import type { StoreLookup } from './lookup.js';
import { type OriginLoader, release } from './origin-loader.js';
import { type PieceLayout, blockPieces, originOf, piecesToFetch, planPieces, readAheadRange } from './plan.js';
import { type ByteRange, clampRange } from './ranges.js';
import type { Flight, ObjectRef, Piece, ReadJob } from './read-job.js';
import type { FetchCoordinator } from './coordinator.js';
import { IntoStop } from './store.js';
import type { WarmPrefetch } from './warm-prefetch.js';

/** Paths and origins remembered (scan ends, weak-version notices), at most. */
const MAX_REMEMBERED = 1000;

export interface ReadBatcherOptions extends PieceLayout {
  namespace: string;
  readAhead: number;
  chunks: ChunkIndex;
  flights: FlightTable;
  lookup: StoreLookup;
  loader: OriginLoader;
  /** The fleet stage around the loader; absent without leases. */
  fleet: FleetLoader | undefined;
  /** Warm read-ahead of sequential scans. */
  prefetch: WarmPrefetch;
  /** The guarded store's coordinator where leases are on: leases a batch took but no longer needs go back to it. */
  coordinator: FetchCoordinator | undefined;
  aborts: AbortFanout;
  /** Keeps background work (fetches nobody awaits) for the reader's flush. */
  track(work: Promise<unknown>): void;
  /** The first object of an origin whose version cannot tell two contents apart. */
  onWeakVersion(path: string, version: string): void;
}

/** How a read came to be: a continued sequential scan (bytes scanned so far), or read-ahead nobody waits for. */
export interface ReadKind {
  scanned?: number;
  ahead?: boolean;
  /** `readRangeInto`: the caller's memory for the one range read. */
  into?: Uint8Array;
}

export class ReadBatcher {
  readonly counters = { bytesRead: 0, copiedBytes: 0 };
  #o: ReadBatcherOptions;
  #queue: ReadJob[] = [];
  /** Counts batches run: reads queued in the same tick see the same number. */
  #batches = 0;
  /** Where the last readRange of each recently read path ended, in which batch, and how long its scan is. */
  #scanEnds = new Map<string, { end: number; batch: number; scanned: number }>();
  /** Read-ahead jobs in progress: nobody awaits them, so close() ends them. */
  #aheadJobs = new Set<ReadJob>();
  /** Key prefixes of recently read paths, at the version they were read at. */
  #prefixes = new Map<string, { version: string; prefix: string }>();
  /** Origins already reported as weak. */
  #weakOrigins = new Map<string, true>();

  constructor(options: ReadBatcherOptions) {
    this.#o = options;
  }

  /** Reads `ranges` of `path` at `meta`'s version in the next batch. */
  read(path: string, meta: ObjectMeta, ranges: readonly ByteRange[], signal: AbortSignal | undefined, kind: ReadKind = {}): Promise<Uint8Array[]> {
    const clamped = ranges.map((r) => clampRange(path, r.start, r.end, meta.size));
    if (clamped.every((r) => r.end === r.start)) return Promise.resolve(clamped.map(() => new Uint8Array(0)));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const object: ObjectRef = { path, meta, prefix: this.#prefixOf(path, meta.version) };
    return new Promise<Uint8Array[]>((resolve, reject) => {
      const job: ReadJob = {
        object, ranges: clamped, signal, settled: false, resolve, reject, tasks: new Set(), pieces: [], fallbacks: [], unsubscribe: undefined,
        ahead: kind.ahead ?? false, scanned: kind.scanned ?? 0,
      };
      if (kind.into && clamped.length === 1) job.into = kind.into;
      else if (!job.ahead && clamped.length === 1 && this.#spansBlocks(clamped[0]!)) {
        // A read of several blocks: its result is allocated first, so that the store reads cached blocks straight
        // into it (as for readRangeInto), not into values of their own that are then copied.
        job.into = Buffer.allocUnsafeSlow(clamped[0]!.end - clamped[0]!.start); // never a slice of Node's shared pool
        job.intoIsResult = true;
      }
      if (signal) job.unsubscribe = this.#o.aborts.subscribe(signal, () => this.#settle(job, undefined, abortError(signal)));
      if (job.ahead) this.#aheadJobs.add(job);
      if (this.#queue.push(job) === 1) queueMicrotask(() => void this.#runBatch());
    });
  }

  /**
   * How many bytes the sequential scan this single-range read continues has read, this read included; 0 when it
   * does not start where the previous readRange of `path` ended in an earlier batch (reads issued together are
   * batched and coalesced already, so they are no scan). Remembers its end.
   */
  continuesScan(path: string, ranges: readonly ByteRange[]): number {
    if (this.#o.mode !== 'block' || ranges.length !== 1) return 0;
    const { start, end } = ranges[0]!;
    const previous = this.#scanEnds.get(path);
    const continues = previous !== undefined && previous.end === start && start > 0 && previous.batch !== this.#batches;
    const scanned = (continues ? previous.scanned : 0) + (end - start);
    setBounded(this.#scanEnds, path, { end, batch: this.#batches, scanned }, MAX_REMEMBERED);
    return continues ? scanned : 0;
  }

  /** Whether `range` covers bytes of more than one block (block mode). */
  #spansBlocks(range: ByteRange): boolean {
    const B = this.#o.blockSize;
    return this.#o.mode === 'block' && Math.floor(range.start / B) !== Math.floor((range.end - 1) / B);
  }

  /** The key prefix of `path` at `version`, remembered: encoding it (URL parsing, percent-encoding) costs ~5 µs a read. */
  #prefixOf(path: string, version: string): string {
    const known = this.#prefixes.get(path);
    if (known?.version === version) return known.prefix;
    const prefix = versionPrefix(this.#o.namespace, path, version);
    setBounded(this.#prefixes, path, { version, prefix }, MAX_REMEMBERED);
    return prefix;
  }

  /** Ends read-ahead in progress (its origin requests are aborted unless a read shares them). */
  stopReadAhead(): void {
    for (const job of [...this.#aheadJobs]) {
      const { path } = job.object;
      this.#settle(job, undefined, new RangecacheError('ERR_RANGECACHE_CLOSED', `reader closed while reading ahead in ${path}`, { path }));
    }
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
    const { flights, lookup, chunks } = this.#o;
    planPieces(jobs, this.#o, chunks);
    // Pieces this reader is already fetching join that fetch at once (and hold it, so that another caller's abort
    // cannot cancel it during the store lookup); the rest go to the store in one batch. Exact-range fallbacks are
    // not looked up: they are only used when their containing chunk is gone.
    const used = new Set<Piece>();
    for (const job of jobs) if (!job.settled) for (const list of job.pieces) for (const p of list) used.add(p);
    const joins: Flight[] = []; // flights this batch joined: counted once its reads are counted as their consumers
    const lookups = [...used].filter((p) => !this.#join(p, joins));
    flights.attach(jobs);
    // Blocks a warm scan looked up ahead are taken as they are; the rest go to the store.
    const ahead = this.#o.prefetch.take(lookups);
    const toLookUp = ahead ? this.#usePrefetched(lookups, await ahead) : lookups;
    const intoSignal = this.#readsInto(jobs);
    const missed = toLookUp.length > 0 ? await lookup.lookupBatch(toLookUp, intoSignal) : new Set<Piece>();
    for (const job of jobs) {
      job.abandonInto = undefined; // the lookup is over: the store writes nothing more into callers' memory
      for (const p of job.pieces[0] ?? []) p.into = undefined;
    }
    this.#unsplice(jobs);

    const live = jobs.filter((j) => !j.settled);
    const needed = piecesToFetch(live, missed, chunks);
    // Leases the lookup took for pieces no read needs any more (a chunk shortcut replaced by its exact range).
    const unneeded = lookups.filter((p) => p.lease === 'claimed' && !needed.has(p)).map((p) => p.key);
    if (unneeded.length > 0) release(this.#o.coordinator!, unneeded);
    this.#startFetches([...needed], joins);
    flights.attach(live);
    for (const job of live) {
      if (job.scanned === 0) continue;
      if (job.pieces.some((list) => list.some((p) => !p.value))) this.#readAheadOf(job); // cold: fetch ahead
      else if (!job.into || job.intoIsResult) this.#prefetchAfter(job); // warm: look ahead (readRangeInto keeps its zero-copy path)
    }
    // Who will take bytes from each piece and each flight, joined ones included: bytes go to a caller without a
    // copy only when it is the one taker (read-ahead takes nothing).
    for (const job of live) {
      if (job.ahead) continue;
      for (const list of job.pieces) {
        for (const p of list) {
          p.consumers++;
          if (p.flight) p.flight.consumers++;
        }
      }
    }
    flights.countJoins(joins);
    for (const job of live) void this.#complete(job);
  }

  /**
   * Marks the pieces whose store values may be read straight into a `readRangeInto` caller's memory: pieces that
   * lie inside its range and that no other read of the batch takes. Returns the signal that stops those writes
   * (a read that ends early aborts it), or undefined when there are none.
   */
  #readsInto(jobs: readonly ReadJob[]): IntoStop | undefined {
    const readers = new Map<Piece, number>();
    for (const job of jobs) if (!job.settled) for (const list of job.pieces) for (const p of new Set(list)) readers.set(p, (readers.get(p) ?? 0) + 1);
    let stop: IntoStop | undefined;
    for (const job of jobs) {
      const target = job.into;
      if (!target || job.settled) continue;
      const range = job.ranges[0]!;
      for (const p of job.pieces[0]!) {
        if (readers.get(p) !== 1 || p.value || p.range.start < range.start || p.range.end > range.end) continue;
        p.into = target.subarray(p.range.start - range.start, p.range.end - range.start);
        const batchStop = (stop ??= new IntoStop());
        job.abandonInto = () => batchStop.abort();
      }
    }
    return stop;
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
    const { path, meta } = weak[0]!.object;
    const origin = originOf(path);
    if (!this.#weakOrigins.has(origin)) {
      setBounded(this.#weakOrigins, origin, true, MAX_REMEMBERED);
      this.#o.onWeakVersion(path, meta.version);
    }
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

  /** Pieces whose value was looked up ahead take it (if it is the right length); returns the pieces still to look up. */
  #usePrefetched(lookups: readonly Piece[], values: ReadonlyMap<Piece, Uint8Array | null>): Piece[] {
    const corrupt: string[] = [];
    const rest = lookups.filter((p) => {
      if (!values.has(p)) return true;
      const v = values.get(p);
      if (!this.#o.lookup.accept(p, v, corrupt)) return true;
      p.value = v;
      return false;
    });
    this.#o.lookup.deleteCorrupt(corrupt);
    return rest;
  }

  /** Looks up the blocks after a sequential read that found all of its blocks, for the scan's next read. */
  #prefetchAfter(job: ReadJob): void {
    const { meta } = job.object;
    const ahead = readAheadRange(job.ranges[0]!.end, job.scanned, meta.size, this.#o.blockSize, this.#o.readAhead);
    if (ahead) this.#o.prefetch.start(blockPieces(job.object, ahead, this.#o.blockSize));
  }

  /** Forgets blocks looked up ahead for an object being invalidated (keys starting with `prefix`). */
  forget(prefix: string): void {
    this.#o.prefetch.dropPrefix(prefix);
  }

  /** Fetches blocks after a sequential read that missed, into the cache; nobody waits on them. */
  #readAheadOf(job: ReadJob): void {
    const { path, meta } = job.object;
    const ahead = readAheadRange(job.ranges[0]!.end, job.scanned, meta.size, this.#o.blockSize, this.#o.readAhead);
    if (ahead) this.read(path, meta, [ahead], undefined, { ahead: true }).catch(() => {});
  }

  /**
   * Gets the missing pieces: each becomes a flight in this process at once (so concurrent reads here join it),
   * then goes through the fleet stage where leases are on (claimed pieces are fetched, pieces another process is
   * fetching are awaited, pieces that landed meanwhile are read), else straight to the loader.
   */
  #startFetches(misses: Piece[], joins: Flight[]): void {
    const { flights, fleet, loader, coordinator } = this.#o;
    // Another batch may have started fetching some of these while this one waited for the store: join it, and
    // hand back a lease this batch's lookup took, so that other instances are not kept waiting for it.
    const fresh: Piece[] = [];
    const handBack: string[] = [];
    for (const p of misses) {
      if (!this.#join(p, joins)) fresh.push(p);
      else if (p.lease === 'claimed') handBack.push(p.key);
    }
    if (handBack.length > 0) release(coordinator!, handBack);
    if (fresh.length === 0) return;
    const { signal } = flights.start(fresh).controller;
    // Pieces whose cached value a weak-version read refused must come from the origin, not from the store again.
    const leased = fleet ? fresh.filter((p) => !p.refetch) : [];
    const direct = fleet ? fresh.filter((p) => p.refetch) : fresh;
    const work = Promise.all([
      leased.length > 0 ? fleet!.load(leased, signal) : undefined,
      direct.length > 0 ? loader.fetchPieces(direct, signal) : undefined,
    ]);
    this.#o.track(work.catch((e: unknown) => { for (const p of fresh) p.flight!.reject(e); }));
  }

  /** Joins the flight of `p` if there is one, and notes the join in `joins`. */
  #join(p: Piece, joins: Flight[]): boolean {
    if (!this.#o.flights.join(p)) return false;
    joins.push(p.flight!);
    return true;
  }

  async #complete(job: ReadJob): Promise<void> {
    try {
      if (job.ahead) {
        for (const list of job.pieces) for (const p of list) if (!p.value) await p.flight!.promise;
        return this.#settle(job, [], undefined);
      }
      if (job.into) {
        const list = job.pieces[0]!;
        const parts: Uint8Array[] = [];
        for (const p of list) parts.push(p.value ?? (await p.flight!.promise));
        if (job.settled) return; // ended meanwhile (aborted): the caller's memory is not written any more
        const range = job.ranges[0]!;
        this.counters.copiedBytes += assembleInto(job.into, range, list, parts);
        return this.#settle(job, [job.into.subarray(0, range.end - range.start)], undefined);
      }
      const results: Uint8Array[] = [];
      for (let i = 0; i < job.ranges.length; i++) {
        const list = job.pieces[i]!;
        const parts: Uint8Array[] = [];
        for (const p of list) parts.push(p.value ?? (await p.flight!.promise));
        const bytes = assemble(job.ranges[i]!, list, parts);
        if (!parts.some((part) => part.buffer === bytes.buffer)) this.counters.copiedBytes += bytes.byteLength;
        results.push(bytes);
      }
      this.#settle(job, results, undefined);
    } catch (e) {
      this.#settle(job, undefined, e);
    }
  }

  #settle(job: ReadJob, values: Uint8Array[] | undefined, error: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.abandonInto?.();
    job.unsubscribe?.();
    if (job.ahead) this.#aheadJobs.delete(job);
    // The last interested caller gone: stop the origin request nobody waits for.
    this.#o.flights.detach(job);
    if (values) {
      for (const v of values) this.counters.bytesRead += v.byteLength;
      job.resolve(values);
    } else {
      job.reject(error);
    }
  }
}
