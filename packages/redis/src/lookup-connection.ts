/**
 * The store's own connection for `MGET`, the hot path of every warm read. Reply headers land in one reused,
 * already-touched buffer, and each value is read by the kernel straight into memory of its own (`onread` with a
 * buffer function), so a warm 64 KiB read costs one allocation and no copy in this process (BENCHMARKS.md,
 * "Lookups on the store's own connection"). Everything else goes through node-redis.
 *
 * It opens on first use, authenticates and selects the caller's database, and never reconnects in place: a
 * connection that fails rejects what it had in flight and is replaced at the next call, with a fresh reader.
 */
import { type Socket, connect } from 'node:net';
import type { IntoSignal } from '@rangecache/core';
import { type RespReply, RespError, RespReader, encodeCommand, encodeCommandChunks } from './resp-reader.js';

/** Where the caller's client connects, as far as this connection can follow it. */
export interface LookupEndpoint {
  host?: string;
  port?: number;
  /** A Unix socket path, instead of host and port. */
  path?: string;
  username?: string;
  password?: string;
  database?: number;
}

/** The part of a node-redis client's `options` (v4, v5, v6) that says where and as whom it connects. */
interface ClientOptions {
  url?: unknown;
  socket?: { host?: unknown; port?: unknown; path?: unknown; tls?: unknown };
  username?: unknown;
  password?: unknown;
  database?: unknown;
}

/**
 * The endpoint of a node-redis client, or `undefined` when this connection cannot follow it (TLS, a cluster, a
 * credentials provider, anything it does not recognise): the store then sends lookups through the client.
 */
export function endpointOf(client: unknown): LookupEndpoint | undefined {
  const options = (client as { options?: ClientOptions } | null)?.options;
  if (!options || typeof options !== 'object' || 'rootNodes' in options) return undefined; // a cluster: not one endpoint
  const socket = options.socket ?? {};
  if (socket.tls) return undefined;
  // Only an endpoint the client names: a client without one (a sentinel or cluster client, or defaults that
  // another version might resolve differently) keeps its lookups.
  if (typeof options.url !== 'string' && socket.host === undefined && socket.path === undefined && socket.port === undefined) return undefined;
  const endpoint: LookupEndpoint = {};
  if (typeof options.url === 'string') {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      return undefined;
    }
    if (url.protocol !== 'redis:') return undefined; // rediss: is TLS
    endpoint.host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    endpoint.port = url.port ? Number(url.port) : 6379;
    if (url.username) endpoint.username = decodeURIComponent(url.username);
    if (url.password) endpoint.password = decodeURIComponent(url.password);
    const db = url.pathname.slice(1);
    if (db) endpoint.database = Number(db);
  }
  if (typeof socket.path === 'string') endpoint.path = socket.path;
  if (typeof socket.host === 'string') endpoint.host = socket.host;
  if (typeof socket.port === 'number') endpoint.port = socket.port;
  if (options.username !== undefined) {
    if (typeof options.username !== 'string') return undefined;
    endpoint.username = options.username;
  }
  if (options.password !== undefined) {
    if (typeof options.password !== 'string') return undefined;
    endpoint.password = options.password;
  }
  if (options.database !== undefined) {
    if (typeof options.database !== 'number') return undefined;
    endpoint.database = options.database;
  }
  if (endpoint.path === undefined) {
    endpoint.host ??= 'localhost';
    endpoint.port ??= 6379;
  }
  if (endpoint.database !== undefined && !Number.isSafeInteger(endpoint.database)) return undefined;
  return endpoint;
}

/** The reused receive buffer: big enough that a 1 MiB value arrives in a few reads. */
const RECEIVE_BUFFER = 256 * 1024;

/** The cost drivers of lookups on the store's own connection, counted since it was made. */
export interface LookupCounters {
  /** Values received (nil ones aside). */
  values: number;
  /** Of those, values read into the caller's memory (`into`); the others each took an allocation of their own. */
  valuesInCallerMemory: number;
  /** Value bytes copied from the reused receive buffer (the rest went from the socket straight into their memory). */
  copiedBytes: number;
}

