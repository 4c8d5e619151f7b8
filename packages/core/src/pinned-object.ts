/**
 * A handle on one version of one object (`reader.open(path)`), and the block-by-block stream that both the handle
 * and `reader.stream()` serve. A handle never moves to another version: once the origin has changed, its reads
 * reject with `VersionChangedError`, so everything read through one handle is from the same bytes.
 */
import { ReadableStream } from 'node:stream/web';
import { VersionChangedError } from './errors.js';
import { InvalidRangeError } from './input-errors.js';
import type { ObjectMeta } from './fetcher.js';
import { type ByteRange, checkRangeShape, clampRange } from './ranges.js';
import { ownRange, signalOf } from './read-input.js';
import type { ReadOptions, StreamOptions } from './reader-options.js';

/** What a handle and a stream need of their reader. */
export interface PinnedReads {
  readonly blockSize: number;
  readonly readAhead: number;
  /** Reads `ranges` of `path` at `meta`'s version, in one batch (rejects with VersionChangedError if it moved). */
  readAt(path: string, meta: ObjectMeta, ranges: readonly ByteRange[], signal: AbortSignal | undefined): Promise<Uint8Array[]>;
  /** Counts `n` reads in the reader's stats. */
  countReads(n: number): void;
  /** Calls `onAbort` once `signal` aborts, through the reader's fanout; returns the unsubscribe function. */
  onAbort(signal: AbortSignal, onAbort: () => void): () => void;
  /** Throws if the reader is closed. */
  checkOpen(path: string): void;
}

/**
 * One version of one object, pinned: `read`, `readRanges` and `stream` all serve that version's bytes, and reject
 * with `VersionChangedError` once the origin holds another (open it again to read the new one).
 *
 * @example
 * ```ts
 * const file = await reader.open('s3://bucket/era5.zarr/t2m/0.0.0');
 * const header = await file.read(0, 4096);
 * for await (const chunk of file.stream({ start: 4096 })) consume(chunk);
 * console.log(file.byteLength, file.meta.version);
 * ```
 */
export class PinnedObject {
  readonly path: string;
  /** Size and version of the pinned object. */
  readonly meta: ObjectMeta;
  readonly #reads: PinnedReads;

  /** @internal Made by `AsyncCachingReader.open()`. */
  constructor(reads: PinnedReads, path: string, meta: ObjectMeta) {
    this.#reads = reads;
    this.path = path;
    this.meta = meta;
  }

  /** The object's size in bytes. */
  get byteLength(): number {
    return this.meta.size;
  }

  /** The bytes `[start, end)` (clamped to the object), end exclusive like `slice()`. */
  async read(start: number, end: number, options: ReadOptions = {}): Promise<Uint8Array> {
    const [bytes] = await this.readRanges([{ start, end }], options);
    return bytes!;
  }

  /** Several ranges in one batch: one store round trip for all lookups, misses coalesced. */
  async readRanges(ranges: readonly ByteRange[], options: ReadOptions = {}): Promise<Uint8Array[]> {
    this.#reads.checkOpen(this.path);
    const signal = signalOf('readRanges', this.path, options);
    if (!Array.isArray(ranges)) throw new InvalidRangeError(this.path, { start: undefined, end: undefined }, 'ranges must be an array of { start, end }');
    const own = ranges.map((r: unknown) => ownRange(this.path, r));
    signal?.throwIfAborted();
    this.#reads.countReads(own.length);
    return this.#reads.readAt(this.path, this.meta, own, signal);
  }

