/**
 * Connections the store opens itself (duplicates of the caller's client): the coordinator's release subscriber,
 * and on node-redis 4 the store's data connection. Opening one has a deadline, and one can be abandoned at any
 * moment, mid-connect included, without waiting for Redis.
 */
import { StoreError, StoreTimeoutError, StoreUnavailableError } from '@rangecache/core';
import { withResponsiveTimeout } from './responsive-timeout.js';

/** What opening and closing a connection needs of a node-redis client (v4, v5 and v6 alike). */
export interface ConnectableClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  disconnect(): Promise<unknown>;
  on(event: 'connect' | 'ready' | 'error', listener: () => void): unknown;
  unref(): void;
}

/** A connection of the store's own, from the moment it starts connecting. */
export interface OwnConnection<C extends ConnectableClient> {
  readonly client: C;
  /** Resolves when connected and ready; rejects (a {@link StoreError}) on a failure, the deadline, or abandonment. */
  readonly ready: Promise<C>;
  /** Stops it for good (idempotent): disconnects, even mid-connect; resolves when that is done. */
  abandon(reason: Error): Promise<void>;
}

/**
 * Connects `client` (a new duplicate, not connected yet) within `ms` of responsive time. Its errors are the
 * caller's to observe through `ready` and its own listeners; it never keeps the process alive (it is unref'd: a
 * connection the caller never asked for must not).
 */
export function openConnection<C extends ConnectableClient>(client: C, operation: string, ms: number): OwnConnection<C> {
  client.on('error', () => {}); // failures surface through `ready` and the calls that use the connection
  client.unref();
  let abandoned = false;
  let disconnected: Promise<void> | undefined;
  let rejectAbandoned: (e: Error) => void = () => {};
  const abandonedP = new Promise<never>((_, reject) => { rejectAbandoned = reject; });
  abandonedP.catch(() => {});
  // A disconnect() during the TCP handshake does not stop node-redis from then sending its handshake commands
  // and waiting on them; flushing them (a second disconnect(), whose socket part throws) ends that attempt.
  client.on('connect', () => { if (abandoned) setImmediate(() => void client.disconnect().catch(() => {})); });
  const connected = client.connect().then(() => {
    if (abandoned || !client.isReady) throw new StoreUnavailableError(operation, 'the connection was closed while connecting');
    return client;
  });
  return {
    client,
    ready: withResponsiveTimeout(Promise.race([connected, abandonedP]), ms, () => new StoreTimeoutError(operation, ms))
      .catch((e: unknown) => { throw StoreError.from(operation, e); }),
    abandon: (reason) => {
      if (!abandoned) {
        abandoned = true;
        rejectAbandoned(reason);
        disconnected = client.isOpen ? client.disconnect().then(() => {}, () => {}) : Promise.resolve();
      }
      return disconnected!;
    },
  };
}
