/**
 * The `Range` request header (RFC 9110 §14.1.1, §14.2), as a pure function of the header and the object's size:
 * which byte ranges to send, or that none can be (416), or that the header is to be ignored (a 200 with the whole
 * object: an unknown unit or a syntax error, as the RFC asks).
 */

/** A byte range `[start, end)` of the object (end exclusive). */
export interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

/** What a `Range` header asks of an object of a given size. */
export type RangeRequest =
  /** No header, another unit, or a malformed one: send the whole object (200). */
  | { readonly kind: 'whole' }
  /** Not one range overlaps the object: 416 with `Content-Range: bytes *\/size`. */
  | { readonly kind: 'unsatisfiable' }
  /** These ranges, in the order to send them (206; several: `multipart/byteranges`). */
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteSpan[] };

/** Limits on what one `Range` header may ask for. */
export interface RangeLimits {
  /**
   * Most ranges sent as parts of one response, after overlapping and nearby ranges are merged. A header asking
   * for more is ignored (the whole object is sent), as RFC 9110 §14.2 allows. Default 100.
   */
  readonly maxRanges?: number;
  /** Ranges closer than this many bytes are merged into one part (the part headers would cost more). Default 80. */
  readonly mergeGap?: number;
}

const SPEC = /^(?:(\d+)-(\d*)|-(\d+))$/;

/**
 * Reads a `Range` header against an object of `size` bytes.
 *
 * Satisfiable ranges are kept, clamped to the object; with more than one, overlapping ranges and ranges less than
 * `mergeGap` apart are merged and the result is sorted (a client matches parts by their `Content-Range`), so that
 * a header like `bytes=0-,0-,0-` cannot make the server send the object many times over.
 *
 * @example
 * ```ts
 * parseRangeHeader('bytes=0-99', 1000);        // { kind: 'ranges', ranges: [{ start: 0, end: 100 }] }
 * parseRangeHeader('bytes=-10', 1000);         // { kind: 'ranges', ranges: [{ start: 990, end: 1000 }] }
 * parseRangeHeader('bytes=5000-', 1000);       // { kind: 'unsatisfiable' }
 * parseRangeHeader('bytes=oops', 1000);        // { kind: 'whole' }
 * ```
 */
export function parseRangeHeader(header: string | null | undefined, size: number, limits: RangeLimits = {}): RangeRequest {
  if (header === null || header === undefined) return { kind: 'whole' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'whole' };
  const specs = header.slice(eq + 1).split(',').map((s) => s.trim());
  // RFC 9110 allows empty list elements (`bytes=0-1,,5-6`), but at least one range must be there.
  const present = specs.filter((s) => s !== '');
  if (present.length === 0) return { kind: 'whole' };
  const ranges: ByteSpan[] = [];
  for (const spec of present) {
    const m = SPEC.exec(spec);
    if (!m) return { kind: 'whole' };
    if (m[3] !== undefined) {
      const suffix = toNumber(m[3]);
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size });
      continue;
    }
    const first = toNumber(m[1]!);
    const last = m[2] === '' ? Infinity : toNumber(m[2]!);
    if (last < first) return { kind: 'whole' }; // an invalid range-spec
    if (first < size) ranges.push({ start: first, end: Math.min(size, last + 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  if (ranges.length === 1) return { kind: 'ranges', ranges };
  const merged = mergeRanges(ranges, limits.mergeGap ?? 80);
  if (merged.length > (limits.maxRanges ?? 100)) return { kind: 'whole' };
  return { kind: 'ranges', ranges: merged };
}

/**
 * `ranges` sorted, with those that overlap, touch or lie less than `gap` bytes apart merged. Pure.
 *
 * @example
 * ```ts
 * mergeRanges([{ start: 10, end: 20 }, { start: 0, end: 5 }], 8); // [{ start: 0, end: 20 }]
 * ```
 */
export function mergeRanges(ranges: readonly ByteSpan[], gap: number): ByteSpan[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: { start: number; end: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && (r.start <= last.end || r.start - last.end < gap)) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** A decimal as a number; one past 2^53 becomes 2^53 - 1, which is past the end of any object all the same. */
function toNumber(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
}
