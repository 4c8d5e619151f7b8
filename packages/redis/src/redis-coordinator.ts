import { randomUUID } from 'node:crypto';
import { ConfigError, StoreError, StoreTimeoutError, StoreUnavailableError } from '@rangecache/core';
import type { ClaimResult, FetchCoordinator, LookupAndClaimOptions, LookupClaimResult, StoreEntry } from '@rangecache/core';
import type { PubSubClient, RedisDriver } from './driver.js';
import { CLAIM_SCRIPT, EXTEND_SCRIPT, LOOKUP_CLAIM_SCRIPT, channelOf, releaseCommands } from './lease-scripts.js';
import { openConnection, type OwnConnection } from './own-connection.js';
import { withResponsiveTimeout } from './responsive-timeout.js';
import type { RedisCoordinatorOptions, TimedCall, TimedParts } from './coordinator-options.js';

export type { RedisCoordinatorOptions } from './coordinator-options.js';

/**
 * lookupAndClaim parts: at most this many expected value bytes (one reply, which Redis builds whole, and a budget
 * that still detects a stall in base + 16 × timeoutPerMiBMs), at most this many keys of unknown size (as the
 * store's MGET parts), and at most this many keys in all (bounds one script's run).
 */
const BYTES_PER_LOOKUP = 16 * 1024 * 1024;
const UNSIZED_KEYS_PER_LOOKUP = 64;
const KEYS_PER_LOOKUP = 1024;

/**
 * Keys this coordinator remembers as "busy when last checked" (to report their releases to a wait that starts
 * after the release message came): the oldest are forgotten past this many.
 */
const MAX_WATCHED = 65_536;

/** One pending waitForRelease. */
interface Waiter {
  readonly keys: readonly string[];
  /** Keys of `keys` whose release has been seen for this wait. */
  readonly hits: Set<string>;
  /** Resolves the wait with `hits` (in a microtask, so that release messages parsed together wake it once). */
  wake(): void;
}

/**
 * Shard channels (one per hash tag) a cluster's coordinator listens to at most: past this, the least recently
 * used ones that no wait needs are unsubscribed (a later wait on their keys polls until it listens again).
 */
const MAX_CHANNELS = 1024;

/** After the subscriber failed, claims fail at once for this long (doubling per failure up to the max). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 10_000;
/** How long close() waits for the subscriber's disconnect (which does not need Redis to answer). */
const CLOSE_WAIT_MS = 1000;

/** The pub/sub connection, from the moment it starts connecting. */
type Subscriber = OwnConnection<PubSubClient>;

/**
 * {@link FetchCoordinator} on Redis: leases are `SET … NX PX` taken by a Lua script that first checks whether
 * the value has landed (so a piece written between a reader's lookup and its claim is not fetched twice), and
 * waiters are woken by `PUBLISH` on a per-namespace channel, received on a second connection this coordinator
 * opens (`client.duplicate()`) the first time it is needed. It never polls while that connection works.
 *
 * Every Redis interaction has a deadline: scripts go through `timed` (the store's), the subscriber's connect and
 * `SUBSCRIBE` have their own (see {@link RedisCoordinatorOptions}). When the subscriber cannot connect or
 * subscribe in time (a stalled Redis, a wrong password), it is disconnected, claims reject at once for a short
 * back-off (1 s, doubling up to 10 s), so readers fetch directly, and a claim after that tries again. A subscriber
 * that loses its connection wakes every waiter (releases may have been missed); on node-redis 5 and 6 it
 * reconnects and resubscribes by itself, on node-redis 4 it is closed and the next claim opens a new one.
 *
 * A `RedisStore` makes one (its `coordinator`); the constructor is not meant to be called otherwise.
 */
