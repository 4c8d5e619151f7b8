import { RangecacheError, hasCode } from './errors.js';
import { orAfter } from './late-answers.js';

/**
 * A circuit breaker for the cache store: after `failureThreshold` failures in a row it opens, and calls fail at
 * once (the reader goes straight to the origin) for `cooldownMs`; then one call is let through as a probe, and
 * its success closes the circuit again. So a dead or stalled Redis costs each read nothing after a few failures,
 * and hits resume by themselves when it comes back. A call that timed out (its error carries `completed`) is
 * judged by whether it completes after all: a busy but healthy store never opens the circuit.
 */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long it stays open before a probe, ms. Default 5000. */
  cooldownMs?: number;
}

/**
 * The store was not asked: its circuit is open after repeated failures. A {@link RangecacheError} with code
 * `ERR_RANGECACHE_CIRCUIT_OPEN`.
 */
export class CircuitOpenError extends RangecacheError {
  declare readonly code: 'ERR_RANGECACHE_CIRCUIT_OPEN';
  constructor(operation: string, untilMs: number) {
    super('ERR_RANGECACHE_CIRCUIT_OPEN', `store ${operation} skipped: circuit open for another ${Math.max(0, Math.round(untilMs))} ms after repeated failures`);
    this.name = 'CircuitOpenError';
  }

  /**
   * Whether `e` is a {@link CircuitOpenError} (code `ERR_RANGECACHE_CIRCUIT_OPEN`), also one made by another
   * installed copy of `@rangecache/core`.
   *
   * @example
   * ```ts
   * catch (e) { if (CircuitOpenError.is(e)) return fetchFromOrigin(); else throw e; }
   * ```
   */
  static override is(e: unknown): e is CircuitOpenError {
    return e instanceof CircuitOpenError || hasCode(e, 'ERR_RANGECACHE_CIRCUIT_OPEN');
  }
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/** How long a timed-out call may still complete before it counts as a failure. */
const LATE_GRACE_MS = 2000;

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  #failures = 0;
  #openUntil = 0;
  #probing = false;
  #state: CircuitState = 'closed';

  constructor(options: CircuitBreakerOptions = {}, private readonly onChange: (state: CircuitState, failures: number) => void = () => {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 5000;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Runs `call` unless the circuit is open; records its outcome. */
  async run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (this.#state !== 'closed') {
      const now = Date.now();
      if (now < this.#openUntil || this.#probing) throw new CircuitOpenError(operation, this.#openUntil - now);
      this.#probing = true; // half-open: this call is the probe; the others keep skipping
      this.#set('half-open');
    }
    try {
      const result = await call();
      this.#succeeded();
      return result;
    } catch (e) {
      const late = (e as { completed?: unknown } | null)?.completed;
      if (this.#state === 'closed' && late instanceof Promise) {
        // A call that timed out may still be answered: a slow (busy) store is not a failed one. It is judged when
        // it completes, or as failed if it has not within LATE_GRACE_MS.
        void orAfter(late.then((ok) => ok === true, () => false), LATE_GRACE_MS, false).then((ok) => (ok ? this.#succeeded() : this.#failed()));
      } else {
        this.#failed();
      }
      throw e;
    } finally {
      this.#probing = false;
    }
  }

  #succeeded(): void {
    this.#failures = 0;
    if (this.#state !== 'closed') this.#set('closed');
  }

  #failed(): void {
    this.#failures++;
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.failureThreshold)) {
      this.#openUntil = Date.now() + this.cooldownMs;
      this.#set('open');
    }
  }

  #set(state: CircuitState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.onChange(state, this.#failures);
  }
}
