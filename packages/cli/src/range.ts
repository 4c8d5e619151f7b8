/**
 * The `--range` flag: byte ranges written as HTTP writes them (`Range: bytes=…`), ends included.
 *
 * - `a-b`: bytes a to b, both included (`0-99` is the first 100 bytes); an end past the object is clamped to it;
 * - `a-`: from byte a to the end;
 * - `-n`: the last n bytes.
 */
import { InvalidRangeError } from '@rangecache/core';
import { UsageError } from './errors.js';

/** A parsed `--range`, before the object's size is known. */
export type RangeSpec =
  | { readonly kind: 'span'; readonly first: number; readonly last: number | undefined }
  | { readonly kind: 'suffix'; readonly length: number };

/**
 * Parses `--range` (see the module's description).
 *
 * @throws {@link UsageError} for anything else, or an end before the start.
 * @example
 * ```ts
 * parseRange('0-99'); // { kind: 'span', first: 0, last: 99 }
 * parseRange('-100'); // { kind: 'suffix', length: 100 }
 * ```
 */
export function parseRange(value: string): RangeSpec {
  const m = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(value);
  if (!m || (m[1] === '' && m[2] === '')) throw new UsageError(`--range: expected FIRST-LAST (bytes, both included), FIRST- or -SUFFIX_LENGTH, got ${JSON.stringify(value)}`);
  const [a, b] = [m[1]!, m[2]!];
  const number = (s: string): number => {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new UsageError(`--range: ${s} is too large`);
    return n;
  };
  if (a === '') return { kind: 'suffix', length: number(b) };
  const first = number(a);
  const last = b === '' ? undefined : number(b);
  if (last !== undefined && last < first) throw new UsageError(`--range: the last byte (${last}) is before the first (${first})`);
  return { kind: 'span', first, last };
}

/**
 * The window `[start, end)` (end excluded) of `spec` in an object of `size` bytes; the whole object without a spec.
 *
 * @throws InvalidRangeError (exit code 2) when the range starts at or past the end of a non-empty object.
 * @example
 * ```ts
 * resolveRange({ kind: 'span', first: 10, last: 19 }, 100, 'x'); // { start: 10, end: 20 }
 * ```
 */
export function resolveRange(spec: RangeSpec | undefined, size: number, path: string): { start: number; end: number } {
  if (spec === undefined) return { start: 0, end: size };
  if (spec.kind === 'suffix') return { start: Math.max(0, size - spec.length), end: size };
  if (spec.first >= size && !(spec.first === 0 && size === 0)) {
    throw new InvalidRangeError(path, { start: spec.first, end: spec.last === undefined ? size : spec.last + 1 }, `it starts past the end of the object (${size} bytes)`, { size });
  }
  return { start: spec.first, end: spec.last === undefined ? size : Math.min(size, spec.last + 1) };
}
