/**
 * The driver for node-redis 5 and 6: commands go over the caller's own client; binary replies come from a view
 * of it with bulk strings mapped to Buffer (`withTypeMapping`), under RESP2 and RESP3 alike.
 */
import { StoreUnavailableError } from '@rangecache/core';
import { BLOB_STRING, type EvalCommand, type PubSubClient, type RedisDriver, type SetCommand } from './driver.js';

/** Bulk strings as Buffers (values are bytes), whatever mapping the caller's client uses. */
const BUFFER_REPLIES = { [BLOB_STRING]: Buffer } as const;

/** The `multi()` of node-redis 5 and 6, as far as the store uses it. */
interface V5Multi {
  set(key: string, value: Buffer, options?: { expiration: { type: 'PX'; value: number } }): unknown;
  eval(script: string, options: { keys: string[]; arguments: (string | Buffer)[] }): unknown;
  exec(): Promise<unknown>;
}

/** A node-redis 5 or 6 client, as far as the store uses it (the caller's, or its `withTypeMapping` view). */
export interface V5Client {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  withTypeMapping(mapping: typeof BUFFER_REPLIES): V5Client;
  mGet(keys: string[]): Promise<unknown>;
  multi(): V5Multi;
  unlink(keys: string[]): Promise<unknown>;
  scan(cursor: string, options: { MATCH: string; COUNT: number }): Promise<{ cursor: unknown; keys: readonly unknown[] }>;
  eval(script: string, options: { keys: string[]; arguments: (string | Buffer)[] }): Promise<unknown>;
  duplicate(): PubSubClient;
  on(event: 'end', listener: () => void): unknown;
  off(event: 'end', listener: () => void): unknown;
}

export class V5Driver implements RedisDriver {
  readonly major = 5;
  /** node-redis 5 and 6 resubscribe after a reconnect, with a fresh reply parser. */
  readonly subscriberReconnects = true;
  #client: V5Client;
  /** The same connection, with bulk strings as Buffers. */
  #buffers: V5Client;

  constructor(client: V5Client) {
    this.#client = client;
    this.#buffers = client.withTypeMapping(BUFFER_REPLIES);
  }

  get clientReady(): boolean {
    return this.#client.isReady;
  }

  /** While the client reconnects, node-redis would queue commands (and their megabytes): refuse them instead. */
  ready(operation: string): undefined {
    if (!this.#client.isReady) throw new StoreUnavailableError(operation);
    return undefined;
  }

  mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    return this.#buffers.mGet([...keys]) as Promise<(Buffer | null)[]>;
  }

  transaction(sets: readonly SetCommand[], evals: readonly EvalCommand[]): Promise<unknown> {
    const multi = this.#client.multi();
    for (const { key, value, ttlMs } of sets) {
      if (ttlMs === null) multi.set(key, value);
      else multi.set(key, value, { expiration: { type: 'PX', value: ttlMs } });
    }
    for (const e of evals) multi.eval(e.script, { keys: [...e.keys], arguments: [...e.args] });
    return multi.exec();
  }

  async unlink(keys: readonly string[]): Promise<number> {
    return Number(await this.#client.unlink([...keys]));
  }

  async scan(cursor: string, match: string, count: number): Promise<{ cursor: string; keys: string[] }> {
    const reply = await this.#client.scan(cursor, { MATCH: match, COUNT: count });
    return { cursor: String(reply.cursor), keys: reply.keys.map(String) };
  }

  eval(e: EvalCommand): Promise<unknown> {
    return this.#client.eval(e.script, { keys: [...e.keys], arguments: [...e.args] });
  }

  evalBuffers(e: EvalCommand): Promise<unknown> {
    return this.#buffers.eval(e.script, { keys: [...e.keys], arguments: [...e.args] });
  }

  subscriber(): PubSubClient {
    return this.#client.duplicate();
  }

  onClientEnd(listener: () => void): void {
    this.#client.on('end', listener);
  }

  offClientEnd(listener: () => void): void {
    this.#client.off('end', listener);
  }

  async close(): Promise<void> {}
}
