/**
 * Store failure handling, as a store wrapper: every call to the store and its coordinator goes through one
 * guard, which turns a synchronous throw into a rejection, rejects an answer of the wrong shape, lets the
 * circuit breaker skip calls to a failing store, and counts and reports each failure once. The reader then
 * does without the store (it goes to the origin); it never fails a read because the store failed.
 */
import { CircuitBreaker, type CircuitBreakerOptions, CircuitOpenError, type CircuitState } from './circuit-breaker.js';
import type { ClaimResult, FetchCoordinator, LookupAndClaimOptions, LookupClaimResult } from './coordinator.js';
import type { CacheStore, GetManyOptions, StoreEntry } from './store.js';
import { StoreError } from './store-errors.js';

export interface GuardedStoreOptions {
  /** The circuit breaker's settings, or `false` for none. Default: `{}` (5 failures, 5000 ms). */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** A call failed (not skipped) with `error`; `operation` names it (`getMany`, `claim`…). */
  onError?: (error: unknown, operation: string) => void;
  /** The circuit breaker changed state. */
  onCircuit?: (state: CircuitState, consecutiveFailures: number) => void;
}

/** What a {@link GuardedStore} counted since it was made. */
export interface GuardedStoreCounters {
  /** Calls (other than writes) that failed or timed out. */
  storeErrors: number;
  /** Writes (`setMany`, the coordinator's `writeAndRelease`) that failed or timed out. */
  writeErrors: number;
  /** Calls not made because the circuit was open. */
  storeSkipped: number;
  /** Times the circuit opened. */
  circuitOpens: number;
}

/**
 * A {@link CacheStore} wrapper that guards every call of `inner` and of its coordinator: failures are counted
 * (`counters`) and reported (`onError`), and after repeated failures a circuit breaker skips calls for a while
 * (rejecting with `CircuitOpenError`, counted as `storeSkipped`), so a dead store costs each read nothing.
 *
 * @example
 * ```ts
 * const store = new GuardedStore(new MemoryStore(), { onError: (e, op) => console.warn(op, e) });
 * await store.getMany(['k']).catch(() => [null]); // a failed store: read from the origin instead
 * console.log(store.counters.storeErrors);
 * ```
 */
export class GuardedStore implements CacheStore {
  readonly inner: CacheStore;
  readonly coordinator: FetchCoordinator | undefined;
  readonly counters: GuardedStoreCounters = { storeErrors: 0, writeErrors: 0, storeSkipped: 0, circuitOpens: 0 };
  #breaker: CircuitBreaker | undefined;
  #onError: (error: unknown, operation: string) => void;

  constructor(inner: CacheStore, options: GuardedStoreOptions = {}) {
    this.inner = inner;
    this.#onError = options.onError ?? (() => {});
    if (options.circuitBreaker !== false) {
      const onCircuit = options.onCircuit ?? (() => {});
      this.#breaker = new CircuitBreaker(options.circuitBreaker ?? {}, (state, failures) => {
        if (state === 'open') this.counters.circuitOpens++;
        onCircuit(state, failures);
      });
    }
    this.coordinator = inner.coordinator ? this.#guardCoordinator(inner.coordinator) : undefined;
  }

  getMany(keys: readonly string[], options?: GetManyOptions): Promise<(Uint8Array | null)[]> {
    const gaveUp = options?.intoSignal;
    if (!gaveUp) return this.guard('getMany', () => this.inner.getMany(keys, options), keys.length);
    // A call failed because its caller gave up while values arrived in its memory (the store dropped the
    // connection): the caller's doing, not the store's. Its keys read as misses and no failure is counted.
    return this.guard('getMany', () => this.inner.getMany(keys, options).catch((e: unknown) => {
      if (gaveUp.aborted) return keys.map(() => null);
      throw e;
    }), keys.length);
  }

  setMany(entries: readonly StoreEntry[]): Promise<void> {
    return this.guard('setMany', () => this.inner.setMany(entries));
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    return this.guard('deleteMany', () => this.inner.deleteMany(keys));
  }

  deleteByPrefix(prefix: string): Promise<number> {
    return this.guard('deleteByPrefix', () => this.inner.deleteByPrefix(prefix));
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Runs one call of the store with this guard: skipped while the circuit is open, failures counted and reported
   * once. Where `expectedLength` is given, an answer that is not an array of that length is a failure of the store.
   */
  guard<T>(operation: string, call: () => Promise<T>, expectedLength?: number): Promise<T> {
    const attempt = async (): Promise<T> => {
      const answer = await call();
      if (expectedLength !== undefined && (!Array.isArray(answer) || answer.length !== expectedLength)) {
        throw new StoreError(operation, `store ${operation} answered ${Array.isArray(answer) ? `${answer.length} results` : typeof answer} for ${expectedLength} keys`);
      }
      return answer;
    };
    const run = this.#breaker ? this.#breaker.run(operation, attempt) : attempt();
    return run.catch((e: unknown) => {
      if (CircuitOpenError.is(e)) {
        this.counters.storeSkipped++; // not asked, so not an error of the store
      } else {
        if (operation === 'setMany' || operation === 'writeAndRelease') this.counters.writeErrors++;
        else this.counters.storeErrors++;
        this.#onError(e, operation);
      }
      throw e;
    });
  }

  /** `inner` with each call guarded; waiting for a release is not a store call (it never rejects) and is passed on. */
  #guardCoordinator(inner: FetchCoordinator): FetchCoordinator {
    const guarded: FetchCoordinator = {
      claim: (keys, ttlMs): Promise<ClaimResult[]> => this.guard('claim', () => inner.claim(keys, ttlMs), keys.length),
      release: (keys) => this.guard('release', () => inner.release(keys)),
      waitForRelease: (keys, timeoutMs, signal) => inner.waitForRelease(keys, timeoutMs, signal),
      close: () => inner.close(),
    };
    if (inner.writeAndRelease) guarded.writeAndRelease = (entries) => this.guard('writeAndRelease', () => inner.writeAndRelease!(entries));
    if (inner.extend) guarded.extend = (keys, ttlMs) => this.guard('extend', () => inner.extend!(keys, ttlMs), keys.length);
    if (inner.lookupAndClaim) {
      guarded.lookupAndClaim = (keys: readonly string[], ttlMs: number, options?: LookupAndClaimOptions): Promise<LookupClaimResult[]> =>
        this.guard('lookupAndClaim', () => inner.lookupAndClaim!(keys, ttlMs, options), keys.length);
    }
    return guarded;
  }
}
