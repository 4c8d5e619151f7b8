/**
 * @rangecache/http: a Fetcher for `http://` and `https://` URLs on undici.
 *
 * @example
 * ```ts
 * import { AsyncCachingReader } from '@rangecache/core';
 * import { HttpFetcher } from '@rangecache/http';
 * const reader = new AsyncCachingReader({ fetcher: new HttpFetcher() });
 * ```
 * @packageDocumentation
 */
export { HttpFetcher } from './http-fetcher.js';
export type { HttpFetcherOptions, HttpTimeouts } from './http-fetcher.js';
export type { RetryPolicy } from './retry.js';
