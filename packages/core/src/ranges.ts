/** Pure range arithmetic: validation, block spans and the coalescing of misses. No I/O here. */
import { InvalidRangeError } from './input-errors.js';

/** A half-open byte range `[start, end)`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Checks the shape of a requested range before the object's size is known: both ends are non-negative safe
 * integers and `end >= start`. Throws {@link InvalidRangeError} naming the path and the range otherwise.
 */
export function checkRangeShape(path: string, start: unknown, end: unknown): asserts start is number {
  const range = { start, end };
  if (typeof start !== 'number' || !Number.isSafeInteger(start)) {
    throw new InvalidRangeError(path, range, 'start must be a non-negative integer');
  }
  if (typeof end !== 'number' || !Number.isSafeInteger(end)) {
    throw new InvalidRangeError(path, range, 'end must be a non-negative integer');
  }
  if (start < 0) throw new InvalidRangeError(path, range, 'start is negative');
  if (end < start) throw new InvalidRangeError(path, range, 'end is before start');
}

/**
 * Clamps a shape-checked range to an object of `size` bytes: `end` past EOF becomes `size`; a `start` past
 * EOF is an {@link InvalidRangeError}. `start === size` gives the empty range at EOF, like `slice()`.
 */
export function clampRange(path: string, start: number, end: number, size: number): ByteRange {
  if (start > size) {
    throw new InvalidRangeError(path, { start, end }, `start is past the end of the object (size ${size})`, { size });
  }
  return { start, end: Math.min(end, size) };
}

/**
 * The indexes of the blocks of size `blockSize` that `[start, end)` touches: `first … last` inclusive, i.e.
 * `floor(start / B) … floor((end - 1) / B)`. An empty range touches no block (`last < first`).
 */
export function blockSpan(start: number, end: number, blockSize: number): { first: number; last: number } {
  if (end <= start) return { first: 0, last: -1 };
  return { first: Math.floor(start / blockSize), last: Math.floor((end - 1) / blockSize) };
}

/** The byte range of block `index` in an object of `size` bytes: `[i*B, min((i+1)*B, size))`. */
export function blockRange(index: number, blockSize: number, size: number): ByteRange {
  const start = index * blockSize;
  return { start, end: Math.min(start + blockSize, size) };
}

export interface CoalesceOptions {
  /** Ranges whose gap is at most this many bytes are fetched in one request. */
  maxGap: number;
  /** A merged request never grows beyond this many bytes (a single input range larger than it stays whole). */
  maxRequest: number;
}

/** One origin request covering several input ranges. */
export interface CoalescedRange extends ByteRange {
  /** Indexes into the input array of the ranges this request covers, in ascending order of start. */
  members: number[];
}

/**
 * Merges ranges into as few requests as `maxGap` and `maxRequest` allow, like object_store's `coalesce_ranges`.
 * Pure: the input is not modified, and the output is sorted by start. Every input range lies wholly inside the
 * request that lists it, overlapping or touching inputs are merged when the size bound allows, and empty
 * ranges are dropped.
 *
 * @example
 * ```ts
 * coalesceRanges([{ start: 0, end: 10 }, { start: 12, end: 20 }, { start: 100, end: 110 }], { maxGap: 4, maxRequest: 1 << 20 });
 * // → [{ start: 0, end: 20, members: [0, 1] }, { start: 100, end: 110, members: [2] }]
 * ```
 */
export function coalesceRanges(ranges: readonly ByteRange[], options: CoalesceOptions): CoalescedRange[] {
  const { maxGap, maxRequest } = options;
  const order = ranges
    .map((_, i) => i)
    .filter((i) => ranges[i]!.end > ranges[i]!.start)
    .sort((a, b) => ranges[a]!.start - ranges[b]!.start || ranges[a]!.end - ranges[b]!.end);
  const out: CoalescedRange[] = [];
  let current: CoalescedRange | undefined;
  for (const i of order) {
    const r = ranges[i]!;
    if (current !== undefined && r.start - current.end <= maxGap && Math.max(current.end, r.end) - current.start <= maxRequest) {
      current.end = Math.max(current.end, r.end);
      current.members.push(i);
    } else {
      current = { start: r.start, end: r.end, members: [i] };
      out.push(current);
    }
  }
  return out;
}

/**
 * A fetcher's own check of the range it was asked for (defence in depth: the reader validates too). Reads
 * `range.start` and `range.end` exactly once (a caller may pass an object with getters, or change it after the
 * call), checks those values, and returns them as a new frozen plain object: use only the returned range
 * afterwards. Refused with an {@link InvalidRangeError} naming the path, the backend and the range: ends that
 * are not safe integers, a negative start, an empty or inverted range, and an end past `size` (the expected
 * version's size, when known).
 *
 * @example
 * ```ts
 * async fetch(path: string, requested: ByteRange, options: FetchOptions): Promise<Uint8Array> {
 *   const range = checkFetchRange(path, requested, options.expect.size, this.backend);
 *   // … only `range.start` / `range.end` from here on
 * }
 * ```
 */
export function checkFetchRange(path: string, range: ByteRange, size: number | undefined, backend?: string): Readonly<ByteRange> {
  if (range === null || typeof range !== 'object') {
    throw new InvalidRangeError(path, { start: undefined, end: undefined }, 'the range is not an object', backendOf(backend));
  }
  const start: unknown = range.start;
  const end: unknown = range.end;
  const seen = { start, end };
  const extra = { ...backendOf(backend), ...(size === undefined ? {} : { size }) };
  if (typeof start !== 'number' || !Number.isSafeInteger(start)) throw new InvalidRangeError(path, seen, 'start must be a non-negative integer', extra);
  if (typeof end !== 'number' || !Number.isSafeInteger(end)) throw new InvalidRangeError(path, seen, 'end must be a non-negative integer', extra);
  if (start < 0) throw new InvalidRangeError(path, seen, 'start is negative', extra);
  if (end < start) throw new InvalidRangeError(path, seen, 'end is before start', extra);
  if (end === start) throw new InvalidRangeError(path, seen, 'a fetch must ask for at least one byte', extra);
  if (size !== undefined && !(end <= size)) {
    throw new InvalidRangeError(path, seen, `end is past the end of the expected version (size ${size})`, extra);
  }
  return Object.freeze({ start, end });
}

function backendOf(backend: string | undefined): { backend?: string } {
  return backend === undefined ? {} : { backend };
}
