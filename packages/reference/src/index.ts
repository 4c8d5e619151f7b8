/**
 * `@rangecache/reference`: kerchunk reference sets (JSON versions 0 and 1, and the Parquet layout) and plain Zarr
 * prefixes as zarrita.js stores, read through a shared rangecache reader.
 *
 * @example
 * ```ts
 * import * as zarr from 'zarrita';
 * import { ReferenceStore, ZarrStore } from '@rangecache/reference';
 * const store = await ReferenceStore.open('s3://bucket/refs.json', { reader }); // reader: mode "chunk"
 * const temp = await zarr.open.v2(zarr.root(store).resolve('temp'), { kind: 'array' });
 * const slab = await zarr.get(temp, [0, 0, null, null]);
 * const plain = new ZarrStore('https://host/data.zarr', { reader });
 * ```
 */
export { ReferenceStore } from './reference-store.js';
export type { GetOptions, ReferenceStoreOptions } from './reference-store.js';
export { ZarrStore } from './zarr-store.js';
export type { ZarrStoreOptions } from './zarr-store.js';
export { ParquetReferences } from './parquet-references.js';
export { parseReferences, resolveTarget } from './references.js';
export type { Reference, ReferenceSpec } from './references.js';
export type { RangeQuery } from './target-reads.js';
export { renderTemplate } from './template.js';
export type { TemplateValue } from './template.js';
export { ReferenceFormatError, ReferenceTargetError } from './errors.js';
