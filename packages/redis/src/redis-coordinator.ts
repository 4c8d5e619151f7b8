import { randomUUID } from 'node:crypto';
import { ConfigError, StoreError, StoreTimeoutError } from '@rangecache/core';
import type { ClaimResult, FetchCoordinator, LookupAndClaimOptions, LookupClaimResult, StoreEntry } from '@rangecache/core';
import type { RedisDriver } from './driver.js';
import { CLAIM_SCRIPT, EXTEND_SCRIPT, LOOKUP_CLAIM_SCRIPT, releaseCommands } from './lease-scripts.js';
import { LeaseWatch } from './lease-watch.js';
import { ReleaseListener } from './release-listener.js';
import type { RedisCoordinatorOptions, TimedCall, TimedParts } from './coordinator-options.js';

export type { RedisCoordinatorOptions } from './coordinator-options.js';

/**
 * lookupAndClaim parts: at most this many expected value bytes (as the store's MGET parts), at most this many keys
 * of unknown size, and at most this many keys in all (bounds one script's run).
 */
const BYTES_PER_LOOKUP = 16 * 1024 * 1024;
/**
 * Value bytes one lookupAndClaim script returns at most; landed values past it come back as `'landed'` and are read
 * with the store's MGET. Lua copies every value it returns (Redis's slow log: 45-80 ms per script returning a 1 MiB
 * block, with 32 processes on 2 cores), and Redis runs one script at a time: a fleet whose lookups return blocks
 * stalls Redis for seconds. A big reply through the client also shows no progress until it is whole.
 */
const INLINE_BYTES_PER_LOOKUP = 256 * 1024;
const UNSIZED_KEYS_PER_LOOKUP = 64;
const KEYS_PER_LOOKUP = 1024;
/**
 * Redis drops a lease this many lease periods after its last claim or extension: a backstop for leases nobody waits
 * on. Waiters take a lease over sooner, once they have watched it go unextended for a period (see {@link LeaseWatch}).
 */
export const LEASE_BACKSTOP_PERIODS = 4;

/**
 * {@link FetchCoordinator} on Redis: leases are `SET … NX PX` taken by a Lua script that first checks whether
 * the value has landed (so a piece written between a reader's lookup and its claim is not fetched twice), and
 * waiters are woken by `PUBLISH` on a per-namespace channel, which its {@link ReleaseListener} receives on a
 * second connection (see there for how it fails and recovers).
 *
 * A lease of `ttlMs` is lost when its holder stops extending it: a waiter that has watched it keep one version for
 * `ttlMs` (over three answers at least) takes it over, and Redis drops it {@link LEASE_BACKSTOP_PERIODS} × `ttlMs`
 * after its last extension. A Redis that stalls for longer than `ttlMs` therefore does not cost a live holder its
 * lease (see {@link LeaseWatch}).
 *
 * Every Redis interaction has a deadline: scripts go through `timed` (the store's), the subscriber's connect and
 * `SUBSCRIBE` have their own (see {@link RedisCoordinatorOptions}).
 *
 * A `RedisStore` makes one (its `coordinator`); the constructor is not meant to be called otherwise.
 */
export class RedisCoordinator implements FetchCoordinator {
  readonly owner = randomUUID();
  #driver: RedisDriver;
  readonly #releases: ReleaseListener;
  #timed: TimedCall;
  #timedParts: TimedParts;
  #write: RedisCoordinatorOptions['write'];
  #control: RedisCoordinatorOptions['control'];
  /** The versions of other holders' leases this process has seen, to tell when one may be taken over. */
  readonly #watch = new LeaseWatch();
  /** lookupAndClaim calls waiting for their answers (see {@link lookupsAnswered}). */
  readonly #lookups = new Set<Promise<unknown>>();

