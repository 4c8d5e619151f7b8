/**
 * `@rangecache/core/store-kit`: for writing a {@link CacheStore} or {@link FetchCoordinator} of your own, or a tool
 * that works on the cache's keys (warming, purging, stats): the key layout, the pure range helpers the reader plans
 * with, and the store wrappers it composes (`GuardedStore`, leases in memory).
 *
 * @example
 * ```ts
 * import { sourcePrefix, coalesceRanges } from '@rangecache/core/store-kit';
 * const prefix = sourcePrefix('default', 's3://bucket/key'); // every key of that object starts with it
 * const merged = coalesceRanges([{ start: 0, end: 10 }, { start: 12, end: 20 }], { maxGap: 4, maxRequest: 1 << 20 });
 * ```
 * @packageDocumentation
 */
export type { CacheStore, GetManyOptions, IntoSignal, StoreEntry } from './store.js';
export { IntoStop } from './store.js';
export type { ClaimResult, FetchCoordinator, LookupAndClaimOptions, LookupClaimResult } from './coordinator.js';
export { SEGMENT_BYTES, blockKey, chunkKey, encodeKeyField, escapeGlob, hashTagOf, metaKey, namespacePrefix, sourcePrefix, statsKey, versionPrefix } from './keys.js';
export { cacheIdentity } from './cache-identity.js';
export { blockRange, blockSpan, clampRange, coalesceRanges } from './ranges.js';
export type { ByteRange, CoalesceOptions, CoalescedRange } from './ranges.js';
export { GuardedStore } from './guarded-store.js';
export type { GuardedStoreCounters, GuardedStoreOptions } from './guarded-store.js';
export { MemoryCoordinator, LeaseTable } from './memory-coordinator.js';
export { CircuitBreaker, CircuitOpenError } from './circuit-breaker.js';
export type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
export { StoreError, StoreTimeoutError, StoreUnavailableError } from './store-errors.js';
export { setBounded } from './bounded-map.js';
