import { setBounded } from './bounded-map.js';
import type { ByteRange } from './ranges.js';

/**
 * Which chunks of which object this reader knows to be cached, so that a read inside a cached chunk is served
 * from that chunk instead of missing on its exact key. It is a hint: a chunk that has since expired is simply a
 * miss, and the reader falls back to the exact range. Bounded in objects and in chunks per object.
 */
export class ChunkIndex {
  #objects = new Map<string, ByteRange[]>(); // sorted by start; Map order gives LRU over objects

  constructor(
    readonly maxObjects = 1000,
    readonly maxChunksPerObject = 10_000,
  ) {}

  /** A cached chunk that contains `[start, end)` but is not exactly it, if one is known. */
  findContaining(object: string, range: ByteRange): ByteRange | undefined {
    const chunks = this.#objects.get(object);
    if (chunks === undefined) return undefined;
    setBounded(this.#objects, object, chunks, this.maxObjects); // most recently used now
    // The last chunk starting at or before range.start, then a few before it (chunks may overlap). A known
    // exact chunk wins: reading it moves no more bytes than asked for.
    let i = upperBound(chunks, range.start) - 1;
    for (let j = i; j >= 0 && chunks[j]!.start === range.start; j--) if (chunks[j]!.end === range.end) return undefined;
    for (let seen = 0; i >= 0 && seen < 64; i--, seen++) {
      const c = chunks[i]!;
      if (c.end >= range.end && !(c.start === range.start && c.end === range.end)) return c;
    }
    return undefined;
  }

  add(object: string, range: ByteRange): void {
    let chunks = this.#objects.get(object);
    if (chunks === undefined) {
      chunks = [];
      setBounded(this.#objects, object, chunks, this.maxObjects);
    }
    const i = upperBound(chunks, range.start);
    for (let j = i - 1; j >= 0 && chunks[j]!.start === range.start; j--) if (chunks[j]!.end === range.end) return;
    if (chunks.length >= this.maxChunksPerObject) return;
    chunks.splice(i, 0, { start: range.start, end: range.end });
  }

  remove(object: string, range: ByteRange): void {
    const chunks = this.#objects.get(object);
    if (chunks === undefined) return;
    const i = chunks.findIndex((c) => c.start === range.start && c.end === range.end);
    if (i >= 0) chunks.splice(i, 1);
  }

  /** Forgets every object whose id starts with `prefix`. */
  dropPrefix(prefix: string): void {
    for (const key of [...this.#objects.keys()]) if (key.startsWith(prefix)) this.#objects.delete(key);
  }
}

/** The index of the first chunk whose start is greater than `start`. */
function upperBound(chunks: ByteRange[], start: number): number {
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (chunks[mid]!.start <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
