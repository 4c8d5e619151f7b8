/**
 * @rangecache/core: a shared, Redis-backed byte-range cache for remote objects. This entry holds what a user of
 * the cache needs; `@rangecache/core/fetcher-kit` has the helpers for writing a fetcher, and
 * `@rangecache/core/store-kit` those for writing a store or a tool that reads the cache's keys.
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
export type { AsyncCachingReaderOptions, CacheMode, ReadOptions, ReaderEvents, ReaderStats, ResolvedReaderOptions, StreamOptions } from './reader-options.js';
export type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
export type { Fetcher, FetchOptions, ObjectMeta, StatOptions } from './fetcher.js';
export type { ByteRange } from './ranges.js';
export type { CacheStore, GetManyOptions, IntoSignal, StoreEntry } from './store.js';
export { IntoStop } from './store.js';
export type { ClaimResult, FetchCoordinator, LookupAndClaimOptions, LookupClaimResult } from './coordinator.js';
export { FileFetcher } from './file-fetcher.js';
export { FetcherRouter } from './router.js';
export { MemoryStore } from './memory-store.js';
export type { MemoryStoreOptions } from './memory-store.js';
export { IntegrityStore } from './integrity-store.js';
export { TieredStore } from './tiered-store.js';
export type { TieredStoreOptions } from './tiered-store.js';
export type { IntegrityOptions } from './integrity-store.js';
export {
  AccessDeniedError,
  ObjectNotFoundError,
  OriginError,
  OriginTimeoutError,
  RangecacheError,
  UnexpectedEncodingError,
  VersionChangedError,
} from './errors.js';
export { ConfigError, InvalidPathError, InvalidRangeError } from './input-errors.js';
export type { RangecacheErrorOptions } from './errors.js';
export { CircuitOpenError } from './circuit-breaker.js';
export { StoreError, StoreTimeoutError, StoreUnavailableError } from './store-errors.js';
