/**
 * @rangecache/core: a shared, Redis-backed byte-range cache for remote objects.
 *
 * @example
 * ```ts
 * import { AsyncCachingReader, FileFetcher, MemoryStore } from '@rangecache/core';
 * const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore() });
 * const bytes = await reader.readRange('/data/file.bin', 0, 4096);
 * ```
 * @packageDocumentation
 */
export { AsyncCachingReader } from './reader.js';
export { PinnedObject } from './pinned-object.js';
export type { AsyncCachingReaderOptions, CacheMode, ReadOptions, ReaderEvents, ReaderStats, StreamOptions } from './reader.js';
export { CircuitBreaker, CircuitOpenError } from './circuit-breaker.js';
export type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
export type { Fetcher, FetchOptions, ObjectMeta, StatOptions } from './fetcher.js';
export type { CacheStore, StoreEntry } from './store.js';
export type { ClaimResult, FetchCoordinator } from './coordinator.js';
export { FileFetcher } from './file-fetcher.js';
export { FetcherRouter } from './router.js';
export { readExact } from './read-exact.js';
export { offsetInContentRange, parseContentRange } from './content-range.js';
export type { ContentRange } from './content-range.js';
export { MemoryStore } from './memory-store.js';
export { IntegrityStore } from './integrity-store.js';
export { GuardedStore } from './guarded-store.js';
export type { GuardedStoreCounters, GuardedStoreOptions } from './guarded-store.js';
export { MemoryCoordinator } from './memory-coordinator.js';
export type { IntegrityOptions } from './integrity-store.js';
export type { MemoryStoreOptions } from './memory-store.js';
export { StoreError, StoreTimeoutError, StoreUnavailableError } from './store-errors.js';
export { blockRange, blockSpan, checkRangeShape, clampRange, coalesceRanges } from './ranges.js';
export type { ByteRange, CoalesceOptions, CoalescedRange } from './ranges.js';
export { blockKey, chunkKey, encodeKeyField, metaKey, sourcePrefix, versionPrefix } from './keys.js';
export { cacheIdentity } from './cache-identity.js';
export {
  AccessDeniedError,
  ConfigError,
  InvalidPathError,
  InvalidRangeError,
  ObjectNotFoundError,
  OriginError,
  RangecacheError,
  VersionChangedError,
  abortError,
} from './errors.js';
export type { RangecacheErrorOptions } from './errors.js';
export { checkFetchRange } from './ranges.js';
export { OriginTimeoutError, UnexpectedEncodingError } from './errors.js';
export { Deadline, MAX_TIMER_MS, deadlineMs } from './deadline.js';
