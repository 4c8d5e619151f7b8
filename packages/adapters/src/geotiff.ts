/**
 * A geotiff.js source over a pinned rangecache object, for `GeoTIFF.fromSource()`: the tiles and IFDs geotiff.js
 * asks for come from the shared cache, all of one version of the file.
 */
import type { AsyncCachingReader, PinnedObject, ReadOptions } from '@rangecache/core';
import { toArrayBuffer } from './bytes.js';

/** A byte range as geotiff.js asks for it. */
export interface GeoTiffSlice {
  offset: number;
  length: number;
}

/**
 * geotiff.js's `BaseSource` shape (`fetch(slices, signal)`, `fileSize`). The slices of one `fetch` are read in
 * one call to the reader, which fetches their misses coalesced. A slice that runs past the end of the file is cut
 * at the end (geotiff.js asks for a fixed-size header even of small files).
 *
 * @example
 * ```ts
 * import { GeoTIFF } from 'geotiff';
 * const tiff = await GeoTIFF.fromSource(await GeoTiffSource.open(reader, 's3://bucket/cog.tif'));
 * const image = await tiff.getImage();
 * const [band] = await image.readRasters({ window: [0, 0, 256, 256] });
 * ```
 */
export class GeoTiffSource {
  readonly #file: PinnedObject;

  constructor(file: PinnedObject) {
    this.#file = file;
  }

  /** Opens `url` through `reader`, pinning its current version. */
  static async open(reader: AsyncCachingReader, url: string, options: ReadOptions = {}): Promise<GeoTiffSource> {
    return new GeoTiffSource(await reader.open(url, options));
  }

  get fileSize(): number {
    return this.#file.byteLength;
  }

  async fetch(slices: readonly GeoTiffSlice[], signal?: AbortSignal): Promise<ArrayBuffer[]> {
    const size = this.#file.byteLength;
    const ranges = slices.map(({ offset, length }) => ({ start: Math.min(offset, size), end: Math.min(offset + length, size) }));
    const toRead = ranges.filter((r) => r.end > r.start);
    const bytes = toRead.length ? await this.#file.readRanges(toRead, { signal }) : [];
    let n = 0;
    return ranges.map((r) => (r.end > r.start ? toArrayBuffer(bytes[n++]!) : new ArrayBuffer(0)));
  }

  async fetchSlice(slice: GeoTiffSlice, signal?: AbortSignal): Promise<GeoTiffSlice & { data: ArrayBuffer }> {
    const [data] = await this.fetch([slice], signal);
    return { ...slice, data: data! };
  }

  async close(): Promise<void> {}
}
