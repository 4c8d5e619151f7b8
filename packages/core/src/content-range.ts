/** Parsing of `Content-Range` response headers (RFC 9110 §14.4), shared by the HTTP and S3 backends. */

export interface ContentRange {
  /** First byte, inclusive; undefined for the unsatisfied form `bytes *\/size`. */
  start?: number;
  /** End, exclusive. */
  end?: number;
  /** The complete length, undefined when the server sent `*`. */
  size?: number;
}

/**
 * The parts of a `Content-Range` value, or undefined when it is malformed.
 *
 * @example
 * ```ts
 * parseContentRange('bytes 0-9/100'); // { start: 0, end: 10, size: 100 }
 * ```
 */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  let m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (m) {
    const start = Number(m[1]);
    const end = Number(m[2]) + 1;
    const size = m[3] === '*' ? undefined : Number(m[3]);
    if (end <= start || (size !== undefined && end > size)) return undefined;
    return size === undefined ? { start, end } : { start, end, size };
  }
  m = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value);
  if (m) return { size: Number(m[1]) };
  return undefined;
}

/**
 * How many leading bytes of a ranged response body to skip to reach `[start, end)`, given its `Content-Range`;
 * undefined when the body does not contain that whole range. Servers may send more than asked (s3rver answers
 * `bytes=0-0` with the whole object); any superset is fine, since only the asked-for bytes are kept.
 */
export function offsetInContentRange(contentRange: ContentRange | undefined, start: number, end: number): number | undefined {
  if (contentRange?.start === undefined || contentRange.end === undefined) return undefined;
  if (contentRange.start > start || contentRange.end < end) return undefined;
  return start - contentRange.start;
}
