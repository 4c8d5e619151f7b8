/**
 * The driver for node-redis 4 (4.6 or later). It differs from node-redis 5 and 6 in four places, all handled here:
 *
 * - binary replies: `commandOptions({ returnBuffers: true })` on `MGET` and on the lookup script (there is no type
 *   mapping); `multi()` takes no command options, which its writes do not need (they answer `OK` and integers);
 * - `SET … PX` is spelled `{ PX: ms }`;
 * - `SCAN`: its typed reply turns the 64-bit cursor into a JavaScript number, so `SCAN` is sent raw and the cursor
 *   stays a string (`scanIterator`, which yields single keys in v4 and arrays in v5, is not used: each `SCAN` needs
 *   its own deadline);
 * - reconnects: node-redis 4's RESP2 parser (`@redis/client` 1.x, `RESP2Decoder.reset()`) does not clear a
 *   half-read array when the connection is lost in the middle of a reply. On the reconnected socket the next
 *   replies are read as the rest of the old one: checked against 4.7.1, a `GET` then returns a piece of the old
 *   reply (`"7\r\nva"`), and every later command waits forever. So this driver never lets a connection reconnect:
 *   it sends everything on a connection of its own, a `duplicate()` of the caller's client with
 *   `reconnectStrategy: false`, and when that connection is lost it is closed and the next call opens a new one
 *   (a new client, with a new parser). The release subscriber is made the same way, and replaced when lost.
 *
 * The caller's client is only a template (its options) and a signal: while it is not ready (Redis is down and it
 * is reconnecting by its own strategy) no new connection is tried and calls fail at once, as with v5 and v6; when
 * its owner closes it, this driver's connection closes too. The price: one more connection per store.
 */
import { StoreUnavailableError } from '@rangecache/core';
import type { EvalCommand, PubSubClient, RedisDriver, SetCommand } from './driver.js';
import { openConnection, type ConnectableClient, type OwnConnection } from './own-connection.js';

/** What node-redis 4's `commandOptions()` makes: a marker object its commands take as their first argument. */
type V4CommandOptions = object;

interface V4EvalOptions {
  keys: string[];
  arguments: (string | Buffer)[];
}

/** The `multi()` of node-redis 4, as far as the store uses it. */
interface V4Multi {
  set(key: string, value: Buffer, options?: { PX: number }): unknown;
  eval(script: string, options: V4EvalOptions): unknown;
  exec(): Promise<unknown>;
}

/** A node-redis 4 client, as far as the store uses it. */
export interface V4Client extends ConnectableClient {
  readonly options?: { readonly socket?: object } | undefined;
  duplicate(overrides?: object): V4Client;
  commandOptions(options: { returnBuffers: true }): V4CommandOptions;
  mGet(options: V4CommandOptions, keys: string[]): Promise<unknown>;
  multi(): V4Multi;
  unlink(keys: string[]): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  eval(options: V4CommandOptions, script: string, evalOptions: V4EvalOptions): Promise<unknown>;
  eval(script: string, evalOptions: V4EvalOptions): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: 'end' | 'connect' | 'ready' | 'error', listener: () => void): unknown;
  off(event: 'end', listener: () => void): unknown;
}

/** After a failed connect, no new one is tried for this long (doubling per failure up to the max). */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

export class V4Driver implements RedisDriver {
  readonly major = 4;
  /** A lost subscriber is closed for good and replaced (see the file's comment). */
  readonly subscriberReconnects = false;
  #template: V4Client;
  /** The data connection: connecting, or ready; `undefined` when there is none (not opened yet, lost, closed). */
  #conn: OwnConnection<V4Client> | undefined;
  /** `#conn` once it was ready: if it is not ready any more, it was lost. */
  #connected: OwnConnection<V4Client> | undefined;
  #failures = 0;
  #retryAt = 0;
  /** On the caller's client only while a connection exists: its owner closing it closes the connection. */
  #onTemplateEnd = (): void => void this.close();

  constructor(template: V4Client) {
    this.#template = template;
  }

  get clientReady(): boolean {
    return this.#template.isReady;
  }

