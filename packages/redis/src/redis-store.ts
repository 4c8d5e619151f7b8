import { IntoStop, StoreTimeoutError } from '@rangecache/core';
import type { CacheStore, FetchCoordinator, GetManyOptions, StoreEntry } from '@rangecache/core';
import { escapeGlob } from '@rangecache/core/store-kit';
import type { EvalCommand, RedisClient, RedisDriver, SetCommand } from './driver.js';
import { type RedisStoreOptions, resolveStoreOptions } from './store-options.js';
import { driverFor } from './driver-for.js';
import { type LookupCounters, LinkGivenUpError, LookupConnection, endpointOf } from './lookup-connection.js';
import { type RespReply, RespError } from './resp-reader.js';
import { SHARDED_WRITE_RELEASE_SCRIPT, WRITE_RELEASE_SCRIPT, releaseCommands } from './lease-scripts.js';
import type { RedisClusterClient } from './driver-cluster.js';
import { ClusterLookups, clusterCredentials } from './cluster-lookups.js';
import { RedisCoordinator } from './redis-coordinator.js';
import { CallBudgets } from './round-trip.js';
import { type Part, WindowedCalls } from './windowed-calls.js';

export type { RedisStoreOptions } from './store-options.js';

const MiB = 1024 * 1024;
/** Keys per MGET part: bounds a part where value sizes are unknown. */
const KEYS_PER_MGET = 64;
/** Expected value bytes per MGET part: bounds one reply (Redis builds it whole before sending it). */
const BYTES_PER_MGET = 16 * MiB;
/** Value bytes per MULTI/EXEC of writes. */
const BYTES_PER_MULTI = 32 * MiB;
/**
 * A landing of at most this many value bytes leaves in one write, so that a cold scan of 64 KiB chunks makes one
 * flush per read: on the store's own connection, as its SETs and its release pipelined; without that connection
 * (a cluster, TLS, `ownLookupConnection: false`), as the write-and-release script, one command that node-redis
 * sends in one write (a MULTI past its 16 KiB socket buffer leaves in two, see WRITE_RELEASE_SCRIPT). Lua copies
 * every value it is handed: Redis spent 1.58 ms of its one thread on 1 MiB written through a script, against
 * 0.25-0.29 ms for SET; 0.40 against 0.06-0.07 ms at 256 KiB; 0.14 against 0.05 ms at 64 KiB
 * (bench/write-cost.mjs); a cold W2 read cost Redis 150 µs with the script, 31 µs pipelined (tenth session).
 * A bigger landing is written by plain SETs in a MULTI with the release, through the client: a big write on the
 * store's own connection would hold up the lookups behind it.
 */