  /**
   * A web `ReadableStream` of `[start, end)` in pieces of at most `blockSize` bytes aligned to block boundaries,
   * at most `readAhead` pieces ahead of the consumer (see `AsyncCachingReader.stream`). Errors with
   * `VersionChangedError` if the origin moves on while it runs.
   */
  stream(options: StreamOptions = {}): ReadableStream<Uint8Array> {
    this.#reads.checkOpen(this.path);
    const signal = signalOf('stream', this.path, options);
    return pieceStream(this.#reads, this.path, options, signal, async () => this.meta, undefined);
  }
}

/**
 * The stream behind `PinnedObject.stream()` and `AsyncCachingReader.stream()`: the metadata comes from `first()`
 * when the stream starts. If a piece finds the object changed before anything was delivered and `fresh` is given,
 * the stream starts over on `fresh()`'s version; otherwise it errors (after delivering pieces, going on would mix
 * versions).
 */
export function pieceStream(
  reads: PinnedReads, path: string, options: StreamOptions, outer: AbortSignal | undefined,
  first: (signal: AbortSignal) => Promise<ObjectMeta>, fresh: ((signal: AbortSignal) => Promise<ObjectMeta>) | undefined,
): ReadableStream<Uint8Array> {
  const { start = 0, end: requestedEnd = Number.MAX_SAFE_INTEGER } = options; // read once
  checkRangeShape(path, start, requestedEnd);
  const cancel = new AbortController();
  // Through the fanout: one listener per caller signal, removed when the stream ends, however many streams share it.
  let cleanup = (): void => {};
  if (outer?.aborted) cancel.abort(outer.reason);
  else if (outer) {
    const off = reads.onAbort(outer, () => cancel.abort(outer.reason));
    cleanup = (): void => { off(); cleanup = () => {}; };
  }
  const signal = cancel.signal;
  let meta: ObjectMeta;
  let next = start; // first byte not yet requested
  let end = start;
  let delivered = false;
  let ahead: Promise<Uint8Array>[] = [];
  const B = reads.blockSize;
  const begin = (m: ObjectMeta): void => {
    meta = m;
    end = clampRange(path, start, requestedEnd, m.size).end;
    next = start;
    ahead = [];
  };
  /** Keeps up to `readAhead` pieces requested ahead of the consumer. */
  const fill = (): void => {
    while (ahead.length < reads.readAhead && next < end) {
      const pieceEnd = Math.min((Math.floor(next / B) + 1) * B, end);
      reads.countReads(1);
      const p = reads.readAt(path, meta, [{ start: next, end: pieceEnd }], signal).then((v) => v[0]!);
      p.catch(() => {}); // rejections are seen when the piece is awaited; abandoned ones never are
      ahead.push(p);
      next = pieceEnd;
    }
  };

  /** The rest of a piece a BYOB read had no room for. */
  let pending: Uint8Array | undefined;
  /** The next piece, or undefined at the end. */
  const nextPiece = async (): Promise<Uint8Array | undefined> => {
    fill();
    const head = ahead.shift();
    if (head === undefined) return undefined;
    try {
      return await head;
    } catch (e) {
      if (!(e instanceof VersionChangedError) || !fresh) throw e;
      // The object changed since its metadata was cached. Before anything was delivered, start over on the new
      // version, as readRange does; after, going on would mix versions: fail, but leave fresh metadata behind so
      // that the next call works.
      const renewed = fresh(signal);
      if (delivered) {
        renewed.catch(() => {});
        throw e;
      }
      begin(await renewed);
      fill();
      return ahead.shift();
    }
  };
  const finish = (controller: ReadableByteStreamController): void => {
    cleanup();
    controller.close();
    controller.byobRequest?.respond(0); // a BYOB read waiting at the end resolves as done
  };

  // A byte stream: BYOB readers (getReader({ mode: 'byob' })) read into buffers of their own.
  return new ReadableStream(
    {
      type: 'bytes',
      start: async () => {
        try {
          signal.throwIfAborted();
          begin(await first(signal));
        } catch (e) {
          cleanup();
          throw e;
        }
      },
      pull: async (controller) => {
        try {
          let piece = pending;
          pending = undefined;
          if (piece === undefined) piece = await nextPiece();
          if (piece === undefined) return finish(controller);
          delivered = true;
          const byob = controller.byobRequest;
          if (byob?.view) {
            // A BYOB reader: its buffer takes what fits; the rest of the piece waits for its next read.
            const view = new Uint8Array(byob.view.buffer, byob.view.byteOffset, byob.view.byteLength);
            const n = Math.min(view.byteLength, piece.byteLength);
            view.set(piece.subarray(0, n));
            if (n < piece.byteLength) pending = piece.subarray(n);
            byob.respond(n);
          } else {
            controller.enqueue(piece); // the reader's results are the caller's own: handing over their memory is safe
          }
          if (pending === undefined && ahead.length === 0 && next >= end) finish(controller);
        } catch (e) {
          cleanup();
          cancel.abort(e);
          throw e;
        }
      },
      cancel: (reason) => {
        cleanup();
        cancel.abort(reason ?? new DOMException('stream cancelled', 'AbortError'));
      },
    },
    { highWaterMark: 0 },
  );
}
