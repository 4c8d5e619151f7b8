/** The one place that tells the supported node-redis majors apart. */
import { ConfigError } from '@rangecache/core';
import type { RedisClient, RedisDriver } from './driver.js';
import { ClusterDriver, isCluster, type RedisClusterClient } from './driver-cluster.js';
import { V4Driver, type V4Client } from './driver-v4.js';
import { V5Driver, type V5Client } from './driver-v5.js';

/**
 * The driver for `client`, told apart by shape: a cluster (`createCluster()`, any major) has `nodeClient` and
 * `sSubscribe`; node-redis 5 and 6 have `withTypeMapping` (binary replies by type
 * mapping), node-redis 4 has `commandOptions` instead (binary replies by `commandOptions({ returnBuffers })`).
 * Anything else is a {@link ConfigError}.
 */
export function driverFor(client: RedisClient | RedisClusterClient, owner: string): RedisDriver {
  if (isCluster(client)) return new ClusterDriver(client);
  const c = client as unknown as Record<string, unknown>;
  const isClient = typeof c['duplicate'] === 'function' && typeof c['multi'] === 'function' && typeof c['isReady'] === 'boolean';
  if (isClient && typeof c['withTypeMapping'] === 'function') return new V5Driver(client as unknown as V5Client);
  if (isClient && typeof c['commandOptions'] === 'function') return new V4Driver(client as unknown as V4Client);
  throw new ConfigError(`${owner}: options.client is not a node-redis v4, v5 or v6 client or cluster (it has neither withTypeMapping nor commandOptions nor nodeClient)`);
}
