import { randomUUID } from 'node:crypto';
import type { ClaimResult, FetchCoordinator } from './coordinator.js';
import { StoreError, StoreTimeoutError, StoreUnavailableError } from './redis-store.js';
import type { RedisClient } from './redis-store.js';
import { withResponsiveTimeout } from './responsive-timeout.js';

/** The lease on data key K is K + LEASE_SUFFIX, its waiter count K + WAITERS_SUFFIX. Data keys end in digits. */
const LEASE_SUFFIX = ':lease';
const WAITERS_SUFFIX = ':waiters';

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: lease ms. Per key: 2 = value landed, 1 = claimed, 0 = busy (and
// then the key's waiter count goes up, so that its release is published).
const CLAIM_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    out[i] = 2
  elseif redis.call('SET', key .. '${LEASE_SUFFIX}', ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = 1
  else
    local w = key .. '${WAITERS_SUFFIX}'
    redis.call('INCR', w)
    redis.call('PEXPIRE', w, ARGV[2])
    out[i] = 0
  end
end
return out`;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: channel. Deletes only this owner's leases, then tells the waiters of
// the keys that have some (an uncontended release publishes nothing).
export const RELEASE_SCRIPT = `
local waited = {}
for _, key in ipairs(KEYS) do
  local lease = key .. '${LEASE_SUFFIX}'
  if redis.call('GET', lease) == ARGV[1] then redis.call('DEL', lease) end
  if redis.call('DEL', key .. '${WAITERS_SUFFIX}') == 1 then waited[#waited + 1] = key end
end
if #waited > 0 then redis.call('PUBLISH', ARGV[2], table.concat(waited, '\\n')) end
return #waited`;

/** The pub/sub channel for releases of keys in the namespace of `key` (`rangecache:v1:<ns>:…`). */
export function channelOf(key: string): string {
  const ns = key.split(':', 3)[2] ?? '';
  return `rangecache:v1:${ns}:released`;
}

/** Options of a {@link RedisCoordinator}. */
export interface RedisCoordinatorOptions {
  /**
   * The base deadline of the subscriber connection, in ms: connecting (TCP, `AUTH`, `SELECT`, client info) gets
   * twice this, each `SUBSCRIBE` once. Default 250 (a {@link RedisStore} passes its `commandTimeoutMs`).
   */
  commandTimeoutMs?: number;
}

/** After the subscriber failed, claims fail at once for this long (doubling per failure up to the max). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 10_000;
/** How long close() waits for the subscriber's disconnect (which does not need Redis to answer). */
const CLOSE_WAIT_MS = 1000;

/** The pub/sub connection, from the moment it starts connecting. */
interface Subscriber {
  client: RedisClient;
  /** Resolves when connected; rejects on a failure, the deadline, or abandonment. */
  ready: Promise<RedisClient>;
  /** Stops it for good (idempotent): disconnects, even mid-connect; resolves when that is done. */
  abandon(reason: Error): Promise<void>;
}

/**
 * {@link FetchCoordinator} on Redis: leases are `SET … NX PX` taken by a Lua script that first checks whether
 * the value has landed (so a piece written between a reader's lookup and its claim is not fetched twice), and
 * waiters are woken by `PUBLISH` on a per-namespace channel, received on a second connection this coordinator
 * opens (`client.duplicate()`) the first time it is needed. It never polls.
 *
 * Every Redis interaction has a deadline: scripts go through `timed` (the store's), the subscriber's connect and
 * `SUBSCRIBE` have their own (see {@link RedisCoordinatorOptions}). When the subscriber cannot connect or
 * subscribe in time (a stalled Redis, a wrong password), it is disconnected, claims reject at once for a short
 * back-off (1 s, doubling up to 10 s), so readers fetch directly, and a claim after that tries again.
 */
export class RedisCoordinator implements FetchCoordinator {
  readonly owner = randomUUID();
  #client: RedisClient;
  #sub: Subscriber | undefined;
  #channels = new Map<string, Promise<void>>();
  #waiters = new Map<string, Set<() => void>>();
  #timed: <T>(operation: string, call: () => Promise<T>) => Promise<T>;
  #timeoutMs: number;
  #failures = 0;
  #retryAt = 0;
  /** On the shared client only while a subscriber exists: its owner closing the client closes the subscriber. */
  #onClientEnd = (): void => void this.close();

  /**
   * @param client the connected client the leases are taken on (the subscriber is its duplicate).
   * @param timed runs one Redis call under a deadline, rejecting with a typed error (a store's own policy).
   */
  constructor(client: RedisClient, timed: <T>(operation: string, call: () => Promise<T>) => Promise<T>, options: RedisCoordinatorOptions = {}) {
    this.#client = client;
    this.#timed = timed;
    this.#timeoutMs = options.commandTimeoutMs ?? 250;
  }

  async claim(keys: readonly string[], ttlMs: number): Promise<ClaimResult[]> {
    if (keys.length === 0) return [];
    // Listen before claiming: a release published after the claim's check must not be missed.
    await Promise.all([...new Set(keys.map(channelOf))].map((c) => this.#listen(c)));
    const codes = await this.#timed('EVAL claim', () =>
      this.#client.eval(CLAIM_SCRIPT, { keys: [...keys], arguments: [this.owner, String(Math.max(1, Math.round(ttlMs)))] }),
    );
    if (!Array.isArray(codes) || codes.length !== keys.length) throw new StoreError('EVAL claim', 'lease claim returned an unexpected reply');
    return codes.map((c) => (c === 2 ? 'landed' : c === 1 ? 'claimed' : 'busy'));
  }

  async release(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const byChannel = new Map<string, string[]>();
    for (const k of keys) {
      const c = channelOf(k);
      const list = byChannel.get(c);
      if (list) list.push(k);
      else byChannel.set(c, [k]);
    }
    await Promise.all([...byChannel].map(([channel, list]) =>
      this.#timed('EVAL release', () => this.#client.eval(RELEASE_SCRIPT, { keys: list, arguments: [this.owner, channel] }))));
  }

  waitForRelease(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        for (const k of keys) {
          const set = this.#waiters.get(k);
          set?.delete(finish);
          if (set?.size === 0) this.#waiters.delete(k);
        }
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      signal?.addEventListener('abort', finish, { once: true });
      for (const k of keys) {
        let set = this.#waiters.get(k);
        if (!set) {
          set = new Set();
          this.#waiters.set(k, set);
        }
        set.add(finish);
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

  #listen(channel: string): Promise<void> {
    const listening = this.#channels.get(channel);
    if (listening !== undefined) return listening;
    let sub: Subscriber;
    try {
      sub = this.#subscriber();
    } catch (e) {
      return Promise.reject(e);
    }
    const ms = this.#timeoutMs;
    const p: Promise<void> = sub.ready
      .then((client) => withResponsiveTimeout(client.subscribe(channel, (message: string) => this.#onRelease(message)), ms,
        () => new StoreTimeoutError('SUBSCRIBE', ms)))
      .catch((e: unknown) => {
        if (this.#channels.get(channel) === p) this.#channels.delete(channel);
        // A SUBSCRIBE that failed or timed out leaves the connection in an unknown state: start over later.
        const err = StoreError.from('SUBSCRIBE', e);
        this.#drop(sub, err, true);
        throw err;
      });
    this.#channels.set(channel, p);
    return p;
  }

  /** The current subscriber, or a new one now connecting; throws during the back-off after a failure. */
  #subscriber(): Subscriber {
    if (this.#sub) return this.#sub;
    // A duplicate of a client that is down or closed would connect on its own and outlive it.
    if (!this.#client.isReady) throw new StoreUnavailableError('subscriber connect');
    const wait = this.#retryAt - performance.now();
    if (wait > 0) {
      throw new StoreUnavailableError('SUBSCRIBE', `the release subscriber failed recently; next attempt in ${Math.ceil(wait)} ms`);
    }
    const client = this.#client.duplicate();
    client.on('error', () => {}); // failures surface as failed claims, which fall back to fetching directly
    client.unref(); // a listener the caller never asked for must not keep the process alive
    let abandoned = false;
    let disconnected: Promise<void> | undefined;
    let rejectAbandoned: (e: Error) => void = () => {};
    const abandonedP = new Promise<never>((_, reject) => { rejectAbandoned = reject; });
    abandonedP.catch(() => {});
    // A disconnect() during the TCP handshake does not stop node-redis from then sending its handshake commands
    // and waiting on them; flushing them (a second disconnect(), whose socket part throws) ends that attempt.
    client.on('connect', () => { if (abandoned) setImmediate(() => void client.disconnect().catch(() => {})); });
    const ms = 2 * this.#timeoutMs;
    const connected = client.connect().then(() => {
      if (abandoned || !client.isReady) throw new StoreUnavailableError('subscriber connect', 'the subscriber was closed while connecting');
      return client;
    });
    const sub: Subscriber = {
      client,
      ready: withResponsiveTimeout(Promise.race([connected, abandonedP]), ms, () => new StoreTimeoutError('subscriber connect', ms))
        .catch((e: unknown) => { throw StoreError.from('subscriber connect', e); }),
      abandon: (reason) => {
        if (!abandoned) {
          abandoned = true;
          rejectAbandoned(reason);
          disconnected = client.isOpen ? client.disconnect().catch(() => {}) : Promise.resolve();
        }
        return disconnected!;
      },
    };
    sub.ready.then(() => {
      this.#failures = 0;
      // After a reconnect node-redis resubscribes by itself; wake everyone, since releases may have been missed.
      client.on('ready', () => this.#wakeAll());
    }, (e: unknown) => this.#drop(sub, StoreError.from('subscriber connect', e), true));
    this.#sub = sub;
    this.#client.on('end', this.#onClientEnd);
    return sub;
  }

  /** Forgets `sub` (if still current), disconnects it, and wakes every waiter, since its releases will not come. */
  #drop(sub: Subscriber, reason: Error, failed: boolean): void {
    if (this.#sub !== sub) return;
    this.#sub = undefined;
    this.#channels.clear();
    this.#client.off('end', this.#onClientEnd);
    if (failed) {
      this.#failures++;
      this.#retryAt = performance.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.#failures - 1));
    }
    void sub.abandon(reason);
    this.#wakeAll();
  }

  #onRelease(message: string): void {
    for (const key of message.split('\n')) {
      const set = this.#waiters.get(key);
      if (set) for (const wake of [...set]) wake();
    }
  }

  #wakeAll(): void {
    for (const set of [...this.#waiters.values()]) for (const wake of [...set]) wake();
  }
}
