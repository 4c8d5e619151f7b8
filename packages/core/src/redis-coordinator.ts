import { randomUUID } from 'node:crypto';
import type { ClaimResult, FetchCoordinator } from './coordinator.js';
import type { RedisClient } from './redis-store.js';

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

/**
 * {@link FetchCoordinator} on Redis: leases are `SET … NX PX` taken by a Lua script that first checks whether
 * the value has landed (so a piece written between a reader's lookup and its claim is not fetched twice), and
 * waiters are woken by `PUBLISH` on a per-namespace channel, received on a second connection this coordinator
 * opens (`client.duplicate()`) the first time it is needed. It never polls.
 */
export class RedisCoordinator implements FetchCoordinator {
  readonly owner = randomUUID();
  #client: RedisClient;
  #subscriber: RedisClient | undefined;
  #connecting: Promise<RedisClient> | undefined;
  #channels = new Map<string, Promise<void>>();
  #waiters = new Map<string, Set<() => void>>();
  #timed: <T>(operation: string, call: () => Promise<T>) => Promise<T>;

  constructor(client: RedisClient, timed: <T>(operation: string, call: () => Promise<T>) => Promise<T>) {
    this.#client = client;
    this.#timed = timed;
    // When its owner closes the client (quit/disconnect), the subscriber goes too, instead of reconnecting forever.
    client.on('end', () => void this.close());
  }

  async claim(keys: readonly string[], ttlMs: number): Promise<ClaimResult[]> {
    if (keys.length === 0) return [];
    // Listen before claiming: a release published after the claim's check must not be missed.
    await Promise.all([...new Set(keys.map(channelOf))].map((c) => this.#listen(c)));
    const codes = await this.#timed('EVAL claim', () =>
      this.#client.eval(CLAIM_SCRIPT, { keys: [...keys], arguments: [this.owner, String(Math.max(1, Math.round(ttlMs)))] }),
    );
    if (!Array.isArray(codes) || codes.length !== keys.length) throw new Error('lease claim returned an unexpected reply');
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

  async close(): Promise<void> {
    const sub = this.#subscriber ?? (await this.#connecting?.catch(() => undefined));
    this.#subscriber = undefined;
    this.#connecting = undefined;
    this.#channels.clear();
    if (sub?.isOpen) await sub.disconnect().catch(() => {});
  }

  #listen(channel: string): Promise<void> {
    let listening = this.#channels.get(channel);
    if (listening === undefined) {
      listening = this.#subscriberClient()
        .then((sub) => sub.subscribe(channel, (message: string) => this.#onRelease(message)))
        .catch((e: unknown) => {
          this.#channels.delete(channel); // try again next time
          throw e;
        });
      this.#channels.set(channel, listening);
    }
    return listening;
  }

  #subscriberClient(): Promise<RedisClient> {
    if (this.#subscriber) return Promise.resolve(this.#subscriber);
    if (!this.#connecting) {
      const sub = this.#client.duplicate();
      sub.on('error', () => {}); // failures surface as failed claims, which fall back to fetching directly
      this.#connecting = sub.connect().then(() => {
        sub.unref(); // a listener the caller never asked for must not keep the process alive
        this.#subscriber = sub;
        // After a reconnect node-redis resubscribes by itself; wake everyone, since releases may have been missed.
        sub.on('ready', () => this.#wakeAll());
        return sub;
      }, (e: unknown) => {
        this.#connecting = undefined;
        throw e;
      });
    }
    return this.#connecting;
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