  /**
   * @param driver the store's way to the connected client the leases are taken on (the subscriber is a duplicate).
   * @param timed runs one Redis call under a deadline, rejecting with a typed error (a store's own policy); its
   * optional third argument is the value bytes the call may move (see {@link TimedCall}).
   */
  constructor(driver: RedisDriver, timed: TimedCall, options: RedisCoordinatorOptions = {}) {
    this.#driver = driver;
    this.#timed = timed;
    this.#timedParts = options.timedParts ?? (async (operation, parts) => { // one connection: the channel does not matter
      const out = [];
      for (const p of parts) out.push(await timed(operation, p.send, p.bytes));
      return out;
    });
    this.#write = options.write;
    this.#control = options.control;
    const base = options.commandTimeoutMs ?? 250;
    this.#releases = new ReleaseListener(driver, typeof base === 'function' ? base : () => base);
  }

  async claim(keys: readonly string[], ttlMs: number): Promise<ClaimResult[]> {
    if (keys.length === 0) return [];
    await this.#releases.listenOrPoll(keys);
    this.#releases.watch(keys);
    const stale = this.#watch.staleVersions(keys, ttlMs);
    const args = [this.owner, backstopArg(ttlMs), newVersion(), ...(stale ?? [])];
    const codes = await this.#timed('EVAL claim', () =>
      this.#driver.eval({ script: CLAIM_SCRIPT, keys, args, argsPerKey: stale ? 1 : 0 }),
    );
    if (!Array.isArray(codes) || codes.length !== keys.length) throw new StoreError('EVAL claim', 'lease claim returned an unexpected reply');
    const out = codes.map((c: unknown, i): ClaimResult => {
      if (this.#busy(keys[i]!, c)) return 'busy';
      if (c === 2) return 'landed';
      if (c === 1) return 'claimed';
      throw new StoreError('EVAL claim', 'lease claim returned an unexpected reply');
    });
    this.#releases.unwatch(keys, out);
    return out;
  }

  /**
   * `EVAL` (binary-safe: values come back as Buffers): per key its value, else `claimed` (`SET key:lease owner NX
   * PX ttlMs`), else `busy` (counted as a waiter). Listens on the release channel first, as `claim` does. Values
   * come back while they fit 256 KiB per script; landed values past that are `'landed'`, for the caller to read with
   * the store's `getMany` (a big reply is read best on the store's own connection, where it shows its progress).
   *
   * One script per part of at most 16 MiB of expected values (64 keys where sizes are unknown, 1024 in all); two
   * parts go out together, so a batch of up to 32 MiB expected is one round trip. Each part's budget is the
   * store's for the bytes it can return (`commandTimeoutMs + timeoutPerMiBMs` per MiB, at most 256 KiB), counted
   * from the reply before it: a stalled Redis fails the call within one part's budget.
   */
  async lookupAndClaim(keys: readonly string[], ttlMs: number, options?: LookupAndClaimOptions): Promise<LookupClaimResult[]> {
    if (keys.length === 0) return [];
    const backstop = backstopArg(ttlMs);
    await this.#releases.listenOrPoll(keys);
    const expected = options?.expectedBytes;
    const control = this.#control?.busy() === false ? this.#control : undefined;
    const stale = this.#watch.staleVersions(keys, ttlMs);
    const version = newVersion();
    const parts: { send: () => Promise<unknown>; bytes: number }[] = [];
    let part: string[] = [];
    let first = 0; // index in keys of part[0]
    let bytes = 0;
    let unsized = 0;
    const flush = (): void => {
      const list = part;
      const args = [this.owner, backstop, version, String(INLINE_BYTES_PER_LOOKUP), ...(stale?.slice(first, first + list.length) ?? [])];
      const command = { script: LOOKUP_CLAIM_SCRIPT, keys: list, args, argsPerKey: stale ? 1 : 0 };
      parts.push({ send: () => (control ? control.send(command) : this.#driver.evalBuffers(command)), bytes: Math.min(bytes, INLINE_BYTES_PER_LOOKUP) });
      first += list.length;
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
    this.#releases.watch(keys);
    const results = (replies: unknown): LookupClaimResult[] => {
      const list = Array.isArray(replies) ? replies : [];
      const reply = list.flatMap((r: unknown) => (Array.isArray(r) ? r : [undefined]));
      if (list.length !== parts.length || reply.length !== keys.length) {
        throw new StoreError('EVAL lookupAndClaim', 'lease lookup returned an unexpected reply');
      }
      const out = reply.map((r: unknown, i): LookupClaimResult => {
        if (this.#busy(keys[i]!, r)) return 'busy';
        // Buffer is a Uint8Array: handed on as-is, without a copy.
        if (Buffer.isBuffer(r)) return r;
        if (r === 1) return 'claimed';
        if (r === 2) return 'landed';
        throw new StoreError('EVAL lookupAndClaim', 'lease lookup returned an unexpected reply');
      });
      this.#releases.unwatch(keys, out);
      return out;
    };
    let replies: unknown[];
    const answered = this.#timedParts('EVAL lookupAndClaim', parts, control ? 'lookups' : 'client');
    this.#lookups.add(answered);
    void answered.then(() => this.#lookups.delete(answered), () => this.#lookups.delete(answered));
    try {
      replies = await answered;
    } catch (e) {
      // A late answer still says which leases the script took: the caller may use it instead of asking again
      // (a second script would find this owner's own leases busy).
      throw e instanceof StoreTimeoutError ? e.mapAnswer(results) : e;
    }
    return results(replies);
  }

  /**
   * Whether a check script's answer for `key` is busy (0 or minus the holder's version); the lease watch notes the
   * version it saw, or forgets the key when the answer is anything else (claimed, landed).
   */
  #busy(key: string, answer: unknown): boolean {
    if (typeof answer === 'number' && answer <= 0) {
      this.#watch.saw(key, -answer);
      return true;
    }
    this.#watch.forget(key);
    return false;
  }

  /**
   * Settles once the lookupAndClaim calls in flight now have been answered (or have failed); undefined when none is.
   * Redis runs the commands that arrive together before it sends any of their answers, so a big write sent beside a
   * cold read's lookup delays that lookup, and the read's origin request behind it. `RedisStore` sends its writes
   * after them.
   */
  lookupsAnswered(): Promise<void> | undefined {
    if (this.#lookups.size === 0) return undefined;
    return Promise.allSettled([...this.#lookups]).then(() => undefined);
  }

  /**
   * One `EVAL`: extends this owner's leases on `keys` to `ttlMs` (and their waiter counts with them). It goes over
   * the store's own connection where there is one (see {@link RedisCoordinatorOptions.control}).
   */
  async extend(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const command = { script: EXTEND_SCRIPT, keys, args: [this.owner, backstopArg(ttlMs)] };
    const control = this.#control;
    const reply = control
      ? (await this.#timedParts('EVAL extend', [{ send: () => control.send(command), bytes: 0 }], 'lookups'))[0]
      : await this.#timed('EVAL extend', () => this.#driver.eval(command));
    const codes = Buffer.isBuffer(reply) || typeof reply === 'string' ? String(reply) : undefined;
    if (codes === undefined || codes.length !== keys.length) throw new StoreError('EVAL extend', 'lease extension returned an unexpected reply');
    return [...codes].map((c) => c === '1');
  }

  /** Writes entries and releases this coordinator's leases on their keys, in one round trip (the store's transaction). */
  async writeAndRelease(entries: readonly StoreEntry[]): Promise<void> {
    if (!this.#write) throw new ConfigError('RedisCoordinator: writeAndRelease needs the store\'s write (a RedisStore makes its coordinator with it)');
    await this.#write(entries, entries.map((e) => e.key));
  }

  async release(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await Promise.all(releaseCommands(keys, this.owner, this.#driver.cluster === true).map((command) => this.#timed('EVAL release', () => this.#driver.eval(command))));
  }

  /**
   * Resolves with the keys of `keys` whose release woke it (see {@link FetchCoordinator.waitForRelease}): at once
   * if some were released since this coordinator last found them busy, else on the first release message naming
   * any of them, `[]` on timeout or abort, all of `keys` when the release listener reconnected or failed.
   */
  waitForRelease(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<readonly string[]> {
    return this.#releases.waitForRelease(keys, timeoutMs, signal);
  }

  /**
   * Disconnects the release subscriber (also one still connecting) without waiting for Redis, so it finishes
   * within about a second even when Redis is stalled. A later claim opens a new one.
   */
  close(): Promise<void> {
    return this.#releases.close();
  }
}

/** The Redis TTL of a lease of `ttlMs` (its backstop), as the scripts take it: whole ms, at least 1. */
function backstopArg(ttlMs: number): string {
  if (typeof ttlMs !== 'number' || Number.isNaN(ttlMs)) throw new TypeError(`lease ttlMs must be a number of ms, got ${String(ttlMs)}`);
  return String(Math.max(1, Math.round(Math.min(ttlMs * LEASE_BACKSTOP_PERIODS, Number.MAX_SAFE_INTEGER))));
}

/** The first version of a new lease: random, so that a waiter tells a new holder's lease from the old one's. */
function newVersion(): string {
  return String(1 + Math.floor(Math.random() * 0x7fff_fffe));
}