export class RedisCoordinator implements FetchCoordinator {
  readonly owner = randomUUID();
  #driver: RedisDriver;
  #sub: Subscriber | undefined;
  #channels = new Map<string, Promise<void>>();
  /** Channels whose SUBSCRIBE has been answered: waits on their keys are woken by releases; others poll. */
  #subscribed = new Set<string>();
  #waiters = new Map<string, Set<Waiter>>();
  /**
   * Keys a claim or lookupAndClaim of this coordinator found busy (so Redis counts this process as a waiter), each
   * with whether a release of it has been seen since: a waitForRelease that starts after the release message
   * arrived still learns of it at once. Set before each check's script is sent; dropped when a check finds the
   * key not busy; the oldest forgotten past MAX_WATCHED.
   */
  #watched = new Map<string, boolean>();
  #timed: TimedCall;
  #timedParts: TimedParts;
  #write: RedisCoordinatorOptions['write'];
  #timeoutMs: () => number;
  #failures = 0;
  #retryAt = 0;
  /** On the shared client only while a subscriber exists: its owner closing the client closes the subscriber. */
  #onClientEnd = (): void => void this.close();

  /**
   * @param driver the store's way to the connected client the leases are taken on (the subscriber is a duplicate).
   * @param timed runs one Redis call under a deadline, rejecting with a typed error (a store's own policy); its
   * optional third argument is the value bytes the call may move (see {@link TimedCall}).
   */
  constructor(driver: RedisDriver, timed: TimedCall, options: RedisCoordinatorOptions = {}) {
    this.#driver = driver;
    this.#timed = timed;
    this.#timedParts = options.timedParts ?? (async (operation, parts) => {
      const out = [];
      for (const p of parts) out.push(await timed(operation, p.send, p.bytes));
      return out;
    });
    this.#write = options.write;
    const base = options.commandTimeoutMs ?? 250;
    this.#timeoutMs = typeof base === 'function' ? base : () => base;
  }

  async claim(keys: readonly string[], ttlMs: number): Promise<ClaimResult[]> {
    if (keys.length === 0) return [];
    await this.#listenOrPoll(keys);
    this.#watch(keys);
    const codes = await this.#timed('EVAL claim', () =>
      this.#driver.eval({ script: CLAIM_SCRIPT, keys, args: [this.owner, leaseArg(ttlMs)] }),
    );
    if (!Array.isArray(codes) || codes.length !== keys.length) throw new StoreError('EVAL claim', 'lease claim returned an unexpected reply');
    const out = codes.map((c): ClaimResult => (c === 2 ? 'landed' : c === 1 ? 'claimed' : 'busy'));
    this.#unwatch(keys, out);
    return out;
  }

  /**
   * `EVAL` (binary-safe: values come back as Buffers): per key its value, else `claimed` (`SET key:lease owner NX
   * PX ttlMs`), else `busy` (counted as a waiter). Listens on the release channel first, as `claim` does.
   *
   * One script per part of at most 16 MiB of expected values (64 keys where sizes are unknown, 1024 in all); two
   * parts go out together, so a batch of up to 32 MiB expected is one round trip. Each part's budget is the
   * store's for the bytes it expects (`commandTimeoutMs + timeoutPerMiBMs` per MiB), counted from the reply
   * before it: a big warm batch has time to stream, a stalled Redis fails the call within one part's budget.
   */
  async lookupAndClaim(keys: readonly string[], ttlMs: number, options?: LookupAndClaimOptions): Promise<LookupClaimResult[]> {
    if (keys.length === 0) return [];
    const lease = leaseArg(ttlMs);
    await this.#listenOrPoll(keys);
    const expected = options?.expectedBytes;
    const parts: { send: () => Promise<unknown>; bytes: number }[] = [];
    let part: string[] = [];
    let bytes = 0;
    let unsized = 0;
    const flush = (): void => {
      const list = part;
      parts.push({ send: () => this.#driver.evalBuffers({ script: LOOKUP_CLAIM_SCRIPT, keys: list, args: [this.owner, lease] }), bytes });
      part = [];
      bytes = 0;
      unsized = 0;
    };
    for (let i = 0; i < keys.length; i++) {
      const e = expected?.[i];
      const size = typeof e === 'number' && Number.isFinite(e) && e > 0 ? e : 0;
      if (part.length > 0 && (part.length >= KEYS_PER_LOOKUP || bytes + size > BYTES_PER_LOOKUP || (size === 0 && unsized >= UNSIZED_KEYS_PER_LOOKUP))) flush();
      part.push(keys[i]!);
      bytes += size;
      if (size === 0) unsized++;
    }
    flush();
    this.#watch(keys);
    const results = (replies: unknown): LookupClaimResult[] => {
      const list = Array.isArray(replies) ? replies : [];
      const reply = list.flatMap((r: unknown) => (Array.isArray(r) ? r : [undefined]));
      if (list.length !== parts.length || reply.length !== keys.length) {
        throw new StoreError('EVAL lookupAndClaim', 'lease lookup returned an unexpected reply');
      }
      const out = reply.map((r: unknown): LookupClaimResult => {
        // Buffer is a Uint8Array: handed on as-is, without a copy.
        if (Buffer.isBuffer(r)) return r;
        if (r === 1) return 'claimed';
        if (r === 0) return 'busy';
        throw new StoreError('EVAL lookupAndClaim', 'lease lookup returned an unexpected reply');
      });
      this.#unwatch(keys, out);
      return out;
    };
    let replies: unknown[];
    try {
      replies = await this.#timedParts('EVAL lookupAndClaim', parts);
    } catch (e) {
      // A late answer still says which leases the script took: the caller may use it instead of asking again
      // (a second script would find this owner's own leases busy).
      throw e instanceof StoreTimeoutError ? e.mapAnswer(results) : e;
    }
    return results(replies);
  }

  /** One `EVAL`: extends this owner's leases on `keys` to `ttlMs` (and their waiter counts with them). */
  async extend(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const codes = await this.#timed('EVAL extend', () =>
      this.#driver.eval({ script: EXTEND_SCRIPT, keys, args: [this.owner, leaseArg(ttlMs)] }),
    );
    if (!Array.isArray(codes) || codes.length !== keys.length) throw new StoreError('EVAL extend', 'lease extension returned an unexpected reply');
    return codes.map((c) => c === 1);
  }

  /** Writes entries and releases this coordinator's leases on their keys, in one round trip (the store's transaction). */
  async writeAndRelease(entries: readonly StoreEntry[]): Promise<void> {
    if (!this.#write) throw new ConfigError('RedisCoordinator: writeAndRelease needs the store\'s write (a RedisStore makes its coordinator with it)');
    await this.#write(entries, entries.map((e) => e.key));
  }

  async release(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await Promise.all(releaseCommands(keys, this.owner, this.#sharded).map((command) => this.#timed('EVAL release', () => this.#driver.eval(command))));
  }

  /**
   * Resolves with the keys of `keys` whose release woke it (see {@link FetchCoordinator.waitForRelease}): at once
   * if some were released since this coordinator last found them busy, else on the first release message naming
   * any of them (every key of that message, and of messages parsed with it, counts), `[]` on timeout or abort,
   * all of `keys` when the release listener reconnected or failed.
   */
  waitForRelease(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<readonly string[]> {
    const unique = [...new Set(keys)];
    const already = unique.filter((k) => this.#watched.get(k) === true);
    if (already.length > 0) return Promise.resolve(already);
    if (unique.length === 0 || signal?.aborted) return Promise.resolve([]);
    return new Promise<readonly string[]>((resolve) => {
      let done = false;
      let scheduled = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        for (const k of unique) {
          const set = this.#waiters.get(k);
          set?.delete(waiter);
          if (set?.size === 0) this.#waiters.delete(k);
        }
        resolve(unique.filter((k) => waiter.hits.has(k)));
      };
      const waiter: Waiter = {
        keys: unique,
        hits: new Set(),
        wake: () => {
          if (scheduled) return;
          scheduled = true;
          queueMicrotask(finish);
        },
      };
      const abort = (): void => {
        waiter.hits.clear();
        finish();
      };
      // Keys whose channel is not listened to get no wake-up: the wait then ends early, so the caller polls.
      const deaf = unique.some((k) => !this.#subscribed.has(channelOf(k, this.#sharded)));
      const timer = setTimeout(abort, deaf ? Math.min(timeoutMs, Math.max(100, 2 * this.#timeoutMs())) : timeoutMs);
      timer.unref();
      signal?.addEventListener('abort', abort, { once: true });
      for (const k of unique) {
        let set = this.#waiters.get(k);
        if (!set) {
          set = new Set();
          this.#waiters.set(k, set);
        }
        set.add(waiter);
      }
    });
  }

  /**
   * Disconnects the subscriber (also one still connecting) without waiting for Redis, and stops listening to the
   * shared client. Finishes within about a second even when Redis is stalled. A later claim opens a new one.
   */
  async close(): Promise<void> {
    const sub = this.#sub;
    if (!sub) return;
    this.#drop(sub, new StoreUnavailableError('SUBSCRIBE', 'the coordinator was closed'), false);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([sub.abandon(new Error('closed')), new Promise<void>((r) => { timer = setTimeout(r, CLOSE_WAIT_MS); timer.unref(); })]);
    clearTimeout(timer);
  }

  /**
   * Before a check of `keys`: listens on their release channels, waiting for that at most one base budget. A wait
   * on a key whose channel is not subscribed yet polls (see waitForRelease), so no release is missed, and a check
   * never waits long for a subscriber that is slow to connect, failed, or backs off after a failure: a broken
   * pub/sub connection makes waiting slower, never makes every instance fetch for itself.
   */
  async #listenOrPoll(keys: readonly string[]): Promise<void> {
    const channels = new Set(keys.map((k) => channelOf(k, this.#sharded)));
    if (this.#sharded) this.#touch(channels);
    const pending = [...channels].filter((c) => !this.#subscribed.has(c)).map((c) => this.#listen(c).catch(() => {}));
    if (pending.length === 0) return;
    const waited = this.#timeoutMs();
    await withResponsiveTimeout(Promise.all(pending), waited, () => new StoreTimeoutError('SUBSCRIBE', waited)).catch(() => {});
  }

  /** On a cluster: releases come on one shard channel per hash tag, in the keys' own slot. */
  get #sharded(): boolean {
    return this.#driver.cluster === true;
  }

  #listen(channel: string): Promise<void> {
    const listening = this.#channels.get(channel);
    if (listening !== undefined) return listening;
    let sub: Subscriber;
    try {
      sub = this.#subscriber();
    } catch (e) {
      return Promise.reject(e);
    }
    const ms = this.#timeoutMs();
    const p: Promise<void> = sub.ready
      .then((client) => withResponsiveTimeout(client.subscribe(channel, (message: string) => this.#onRelease(message)), ms,
        () => new StoreTimeoutError('SUBSCRIBE', ms)))
      .then(() => { if (this.#channels.get(channel) === p) this.#subscribed.add(channel); })
      .catch((e: unknown) => {
        if (this.#channels.get(channel) === p) this.#channels.delete(channel);
        this.#subscribed.delete(channel);
        // A SUBSCRIBE that failed or timed out leaves the connection in an unknown state: start over later.
        const err = StoreError.from('SUBSCRIBE', e);
        this.#drop(sub, err, true);
        throw err;
      });
    this.#channels.set(channel, p);
    this.#forgetChannels();
    return p;
  }

  /** `channels` were used now: re-inserted last, since the map's order is the order of use. */
  #touch(channels: Iterable<string>): void {
    for (const c of channels) {
      const listening = this.#channels.get(c);
      if (listening === undefined) continue;
      this.#channels.delete(c);
      this.#channels.set(c, listening);
    }
  }

  /** Unsubscribes the least recently used channels past MAX_CHANNELS that no pending wait listens on. */
  #forgetChannels(): void {
    const client = this.#sub?.client;
    if (this.#channels.size <= MAX_CHANNELS || !client?.unsubscribe) return;
    const waited = new Set([...this.#waiters.keys()].map((k) => channelOf(k, this.#sharded)));
    for (const channel of [...this.#channels.keys()]) {
      if (this.#channels.size <= MAX_CHANNELS) break;
      if (waited.has(channel) || !this.#subscribed.has(channel)) continue;
      this.#channels.delete(channel);
      this.#subscribed.delete(channel);
      void client.unsubscribe(channel).catch(() => {});
    }
  }

  /** The current subscriber, or a new one now connecting; throws during the back-off after a failure. */
  #subscriber(): Subscriber {
    if (this.#sub) return this.#sub;
    // A duplicate of a client that is down or closed would connect on its own and outlive it.
    if (!this.#driver.clientReady) throw new StoreUnavailableError('subscriber connect');
    const wait = this.#retryAt - performance.now();
    if (wait > 0) {
      throw new StoreUnavailableError('SUBSCRIBE', `the release subscriber failed recently; next attempt in ${Math.ceil(wait)} ms`);
    }
    const sub = openConnection(this.#driver.subscriber(), 'subscriber connect', 2 * this.#timeoutMs());
    const { client } = sub;
    sub.ready.then(() => {
      this.#failures = 0;
      // After a reconnect node-redis 5+ resubscribes by itself; wake everyone, since releases may have been missed.
      if (this.#driver.subscriberReconnects) client.on('ready', () => this.#wakeAll());
      // node-redis 4's subscriber never reconnects (see driver-v4.ts): a lost one is replaced on the next claim.
      else client.on('error', () => this.#drop(sub, new StoreUnavailableError('SUBSCRIBE', 'the release subscriber lost its connection'), false));
    }, (e: unknown) => this.#drop(sub, StoreError.from('subscriber connect', e), true));
    this.#sub = sub;
    this.#driver.onClientEnd(this.#onClientEnd);
    return sub;
  }

  /** Forgets `sub` (if still current), disconnects it, and wakes every waiter, since its releases will not come. */
  #drop(sub: Subscriber, reason: Error, failed: boolean): void {
    if (this.#sub !== sub) return;
    this.#sub = undefined;
    this.#channels.clear();
    this.#subscribed.clear();
    this.#driver.offClientEnd(this.#onClientEnd);
    if (failed) {
      this.#failures++;
      this.#retryAt = performance.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.#failures - 1));
    }
    void sub.abandon(reason);
    this.#wakeAll();
  }

  /** Before a check of `keys` is sent: from now on, a release of any of them is remembered. */
  #watch(keys: readonly string[]): void {
    for (const k of keys) {
      this.#watched.delete(k); // re-inserted last: the map's order is the order of the checks
      this.#watched.set(k, false);
    }
    while (this.#watched.size > MAX_WATCHED) this.#watched.delete(this.#watched.keys().next().value!);
  }

  /** After a check: only the keys it found busy stay watched (this process is their waiter in Redis). */
  #unwatch(keys: readonly string[], results: readonly unknown[]): void {
    keys.forEach((k, i) => { if (results[i] !== 'busy') this.#watched.delete(k); });
  }

  /** One release message: every waiter on any of its keys is woken once, with all of them. */
  #onRelease(message: string): void {
    const woken = new Set<Waiter>();
    for (const key of message.split('\n')) {
      if (this.#watched.has(key)) this.#watched.set(key, true);
      const set = this.#waiters.get(key);
      if (!set) continue;
      for (const w of set) {
        w.hits.add(key);
        woken.add(w);
      }
    }
    for (const w of woken) w.wake();
  }

  /** Releases may have been missed (or will not come): every watched key counts as released, every waiter wakes. */
  #wakeAll(): void {
    for (const k of this.#watched.keys()) this.#watched.set(k, true);
    const woken = new Set<Waiter>();
    for (const set of this.#waiters.values()) for (const w of set) woken.add(w);
    for (const w of woken) {
      for (const k of w.keys) w.hits.add(k);
      w.wake();
    }
  }
}

/** A lease duration as the scripts take it: whole ms, at least 1. */
function leaseArg(ttlMs: number): string {
  if (typeof ttlMs !== 'number' || Number.isNaN(ttlMs)) throw new TypeError(`lease ttlMs must be a number of ms, got ${String(ttlMs)}`);
  return String(Math.max(1, Math.round(Math.min(ttlMs, Number.MAX_SAFE_INTEGER))));
}