const SCRIPT_WRITE_MAX_BYTES = 64 * 1024;
/** Value bytes on their way on the store's own connection past which a lease lookup goes through the client. */
const CONTROL_BUSY_BYTES = 256 * 1024;
/** Adds ARGV pairs (field, integer) to the hash KEYS[1]: shared counters (see `addCounters`). */
const ADD_COUNTERS_SCRIPT = `for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return #ARGV / 2`;
/** Keys asked for per SCAN step. */
const SCAN_COUNT = 1000;

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
  readonly #budgets: CallBudgets;
  /** Every call to Redis, under those budgets. */
  readonly #calls: WindowedCalls;
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
    const driver = this.#driver;
    const endpoint = o.ownLookupConnection && !driver.cluster ? endpointOf(o.client) : undefined;
    const credentials = o.ownLookupConnection && driver.cluster ? clusterCredentials(o.client) : undefined;
    if (endpoint) this.#lookups = new LookupConnection(endpoint, { on: (l) => driver.onClientEnd(l), off: (l) => driver.offClientEnd(l) });
    else if (credentials) this.#lookups = new ClusterLookups(o.client, credentials, (keys) => driver.mget(keys));
    // Bytes arriving on the one lookup connection show that Redis is alive (on a cluster they would show it for one
    // master only: not used there).
    const lookups = this.#lookups;
    const own = lookups instanceof LookupConnection ? lookups : undefined;
    this.#calls = new WindowedCalls(this.#driver, this.#budgets, own ? () => own.activity.lastDataAt : undefined);
    this.#coordinator = new RedisCoordinator(
      this.#driver,
      // The coordinator's calls get the same budgets as the store's: base + timeoutPerMiBMs per MiB they move.
      async (operation, call, bytes = 0) => (await this.#calls.run(operation, [{ send: call, bytes }]))[0]!,
      {
        commandTimeoutMs: () => this.#budgets.base(),
        timedParts: (operation, parts, channel) => this.#calls.run(operation, parts, channel),
        write: (entries, release) => this.#write(entries, release),
        // Lease extensions, and lookups while no big reply is on its way there: on the store's own connection, which
        // sends at once and where no big write of the holder is queued ahead of them (on a cluster, or without that
        // connection, they go through the client).
        control: own && {
          send: (command) => own.call(evalArgs(command)),
          busy: () => this.#calls.inFlightBytes('lookups') > CONTROL_BUSY_BYTES,
        },
      },
    );
    this.coordinator = this.#coordinator;
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
      const replies = await this.#calls.run('MGET', parts, lookups ? 'lookups' : 'client');
      return replies.length === 1 ? replies[0]! : replies.flat(); // flat() costs microseconds even for one part
    } catch (e) {
      stop?.abort(); // a part may still be sending: not into the caller's memory any more
      // A late answer is one value per key, as an answer in time is, not one list per part.
      throw e instanceof StoreTimeoutError ? e.mapAnswer((replies) => (replies as (Buffer | null)[][]).flat()) : e;
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
    // After the lookups in flight: a cold read's next lookup is answered before Redis stores these bytes, and the
    // write lands while that read waits for the origin (W2 cold / direct on loopback: 1.78 -> 1.41, BENCHMARKS.md).
    const lookups = this.#coordinator.lookupsAnswered();
    if (lookups) {
      await lookups;
      // And after what those answers start: the read's origin request goes out before this write is sent (it had
      // waited ~110 -> ~60 µs for it, median of W2 cold's lookup-to-fetch time).
      await new Promise((resolve) => setImmediate(resolve));
    }
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
    if (only && (bytes <= SCRIPT_WRITE_MAX_BYTES || sharded) && sameKeys(only.keys, sets)) {
      // A small landing (its values and their leases, one namespace; on a cluster, one hash tag), in one write.
      const own = this.#lookups instanceof LookupConnection ? this.#lookups : undefined; // never on a cluster
      if (own) return this.#landPipelined(own, sets, only);
      // One command, so node-redis sends it whole. On a cluster, big ones too: its transactions write through a
      // script anyway.
      const args: (string | Buffer)[] = [...only.args];
      for (const s of sets) args.push(s.ttlMs === null ? '' : String(s.ttlMs), s.value);
      const command = { script: sharded ? SHARDED_WRITE_RELEASE_SCRIPT : WRITE_RELEASE_SCRIPT, keys: only.keys, args, argsPerKey: 2 };
      await this.#calls.run('EVAL writeAndRelease', [{ send: () => this.#driver.eval(command), bytes }]);
      return;
    }
    // Leases go in the last transaction: after every value is written, in the same round trip.
    flush(releases);
    await this.#calls.run('MULTI/EXEC', parts);
  }

  /**
   * A small landing on the store's own connection: its SETs and its release pipelined in one write. Redis CPU per
   * 64 KiB landing: 129 µs through the write-and-release script (Lua copies the value, twice), 2 µs for the SET and
   * about 10 µs for the release script (BENCHMARKS.md, tenth session).
   */
  async #landPipelined(own: LookupConnection, sets: readonly SetCommand[], release: EvalScript): Promise<void> {
    const commands: (string | Uint8Array)[][] = sets.map((s) => (s.ttlMs === null ? ['SET', s.key, s.value] : ['SET', s.key, s.value, 'PX', String(s.ttlMs)]));
    commands.push(evalArgs(release));
    const send = (): Promise<void> => own.pipeline(commands).then(throwFirstError);
    // A link dropped because a lookup's caller gave up is no failure of Redis: the write goes again, on a new link
    // (both commands are idempotent: the SET writes the same bytes, and the release deletes only this owner's lease).
    const resend = (e: unknown): Promise<void> => (e instanceof LinkGivenUpError ? send() : Promise.reject(e));
    // Counted as 0 bytes: its bytes go out, and Redis reads 64 KiB at once; bytes in flight on this connection stand
    // for replies still to come, and past CONTROL_BUSY_BYTES of them lookups avoid it.
    await this.#calls.run('SET+release', [{ send: () => send().catch(resend), bytes: 0 }], 'lookups');
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#calls.run('UNLINK', [{ send: () => this.#driver.unlink(keys), bytes: 0 }]);
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
      deleted += (await this.#calls.run('UNLINK', [{ send: () => this.#driver.unlink(keys), bytes: 0 }]))[0]!;
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
      const [reply] = await this.#calls.run('SCAN', [{ send: () => this.#driver.scan(at, match, SCAN_COUNT), bytes: 0 }]);
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
    await this.#calls.run('EVAL addCounters', [{ send: () => this.#driver.eval(command), bytes: 0 }]);
  }

}

/** A script with its keys and string arguments, as a release or lookup command is built. */
interface EvalScript {
  readonly script: string;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** `EVAL` of `command` as the arguments of one RESP command. */
function evalArgs({ script, keys, args }: EvalScript): string[] {
  return ['EVAL', script, String(keys.length), ...keys, ...args];
}

/** The first server error among pipelined replies, thrown (the store turns it into a StoreError). */
function throwFirstError(replies: readonly RespReply[]): void {
  const error = replies.find((r): r is RespError => r instanceof RespError);
  if (error) throw error;
}

/** Whether `keys` are the keys of `sets`, in order (a release of exactly what is written). */
function sameKeys(keys: readonly string[], sets: readonly SetCommand[]): boolean {
  return keys.length === sets.length && keys.every((k, i) => k === sets[i]!.key);
}
