/**
 * Warm read-ahead: once a sequential scan's read found all its blocks in the store, the next blocks of the scan are
 * looked up in the background, so that the scan's next read finds its lookup done (or under way) while the caller
 * was busy with the previous bytes. Cold scans have their own read-ahead (the batcher fetches ahead from the origin).
 */
import type { Piece } from './read-job.js';
import type { CacheStore } from './store.js';

/** An entry is dropped if no read takes it within this time (the scan stopped or jumped). */
const MAX_AGE_MS = 5000;

interface Prefetched {
  value: Promise<Uint8Array | null>;
  bytes: number;
  at: number;
}

export class WarmPrefetch {
  readonly #store: CacheStore;
  readonly #maxBytes: number;
  readonly #track: (work: Promise<unknown>) => void;
  /** By key: looked up ahead, not taken yet. Insertion order is age order. */
  #entries = new Map<string, Prefetched>();
  /** Bytes held or on their way (counted at their expected size when the lookup starts). */
  #bytes = 0;

  /**
   * @param store - The guarded store (its failures are counted there; here a failed lookup is only a miss).
   * @param maxBytes - Bytes held or in flight at most, for all scans together.
   * @param track - Keeps the background lookups for the reader's flush.
   */
  constructor(store: CacheStore, maxBytes: number, track: (work: Promise<unknown>) => void) {
    this.#store = store;
    this.#maxBytes = maxBytes;
    this.#track = track;
  }

  /** Looks up `pieces` (the blocks after a warm scan's read) in one call, those not already held and that fit. */
  start(pieces: readonly Piece[]): void {
    this.#expire();
    const fresh: Piece[] = [];
    for (const p of pieces) {
      const bytes = p.range.end - p.range.start;
      if (this.#entries.has(p.key) || this.#bytes + bytes > this.#maxBytes) continue;
      fresh.push(p);
      this.#bytes += bytes;
    }
    if (fresh.length === 0) return;
    const lookup = this.#store.getMany(fresh.map((p) => p.key), { expectedBytes: fresh.map((p) => p.range.end - p.range.start) });
    this.#track(lookup.catch(() => {}));
    const at = performance.now();
    fresh.forEach((p, i) => {
      this.#entries.set(p.key, { value: lookup.then((values) => values[i] ?? null, () => null), bytes: p.range.end - p.range.start, at });
    });
  }

  /**
   * The values looked up ahead for `pieces`, taken out (each is given once: its memory becomes the taker's), or
   * `undefined` when none of them was looked up ahead. A value is `null` where the store did not have it.
   */
  take(pieces: readonly Piece[]): Promise<Map<Piece, Uint8Array | null>> | undefined {
    if (this.#entries.size === 0) return undefined;
    const taken: [Piece, Promise<Uint8Array | null>][] = [];
    for (const p of pieces) {
      const entry = this.#entries.get(p.key);
      if (!entry) continue;
      this.#entries.delete(p.key);
      this.#bytes -= entry.bytes;
      taken.push([p, entry.value]);
    }
    if (taken.length === 0) return undefined;
    return Promise.all(taken.map(async ([p, value]) => [p, await value] as const)).then((pairs) => new Map(pairs));
  }

  /** Forgets what was looked up ahead for keys starting with `prefix` (an invalidated object). */
  dropPrefix(prefix: string): void {
    for (const [key, entry] of [...this.#entries]) {
      if (!key.startsWith(prefix)) continue;
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
    }
  }

  #expire(): void {
    const oldest = performance.now() - MAX_AGE_MS;
    for (const [key, entry] of this.#entries) {
      if (entry.at > oldest) break;
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
    }
  }
}
