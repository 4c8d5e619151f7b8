/**
 * Reading the bytes that references point at, through the reader. Each `[url, offset, length]` is one exact
 * range (one cache entry in chunk mode, shared by every reference set that points at the same bytes); the
 * ranges of one target file go to the reader in one `readRanges` call, which fetches its misses coalesced (the
 * reader's `maxGap`), and different files are read concurrently. Inline data never reaches the reader.
 */
import type { AsyncCachingReader } from '@rangecache/core';
import { InvalidRangeError } from '@rangecache/core';
import { ReferenceTargetError } from './errors.js';
import type { Reference } from './references.js';

/** A part of a reference's bytes: `{offset, length}` from its start, or its last `suffixLength` bytes (zarrita's `RangeQuery`). */
export type RangeQuery = { offset: number; length: number } | { suffixLength: number };

/** One read: the key (for errors), its reference, and optionally a part of it. */
export interface TargetRead {
  readonly key: string;
  readonly ref: Reference;
  readonly range?: RangeQuery | undefined;
}

/** Byte window `[start, end)` of `query` within `[0, size)`, or an InvalidRangeError naming the key. */
export function windowOf(key: string, size: number, query: RangeQuery | undefined): { start: number; end: number } {
  if (query === undefined) return { start: 0, end: size };
  if ('suffixLength' in query) {
    const n = query.suffixLength;
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidRangeError(key, { start: -n, end: size }, 'suffixLength must be a whole number >= 0');
    return { start: Math.max(0, size - n), end: size };
  }
  const { offset, length } = query;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new InvalidRangeError(key, { start: offset, end: offset + length }, 'offset and length must be whole numbers >= 0');
  }
  if (offset > size) throw new InvalidRangeError(key, { start: offset, end: offset + length }, `starts past the end of its ${size} bytes`, { size });
  return { start: offset, end: Math.min(size, offset + length) };
}

function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (e instanceof Error && e.name === 'AbortError');
}

/**
 * Reads each of `reads`, grouped by target file. Results are in the order of `reads`, and each is the caller's
 * own copy. A target that fails rejects with a {@link ReferenceTargetError} naming the first key read from it.
 */
export async function readTargets(reader: AsyncCachingReader, reads: readonly TargetRead[], signal?: AbortSignal): Promise<Uint8Array[]> {
  const out = new Array<Uint8Array>(reads.length);
  const byTarget = new Map<string, number[]>();
  reads.forEach((read, i) => {
    const { ref } = read;
    if (ref.kind === 'inline') {
      const { start, end } = windowOf(read.key, ref.bytes.length, read.range);
      out[i] = ref.bytes.slice(start, end);
      return;
    }
    const list = byTarget.get(ref.url);
    if (list) list.push(i);
    else byTarget.set(ref.url, [i]);
  });
  await Promise.all([...byTarget].map(async ([url, indices]) => {
    const first = reads[indices[0]!]!;
    try {
      // A whole-file reference needs the file's size; open() pins its version for the read.
      const whole = indices.some((i) => reads[i]!.ref.kind === 'whole');
      const file = whole ? await reader.open(url, { signal }) : undefined;
      const ranges = indices.map((i) => {
        const { key, ref, range } = reads[i]!;
        const base = ref.kind === 'range' ? ref.offset : 0;
        const size = ref.kind === 'range' ? ref.length : file!.byteLength;
        const w = windowOf(key, size, range);
        return { start: base + w.start, end: base + w.end };
      });
      const toRead = ranges.map((r, j) => ({ r, j })).filter(({ r }) => r.end > r.start);
      const bytes = toRead.length === 0 ? [] : file ? await file.readRanges(toRead.map(({ r }) => r), { signal }) : await reader.readRanges(url, toRead.map(({ r }) => r), { signal });
      for (const i of indices) out[i] = new Uint8Array(0);
      toRead.forEach(({ r, j }, n) => {
        const got = bytes[n]!;
        // The reader clamps a read to the end of the object; a reference must get every byte it names.
        if (got.length !== r.end - r.start) throw new ReferenceTargetError(reads[indices[j]!]!.key, url, `it ends before byte ${r.end} (${got.length} of ${r.end - r.start} bytes from ${r.start})`);
        out[indices[j]!] = got;
      });
    } catch (e) {
      if (isAbort(e, signal) || ReferenceTargetError.is(e) || InvalidRangeError.is(e) && e.path === first.key) throw e;
      throw new ReferenceTargetError(first.key, url, e);
    }
  }));
  return out;
}