/** When Redis last sent this connection bytes: a busy Redis still streaming a big reply is alive (see RedisStore). */
export interface LookupActivity {
  /** performance.now() of the last socket read with data, 0 before any. */
  lastDataAt: number;
}

/**
 * Why a link was dropped when a caller gave up mid-value: this process's doing, not a failure of Redis. The
 * caller's lookup reads as misses (see GuardedStore); a write that was on the same link is sent again on a new one.
 */
export class LinkGivenUpError extends Error {
  constructor() {
    super('redis lookup connection dropped: a lookup was given up while its value was arriving in the caller\'s memory');
    this.name = 'LinkGivenUpError';
  }
}

/** Subscribing to the caller's client closing. */
export interface ClientEndEvents {
  on(listener: () => void): void;
  off(listener: () => void): void;
}

interface Waiter {
  resolve(reply: RespReply): void;
  reject(error: Error): void;
  /** The caller's memory for the values of its reply, by position; dropped when the caller gives up. */
  into: readonly (Uint8Array | undefined)[] | undefined;
  /** Aborts when the caller gives up: nothing may be written into `into` any more. */
  stop: IntoSignal | undefined;
}

/** One connection: its socket, its reader, and the replies it waits for, in order. */
class Link {
  readonly socket: Socket;
  readonly waiting: Waiter[] = [];
  closed = false;
  readonly #reader: RespReader;
  /** The caller's memory the value being received goes to, and whose it is. */
  #callerValue: { view: Buffer; waiter: Waiter } | undefined;

  readonly #counters: LookupCounters;

  constructor(endpoint: LookupEndpoint, counters: LookupCounters, activity: LookupActivity, onClose: (link: Link) => void) {
    this.#counters = counters;
    this.#reader = new RespReader((reply) => {
      this.waiting.shift()?.resolve(reply);
      if (this.waiting.length === 0) this.socket.unref(); // an idle lookup connection never keeps the process alive
    }, (length, index) => this.#memoryFor(length, index));
    const scratch = Buffer.alloc(RECEIVE_BUFFER); // zero-filled: its pages are touched once, here
    const onread = {
      // Inside a value, the kernel writes straight into the value's own memory; otherwise into the scratch buffer.
      // A caller's memory is read into only while the caller still wants it.
      buffer: (): Uint8Array => (this.#givenUp() ? undefined : this.#reader.valueRemainder) ?? scratch,
      callback: (n: number, buffer: Uint8Array): boolean => {
        activity.lastDataAt = performance.now();
        try {
          if (buffer !== scratch) this.#reader.filled(n);
          else if (this.#givenUp()) this.fail(new LinkGivenUpError());
          else {
            const copied = this.#reader.copiedBytes;
            this.#reader.feed(scratch, 0, n);
            this.#counters.copiedBytes += this.#reader.copiedBytes - copied;
          }
        } catch (e) {
          this.fail(e as Error);
        }
        return true;
      },
    };
    this.socket = endpoint.path !== undefined
      ? connect({ path: endpoint.path, onread })
      : connect({ host: endpoint.host!, port: endpoint.port!, onread, noDelay: true });
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => {
      this.fail(new Error('redis lookup connection closed'));
      onClose(this);
    });
  }

