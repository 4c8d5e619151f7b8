/**
 * @rangecache/server: an HTTP range proxy over a shared rangecache. Any client that reads HTTP ranges (GDAL's
 * `/vsicurl/`, fsspec, browsers, curl, DuckDB) reads through the fleet's one cache.
 *
 * @example
 * ```ts
 * import { createRangeHandler } from '@rangecache/server';
 * const handler = createRangeHandler({ reader, allow: ['https://data.example.com/'] });
 * const res = await handler(new Request('http://proxy/https/data.example.com/a.nc', { headers: { range: 'bytes=0-99' } }));
 * ```
 * @packageDocumentation
 */
export { createRangeHandler } from './handler.js';
export type { RangeHandler, RangeHandlerOptions } from './handler.js';
export { AllowList, normalizeUrl, PROXY_SCHEMES } from './allow-list.js';
export { allowWithMounts, parseMounts, ProxyPathError, RESERVED_NAMES, targetOfPath } from './url-mapping.js';
export type { Mount } from './url-mapping.js';
export { mergeRanges, parseRangeHeader } from './range-header.js';
export type { ByteSpan, RangeLimits, RangeRequest } from './range-header.js';
export { etagOf, ifRangeHolds, matchHolds, modifiedSince, noneMatchHolds } from './conditional.js';
export { CorsPolicy } from './cors.js';
export type { CorsOptions } from './cors.js';
export { answerFor } from './error-response.js';
export type { ErrorAnswer } from './error-response.js';
export { multipartBody } from './multipart.js';
export type { MultipartBody } from './multipart.js';
export { ServerMetrics } from './metrics.js';
