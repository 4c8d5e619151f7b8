import { commandOptions } from 'redis';
import type { RedisClientType, RedisFunctions, RedisModules, RedisScripts } from 'redis';
import { ConfigError } from './errors.js';
import { escapeGlob } from './keys.js';
import type { CacheStore, StoreEntry } from './store.js';

/** A connected node-redis v4 client, as returned by `createClient()` after `await client.connect()`. */
export type RedisClient = RedisClientType<RedisModules, RedisFunctions, RedisScripts>;

export interface RedisStoreOptions {
  /** A connected node-redis v4 client. The store never connects, quits or reconfigures it: its owner does. */
  client: RedisClient;
  /**
   * How long one store operation may take before it counts as failed (the reader then goes to the origin).
   * Default 1000 ms.
   */
  commandTimeoutMs?: number;
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
 * with `SCAN MATCH` (never `KEYS`) and removes with `UNLINK`.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const client = createClient({ url: process.env.REDIS_URL });
 * await client.connect();
 * const store = new RedisStore({ client });
 * ```
 */
export class RedisStore implements CacheStore {
  readonly client: RedisClient;
  readonly commandTimeoutMs: number;

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object' || options.client === undefined || options.client === null) {
      throw new ConfigError('RedisStore: options.client (a connected node-redis v4 client) is required');
    }
    if (typeof (options.client as { mGet?: unknown }).mGet !== 'function') {
      throw new ConfigError('RedisStore: options.client is not a node-redis v4 client (it has no mGet method)');
    }
    const timeout = options.commandTimeoutMs ?? 1000;
    if (!(Number.isFinite(timeout) && timeout > 0)) {
      throw new ConfigError(`RedisStore: commandTimeoutMs must be a positive number, got ${String(options.commandTimeoutMs)}`);
    }
    this.client = options.client;
    this.commandTimeoutMs = timeout;
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    if (keys.length === 0) return [];
    // Buffer is a Uint8Array: handing it on as-is avoids a copy of every value.
    return this.#timed('MGET', this.client.mGet(commandOptions({ returnBuffers: true }), [...keys]));
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const multi = this.client.multi();
    for (const { key, value, ttlMs } of entries) {
      const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (ttlMs === null) multi.set(key, buf);
      else multi.set(key, buf, { PX: Math.max(1, Math.round(ttlMs)) });
    }
    await this.#timed('MULTI/EXEC', multi.exec());
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#timed('UNLINK', this.client.unlink([...keys]));
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

  #timed<T>(operation: string, promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreTimeoutError(operation, this.commandTimeoutMs)), this.commandTimeoutMs);
      timer.unref();
    });
    promise.catch(() => {}); // a late failure after the timeout must not be unhandled
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