  ready(operation: string, connectMs: number): Promise<void> | undefined {
    let conn = this.#conn;
    if (conn?.client.isReady) return undefined;
    if (conn && conn === this.#connected) {
      void this.#drop(conn, false); // lost, and its error event not seen (yet): open a new one all the same
      conn = undefined;
    }
    if (!this.#template.isReady) throw new StoreUnavailableError(operation);
    if (conn) return conn.ready.then(() => undefined); // connecting: every caller waits for the same attempt
    const wait = this.#retryAt - performance.now();
    if (wait > 0) throw new StoreUnavailableError(operation, `its connection failed to open recently; next attempt in ${Math.ceil(wait)} ms`);
    return this.#open(connectMs).ready.then(() => undefined);
  }

  mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const c = this.#client('MGET');
    return c.mGet(c.commandOptions({ returnBuffers: true }), [...keys]) as Promise<(Buffer | null)[]>;
  }

  transaction(sets: readonly SetCommand[], evals: readonly EvalCommand[]): Promise<unknown> {
    const multi = this.#client('MULTI/EXEC').multi();
    for (const { key, value, ttlMs } of sets) {
      if (ttlMs === null) multi.set(key, value);
      else multi.set(key, value, { PX: ttlMs });
    }
    for (const e of evals) multi.eval(e.script, { keys: [...e.keys], arguments: [...e.args] });
    return multi.exec();
  }

  async unlink(keys: readonly string[]): Promise<number> {
    return Number(await this.#client('UNLINK').unlink([...keys]));
  }

  async scan(cursor: string, match: string, count: number): Promise<{ cursor: string; keys: string[] }> {
    const reply = await this.#client('SCAN').sendCommand(['SCAN', cursor, 'MATCH', match, 'COUNT', String(count)]);
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw new TypeError('SCAN returned an unexpected reply');
    return { cursor: String(reply[0]), keys: (reply[1] as unknown[]).map(String) };
  }

  eval(e: EvalCommand): Promise<unknown> {
    return this.#client('EVAL').eval(e.script, { keys: [...e.keys], arguments: [...e.args] });
  }

  evalBuffers(e: EvalCommand): Promise<unknown> {
    const c = this.#client('EVAL');
    return c.eval(c.commandOptions({ returnBuffers: true }), e.script, { keys: [...e.keys], arguments: [...e.args] });
  }

  subscriber(): PubSubClient {
    return this.#duplicate();
  }

  onClientEnd(listener: () => void): void {
    this.#template.on('end', listener);
  }

  offClientEnd(listener: () => void): void {
    this.#template.off('end', listener);
  }

  /** Closes the data connection (without waiting for a stalled Redis); a later call opens a new one. */
  async close(): Promise<void> {
    const conn = this.#conn;
    if (conn) await this.#drop(conn, false);
  }

  /** The ready data connection, or a StoreUnavailableError naming `operation`. */
  #client(operation: string): V4Client {
    const conn = this.#conn;
    if (!conn?.client.isReady) throw new StoreUnavailableError(operation, 'the connection was lost');
    return conn.client;
  }

  /** A new client on the caller's options that never reconnects (and never runs in legacy mode). */
  #duplicate(): V4Client {
    const socket = { ...this.#template.options?.socket, reconnectStrategy: false };
    return this.#template.duplicate({ socket, legacyMode: false, disableOfflineQueue: true, isolationPoolOptions: undefined });
  }

  #open(connectMs: number): OwnConnection<V4Client> {
    const conn = openConnection(this.#duplicate(), 'connect', connectMs);
    this.#conn = conn;
    this.#template.on('end', this.#onTemplateEnd);
    conn.ready.then(() => {
      this.#failures = 0;
      if (this.#conn === conn) this.#connected = conn;
      // The socket is gone and, with reconnectStrategy false, so is the client: the next call opens a new one.
      conn.client.on('error', () => void this.#drop(conn, false));
      if (!conn.client.isReady) void this.#drop(conn, false); // lost between ready and here
    }, () => void this.#drop(conn, true));
    return conn;
  }

  /** Forgets `conn` (if still current) and disconnects it; a failed open also delays the next attempt. */
  #drop(conn: OwnConnection<V4Client>, failed: boolean): Promise<void> {
    if (this.#conn === conn) {
      this.#conn = undefined;
      this.#connected = undefined;
      this.#template.off('end', this.#onTemplateEnd);
      if (failed) {
        this.#failures++;
        this.#retryAt = performance.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.#failures - 1));
      }
    }
    return conn.abandon(new StoreUnavailableError('connect', 'the connection was closed'));
  }
}
