import { IntoStop, StoreError, StoreTimeoutError } from '@rangecache/core';
import type { CacheStore, FetchCoordinator, GetManyOptions, StoreEntry } from '@rangecache/core';
import { escapeGlob } from '@rangecache/core/store-kit';
import type { EvalCommand, RedisClient, RedisDriver, SetCommand } from './driver.js';
import { type RedisStoreOptions, resolveStoreOptions } from './store-options.js';
import { driverFor } from './driver-for.js';
import { type LookupCounters, LookupConnection, endpointOf } from './lookup-connection.js';
import { SHARDED_WRITE_RELEASE_SCRIPT, WRITE_RELEASE_SCRIPT, releaseCommands } from './lease-scripts.js';
import type { RedisClusterClient } from './driver-cluster.js';
import { ClusterLookups, clusterCredentials } from './cluster-lookups.js';
import { RedisCoordinator } from './redis-coordinator.js';
import { withResponsiveTimeout } from './responsive-timeout.js';
import { CallBudgets, MAX_ADAPTIVE_FACTOR } from './round-trip.js';

export type { RedisStoreOptions } from './store-options.js';

const MiB = 1024 * 1024;
/** Keys per MGET part: bounds a part where value sizes are unknown. */
const KEYS_PER_MGET = 64;
/** Expected value bytes per MGET part: bounds one reply (Redis builds it whole before sending it). */
const BYTES_PER_MGET = 16 * MiB;
/** Value bytes per MULTI/EXEC of writes. */
const BYTES_PER_MULTI = 32 * MiB;
/** Adds ARGV pairs (field, integer) to the hash KEYS[1]: shared counters (see `addCounters`). */
const ADD_COUNTERS_SCRIPT = `for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return #ARGV / 2`;
/** Keys asked for per SCAN step. */
const SCAN_COUNT = 1000;

/** Which connection a call goes over: the client's (node-redis), or the store's own lookup connection. */
type Channel = 'client' | 'lookups';

/** A connection's commands sent, and its last reply (see `RedisStore.#progress`). */
interface Progress {
  sent: number;
  last: { at: number; seq: number };
}

/** One command of a windowed call, with the value bytes it moves (either direction) for its time budget. */
interface Part<T> {
  send: () => Promise<T>;
  bytes: number;
}

