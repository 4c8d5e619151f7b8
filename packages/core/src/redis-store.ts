import { commandOptions } from 'redis';
import type { RedisClientType, RedisFunctions, RedisModules, RedisScripts } from 'redis';
import { ConfigError } from './errors.js';
import type { FetchCoordinator } from './coordinator.js';
import { escapeGlob } from './keys.js';
import { RELEASE_SCRIPT, RedisCoordinator, channelOf } from './redis-coordinator.js';
import { responsiveTimeout } from './responsive-timeout.js';
import type { CacheStore, StoreEntry } from './store.js';

/** A connected node-redis v4 client, as returned by `createClient()` after `await client.connect()`. */
export type RedisClient = RedisClientType<RedisModules, RedisFunctions, RedisScripts>;

export interface RedisStoreOptions {
  /** A connected node-redis v4 client. The store never connects, quits or reconfigures it: its owner does. */
  client: RedisClient;
  /**
   * How long one store operation may take before it counts as failed (the reader then goes to the origin); for
   * a large batch, how long each part may take after the previous one. Time this process spends blocked does not
   * count. Default 250 ms.
   */
  commandTimeoutMs?: number;
}

/** Keys per MGET: bounds one reply (64 blocks) and so the work one timeout period has to cover. */
const KEYS_PER_MGET = 64;
/** Value bytes per MULTI/EXEC of writes. */
const BYTES_PER_MULTI = 32 * 1024 * 1024;

/** The client is not connected (it is reconnecting, or was closed): the operation was not attempted. */
export class StoreUnavailableError extends Error {
  readonly code = 'ERR_RANGECACHE_STORE_UNAVAILABLE';
  constructor(operation: string) {
    super(`redis ${operation} not sent: the client is not ready (disconnected or reconnecting)`);
    this.name = 'StoreUnavailableError';
  }
}

/** A Redis command did not answer within `commandTimeoutMs`. */
export class StoreTimeoutError extends Error {
  readonly code = 'ERR_RANGECACHE_STORE_TIMEOUT';
  constructor(operation: string, ms: number) {
    super(`redis ${operation} did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/**
 * A {@link CacheStore} over a node-redis v4 client: the store that a fleet of processes shares.
 *
 * Lookups of a batch are one `MGET` (values come back as Buffers, never as strings, so binary data survives),
 * writes of a batch are one `MULTI … EXEC` of `SET key value PX ttl`, and `deleteByPrefix` walks the keyspace
 * with `SCAN MATCH` (never `KEYS`) and removes with `UNLINK`. Very large batches are split (64 keys per MGET,
 * 32 MiB per MULTI) and sent two parts at a time: Redis builds every reply of a pipeline before the first one
 * leaves, so sending 1 GiB of MGETs at once would delay the first byte by the whole batch (measured: 900 ms).
 * The timeout bounds progress: each part must answer within `commandTimeoutMs` of the one before it.
 *
 * Operations fail at once while the client is not ready (reconnecting), and the reader then goes to the origin.
 * Create the client with `disableOfflineQueue: true` so that nothing else queues behind a lost connection.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const client = createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true });
 * await client.connect();
 * const store = new RedisStore({ client });
 * ```
 */
export class RedisStore implements CacheStore {
  readonly client: RedisClient;
  readonly commandTimeoutMs: number;
  /** Leases for cross-instance single flight; its pub/sub connection opens on first use, `close()` closes it. */
  readonly coordinator: FetchCoordinator;
  #coordinator: RedisCoordinator;

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object' || options.client === undefined || options.client === null) {
      throw new ConfigError('RedisStore: options.client (a connected node-redis v4 client) is required');
    }
    if (typeof (options.client as { mGet?: unknown }).mGet !== 'function') {
      throw new ConfigError('RedisStore: options.client is not a node-redis v4 client (it has no mGet method)');
    }
    const timeout = options.commandTimeoutMs ?? 250;
    if (!(Number.isFinite(timeout) && timeout > 0)) {
      throw new ConfigError(`RedisStore: commandTimeoutMs must be a positive number, got ${String(options.commandTimeoutMs)}`);
    }
    this.client = options.client;
    this.commandTimeoutMs = timeout;
    this.#coordinator = new RedisCoordinator(this.client, async (operation, call) => (await this.#windowed(operation, [call]))[0]!);
    this.coordinator = this.#coordinator;
  }

  /** Closes the connection this store opened itself (the coordinator's subscriber). The client stays yours. */
  async close(): Promise<void> {
    await this.coordinator.close();
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    if (keys.length === 0) return [];
    const parts: string[][] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_MGET) parts.push(keys.slice(i, i + KEYS_PER_MGET));
    // Buffer is a Uint8Array: handing it on as-is avoids a copy of every value.
    const replies = await this.#windowed('MGET', parts.map((part) => () => this.client.mGet(commandOptions({ returnBuffers: true }), part)));
    return replies.flat();
  }

