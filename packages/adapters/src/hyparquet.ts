/**
 * hyparquet's `AsyncBuffer` over a pinned rangecache object: every footer, page index and column chunk that
 * hyparquet reads comes from the shared cache, and all of them from one version of the file.
 */
import type { AsyncCachingReader, PinnedObject, ReadOptions } from '@rangecache/core';
import { toArrayBuffer } from './bytes.js';

/** hyparquet's `AsyncBuffer`: `byteLength`, and `slice(start, end)` resolving to an `ArrayBuffer`. */
export interface AsyncBuffer {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

/** Like `ArrayBuffer.prototype.slice`: negative positions count from the end; everything is clamped to the file. */
function position(at: number, size: number): number {
  const n = Math.trunc(Number.isNaN(at) ? 0 : at);
  return n < 0 ? Math.max(0, size + n) : Math.min(n, size);
}

/**
 * An `AsyncBuffer` over `file`, a handle from `reader.open(url)`.
 *
 * @example
 * ```ts
 * import { parquetReadObjects } from 'hyparquet';
 * const file = asyncBuffer(await reader.open('s3://bucket/table.parquet'));
 * const rows = await parquetReadObjects({ file, columns: ['id', 'name'], rowStart: 0, rowEnd: 100 });
 * ```
 */
export function asyncBuffer(file: PinnedObject, options: ReadOptions = {}): AsyncBuffer {
  const size = file.byteLength;
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const from = position(start, size);
      const to = end === undefined ? size : position(end, size);
      if (to <= from) return new ArrayBuffer(0);
      return toArrayBuffer(await file.read(from, to, options));
    },
  };
}

/**
 * Opens `url` through `reader` (pinning its current version) and returns its `AsyncBuffer`.
 *
 * @example
 * ```ts
 * const file = await openAsyncBuffer(reader, 'https://host/table.parquet');
 * const metadata = await parquetMetadataAsync(file);
 * ```
 */
export async function openAsyncBuffer(reader: AsyncCachingReader, url: string, options: ReadOptions = {}): Promise<AsyncBuffer> {
  return asyncBuffer(await reader.open(url, options), options);
}