/**
 * A `CacheStore` over a node-redis client (v4, v5 or v6): the store that a fleet of processes shares.
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
 * node-redis 4: its reply parser keeps a half-read reply when a connection is lost in the middle of one, so the
 * reconnected client reads later replies as the rest of the old one (it hands a command bytes of another reply,
 * then never answers again). The store therefore never sends on a connection that could reconnect: it opens one
 * of its own (`client.duplicate()` without reconnects, on first use, within twice `commandTimeoutMs`), replaces
 * it when it is lost, and closes it on `close()` or when your client is closed. Your client itself is not used
 * for commands and keeps the node-redis 4 behaviour for your own commands.
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
  readonly client: RedisClient | RedisClusterClient;
  /** What the store sends, through whichever node-redis major the client is. */
  #driver: RedisDriver;
  /** The base budget of one call, in ms (see {@link RedisStoreOptions.commandTimeoutMs}). */
  readonly commandTimeoutMs: number;
  /** Time budgets that follow a busy but healthy Redis (see {@link CallBudgets}). */
  #budgets: CallBudgets;
  /**
   * Per connection (the client's, and the store's own for lookups): commands sent, numbered in order, and when
   * the last reply came (performance.now()) and to which command. Redis answers each connection in order, so
   * replies on one connection say nothing of commands queued on the other.
   */
  #progress: Record<Channel, Progress> = { client: { sent: 0, last: { at: 0, seq: 0 } }, lookups: { sent: 0, last: { at: 0, seq: 0 } } };
  /** The extra budget per MiB moved, in ms (see {@link RedisStoreOptions.timeoutPerMiBMs}). */
  readonly timeoutPerMiBMs: number;
  /** Leases for cross-instance single flight; its pub/sub connection opens on first use, `close()` closes it. */
  readonly coordinator: FetchCoordinator;
  #coordinator: RedisCoordinator;
  /**
   * The store's own connection for lookups (one per master of a cluster), where it can follow the client (see
   * {@link RedisStoreOptions.ownLookupConnection}).
   */
  #lookups: LookupConnection | ClusterLookups | undefined;

  constructor(options: RedisStoreOptions) {
    const o = resolveStoreOptions(options);
    this.#driver = driverFor(o.client, 'RedisStore');
    this.client = o.client;
    this.commandTimeoutMs = o.commandTimeoutMs;
    this.timeoutPerMiBMs = o.timeoutPerMiBMs;
    this.#budgets = new CallBudgets(o.commandTimeoutMs, o.timeoutPerMiBMs);
    this.#coordinator = new RedisCoordinator(
      this.#driver,
      // The coordinator's calls get the same budgets as the store's: base + timeoutPerMiBMs per MiB they move.
      async (operation, call, bytes = 0) => (await this.#windowed(operation, [{ send: call, bytes }]))[0]!,
      {
        commandTimeoutMs: () => this.#budgets.base(),
        timedParts: (operation, parts) => this.#windowed(operation, parts),
        write: (entries, release) => this.#write(entries, release),
      },
    );
    this.coordinator = this.#coordinator;
    const driver = this.#driver;
    const endpoint = o.ownLookupConnection && !driver.cluster ? endpointOf(o.client) : undefined;
    const credentials = o.ownLookupConnection && driver.cluster ? clusterCredentials(o.client) : undefined;
    if (endpoint) this.#lookups = new LookupConnection(endpoint, { on: (l) => driver.onClientEnd(l), off: (l) => driver.offClientEnd(l) });
    else if (credentials) this.#lookups = new ClusterLookups(o.client, credentials, (keys) => driver.mget(keys));
  }

  /**
   * The cost drivers of lookups on the store's own connection (values, how many went into callers' memory, bytes
   * copied), or `undefined` when lookups go through the client.
   */
  get lookupCounters(): Readonly<LookupCounters> | undefined {
    return this.#lookups?.counters;
  }

  /** Whether lookups go over the store's own connection (see {@link RedisStoreOptions.ownLookupConnection}). */
  get ownLookupConnection(): boolean {
    return this.#lookups !== undefined;
  }

  /**
   * Closes the connections this store opened itself (the coordinator's subscriber; with node-redis 4, its data
   * connection too), without waiting for a stalled Redis. The client stays yours.
   */
  async close(): Promise<void> {
    this.#lookups?.close();
    await Promise.all([this.coordinator.close(), this.#driver.close()]);
  }

  /** `close()`, for `await using`: the store's own connections close, the client stays yours. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Whether the client is a Redis Cluster client (calls are split by hash slot; see README "Cluster mode"). */
  get isCluster(): boolean {
    return this.#driver.cluster === true;
  }

  /** The node-redis major of the client: 4, or 5 for node-redis 5 and 6 (they are driven alike). */
  get driverMajor(): 4 | 5 {
    return this.#driver.major;
  }

  /**
   * The values of `keys` (Buffers), `null` where missing. `options.expectedBytes[i]` is the length the caller
   * expects for `keys[i]` (0 or absent: unknown); it sizes the time budget and the split into MGET parts.
   */
  async getMany(keys: readonly string[], options?: GetManyOptions): Promise<(Uint8Array | null)[]> {
    if (keys.length === 0) return [];
    const expected = options?.expectedBytes;
    const lookups = this.#lookups;
    // The caller's memory is used on the store's own connection only; the call stops writing into it when the
    // caller gives up or the call fails (a timed-out part may still be sending).
    const into = lookups && options?.into && !options.intoSignal?.aborted ? options.into : undefined;
    const stop = into ? new IntoStop() : undefined;
    const unsubscribe = stop && options?.intoSignal?.subscribe(() => stop.abort());
    const parts: Part<(Buffer | null)[]>[] = [];
    let first = 0;
    let part: string[] = [];
    let bytes = 0;
    const flush = (): void => {
      const list = part;
      const memory = into?.slice(first, first + list.length);
      parts.push({ send: () => (lookups ? lookups.mget(list, memory, stop) : this.#driver.mget(list)), bytes });
      first += list.length;
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
    try {
      // Buffer is a Uint8Array: handing it on as-is avoids a copy of every value.
      const replies = await this.#windowed('MGET', parts, lookups ? 'lookups' : 'client');
      return replies.length === 1 ? replies[0]! : replies.flat(); // flat() costs microseconds even for one part
    } catch (e) {
      stop?.abort(); // a part may still be sending: not into the caller's memory any more
      throw e;
    } finally {
      unsubscribe?.();
    }
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    await this.#write(entries, []);
  }

  /** Writes entries in `MULTI` transactions; the last one also runs the release script for `release` (this store's leases). */
  async #write(entries: readonly StoreEntry[], release: readonly string[]): Promise<void> {
    if (entries.length === 0) return;
    const parts: Part<unknown>[] = [];
    let sets: SetCommand[] = [];
    let bytes = 0;
    const flush = (evals: readonly EvalCommand[] = []): void => {
      const list = sets;
      parts.push({ send: () => this.#driver.transaction(list, evals), bytes });
      sets = [];
      bytes = 0;
    };
    for (const { key, value, ttlMs } of entries) {
      if (sets.length > 0 && bytes + value.byteLength > BYTES_PER_MULTI) flush();
      const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      sets.push({ key, value: buf, ttlMs: ttlMs === null ? null : Math.max(1, Math.round(ttlMs)) });
      bytes += value.byteLength;
    }
    const sharded = this.isCluster;
    const releases = releaseCommands(release, this.#coordinator.owner, sharded);
    const only = releases.length === 1 && parts.length === 0 ? releases[0]! : undefined;
    if (only && sameKeys(only.keys, sets)) {
      // The usual landing (its values and their leases, one namespace; on a cluster, one hash tag): one command, so
      // node-redis sends it whole.
      const args: (string | Buffer)[] = [...only.args];
      for (const s of sets) args.push(s.ttlMs === null ? '' : String(s.ttlMs), s.value);
      const command = { script: sharded ? SHARDED_WRITE_RELEASE_SCRIPT : WRITE_RELEASE_SCRIPT, keys: only.keys, args, argsPerKey: 2 };
      await this.#windowed('EVAL writeAndRelease', [{ send: () => this.#driver.eval(command), bytes }]);
      return;
    }
    // Leases go in the last transaction: after every value is written, in the same round trip.
    flush(releases);
    await this.#windowed('MULTI/EXEC', parts);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#windowed('UNLINK', [{ send: () => this.#driver.unlink(keys), bytes: 0 }]);
  }

  /**
   * Deletes every key starting with `prefix` (glob characters in it are literal) and returns how many went. Each
   * `SCAN` and `UNLINK` has its own deadline; if one fails, this rejects with a {@link StoreError} (keys deleted
   * before that stay deleted), so an invalidation never pretends to have succeeded. On a cluster, every master is
   * walked.
   */
  async deleteByPrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for await (const keys of this.scan(prefix)) {
      deleted += (await this.#windowed('UNLINK', [{ send: () => this.#driver.unlink(keys), bytes: 0 }]))[0]!;
    }
    return deleted;
  }

  /**
   * The keys starting with `prefix` (glob characters in it are literal), in batches of up to about 1000, walked
   * with `SCAN` (never `KEYS`), on every master of a cluster. A key written or deleted during the walk may or may
   * not be seen, as with `SCAN` itself. Each step has its own deadline, and a failure is a {@link StoreError}.
   *
   * @example
   * ```ts
   * let n = 0;
   * for await (const keys of store.scan(namespacePrefix('default'))) n += keys.length;
   * ```
   */
  async *scan(prefix: string): AsyncGenerator<string[], void, undefined> {
    const match = `${escapeGlob(prefix)}*`;
    let batch: string[] = [];
    let cursor = '0';
    do {
      const at = cursor;
      const [reply] = await this.#windowed('SCAN', [{ send: () => this.#driver.scan(at, match, SCAN_COUNT), bytes: 0 }]);
      cursor = reply!.cursor;
      batch.push(...reply!.keys);
      if (batch.length >= SCAN_COUNT / 2) {
        yield batch;
        batch = [];
      }
    } while (cursor !== '0');
    if (batch.length > 0) yield batch;
  }

  /**
   * Adds `counters` (integers; others are rounded) to the fields of the hash at `key` with `HINCRBY`, in one
   * script: the shared counters of `ReaderOptions.sharedStats`.
   */
  async addCounters(key: string, counters: Readonly<Record<string, number>>): Promise<void> {
    const args: string[] = [];
    for (const [name, n] of Object.entries(counters)) {
      const whole = Math.round(n);
      if (Number.isSafeInteger(whole) && whole !== 0) args.push(name, String(whole));
    }
    if (args.length === 0) return;
    const command = { script: ADD_COUNTERS_SCRIPT, keys: [key], args };
    await this.#windowed('EVAL addCounters', [{ send: () => this.#driver.eval(command), bytes: 0 }]);
  }

  /**
   * `reply` (the answer to command number `seq` of this store), or `timeout()` once `ms` have passed without
   * progress. Redis answers a connection's commands in order: while commands sent before this one keep getting
   * their replies, this one is queued behind them on a live server, and its budget runs from the last of those
   * replies. A reply to a command sent after it means its own was lost (as node-redis can lose commands across a
   * reconnect): no more waiting. Never longer than MAX_ADAPTIVE_FACTOR budgets in all.
   */
  async #whileProgressing<T>(reply: Promise<T>, seq: number, ms: number, timeout: () => StoreTimeoutError, progress: Progress): Promise<T> {
    const expired = new Error('no reply within the budget'); // a marker, never thrown to callers
    const start = performance.now();
    let since = start;
    let budget = ms;
    for (;;) {
      try {
        return await withResponsiveTimeout(reply, budget, () => expired);
      } catch (e) {
        if (e !== expired) throw e;
        const last = progress.last;
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
  async #windowed<T>(operation: string, parts: readonly Part<T>[], channel: Channel = 'client'): Promise<T[]> {
    const progress = this.#progress[channel];
    // While the client reconnects, node-redis would queue commands (and their megabytes) in its offline queue;
    // failing now sends the read to the origin at once. (node-redis 4: the store's own connection may have to open
    // first, within twice the base budget.)
    const opening = this.#driver.ready(operation, 2 * this.#budgets.base());
    if (opening) await opening;
    const sent: Promise<T>[] = [];
    const inFlight: { reply: Promise<T>; seq: number }[] = [];
    let next = 0;
    const send = (): void => {
      let reply: Promise<T>;
      const seq = ++progress.sent;
      try {
        reply = parts[next++]!.send();
      } catch (e) {
        reply = Promise.reject(e);
      }
      // Every reply is progress of the connection, also one that comes after its own call timed out: calls
      // queued behind it must not time out for its lateness.
      reply.then(() => { if (seq > progress.last.seq) progress.last = { at: performance.now(), seq }; }, () => {});
      sent.push(reply);
      inFlight.push({ reply, seq });
    };
    while (next < parts.length && inFlight.length < 2) send();
    const out: T[] = [];
    let waitingFor = 0;
    while (inFlight.length > 0) {
      const { bytes } = parts[waitingFor]!;
      const ms = this.#budgets.forBytes(bytes);
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
        }, progress));
      } catch (e) {
        // As TCP does after a retransmission timeout: the next calls get twice the time, until one succeeds. The
        // late reply is no sample: a paused Redis answers late too, and budgets must not grow to fit a stall.
        if (e instanceof StoreTimeoutError) this.#budgets.backoff(bytes);
        throw StoreError.from(operation, e);
      }
      this.#budgets.sample(bytes, performance.now() - started);
      waitingFor++;
      if (next < parts.length) send();
    }
    return out;
  }
}

/** Whether `keys` are the keys of `sets`, in order (a release of exactly what is written). */
function sameKeys(keys: readonly string[], sets: readonly SetCommand[]): boolean {
  return keys.length === sets.length && keys.every((k, i) => k === sets[i]!.key);
}
