/**
 * One run of a command: its settings, its Redis connection and origins, and the readers it made, all closed
 * together at the end (readers first, so that pending cache writes and shared counters land) so that the
 * process exits.
 */
import { AsyncCachingReader, type CacheMode, type CacheStore, type Fetcher, FetcherRouter } from '@rangecache/core';
import {
  type CommonFlags, type ReaderSettings, type RedisSettings, type S3Settings, readerSettings, redactUrl, redisSettings, redisUrlChosen, s3Settings,
} from './config.js';
import { connectRedis, type RedisConnection } from './connections.js';
import { errorLine } from './errors.js';
import { makeOrigins, type Origins } from './fetchers.js';
import { type CliIo, println } from './io.js';

export interface SessionNeeds {
  /**
   * `"required"`: fail when Redis cannot be reached; `"optional"`: read from the origin without a cache then
   * (the cache fails open), with a warning on stderr; `"if-named"`: required when `--redis-url` or `REDIS_URL`
   * names one, else none (the readers then cache in process memory).
   */
  redis: 'required' | 'optional' | 'if-named';
  /** Whether the command reads objects (origins and reader settings). */
  origins: boolean;
  /** Which redirects the HTTP origin follows (default: all). */
  followRedirect?: (url: string) => boolean;
  /** A long-running process (a server): Redis is reconnected for as long as it runs. */
  persistent?: boolean;
}

/** Wrappers around the store and the origin of a reader (a server times them for its metrics). */
export interface ReaderInstruments {
  store<S extends CacheStore>(store: S): S;
  fetcher(fetcher: Fetcher): Fetcher;
}

/** An open session. Make one with {@link Session.open}; always `close()` it. */
export class Session {
  readonly io: CliIo;
  readonly redisSettings: RedisSettings;
  readonly readerSettings: ReaderSettings | undefined;
  readonly s3Settings: S3Settings | undefined;
  #redis: RedisConnection | undefined;
  #origins: Origins | undefined;
  #readers: AsyncCachingReader[] = [];

  private constructor(io: CliIo, flags: CommonFlags, needs: SessionNeeds) {
    this.io = io;
    this.redisSettings = redisSettings(flags, io.env);
    this.readerSettings = needs.origins ? readerSettings(flags, io.env) : undefined;
    this.s3Settings = needs.origins ? s3Settings(flags, io.env) : undefined;
  }

  /**
   * Checks the flags (a bad value is a `UsageError` before anything connects), connects to Redis and makes
   * the origins.
   */
  static async open(io: CliIo, flags: CommonFlags, needs: SessionNeeds): Promise<Session> {
    const session = new Session(io, flags, needs);
    if (needs.redis !== 'if-named' || redisUrlChosen(flags, io.env)) {
      try {
        session.#redis = await connectRedis(session.redisSettings, { persistent: needs.persistent === true });
      } catch (e) {
        if (needs.redis !== 'optional') throw e;
        println(io.stderr, `rangecache: warning: ${errorLine(e)}; reading from the origin without the cache`);
      }
    }
    if (needs.origins) session.#origins = makeOrigins(session.s3Settings!, needs.followRedirect ? { followRedirect: needs.followRedirect } : {});
    return session;
  }

  /** The Redis connection; `undefined` only where it was optional and could not be made. */
  get redis(): RedisConnection | undefined {
    return this.#redis;
  }

  /** The Redis connection of a command that required one. */
  get requiredRedis(): RedisConnection {
    if (!this.#redis) throw new Error('no Redis connection');
    return this.#redis;
  }

  /** The URL of Redis for messages (without its password). */
  get redisUrl(): string {
    return redactUrl(this.redisSettings.url);
  }

  /**
   * A reader over the origins and the Redis store, in `mode`, with this session's namespace, block size and TTL,
   * publishing its counters to Redis (`sharedStats`) so that `rangecache stats` counts them. Closed with the
   * session. `sharedStats: false` for a reader that only looks (stat).
   */
  reader(mode: CacheMode, options: { sharedStats?: boolean; maxConcurrentFetches?: number; instruments?: ReaderInstruments } = {}): AsyncCachingReader {
    const settings = this.readerSettings;
    if (!settings || !this.#origins) throw new Error('this session reads no objects');
    const { instruments } = options;
    const store = this.#redis?.store && instruments ? instruments.store(this.#redis.store) : this.#redis?.store;
    const reader = new AsyncCachingReader({
      fetcher: instruments ? instruments.fetcher(new FetcherRouter(this.#origins.fetchers)) : this.#origins.fetchers,
      ...(store ? { store, sharedStats: options.sharedStats !== false } : {}),
      ...(options.maxConcurrentFetches === undefined ? {} : { maxConcurrentFetches: options.maxConcurrentFetches }),
      namespace: this.redisSettings.namespace,
      blockSize: settings.blockSize,
      ttlMs: settings.ttlMs,
      mode,
    });
    this.#readers.push(reader);
    return reader;
  }

  /** Closes the readers (their pending writes and counters land), then Redis, then the origins. Never throws. */
  async close(): Promise<void> {
    await Promise.all(this.#readers.map((r) => r.close().catch(() => {})));
    await this.#redis?.close().catch(() => {});
    await this.#origins?.close().catch(() => {});
  }
}
