/**
 * The release side of {@link RedisCoordinator}'s leases: waiters are woken by `PUBLISH` on a per-namespace channel
 * (per hash tag on a cluster), received on a second connection (`client.duplicate()`) opened the first time it is
 * needed. It never polls while that connection works.
 *
 * The subscriber's connect and `SUBSCRIBE` have deadlines. When the subscriber cannot connect or subscribe in time
 * (a stalled Redis, a wrong password), it is disconnected, and for a short back-off (1 s, doubling up to 10 s) no
 * new one is tried: claims go ahead without waiting for it, and waits on keys whose channel is not listened to
 * poll. A claim after the back-off tries again. A subscriber that loses its connection wakes every waiter
 * (releases may have been missed); on node-redis 5 and 6 it reconnects and resubscribes by itself, on node-redis 4
 * it is closed and the next claim opens a new one.
 */
import { StoreError, StoreTimeoutError, StoreUnavailableError } from '@rangecache/core';
import type { PubSubClient, RedisDriver } from './driver.js';
import { channelOf } from './lease-scripts.js';
import { openConnection, type OwnConnection } from './own-connection.js';
import { withResponsiveTimeout } from './responsive-timeout.js';

/**
 * Keys a listener remembers as "busy when last checked" (to report their releases to a wait that starts
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
 * Shard channels (one per hash tag) a cluster's listener listens to at most: past this, the least recently
 * used ones that no wait needs are unsubscribed (a later wait on their keys polls until it listens again).
 */
const MAX_CHANNELS = 1024;

/** After the subscriber failed, no new one is tried for this long (doubling per failure up to the max); waits poll. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 10_000;
/** How long close() waits for the subscriber's disconnect (which does not need Redis to answer). */
const CLOSE_WAIT_MS = 1000;

/** The pub/sub connection, from the moment it starts connecting. */
type Subscriber = OwnConnection<PubSubClient>;

/** Listens for lease releases and wakes the waits on them; one per {@link RedisCoordinator}. */
export class ReleaseListener {
  readonly #driver: RedisDriver;
  readonly #timeoutMs: () => number;
  #sub: Subscriber | undefined;
  #channels = new Map<string, Promise<void>>();
  /** Channels whose SUBSCRIBE has been answered: waits on their keys are woken by releases; others poll. */
  #subscribed = new Set<string>();
  #waiters = new Map<string, Set<Waiter>>();
  /**
   * Keys a claim or lookupAndClaim found busy (so Redis counts this process as a waiter), each with whether a
   * release of it has been seen since: a waitForRelease that starts after the release message arrived still
   * learns of it at once. Set before each check's script is sent; dropped when a check finds the key not busy;
   * the oldest forgotten past MAX_WATCHED.
   */
  #watched = new Map<string, boolean>();
  #failures = 0;
  #retryAt = 0;
  /** On the shared client only while a subscriber exists: its owner closing the client closes the subscriber. */
  #onClientEnd = (): void => void this.close();

  /**
   * @param driver - the client whose `duplicate()` subscribes.
   * @param timeoutMs - the store's base budget for one call, now: it bounds a connect (twice it) and a SUBSCRIBE.
   */
  constructor(driver: RedisDriver, timeoutMs: () => number) {
    this.#driver = driver;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Resolves with the keys of `keys` whose release woke it (see {@link FetchCoordinator.waitForRelease}): at once
   * if some were released since a check (see {@link ReleaseListener.watch}) last found them busy, else on the first release
   * message naming any of them (every key of that message, and of messages parsed with it, counts), `[]` on
   * timeout or abort, all of `keys` when the subscriber reconnected or failed.
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
  async listenOrPoll(keys: readonly string[]): Promise<void> {
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
  watch(keys: readonly string[]): void {
    for (const k of keys) {
      this.#watched.delete(k); // re-inserted last: the map's order is the order of the checks
      this.#watched.set(k, false);
    }
    while (this.#watched.size > MAX_WATCHED) this.#watched.delete(this.#watched.keys().next().value!);
  }

  /** After a check: only the keys it found busy stay watched (this process is their waiter in Redis). */
  unwatch(keys: readonly string[], results: readonly unknown[]): void {
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
