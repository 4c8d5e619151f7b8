/**
 * `@rangecache/core/fetcher-kit`: helpers for writing a {@link Fetcher} of your own, as `@rangecache/http` and
 * `@rangecache/s3` do: range checks, reading a response body to its exact length, `Content-Range` parsing,
 * deadlines, and the abort error the reader expects. The conformance suite in `@rangecache/test-support` checks
 * the result.
 *
 * @example
 * ```ts
 * import { checkFetchRange, readExact } from '@rangecache/core/fetcher-kit';
 * import type { Fetcher } from '@rangecache/core';
 * const fetcher: Fetcher = {
 *   backend: 'mine',
 *   stat: async (path) => ({ size: 100, version: 'v1' }),
 *   fetch: async (path, range, { signal }) => { checkFetchRange(path, range); return new Uint8Array(range.end - range.start); },
 * };
 * ```
 * @packageDocumentation
 */
export type { Fetcher, FetchOptions, ObjectMeta, StatOptions } from './fetcher.js';
export { readExact } from './read-exact.js';
export { offsetInContentRange, parseContentRange } from './content-range.js';
export type { ContentRange } from './content-range.js';
export { checkFetchRange, checkRangeShape } from './ranges.js';
export type { ByteRange } from './ranges.js';
export { Deadline, MAX_TIMER_MS, deadlineMs } from './deadline.js';
export { abortError } from './errors.js';
export { isMediaType } from './meta-codec.js';
