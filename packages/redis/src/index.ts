/**
 * @rangecache/redis: the shared cache on Redis for `@rangecache/core`'s reader, and its cross-process leases, over
 * node-redis 4, 5 or 6 (`redis` is a peer dependency: bring your own client).
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
 * import { RedisStore } from '@rangecache/redis';
 * const client = createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true });
 * await client.connect();
 * const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new RedisStore({ client }) });
 * ```
 * @packageDocumentation
 */
export { RedisStore } from './redis-store.js';
export type { RedisStoreOptions } from './redis-store.js';
export type { LookupCounters } from './lookup-connection.js';
export type { RedisClient } from './driver.js';
export { LEASE_BACKSTOP_PERIODS, RedisCoordinator } from './redis-coordinator.js';
export type { RedisCoordinatorOptions } from './redis-coordinator.js';
export type { ControlConnection } from './coordinator-options.js';
export { responsiveTimeout } from './responsive-timeout.js';
// The store errors live in @rangecache/core (the reader reasons about them); re-exported here for convenience.
export { StoreError, StoreTimeoutError, StoreUnavailableError } from '@rangecache/core';
export type { ClusterNode, RedisClusterClient } from './driver-cluster.js';
