/**
 * `@rangecache/adapters`: rangecache under the readers the JavaScript data stack already uses. Each adapter is a
 * few lines over a pinned handle (`reader.open(url)`), so everything one of them reads belongs to one version of
 * the object. Import one from its subpath to load only what it needs:
 *
 * - `@rangecache/adapters/hyparquet`: `asyncBuffer(file)`, hyparquet's `AsyncBuffer`;
 * - `@rangecache/adapters/geotiff`: `GeoTiffSource`, for `GeoTIFF.fromSource()`;
 * - `@rangecache/adapters/pmtiles`: `PmtilesSource`, a PMTiles `Source` (needs the `pmtiles` package);
 * - `@rangecache/adapters/fetch`: `createCachedFetch(reader)`, a `fetch` that answers Range requests from the cache.
 */
export { asyncBuffer, openAsyncBuffer } from './hyparquet.js';
export type { AsyncBuffer } from './hyparquet.js';
export { GeoTiffSource } from './geotiff.js';
export type { GeoTiffSlice } from './geotiff.js';
export { createCachedFetch, parseRange } from './fetch.js';
export type { CachedFetchOptions, FetchFunction } from './fetch.js';
