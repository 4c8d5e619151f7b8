import { RESP_TYPES } from 'redis';
import type { RedisClientType } from 'redis';
import { ConfigError, RangecacheError, hasCode } from './errors.js';
import type { FetchCoordinator } from './coordinator.js';
import { escapeGlob } from './keys.js';
import { RELEASE_SCRIPT, RedisCoordinator, channelOf } from './redis-coordinator.js';
import { withResponsiveTimeout } from './responsive-timeout.js';
import type { CacheStore, StoreEntry } from './store.js';

/**
 * A connected node-redis client, v5 or v6, as returned by `createClient()` after `await client.connect()`: with
 * either protocol (RESP2 or RESP3), any modules, scripts and type mapping. This is the part of it the store's
 * type checks; node-redis's own type is generic in all of these, so no one instantiation of it would accept
 * every client.
 *
 * @example
 * ```ts
 * const client = createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true });
 * await client.connect();
 * const store = new RedisStore({ client });
 * ```
 */
export interface RedisClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  withTypeMapping(mapping: typeof BUFFER_REPLIES): unknown;
  duplicate(): unknown;
  on(event: 'end', listener: () => void): unknown;
  off(event: 'end', listener: () => void): unknown;
}

/**
 * The node-redis type the store and coordinator call through. Their commands (MGET, SET, EVAL, UNLINK, SCAN,
 * SUBSCRIBE) reply in the same shapes under RESP2 and RESP3, and values are read through {@link BUFFER_REPLIES}.
 */
export type NodeRedisClient = RedisClientType;

/** Bulk strings as Buffers (values are bytes), whatever mapping the caller's client uses. */
export const BUFFER_REPLIES = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** {@link NodeRedisClient} with {@link BUFFER_REPLIES}: what `withTypeMapping(BUFFER_REPLIES)` gives. */
export type BufferRedisClient = RedisClientType<{}, {}, {}, 3, typeof BUFFER_REPLIES>;

export interface RedisStoreOptions {
  /** A connected node-redis v5 or v6 client. The store never connects, quits or reconfigures it: its owner does. */
  client: RedisClient;
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
}

const MiB = 1024 * 1024;
/** Keys per MGET part: bounds a part where value sizes are unknown. */
const KEYS_PER_MGET = 64;
/** Expected value bytes per MGET part: bounds one reply (Redis builds it whole before sending it). */
const BYTES_PER_MGET = 16 * MiB;
/** Value bytes per MULTI/EXEC of writes. */
const BYTES_PER_MULTI = 32 * MiB;
const MAX_COMMAND_TIMEOUT_MS = 600_000;
/** Calls that move less than this are round-trip samples (bigger ones mostly measure the transfer). */
const SMALL_CALL_BYTES = 256 * 1024;
/** The adaptive base budget never exceeds this many times `commandTimeoutMs`: a stall is still caught. */
const MAX_ADAPTIVE_FACTOR = 20;
/** The adaptive per-MiB allowance never exceeds this many times `timeoutPerMiBMs` (1 MiB/s by default). */
const MAX_ADAPTIVE_PER_MIB_FACTOR = 10;
const MAX_TIMEOUT_PER_MIB_MS = 60_000;

/**
 * Base of the errors a {@link RedisStore} and its coordinator throw, a {@link RangecacheError}: `code` tells them
 * apart, `operation` names the Redis call, and `cause` holds the node-redis error where there was one
 * (`ERR_RANGECACHE_STORE`: Redis or the connection failed the call, e.g. a reset connection, `OOM`, `WRONGPASS`).
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
  /** The Redis call that failed, e.g. `MGET`, `MULTI/EXEC`, `SCAN`, `subscriber connect`. */
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

/** The client is not connected (it is reconnecting, or was closed), or a connection this store needs is not usable: the operation was not attempted. */
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
 * A Redis call did not answer within its budget (`commandTimeoutMs`, plus `timeoutPerMiBMs` per MiB it moves).
 *
 * The command may still be running: node-redis keeps it, and the value Buffers of a write, until Redis answers or
 * the connection fails. `settled`, where present, resolves (never rejects) once every command of the timed-out
 * call has settled, so a caller that bounds its pending write bytes can keep counting them until then. It may
 * stay pending as long as Redis stays stalled.
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

/** One command of a windowed call, with the value bytes it moves (either direction) for its time budget. */
interface Part<T> {
  send: () => Promise<T>;
  bytes: number;
}

