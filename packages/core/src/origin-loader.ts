/**
 * The loader: fetches pieces from the origin, coalesced per object and limited in concurrency, and lands each
 * origin response on its own as soon as it arrives: its flights resolve, and its pieces are written to the store
 * (releasing their leases in the same round trip) while the rest is still in flight.
 */
import type { FetchCoordinator } from './coordinator.js';
import { OriginError } from './errors.js';
import type { Fetcher } from './fetcher.js';
import type { ChunkIndex } from './chunk-index.js';
import type { FlightTable } from './flight-table.js';
import { orAfter } from './late-answers.js';
import type { Limiter } from './limiter.js';
import { type PieceLayout, dataTtlMs, isKeyOf } from './plan.js';
import { type ByteRange, type CoalescedRange, coalesceRanges } from './ranges.js';
import type { ObjectRef, Piece } from './read-job.js';
import type { StoreEntry } from './store.js';
import type { WriteBehind } from './write-behind.js';

/** Redis's largest string: a bigger piece is served but not cached. */
const MAX_VALUE = 512 * 1024 * 1024;
/** How many lease periods a holder keeps its leases alive for a timed-out write that may still land. */
const UNKNOWN_WRITE_HOLD_LEASES = 5;

export interface OriginLoaderOptions extends PieceLayout {
  fetcher: Fetcher;
  limiter: Limiter;
  flights: FlightTable;
  writeBehind: WriteBehind;
  chunks: ChunkIndex;
  maxGap: number;
  maxRequest: number;
  ttlMs: number | false;
  metaTtlMs: number;
  /** Lease length (`false`: no fleet): leases are extended every third of it while their fetch goes on. */
  leaseMs: number | false;
  /** Resolves (false) once the reader closes: leases held for a write that timed out are let go then. */
  whenClosed: Promise<false>;
}

export class OriginLoader {
  readonly counters = { misses: 0, originRequests: 0, originBytes: 0, originErrors: 0 };
  #o: OriginLoaderOptions;

  constructor(options: OriginLoaderOptions) {
    this.#o = options;
  }

  /**
   * Fetches pieces from the origin, coalesced per object (blocks fetched ahead one request each, so they arrive in
   * parallel), and lands each response as it arrives. With a `coordinator` (the pieces' leases are this reader's),
   * the leases are extended while the fetch goes on and released as each response lands or fails.
   */
  async fetchPieces(pieces: Piece[], signal: AbortSignal, coordinator?: FetchCoordinator): Promise<void> {
    if (pieces.length === 0) return;
    const { maxGap, blockSize, limiter } = this.#o;
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
      const maxRequest = list[0]!.ahead ? Math.min(blockSize, this.#o.maxRequest) : this.#o.maxRequest;
      for (const group of coalesceRanges(list.map((p) => p.range), { maxGap, maxRequest })) {
        const members = group.members.map((i) => list[i]!);
        this.counters.misses += members.length;
        fetches.push(limiter.run(() => this.#fetch(object, group, signal), signal).then(
          (buf) => this.#land(object, group, members, buf, coordinator, held),
          (e: unknown) => {
            for (const p of members) {
              p.flight!.reject(e);
              held.delete(p.key);
            }
            if (coordinator) release(coordinator, members.map((p) => p.key));
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
  async #land(object: ObjectRef, group: CoalescedRange, members: Piece[], buf: Uint8Array, coordinator: FetchCoordinator | undefined, held: Set<string>): Promise<void> {
    const { flights, leaseMs } = this.#o;
    const ttlMs = dataTtlMs(object.meta, this.#o.ttlMs, this.#o.metaTtlMs);
    const entries: StoreEntry[] = [];
    for (const p of members) {
      const value = buf.subarray(p.range.start - group.start, p.range.end - group.start);
      if (value.byteLength <= MAX_VALUE && isKeyOf(p, value, this.#o)) entries.push({ key: p.key, value, ttlMs });
      if (this.#o.mode === 'chunk') this.#o.chunks.add(object.prefix, p.range);
      p.flight!.resolve(value);
    }
    // The write waits for the reads these bytes complete to queue their next store call (in the microtasks that
    // follow), so that the store sees that small call first (RedisStore sends the write once it is answered).
    await new Promise(setImmediate);
    const { outcome, completed } = await this.#o.writeBehind.write(entries, coordinator !== undefined);
    // A write that timed out on a busy machine usually lands late, releasing its leases with it. Until it has (or
    // has failed), its leases stay held and extended: waiters are neither woken to an empty store nor let go to
    // fetch the pieces again. A Redis that never answers stops the extensions too, so the leases lapse anyway.
    const written = outcome === 'written' ||
      (outcome === 'unknown' && coordinator !== undefined && completed !== undefined && leaseMs !== false &&
        (await orAfter(Promise.race([completed.catch(() => false), this.#o.whenClosed]), UNKNOWN_WRITE_HOLD_LEASES * leaseMs, false)));
    for (const p of members) held.delete(p.key);
    if (coordinator) {
      // What was not written (and so not released with the write): let its waiters go now, not at lease expiry.
      const released = new Set(written ? entries.map((e) => e.key) : []);
      release(coordinator, members.filter((p) => !released.has(p.key)).map((p) => p.key));
    }
    for (const p of members) {
      if (written) p.flight!.persisted = true;
      flights.forget(p);
    }
  }

  /**
   * Extends this reader's leases on `held` (keys still being fetched) every third of a lease period, until the
   * returned function is called: a slow but live holder keeps its leases, one that dies loses them within a period.
   */
  #extendWhileHeld(coordinator: FetchCoordinator, held: Set<string>): () => void {
    const { leaseMs } = this.#o;
    if (!coordinator.extend || leaseMs === false) return () => {};
    const timer = setInterval(() => {
      if (held.size > 0) void coordinator.extend!([...held], leaseMs).catch(() => {});
    }, Math.max(10, Math.floor(leaseMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  async #fetch(object: ObjectRef, range: ByteRange, signal: AbortSignal): Promise<Uint8Array> {
    const { fetcher } = this.#o;
    this.counters.originRequests++;
    try {
      const bytes = await fetcher.fetch(object.path, { start: range.start, end: range.end }, { expect: object.meta, signal });
      if (bytes.byteLength !== range.end - range.start) {
        throw new OriginError(`origin returned ${bytes.byteLength} bytes for [${range.start}, ${range.end})`, { path: object.path, backend: fetcher.backend });
      }
      this.counters.originBytes += bytes.byteLength;
      return bytes;
    } catch (e) {
      if (!signal.aborted) this.counters.originErrors++;
      throw e;
    }
  }
}

/** Releases leases on `keys` in the background (the coordinator is guarded: a failure is counted there). */
export function release(coordinator: FetchCoordinator, keys: readonly string[]): void {
  if (keys.length > 0) void coordinator.release(keys).catch(() => {});
}