  async setMany(entries: readonly StoreEntry[], options: { releaseLeases?: readonly string[] } = {}): Promise<void> {
    if (entries.length === 0) return;
    const multis: ReturnType<RedisClient['multi']>[] = [];
    let multi = this.client.multi();
    let bytes = 0;
    let queued = 0;
    for (const { key, value, ttlMs } of entries) {
      if (queued > 0 && bytes + value.byteLength > BYTES_PER_MULTI) {
        multis.push(multi);
        multi = this.client.multi();
        bytes = 0;
        queued = 0;
      }
      const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (ttlMs === null) multi.set(key, buf);
      else multi.set(key, buf, { PX: Math.max(1, Math.round(ttlMs)) });
      bytes += value.byteLength;
      queued++;
    }
    // Leases go in the last transaction: after every value is written, in the same round trip.
    const byChannel = new Map<string, string[]>();
    for (const key of options.releaseLeases ?? []) {
      const c = channelOf(key);
      const list = byChannel.get(c);
      if (list) list.push(key);
      else byChannel.set(c, [key]);
    }
    for (const [channel, keys] of byChannel) multi.eval(RELEASE_SCRIPT, { keys, arguments: [this.#coordinator.owner, channel] });
    multis.push(multi);
    await this.#windowed('MULTI/EXEC', multis.map((m) => () => m.exec()));
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#windowed('UNLINK', [() => this.client.unlink([...keys])]);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    let deleted = 0;
    let batch: string[] = [];
    for await (const key of this.client.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 1000 })) {
      batch.push(key);
      if (batch.length >= 500) {
        deleted += await this.client.unlink(batch);
        batch = [];
      }
    }
    if (batch.length > 0) deleted += await this.client.unlink(batch);
    return deleted;
  }

  /**
   * Sends `parts` in order with at most two in flight, and returns their replies. Each reply must arrive within
   * `commandTimeoutMs` of the one before it (of the call, for the first), not counting time this process spent
   * blocked: a stalled server fails fast, while a big batch still has time to stream.
   */
  async #windowed<T>(operation: string, parts: (() => Promise<T>)[]): Promise<T[]> {
    // While the client reconnects, node-redis would queue commands (and their megabytes) in its offline queue;
    // failing now sends the read to the origin at once.
    if (!this.client.isReady) throw new StoreUnavailableError(operation);
    const inFlight: Promise<T>[] = [];
    let next = 0;
    const send = (): void => {
      const reply = parts[next++]!();
      reply.catch(() => {}); // a late failure after a timeout must not be unhandled
      inFlight.push(reply);
    };
    while (next < parts.length && inFlight.length < 2) send();
    const out: T[] = [];
    while (inFlight.length > 0) {
      let cancel = (): void => {};
      const timeout = new Promise<never>((_, reject) => {
        cancel = responsiveTimeout(this.commandTimeoutMs, () => reject(new StoreTimeoutError(operation, this.commandTimeoutMs)));
      });
      try {
        out.push(await Promise.race([inFlight.shift()!, timeout]));
      } finally {
        cancel();
      }
      if (next < parts.length) send();
    }
    return out;
  }
}