  /**
   * Sends `command`; its reply's values are read into `into[i]` where that has their exact length, until
   * `stop` aborts. A value still arriving into the caller's memory then drops the connection, so that nothing
   * is written there after the caller gave up.
   */
  send(command: Buffer, into?: readonly (Uint8Array | undefined)[], stop?: IntoSignal): Promise<RespReply> {
    if (this.closed) return Promise.reject(new Error('redis lookup connection closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, into: stop?.aborted ? undefined : into, stop };
      if (waiter.into && stop) {
        const unsubscribe = stop.subscribe(() => this.#abandon(waiter));
        waiter.resolve = (reply) => { unsubscribe(); resolve(reply); };
        waiter.reject = (error) => { unsubscribe(); reject(error); };
      }
      this.waiting.push(waiter);
      this.socket.ref();
      this.socket.write(command);
    });
  }

  /**
   * Sends several commands, already encoded as `chunks`, in one write; resolves with their `count` replies in order
   * (server errors among them as {@link RespError} values), or rejects if the link fails first.
   */
  sendAll(chunks: readonly Uint8Array[], count: number): Promise<RespReply[]> {
    if (this.closed) return Promise.reject(new Error('redis lookup connection closed'));
    return new Promise((resolve, reject) => {
      const replies: RespReply[] = [];
      let failed = false;
      const waiter: Waiter = {
        resolve: (reply) => {
          replies.push(reply);
          if (replies.length === count) resolve(replies);
        },
        reject: (error) => {
          if (!failed) reject(error);
          failed = true;
        },
        into: undefined,
        stop: undefined,
      };
      for (let i = 0; i < count; i++) this.waiting.push(waiter);
      this.socket.ref();
      // Corked: the chunks leave in one writev, values uncopied.
      this.socket.cork();
      for (const chunk of chunks) this.socket.write(chunk);
      this.socket.uncork();
    });
  }

  /** The memory value `index` of the reply being read goes to: the caller's, where it asked, still wants it, and it fits. */
  #memoryFor(length: number, index: number): Buffer {
    const waiter = this.waiting[0];
    const target = waiter?.into?.[index];
    this.#counters.values++;
    if (!target || target.byteLength !== length || waiter!.stop?.aborted) return Buffer.allocUnsafeSlow(length);
    this.#counters.valuesInCallerMemory++;
    const view = Buffer.from(target.buffer, target.byteOffset, target.byteLength);
    this.#callerValue = { view, waiter: waiter! };
    return view;
  }

  /**
   * The caller gave up: values not started yet go to memory of their own; a value arriving into its memory drops
   * the connection at once, since the socket may already hold that memory for its next read.
   */
  #abandon(waiter: Waiter): void {
    waiter.into = undefined;
    if (this.#callerValue?.waiter === waiter && this.#reader.receiving === this.#callerValue.view) {
      this.fail(new LinkGivenUpError());
    }
  }

  /** Whether the value being received goes to the memory of a caller who has given up on it. */
  #givenUp(): boolean {
    const current = this.#callerValue;
    if (current === undefined) return false;
    if (this.#reader.receiving !== current.view) {
      this.#callerValue = undefined; // that value is complete: nothing more is written into it
      return false;
    }
    return current.waiter.stop?.aborted === true;
  }

  fail(error: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    for (const w of this.waiting.splice(0)) w.reject(error);
  }
}

/**
 * `MGET` over a connection of its own. A call that fails (lost connection, server error) rejects; the store
 * turns that into a `StoreError` and the read goes on to the origin.
 */
export class LookupConnection {
  /** What reading values cost: see {@link LookupCounters}. */
  readonly counters: LookupCounters = { values: 0, valuesInCallerMemory: 0, copiedBytes: 0 };
  /** When Redis last sent bytes on this connection (any link of it). */
  readonly activity: LookupActivity = { lastDataAt: 0 };
  readonly #endpoint: LookupEndpoint;
  readonly #clientEnd: ClientEndEvents | undefined;
  #link: Link | undefined;
  #closed = false;
  /** Drops the link when the caller's client is closed: listened for only while a link is open. */
  readonly #onClientEnd = (): void => this.#drop();

  /**
   * @param clientEnd - The caller's client closing: the link closes too, so it never outlives the client.
   * @param counters - Where to count (shared by the connections to the masters of a cluster).
   */
  constructor(endpoint: LookupEndpoint, clientEnd?: ClientEndEvents, counters?: LookupCounters) {
    this.#endpoint = endpoint;
    this.#clientEnd = clientEnd;
    if (counters) this.counters = counters;
  }

