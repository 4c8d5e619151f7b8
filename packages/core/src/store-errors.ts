/**
 * The errors of a networked `CacheStore`: the call failed, was not sent, or did not answer in time. The
 * reader reasons about them (a timed-out call that answers late is a slow store, not a failed one; its late answer
 * may still be used); `RedisStore` and its coordinator (in `@rangecache/redis`) throw them, and any other store may.
 */
import { RangecacheError, hasCode } from './errors.js';

/**
 * Base of the errors a store's calls fail with (`RedisStore` and its coordinator throw them), a
 * {@link RangecacheError}: `code` tells them apart, `operation` names the call (a Redis command for `RedisStore`),
 * and `cause` holds the client's error where there was one (`ERR_RANGECACHE_STORE`: the server or the connection
 * failed the call, e.g. a reset connection, Redis's `OOM` or `WRONGPASS`). Messages name the call as
 * `redis <operation> …`, as they always have.
 *
 * @example
 * ```ts
 * try { await store.deleteByPrefix(prefix); }
 * catch (e) { if (StoreError.is(e)) console.error(e.code, e.operation, e.cause); }
 * ```
 */
export class StoreError extends RangecacheError {
  /** `ERR_RANGECACHE_STORE`, `ERR_RANGECACHE_STORE_TIMEOUT` or `ERR_RANGECACHE_STORE_UNAVAILABLE`. */
  declare readonly code: string;
  /** The call that failed; for `RedisStore` a Redis command, e.g. `MGET`, `MULTI/EXEC`, `SCAN`, `subscriber connect`. */
  readonly operation: string;
  constructor(operation: string, message: string, options: { code?: string; cause?: unknown } = {}) {
    super(options.code ?? 'ERR_RANGECACHE_STORE', message, options.cause === undefined ? {} : { cause: options.cause });
    this.operation = operation;
  }

  /**
   * Whether `e` is a {@link StoreError} or one of its subclasses (code `ERR_RANGECACHE_STORE`,
   * `ERR_RANGECACHE_STORE_TIMEOUT` or `ERR_RANGECACHE_STORE_UNAVAILABLE`), also one made by another installed copy
   * of `@rangecache/core`.
   *
   * @example
   * ```ts
   * try { await store.deleteByPrefix(prefix); }
   * catch (e) { if (StoreError.is(e)) console.error(e.code, e.operation, e.cause); else throw e; }
   * ```
   */
  static override is(e: unknown): e is StoreError {
    return e instanceof StoreError || hasCode(e, 'ERR_RANGECACHE_STORE', 'ERR_RANGECACHE_STORE_TIMEOUT', 'ERR_RANGECACHE_STORE_UNAVAILABLE');
  }

  /** `e` as a StoreError: itself if it is one, else a StoreError with `e` as its `cause`. */
  static from(operation: string, e: unknown): StoreError {
    if (e instanceof StoreError) return e;
    return new StoreError(operation, `redis ${operation} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * The store's client is not connected (it is reconnecting, or was closed), or a connection the store needs is not
 * usable: the operation was not attempted.
 */
export class StoreUnavailableError extends StoreError {
  declare readonly code: 'ERR_RANGECACHE_STORE_UNAVAILABLE';
  constructor(operation: string, reason = 'the client is not ready (disconnected or reconnecting)') {
    super(operation, `redis ${operation} not sent: ${reason}`, { code: 'ERR_RANGECACHE_STORE_UNAVAILABLE' });
  }

  /**
   * Whether `e` is a {@link StoreUnavailableError} (code `ERR_RANGECACHE_STORE_UNAVAILABLE`), also one made by
   * another installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (StoreUnavailableError.is(e)) console.warn(`redis ${e.operation} skipped: not connected`); }
   * ```
   */
  static override is(e: unknown): e is StoreUnavailableError {
    return e instanceof StoreUnavailableError || hasCode(e, 'ERR_RANGECACHE_STORE_UNAVAILABLE');
  }
}

/**
 * A store call did not answer within its budget (for `RedisStore`: `commandTimeoutMs`, plus `timeoutPerMiBMs` per
 * MiB it moves).
 *
 * The command may still be running: the client keeps it (node-redis keeps the value Buffers of a write) until the
 * server answers or the connection fails. `settled`, where present, resolves (never rejects) once every command of
 * the timed-out call has settled, so a caller that bounds its pending write bytes can keep counting them until
 * then. It may stay pending as long as the server stays stalled.
 */
export class StoreTimeoutError extends StoreError {
  declare readonly code: 'ERR_RANGECACHE_STORE_TIMEOUT';
  /** The budget that ran out, in ms. */
  readonly ms: number;
  /** Resolves once the underlying command(s) settled (answered or failed); never rejects. */
  readonly settled: Promise<void> | undefined;
  /**
   * Resolves `true` once every command of the call has succeeded after all (a slow store, not a failed one), or
   * `false` once one failed; never rejects. The circuit breaker judges the timeout by it.
   */
  readonly completed: Promise<boolean> | undefined;
  /**
   * Resolves with the call's result if it arrives after all (every part was sent and succeeded), else
   * `undefined`; never rejects. A caller that can still use a late answer (a lease lookup: it may have taken
   * leases) takes it instead of asking again.
   */
  readonly answer: Promise<unknown> | undefined;
  constructor(operation: string, ms: number, settled?: Promise<void>, completed?: Promise<boolean>, answer?: Promise<unknown>) {
    super(operation, `redis ${operation} did not answer within ${Math.round(ms)} ms`, { code: 'ERR_RANGECACHE_STORE_TIMEOUT' });
    this.ms = ms;
    this.settled = settled;
    this.completed = completed;
    this.answer = answer;
  }

  /** The same timeout, with its late answer passed through `map` (a throw there makes it `undefined`). */
  mapAnswer(map: (answer: unknown) => unknown): StoreTimeoutError {
    const answer = this.answer?.then((a) => (a === undefined ? undefined : map(a))).catch(() => undefined);
    return new StoreTimeoutError(this.operation, this.ms, this.settled, this.completed, answer);
  }

  /**
   * Whether `e` is a {@link StoreTimeoutError} (code `ERR_RANGECACHE_STORE_TIMEOUT`), also one made by another
   * installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (StoreTimeoutError.is(e)) console.warn(`redis ${e.operation}: no answer within ${e.ms} ms`); }
   * ```
   */
  static override is(e: unknown): e is StoreTimeoutError {
    return e instanceof StoreTimeoutError || hasCode(e, 'ERR_RANGECACHE_STORE_TIMEOUT');
  }
}
