/**
 * The options of a `RedisStore`, and their check: every mistake is a `ConfigError` naming the option.
 */
import { ConfigError } from '@rangecache/core';
import type { RedisClient } from './driver.js';
import type { RedisClusterClient } from './driver-cluster.js';

export interface RedisStoreOptions {
  /**
   * A connected node-redis client: v4 (4.6 or later), v5 or v6. The store never connects, quits or reconfigures
   * it: its owner does. With node-redis 4 the store sends its commands on a connection of its own, a duplicate
   * of this one (see {@link RedisStore}). Or a connected node-redis cluster (`createCluster()`, v4, v5 or v6; Redis 7
   * or later for sharded pub/sub): calls are then split by hash slot, see README "Cluster mode".
   */
  client: RedisClient | RedisClusterClient;
  /**
   * The base time budget of one Redis call, in ms: how long a call that moves (almost) no bytes may take before
   * it counts as failed and the reader goes to the origin. A call that moves bytes gets `timeoutPerMiBMs` more
   * per MiB (see {@link RedisStore}). Time this process spends blocked, or waiting for a CPU, does not count.
   * It is a floor: where recent calls show a healthy but slow Redis (a busy machine), the budget follows their
   * measured round trips, and after a timeout the next calls get twice the time (up to 4x), as TCP's
   * retransmission timer does (RFC 6298). It also bounds the coordinator's subscriber: connecting gets twice
   * this, `SUBSCRIBE` once. Default 250; at most 600 000.
   */
  commandTimeoutMs?: number;
  /**
   * The time allowance per MiB a call moves, in ms, in either direction (values written, or values expected
   * back from a read whose caller passed `expectedBytes`), added to `commandTimeoutMs`. It sets the slowest
   * transfer rate that is still healthy: the default 100 ms per MiB is 10 MiB/s. `0` gives every call the base
   * budget only. At most 60 000.
   */
  timeoutPerMiBMs?: number;
  /**
   * Send lookups (`MGET`, the hot path of warm reads) over a connection of the store's own, read by a small RESP
   * reader (headers from one reused buffer, each value into memory of its own) instead of through node-redis:
   * 1.65x as fast per warm 64 KiB lookup (see BENCHMARKS.md). It follows the client's host, port or socket path,
   * user, password and database; on a cluster (node-redis 5 and 6), one connection per master, with the cluster's
   * `defaults` credentials, following its slot map (a redirect is asked again through the cluster client). With
   * TLS, a client that names no endpoint (sentinel), a node-redis 4 cluster, or options it cannot read, lookups go
   * through the client. `false`: always through the client. Default `true`.
   */
  ownLookupConnection?: boolean;
}

const MAX_COMMAND_TIMEOUT_MS = 600_000;
const MAX_TIMEOUT_PER_MIB_MS = 60_000;

/** A `RedisStore`'s options after checking, with defaults filled in. */
export interface ResolvedStoreOptions {
  readonly client: RedisClient | RedisClusterClient;
  readonly commandTimeoutMs: number;
  readonly timeoutPerMiBMs: number;
  readonly ownLookupConnection: boolean;
}

/** Checks what a caller passed to `new RedisStore()` and fills in the defaults. */
export function resolveStoreOptions(options: RedisStoreOptions): ResolvedStoreOptions {
  if (options === null || typeof options !== 'object' || options.client === undefined || options.client === null) {
    throw new ConfigError('RedisStore: options.client (a connected node-redis v4, v5 or v6 client) is required');
  }
  if (options.ownLookupConnection !== undefined && typeof options.ownLookupConnection !== 'boolean') {
    throw new ConfigError(`RedisStore: ownLookupConnection must be true or false, got ${String(options.ownLookupConnection)}`);
  }
  return {
    client: options.client,
    commandTimeoutMs: durationOption('commandTimeoutMs', options.commandTimeoutMs, 250, false, MAX_COMMAND_TIMEOUT_MS),
    timeoutPerMiBMs: durationOption('timeoutPerMiBMs', options.timeoutPerMiBMs, 100, true, MAX_TIMEOUT_PER_MIB_MS),
    ownLookupConnection: options.ownLookupConnection !== false,
  };
}

function durationOption(name: string, value: unknown, fallback: number, zeroOk: boolean, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0) || value > max) {
    throw new ConfigError(`RedisStore: ${name} must be a number ${zeroOk ? '>= 0' : '> 0'} and <= ${max} (ms), got ${String(value)}`);
  }
  return value;
}