  /**
   * Values of `keys`, as Buffers of their own, `null` where missing; or, where `into[i]` has the exact length of
   * value i, a view of `into[i]` holding it (until `stop` aborts: see {@link Link.send}).
   */
  async mget(keys: readonly string[], into?: readonly (Uint8Array | undefined)[], stop?: IntoSignal): Promise<(Buffer | null)[]> {
    const reply = await this.#send(['MGET', ...keys], into, stop);
    if (reply instanceof Error) throw reply;
    if (!Array.isArray(reply) || reply.length !== keys.length || reply.some((v) => typeof v === 'number')) {
      throw new Error(`redis lookup connection: MGET of ${keys.length} keys got ${describe(reply)}`);
    }
    return reply as (Buffer | null)[];
  }

  /**
   * One small command (a lease script: a lookup, an extension): its reply, or the server's error thrown. Nothing big
   * is written on this connection, so Redis reads such a command at once, whatever the client's connection has
   * queued; and it leaves at once, where node-redis sends commands on the next `setImmediate`.
   */
  async call(args: readonly string[]): Promise<RespReply> {
    const reply = await this.#send(args);
    if (reply instanceof Error) throw reply;
    return reply;
  }

  /**
   * Several commands in one write, their byte arguments (values) uncopied; their replies in order, server errors
   * among them as {@link RespError} values. For small writes only (a cold read's landing and its release): a
   * lookup sent after them waits until Redis has read them.
   */
  async pipeline(commands: readonly (readonly (string | Uint8Array)[])[]): Promise<RespReply[]> {
    if (commands.length === 0) return [];
    const chunks: Uint8Array[] = [];
    for (const args of commands) encodeCommandChunks(args, chunks);
    return this.#usable().sendAll(chunks, commands.length);
  }

  #send(args: readonly string[], into?: readonly (Uint8Array | undefined)[], stop?: IntoSignal): Promise<RespReply> {
    return this.#usable().send(encodeCommand(args), into, stop);
  }

  /** The open link, opened first if there is none; throws once this connection is closed. */
  #usable(): Link {
    if (this.#closed) throw new Error('redis lookup connection closed');
    if (!this.#link || this.#link.closed) this.#link = this.#open();
    return this.#link;
  }

  /** A new link; AUTH and SELECT are pipelined ahead of the first command, and a refusal fails the link. */
  #open(): Link {
    const link = new Link(this.#endpoint, this.counters, this.activity, (closed) => {
      if (this.#link !== closed) return;
      this.#link = undefined;
      this.#clientEnd?.off(this.#onClientEnd);
    });
    this.#clientEnd?.on(this.#onClientEnd);
    const { username, password, database } = this.#endpoint;
    const setup: string[][] = [];
    if (password !== undefined) setup.push(username !== undefined ? ['AUTH', username, password] : ['AUTH', password]);
    if (database !== undefined && database !== 0) setup.push(['SELECT', String(database)]);
    for (const args of setup) {
      link.send(encodeCommand(args)).then(
        (reply) => reply instanceof RespError && link.fail(new Error(`redis lookup connection: ${args[0]} refused: ${reply.message}`)),
        () => {},
      );
    }
    return link;
  }

  /** Closes the connection; calls in flight reject. */
  close(): void {
    this.#closed = true;
    this.#drop();
  }

  #drop(): void {
    const link = this.#link;
    this.#link = undefined;
    this.#clientEnd?.off(this.#onClientEnd);
    link?.fail(new Error('redis lookup connection closed'));
  }
}

function describe(reply: RespReply): string {
  if (Array.isArray(reply)) return `${reply.length} values`;
  if (reply === null) return 'nil';
  return Buffer.isBuffer(reply) ? 'a bulk string' : JSON.stringify(reply);
}