/**
 * A {@link CacheStore} over a node-redis (v5 or v6) client: the store that a fleet of processes shares.
 *
 * Lookups of a batch are one `MGET` (values come back as Buffers, never as strings, so binary data survives),
 * writes of a batch are one `MULTI … EXEC` of `SET key value PX ttl`, and `deleteByPrefix` walks the keyspace
 * with `SCAN MATCH` (never `KEYS`) and removes with `UNLINK`. Very large batches are split (64 keys or 16 MiB of
 * expected values per MGET, 32 MiB per MULTI) and sent two parts at a time: Redis builds every reply of a
 * pipeline before the first one leaves, so sending 1 GiB of MGETs at once would delay the first byte by the
 * whole batch (measured: 900 ms).
 *
 * Timeouts measure failure, not size: each part must answer within `commandTimeoutMs + timeoutPerMiBMs × MiB`
 * (the MiB it writes, or the MiB its caller said to expect back) of the part before it (of the call, for the
 * first), not counting time this process spent blocked. A stalled Redis fails a small call after about
 * `commandTimeoutMs`; a healthy one moving 32 MiB at 10 MiB/s or faster never fails. Every Redis call this store
 * and its coordinator make has such a deadline, and every failure is a {@link StoreError}.
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
  #redis: NodeRedisClient;
  /** The same connection, with bulk strings as Buffers. */
  #buffers: BufferRedisClient;
  /** The base budget of one call, in ms (see {@link RedisStoreOptions.commandTimeoutMs}). */
  readonly commandTimeoutMs: number;
  /** Round trips of recent small calls: the base budget follows a busy but healthy Redis. */
  #rtt = new RoundTripEstimator();
  /** Transfer time per MiB of recent big calls: the per-MiB allowance follows a Redis shared by many readers. */
  #msPerMiB = new RoundTripEstimator();
  /** Commands this store has sent, numbered in order. */
  #sentCommands = 0;
  /** When the last reply came (performance.now()), and to which command: the connection's progress. */
  #lastReply = { at: 0, seq: 0 };
  /** The extra budget per MiB moved, in ms (see {@link RedisStoreOptions.timeoutPerMiBMs}). */
  readonly timeoutPerMiBMs: number;
  /** Leases for cross-instance single flight; its pub/sub connection opens on first use, `close()` closes it. */
  readonly coordinator: FetchCoordinator;
  #coordinator: RedisCoordinator;

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object' || options.client === undefined || options.client === null) {
      throw new ConfigError('RedisStore: options.client (a connected node-redis v5 or v6 client) is required');
    }
    if (typeof (options.client as { withTypeMapping?: unknown }).withTypeMapping !== 'function') {
      throw new ConfigError('RedisStore: options.client is not a node-redis v5 or v6 client (it has no withTypeMapping method; node-redis v4 is not supported)');
    }
    this.client = options.client;
    this.#redis = options.client as unknown as NodeRedisClient;
    this.#buffers = this.#redis.withTypeMapping(BUFFER_REPLIES);
    this.commandTimeoutMs = durationOption('commandTimeoutMs', options.commandTimeoutMs, 250, false, MAX_COMMAND_TIMEOUT_MS);
    this.timeoutPerMiBMs = durationOption('timeoutPerMiBMs', options.timeoutPerMiBMs, 100, true, MAX_TIMEOUT_PER_MIB_MS);
    this.#coordinator = new RedisCoordinator(
      this.client,
      // The coordinator's calls get the same budgets as the store's: base + timeoutPerMiBMs per MiB they move.
      async (operation, call, bytes = 0) => (await this.#windowed(operation, [{ send: call, bytes }]))[0]!,
      { commandTimeoutMs: () => this.#baseBudget(), timedParts: (operation, parts) => this.#windowed(operation, parts) },
    );
    this.coordinator = this.#coordinator;
  }

  /**
   * Closes the connection this store opened itself (the coordinator's subscriber), without waiting for a stalled
   * Redis. The client stays yours.
   */
  async close(): Promise<void> {
    await this.coordinator.close();
  }

  /**
   * The values of `keys` (Buffers), `null` where missing. `options.expectedBytes[i]` is the length the caller
   * expects for `keys[i]` (0 or absent: unknown); it sizes the time budget and the split into MGET parts.
   */
  async getMany(keys: readonly string[], options?: { expectedBytes?: readonly number[] }): Promise<(Uint8Array | null)[]> {
    if (keys.length === 0) return [];
    const expected = options?.expectedBytes;
    const parts: Part<(Buffer | null)[]>[] = [];
    let part: string[] = [];
    let bytes = 0;
    const flush = (): void => {
      const list = part;
      parts.push({ send: () => this.#buffers.mGet(list) as Promise<(Buffer | null)[]>, bytes });
      part = [];
      bytes = 0;
    };
    for (let i = 0; i < keys.length; i++) {
      const e = expected?.[i];
      const size = typeof e === 'number' && Number.isFinite(e) && e > 0 ? e : 0;
      if (part.length >= KEYS_PER_MGET || (part.length > 0 && bytes + size > BYTES_PER_MGET)) flush();
      part.push(keys[i]!);
      bytes += size;
    }
    flush();
    // Buffer is a Uint8Array: handing it on as-is avoids a copy of every value.
    const replies = await this.#windowed('MGET', parts);
    return replies.flat();
  }

  async setMany(entries: readonly StoreEntry[], options: { releaseLeases?: readonly string[] } = {}): Promise<void> {
    if (entries.length === 0) return;
    const parts: Part<unknown>[] = [];
    let multi = this.#redis.multi();
    let bytes = 0;
    let queued = 0;
    const flush = (): void => {
      const m = multi;
      parts.push({ send: () => m.exec(), bytes });
      multi = this.#redis.multi();
      bytes = 0;
      queued = 0;
    };
    for (const { key, value, ttlMs } of entries) {
      if (queued > 0 && bytes + value.byteLength > BYTES_PER_MULTI) flush();
      const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (ttlMs === null) multi.set(key, buf);
      else multi.set(key, buf, { expiration: { type: 'PX', value: Math.max(1, Math.round(ttlMs)) } });
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
    flush();
    await this.#windowed('MULTI/EXEC', parts);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#windowed('UNLINK', [{ send: () => this.#redis.unlink([...keys]), bytes: 0 }]);
  }

  /**
   * Deletes every key starting with `prefix` (glob characters in it are literal) and returns how many went. Each
   * `SCAN` and `UNLINK` has its own deadline; if one fails, this rejects with a {@link StoreError} (keys deleted
   * before that stay deleted), so an invalidation never pretends to have succeeded.
   */
  async deleteByPrefix(prefix: string): Promise<number> {
    const match = `${escapeGlob(prefix)}*`;
    let deleted = 0;
    let batch: string[] = [];
    const unlink = async (): Promise<void> => {
      const keys = batch;
      batch = [];
      deleted += (await this.#windowed('UNLINK', [{ send: () => this.#redis.unlink(keys), bytes: 0 }]))[0]!;
    };
    let cursor = '0';
    do {
      const at = cursor;
      const [reply] = await this.#windowed('SCAN', [{ send: () => this.#redis.scan(at, { MATCH: match, COUNT: 1000 }), bytes: 0 }]);
      cursor = String(reply!.cursor);
      for (const key of reply!.keys) batch.push(String(key));
      if (batch.length >= 500) await unlink();
    } while (cursor !== '0');
    if (batch.length > 0) await unlink();
    return deleted;
  }

  /**
   * The base budget now: `commandTimeoutMs`, or more when this store's recent calls show a healthy but slow
   * Redis (see {@link RoundTripEstimator}).
   */
  #baseBudget(): number {
    return this.#rtt.timeoutMs(this.commandTimeoutMs, this.commandTimeoutMs * MAX_ADAPTIVE_FACTOR, this.commandTimeoutMs);
  }

  /**
   * The time budget, in ms, of a call that moves `bytes` of values: the base, plus `timeoutPerMiBMs` per MiB, or
   * more where recent big calls show a healthy Redis sharing its output with many clients (each gets a slice).
   */
  #budget(bytes: number): number {
    const perMiB = this.timeoutPerMiBMs === 0 ? 0 : this.#msPerMiB.timeoutMs(this.timeoutPerMiBMs, this.timeoutPerMiBMs * MAX_ADAPTIVE_PER_MIB_FACTOR, 0);
    return this.#baseBudget() + (perMiB * bytes) / MiB;
  }

  /**
   * `reply` (the answer to command number `seq` of this store), or `timeout()` once `ms` have passed without
   * progress. Redis answers a connection's commands in order: while commands sent before this one keep getting
   * their replies, this one is queued behind them on a live server, and its budget runs from the last of those
   * replies. A reply to a command sent after it means its own was lost (as node-redis can lose commands across a
   * reconnect): no more waiting. Never longer than MAX_ADAPTIVE_FACTOR budgets in all.
   */
  async #whileProgressing<T>(reply: Promise<T>, seq: number, ms: number, timeout: () => StoreTimeoutError): Promise<T> {
    const expired = new Error('no reply within the budget'); // a marker, never thrown to callers
    const start = performance.now();
    let since = start;
    let budget = ms;
    for (;;) {
      try {
        return await withResponsiveTimeout(reply, budget, () => expired);
      } catch (e) {
        if (e !== expired) throw e;
        const last = this.#lastReply;
        const queuedBehind = last.at > since && last.seq < seq;
        if (!queuedBehind || performance.now() - start > MAX_ADAPTIVE_FACTOR * ms) throw timeout();
        since = last.at;
        budget = Math.max(1, ms - (performance.now() - since));
      }
    }
  }

  /**
   * Sends `parts` in order with at most two in flight, and returns their replies. Each reply must arrive within
   * its part's budget of the one before it (of the call, for the first), not counting time this process spent
   * blocked: a stalled server fails fast, while a big batch still has time to stream. Failures are StoreErrors;
   * a timeout carries `settled`, covering every part that was sent.
   */
  async #windowed<T>(operation: string, parts: readonly Part<T>[]): Promise<T[]> {
    // While the client reconnects, node-redis would queue commands (and their megabytes) in its offline queue;
    // failing now sends the read to the origin at once.
    if (!this.client.isReady) throw new StoreUnavailableError(operation);
    const sent: Promise<T>[] = [];
    const inFlight: { reply: Promise<T>; seq: number }[] = [];
    let next = 0;
    const send = (): void => {
      let reply: Promise<T>;
      const seq = ++this.#sentCommands;
      try {
        reply = parts[next++]!.send();
      } catch (e) {
        reply = Promise.reject(e);
      }
      // Every reply is progress of the connection, also one that comes after its own call timed out: calls
      // queued behind it must not time out for its lateness.
      reply.then(() => { if (seq > this.#lastReply.seq) this.#lastReply = { at: performance.now(), seq }; }, () => {});
      sent.push(reply);
      inFlight.push({ reply, seq });
    };
    while (next < parts.length && inFlight.length < 2) send();
    const out: T[] = [];
    let waitingFor = 0;
    while (inFlight.length > 0) {
      const { bytes } = parts[waitingFor]!;
      const ms = this.#budget(bytes);
      const { reply, seq } = inFlight.shift()!;
      const started = performance.now();
      try {
        out.push(await this.#whileProgressing(reply, seq, ms, () => {
          const all = Promise.allSettled(sent);
          const completed = all.then((rs) => rs.every((r) => r.status === 'fulfilled'));
          const complete = next === parts.length; // parts never sent have no answer
          const answer = all.then((rs) => (complete && rs.every((r) => r.status === 'fulfilled')
            ? rs.map((r) => (r as PromiseFulfilledResult<T>).value) : undefined));
          return new StoreTimeoutError(operation, ms, completed.then(() => undefined), completed, answer);
        }));
      } catch (e) {
        // As TCP does after a retransmission timeout: the next calls get twice the time, until one succeeds. The
        // late reply is no sample: a paused Redis answers late too, and budgets must not grow to fit a stall.
        if (e instanceof StoreTimeoutError) (bytes < SMALL_CALL_BYTES ? this.#rtt : this.#msPerMiB).backoff();
        throw StoreError.from(operation, e);
      }
      this.#sample(bytes, performance.now() - started);
      waitingFor++;
      if (next < parts.length) send();
    }
    return out;
  }

  /** Records how long a call that moved `bytes` took to answer, in ms. */
  #sample(bytes: number, elapsed: number): void {
    if (bytes < SMALL_CALL_BYTES) this.#rtt.sample(elapsed);
    else this.#msPerMiB.sample((elapsed * MiB) / bytes);
  }
}

