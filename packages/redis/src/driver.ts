/**
 * The small interface through which `RedisStore` and `RedisCoordinator` talk to node-redis, whichever major the
 * caller's client is. node-redis 5 and 6 speak alike (`driver-v5.ts`); node-redis 4 (`driver-v4.ts`) differs in
 * binary replies, `multi()` options, `SCAN` cursors and pub/sub reconnects, and its reply parser cannot survive a
 * connection lost in the middle of a reply. `driver-for.ts` tells them apart.
 */
import type { ConnectableClient } from './own-connection.js';

/**
 * A connected node-redis client, v4 (4.6 or later), v5 or v6, as returned by `createClient()` after
 * `await client.connect()`: with either protocol (RESP2 or RESP3; v5 and v6), any modules, scripts and type
 * mapping. This is the part of it the store's type checks; node-redis's own types are generic in all of these (and
 * differ between majors), so no one instantiation of them would accept every client. Which major it is, is told
 * from the client itself when the store is made.
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
  duplicate(): unknown;
  on(event: 'end', listener: () => void): unknown;
  off(event: 'end', listener: () => void): unknown;
}

/** One `SET key value [PX ttlMs]` of a write transaction (`ttlMs` whole ms, at least 1; `null`: no expiry). */
export interface SetCommand {
  readonly key: string;
  readonly value: Buffer;
  readonly ttlMs: number | null;
}

/** One `EVAL script numkeys keys… args…`. */
export interface EvalCommand {
  readonly script: string;
  readonly keys: readonly string[];
  /** Strings, or bytes (values written by a script). */
  readonly args: readonly (string | Buffer)[];
  /**
   * How many of `args` belong to each key: the last `argsPerKey × keys.length` arguments, in key order (the others
   * are fixed). A cluster splits a script by slot, and each part takes its keys' own arguments. Default 0.
   */
  readonly argsPerKey?: number;
}

/** A pub/sub connection: a duplicate of the caller's client, not connected yet. */
export interface PubSubClient extends ConnectableClient {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** Stops listening to `channel` (a cluster's shard channels are many: the coordinator keeps the recent ones). */
  unsubscribe?(channel: string): Promise<unknown>;
}

/**
 * Everything the store and its coordinator send to Redis. Each method is one command (or one transaction) on
 * the data connection; failures are the client's own errors, which the store wraps into `StoreError`s under its
 * time budgets.
 */
export interface RedisDriver {
  /** The node-redis major: 4, or 5 for v5 and v6 (they speak alike). */
  readonly major: 4 | 5;
  /**
   * A Redis Cluster: calls are split by slot, and lease releases go out on shard channels (`SPUBLISH`) in their
   * keys' slot, not on one channel per namespace.
   */
  readonly cluster?: boolean;
  /** The caller's client is connected: a duplicate made now (the subscriber) would connect to a live server. */
  readonly clientReady: boolean;
  /**
   * `undefined` when a command can be sent now. Otherwise throws a `StoreUnavailableError` (not connected: the
   * call is not sent), or returns a promise that resolves once the data connection is ready: on node-redis 4 the
   * store's own connection, which connects within `connectMs` or rejects with a `StoreError`.
   */
  ready(operation: string, connectMs: number): Promise<void> | undefined;
  /** `MGET`, values as Buffers (`null` where missing), byte-exact. */
  mget(keys: readonly string[]): Promise<(Buffer | null)[]>;
  /** One `MULTI … EXEC`: the SETs, then the EVALs. */
  transaction(sets: readonly SetCommand[], evals: readonly EvalCommand[]): Promise<unknown>;
  /** `UNLINK`: how many keys went. */
  unlink(keys: readonly string[]): Promise<number>;
  /** One `SCAN cursor MATCH match COUNT count`; the cursor is a decimal string both ways (Redis's are 64-bit). */
  scan(cursor: string, match: string, count: number): Promise<{ cursor: string; keys: string[] }>;
  /** `EVAL` whose replies are integers (or arrays of them). */
  eval(command: EvalCommand): Promise<unknown>;
  /** `EVAL` whose bulk replies come back as Buffers, byte-exact. */
  evalBuffers(command: EvalCommand): Promise<unknown>;
  /** A new connection for pub/sub (a duplicate of the caller's client), not connected yet. */
  subscriber(): PubSubClient;
  /**
   * Whether a subscriber whose connection is lost reconnects and resubscribes by itself (v5, v6). When `false`
   * (v4) a lost subscriber closes for good and must be replaced: reconnecting it would keep a half-read reply.
   */
  readonly subscriberReconnects: boolean;
  /** Listens for the caller's client closing (its owner closed it). */
  onClientEnd(listener: () => void): void;
  offClientEnd(listener: () => void): void;
  /** Closes what the driver opened itself (node-redis 4: its data connection). */
  close(): Promise<void>;
}

/** `RESP_TYPES.BLOB_STRING` of node-redis 5 and 6 (the RESP type byte `$`), mapped to Buffer for binary replies. */
export const BLOB_STRING = 36;
