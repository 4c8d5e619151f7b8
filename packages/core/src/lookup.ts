/**
 * The lookup stage: pieces' values from the store, in one round trip per batch. A value of the wrong length is
 * never served: it is counted, deleted in the background, and its piece is fetched again. Where the last lookup of
 * an object missed, the next one takes the leases of what is missing in the same round trip (`lookupAndClaim`),
 * so a cold sequential scan costs one round trip before each origin request.
 */
import { setBounded } from './bounded-map.js';
import { lateAnswer } from './late-answers.js';
import type { ChunkIndex } from './chunk-index.js';
import type { LookupClaimResult } from './coordinator.js';
import type { FlightTable } from './flight-table.js';
import type { Piece } from './read-job.js';
import type { CacheMode } from './reader-options.js';
import type { CacheStore, GetManyOptions, IntoSignal } from './store.js';

/** Objects remembered as "last lookup missed", at most. */
const MAX_OBJECTS = 10_000;

export interface StoreLookupOptions {
  /** The guarded store: its calls count their own failures, so this stage only catches them. */
  store: CacheStore;
  flights: FlightTable;
  chunks: ChunkIndex;
  mode: CacheMode;
  /** Lease length where the fleet is on (`false`: off, no leases taken with lookups). */
  leaseMs: number | false;
  /** Keeps background work (deletes of corrupt values) for the reader's flush. */
  track(work: Promise<unknown>): void;
}

export class StoreLookup {
  readonly counters = { hits: 0, cacheBytes: 0, corruptValues: 0 };
  #o: StoreLookupOptions;
  /** Objects (version prefixes) whose last lookup missed: their next lookup takes leases in the same round trip. */
  #expectMisses = new Map<string, true>();

  constructor(options: StoreLookupOptions) {
    this.#o = options;
  }

  /**
   * The batch's lookup of `pieces`. Found values are set on the pieces (`p.value`); where the lookup took leases,
   * `p.lease` says what it found. Returns the pieces that missed. A failed store is a miss for every piece.
   */
  async lookupBatch(pieces: readonly Piece[], intoSignal?: IntoSignal): Promise<Set<Piece>> {
    let values: (Uint8Array | null)[];
    try {
      values = await this.#lookupOrClaim(pieces, intoSignal);
    } catch {
      values = pieces.map(() => null); // all misses: the reads go on to the origin
    }
    const corrupt: string[] = [];
    const missed = new Set<Piece>();
    const missedObjects = new Set<string>();
    pieces.forEach((p, i) => {
      const v = values[i];
      if (this.accept(p, v, corrupt)) p.value = v;
      else {
        missed.add(p);
        missedObjects.add(p.object.prefix);
      }
    });
    this.deleteCorrupt(corrupt);
    for (const p of pieces) {
      if (missedObjects.has(p.object.prefix)) setBounded(this.#expectMisses, p.object.prefix, true, MAX_OBJECTS);
      else this.#expectMisses.delete(p.object.prefix);
    }
    return missed;
  }

  /**
   * Resolves pieces' flights from the store. Returns the pieces it could not: `missing` (no value, or one of the
   * wrong length) and `unanswered` (the store failed or did not answer). A lookup that timed out still counts if its
   * answer comes within `lateMs`: a busy store's values beat a fetch from the origin (a fleet woken by one release
   * reads the same values at once).
   */
  async fromStore(pieces: Piece[], signal: AbortSignal, lateMs = 0): Promise<{ missing: Piece[]; unanswered: Piece[] }> {
    if (pieces.length === 0) return { missing: [], unanswered: [] };
    signal.throwIfAborted();
    let values: (Uint8Array | null)[];
    try {
      values = await this.#lookup(pieces);
    } catch (e) {
      const late = lateMs > 0 ? await lateAnswer(e, lateMs) : undefined;
      if (!Array.isArray(late) || late.length !== pieces.length || !late.every((v) => v === null || v instanceof Uint8Array)) {
        return { missing: [], unanswered: pieces };
      }
      values = late as (Uint8Array | null)[];
    }
    const missing: Piece[] = [];
    const corrupt: string[] = [];
    pieces.forEach((p, i) => {
      const v = values[i];
      if (this.accept(p, v, corrupt)) this.#o.flights.resolveStored(p, v);
      else missing.push(p);
    });
    this.deleteCorrupt(corrupt);
    return { missing, unanswered: [] };
  }

  /**
   * Whether `v`, read from the store for `p`, is its value: the expected length, counted as a hit. A value of
   * another length is never returned: its key goes to `corrupt`, to be deleted (and the piece fetched again).
   */
  accept(p: Piece, v: Uint8Array | null | undefined, corrupt: string[]): v is Uint8Array {
    const expected = p.range.end - p.range.start;
    if (v && v.byteLength === expected) {
      this.counters.hits++;
      this.counters.cacheBytes += expected;
      if (this.#o.mode === 'chunk') this.#o.chunks.add(p.object.prefix, p.range);
      return true;
    }
    if (v) {
      corrupt.push(p.key);
      this.counters.corruptValues++;
    }
    return false;
  }

  /** Deletes values found corrupt, in the background. */
  deleteCorrupt(keys: string[]): void {
    if (keys.length > 0) this.#o.track(this.#o.store.deleteMany(keys).catch(() => {}));
  }

  /** A plain lookup; values of pieces that fill a caller's memory (`p.into`) may be read straight into it. */
  #lookup(pieces: readonly Piece[], intoSignal?: IntoSignal): Promise<(Uint8Array | null)[]> {
    const options: GetManyOptions = { expectedBytes: pieces.map((p) => p.range.end - p.range.start) };
    if (intoSignal && pieces.some((p) => p.into)) {
      options.into = pieces.map((p) => p.into);
      options.intoSignal = intoSignal;
    }
    return this.#o.store.getMany(pieces.map((p) => p.key), options);
  }

  /** A plain lookup, or, where misses are expected and the store offers it, lookup and claim in one round trip. */
  async #lookupOrClaim(pieces: readonly Piece[], intoSignal?: IntoSignal): Promise<(Uint8Array | null)[]> {
    const { leaseMs, store } = this.#o;
    const coordinator = leaseMs === false ? undefined : store.coordinator;
    if (!coordinator?.lookupAndClaim || !pieces.some((p) => this.#expectMisses.has(p.object.prefix))) return this.#lookup(pieces, intoSignal);
    const expectedBytes = pieces.map((p) => p.range.end - p.range.start);
    let results: LookupClaimResult[];
    try {
      results = await coordinator.lookupAndClaim(pieces.map((p) => p.key), leaseMs as number, { expectedBytes });
    } catch (e) {
      // A late answer holds the leases the script took: without it, this reader would wait on its own leases.
      const late = await lateAnswer(e, (leaseMs as number) / 2);
      if (!Array.isArray(late) || late.length !== pieces.length) throw e;
      results = late as LookupClaimResult[];
    }
    const landed: number[] = [];
    const values = results.map((r, i) => {
      if (r instanceof Uint8Array) return r;
      if (r === 'landed') landed.push(i);
      else pieces[i]!.lease = r;
      return null;
    });
    if (landed.length > 0) {
      // Values the script left to a plain lookup (big ones): read them as a warm batch would. If that fails, they
      // are misses without a lease, claimed again by the fleet stage.
      const read = await this.#lookup(landed.map((i) => pieces[i]!), intoSignal).catch(() => []);
      landed.forEach((i, k) => { values[i] = read[k] ?? null; });
    }
    return values;
  }
}