/**
 * Smoothed round-trip time and its variation, as TCP estimates its retransmission timeout (RFC 6298): on a
 * machine so busy that a healthy Redis answers small calls in 200 ms instead of 0.2, the timeout follows
 * (`srtt + 4 × rttvar`), so such a Redis is not declared failed and the fleet does not fall back to the origin.
 * A stalled Redis answers nothing, gives no samples, and is caught within the last estimate (capped).
 */
export class RoundTripEstimator {
  #srtt: number | undefined;
  #rttvar = 0;
  /** Doublings since the last sample (RFC 6298, section 5.5). */
  #backoffs = 0;

  /** A call timed out: the estimate doubles until the next sample (at most twice: a stall is still caught). */
  backoff(): void {
    this.#backoffs = Math.min(this.#backoffs + 1, 2);
  }

  /** Records the round trip, in ms, of a call that succeeded. */
  sample(ms: number): void {
    if (!(ms >= 0)) return;
    this.#backoffs = 0;
    if (this.#srtt === undefined) {
      this.#srtt = ms;
      this.#rttvar = ms / 2;
      return;
    }
    this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - ms);
    this.#srtt = 0.875 * this.#srtt + 0.125 * ms;
  }

  /**
   * `srtt + 4 × rttvar` (`initial` before the first sample), at least `floor`, doubled for each timeout since the
   * last sample, at most `cap`.
   */
  timeoutMs(floor: number, cap: number, initial: number): number {
    const estimate = this.#srtt === undefined ? initial : this.#srtt + 4 * this.#rttvar;
    return Math.min(cap, Math.max(floor, estimate) * 2 ** this.#backoffs);
  }
}

function durationOption(name: string, value: unknown, fallback: number, zeroOk: boolean, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0) || value > max) {
    throw new ConfigError(`RedisStore: ${name} must be a number ${zeroOk ? '>= 0' : '> 0'} and <= ${max} (ms), got ${String(value)}`);
  }
  return value;
}
