/**
 * What a {@link RedisCoordinator} is given by the store that makes it: deadlines for its calls and the store's
 * write. Types only, kept apart from the coordinator's code.
 */
import type { StoreEntry } from '@rangecache/core';

/** Options of a {@link RedisCoordinator}. */
export interface RedisCoordinatorOptions {
  /**
   * The base deadline of the subscriber connection, in ms: connecting (TCP, `AUTH`, `SELECT`, client info) gets
   * twice this, each `SUBSCRIBE` once. Default 250. A function is asked each time (a `RedisStore` passes
   * its current base budget, which follows a busy but healthy Redis).
   */
  commandTimeoutMs?: number | (() => number);
  /**
   * Sends several calls of one operation with their own budgets (`bytes` each), returning their replies in order:
   * a `RedisStore` passes the one its MGETs use (two in flight, each reply within its part's budget of the
   * one before it). Without it, the parts go one after another through `timed`.
   */
  timedParts?: TimedParts;
  /**
   * Writes entries and then releases this coordinator's leases on `release` in the same round trip (a `RedisStore`
   * sends one script for a landing of up to 64 KiB, else transactions with the release script in the last one).
   * Without it, `writeAndRelease` throws a `ConfigError`.
   */
  write?: (entries: readonly StoreEntry[], release: readonly string[]) => Promise<void>;
  /**
   * A connection that no big write waits on and that sends at once: a `RedisStore` passes its own lookup connection.
   * Lease extensions go there, and so do lookups while it is free. Without it, they go through the client, where:
   * - extensions wait behind the holder's own writes, and a busy Redis read them too late to keep the leases
   *   (measured with 32 processes: a holder's extensions ran 1.7-2.9 s after they were sent, its lease lapsed,
   *   and a waiter fetched the block again);
   * - a cold read's lookup leaves on node-redis's next `setImmediate`: in W2 cold, a median 100-175 µs after it was
   *   asked for, against 25-40 µs here.
   */
  control?: ControlConnection;
}

/** See {@link RedisCoordinatorOptions.control}. Its calls are timed by `timedParts` on the `'lookups'` channel. */
export interface ControlConnection {
  /** Sends one small script; its reply, values as Buffers. */
  send(script: { script: string; keys: readonly string[]; args: readonly string[] }): Promise<unknown>;
  /**
   * Whether big replies are on their way on it: a lookup sent there would wait for them (in a fleet, a waiter's
   * next claim behind the landed blocks it reads), so it goes through the client instead.
   */
  busy(): boolean;
}

/**
 * Sends `parts` of one operation under per-part deadlines; see {@link RedisCoordinatorOptions.timedParts}. `channel`
 * says which connection they go on: the client's, or the store's own (`'lookups'`, see `control`).
 */
export type TimedParts = <T>(operation: string, parts: readonly { send: () => Promise<T>; bytes: number }[], channel?: 'client' | 'lookups') => Promise<T[]>;

/**
 * Runs one Redis call under a deadline (a store's own policy), rejecting with a typed {@link StoreError}. `bytes`
 * is how many value bytes the call may move, which the budget may grow with (a `RedisStore` gives
 * `commandTimeoutMs + timeoutPerMiBMs` per MiB); callers that pass nothing move (almost) no bytes.
 */
export type TimedCall = <T>(operation: string, call: () => Promise<T>, bytes?: number) => Promise<T>;
