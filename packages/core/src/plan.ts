/**
 * Planning, pure: which pieces (blocks or chunks) a batch of reads needs, which of them must come from the
 * origin once the store has answered, how far a sequential scan reads ahead, and what may be written where.
 * Nothing here does I/O; `plan.test.ts` tests it without a store.
 */
import type { ChunkIndex } from './chunk-index.js';
import type { ObjectMeta } from './fetcher.js';
import { blockKey, chunkKey } from './keys.js';
import { type ByteRange, blockRange, blockSpan } from './ranges.js';
import type { ObjectRef, Piece, ReadJob } from './read-job.js';
import type { CacheMode } from './reader-options.js';

/** How pieces are cut: the cache mode and, in block mode, the block size. */
export interface PieceLayout {
  readonly mode: CacheMode;
  readonly blockSize: number;
}

/**
 * Cuts each live job's ranges into pieces (`job.pieces`, and in chunk mode `job.fallbacks`), one `Piece` per key
 * across the whole batch, so that reads of the same bytes share it. In chunk mode a range inside a chunk that
 * `chunks` knows is cached is served from that chunk, with its exact range kept as the fallback. A piece only
 * read-ahead wants is marked `ahead`.
 *
 * @example
 * ```ts
 * const pieces = planPieces(jobs, { mode: 'block', blockSize: 1 << 20 }, new ChunkIndex());
 * ```
 */
export function planPieces(jobs: readonly ReadJob[], layout: PieceLayout, chunks: ChunkIndex): Map<string, Piece> {
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
      if (layout.mode === 'chunk') {
        const exact = (): Piece => piece(object, chunkKey(object.prefix, r.start, r.end), r);
        const container = chunks.findContaining(object.prefix, r);
        if (container === undefined) return [exact()];
        job.fallbacks[i] = exact();
        return [piece(object, chunkKey(object.prefix, container.start, container.end), container)];
      }
      const { first, last } = blockSpan(r.start, r.end, layout.blockSize);
      const list: Piece[] = [];
      for (let b = first; b <= last; b++) {
        list.push(piece(object, blockKey(object.prefix, layout.blockSize, b), blockRange(b, layout.blockSize, object.meta.size)));
      }
      return list;
    });
  }
  return pieces;
}

/**
 * The block pieces that cover `range` of `object`, for a lookup nobody waits for (warm read-ahead).
 *
 * @example
 * ```ts
 * blockPieces(object, { start: 4 << 20, end: 6 << 20 }, 1 << 20); // blocks 4 and 5
 * ```
 */
export function blockPieces(object: ObjectRef, range: ByteRange, blockSize: number): Piece[] {
  const { first, last } = blockSpan(range.start, range.end, blockSize);
  const pieces: Piece[] = [];
  for (let b = first; b <= last; b++) {
    pieces.push({ key: blockKey(object.prefix, blockSize, b), range: blockRange(b, blockSize, object.meta.size), object, consumers: 0, ahead: true });
  }
  return pieces;
}

/**
 * After the lookup: the pieces that must be fetched (neither found nor already in flight). A containing chunk
 * that the lookup found gone is fetched only if some read needs exactly it; the reads that used it only as a
 * shortcut fall back to their own exact ranges (and `chunks` forgets it).
 */
export function piecesToFetch(jobs: readonly ReadJob[], missed: ReadonlySet<Piece>, chunks: ChunkIndex): Set<Piece> {
  const whole = neededWhole(jobs);
  const needed = new Set<Piece>();
  for (const job of jobs) {
    job.pieces.forEach((list, i) => {
      const fallback = job.fallbacks[i];
      const container = list[0];
      if (fallback && container && !container.value && !container.flight && missed.has(container) && !whole.has(container)) {
        chunks.remove(container.object.prefix, container.range);
        list[0] = fallback;
      }
      for (const p of list) if (!p.value && !p.flight) needed.add(p);
    });
  }
  return needed;
}

/** The pieces some read needs whole (it asked for exactly that range, with no fallback). */
function neededWhole(jobs: readonly ReadJob[]): Set<Piece> {
  const out = new Set<Piece>();
  for (const job of jobs) job.pieces.forEach((list, i) => { if (!job.fallbacks[i]) for (const p of list) out.add(p); });
  return out;
}

/**
 * The range to fetch ahead of a sequential scan that has read `scanned` bytes and ended at `start`: whole blocks
 * after it, about 5% of what it has read (at least one block, at most `readAhead`), so a scan that stops makes
 * the origin send little more than it read. `undefined` at the end of the object.
 *
 * @example
 * ```ts
 * readAheadRange(4 << 20, 40 << 20, 100 << 20, 1 << 20, 4); // { start: 4 MiB, end: 6 MiB }: 2 blocks (5% of 40 MiB)
 * ```
 */
export function readAheadRange(start: number, scanned: number, size: number, blockSize: number, readAhead: number): ByteRange | undefined {
  const window = Math.max(1, Math.min(readAhead, Math.floor((0.05 * scanned) / blockSize)));
  const end = Math.min(size, (Math.floor((start - 1) / blockSize) + 1 + window) * blockSize);
  return end > start ? { start, end } : undefined;
}

/**
 * Defence in depth before a value goes to the shared cache: `p.key` is the key its range gives in this layout
 * (a whole aligned block, or the exact chunk) and the value has the range's length. Nothing else is written.
 */
export function isKeyOf(p: Piece, value: Uint8Array, layout: PieceLayout): boolean {
  const { start, end } = p.range;
  if (value.byteLength !== end - start || start < 0 || end > p.object.meta.size) return false;
  if (layout.mode === 'chunk') return p.key === chunkKey(p.object.prefix, start, end);
  const B = layout.blockSize;
  return start % B === 0 && end === Math.min(start + B, p.object.meta.size) && p.key === blockKey(p.object.prefix, B, start / B);
}

/**
 * How long fetched bytes of an object live in the store (`false`: no expiry). When its version cannot tell two
 * contents apart (a weak validator), no longer than its metadata: a same-size replacement is then seen within
 * `metaTtlMs`.
 */
export function dataTtlMs(meta: ObjectMeta, ttlMs: number | false, metaTtlMs: number): number | null {
  if (!meta.weakVersion) return ttlMs === false ? null : ttlMs;
  return ttlMs === false ? metaTtlMs : Math.min(ttlMs, metaTtlMs);
}

/** The origin part of a URL (`https://host:port`), or `file` where the path is no URL (a local file). */
export function originOf(path: string): string {
  try {
    const url = new URL(path);
    return url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin;
  } catch {
    return 'file';
  }
}
