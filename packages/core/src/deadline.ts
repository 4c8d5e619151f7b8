/** Whole-request deadlines for origin requests, shared by the HTTP and S3 fetchers. */

/**
 * The deadline of one origin request: an AbortSignal that fires when the caller's signal does or when `ms` have
 * passed, whichever comes first, and that tells the two apart. Call `dispose()` when the request is over (it
 * clears the timer and the listener on the caller's signal, so a long-lived caller signal collects nothing).
 *
 * @example
 * ```ts
 * const deadline = new Deadline(deadlineMs(30_000, 65_536, length), callerSignal);
 * try { return await request(url, { signal: deadline.signal }); }
 * catch (e) { if (deadline.expired) throw new OriginTimeoutError(...); throw e; }
 * finally { deadline.dispose(); }
 * ```
 */
export class Deadline {
  readonly signal: AbortSignal;
  #expired = false;
  #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout>;
  #outer: AbortSignal | undefined;
  #onOuterAbort = (): void => { this.#controller.abort(this.#outer?.reason); };

  #started = Date.now();
  #ms: number;

  constructor(ms: number, outer: AbortSignal | undefined) {
    this.signal = this.#controller.signal;
    this.#ms = ms;
    this.#timer = this.#arm(ms);
    if (outer?.aborted) this.#controller.abort(outer.reason);
    else if (outer) {
      this.#outer = outer;
      outer.addEventListener('abort', this.#onOuterAbort, { once: true });
    }
  }

  /** The deadline, ms after the start. */
  get ms(): number {
    return this.#ms;
  }

  /** Moves the deadline to `ms` after the start (e.g. once a response shows that more bytes must be read). */
  extendTo(ms: number): void {
    if (this.#expired || this.signal.aborted || ms <= this.#ms) return;
    this.#ms = ms;
    clearTimeout(this.#timer);
    this.#timer = this.#arm(Math.max(0, this.#started + ms - Date.now()));
  }

  #arm(delay: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#expired = true;
      this.#controller.abort(new DOMException(`deadline of ${Math.round(this.#ms)} ms expired`, 'TimeoutError'));
    }, delay);
    timer.unref?.();
    return timer;
  }

  /** Whether the time ran out (and not the caller's signal). */
  get expired(): boolean {
    return this.#expired;
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
    this.#outer = undefined;
  }
}

/** The longest delay a Node timer takes (about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A whole-request deadline: `requestMs` plus the time to move `length` bytes at `minBytesPerSecond`, capped. */
export function deadlineMs(requestMs: number, minBytesPerSecond: number, length: number): number {
  return Math.min(MAX_TIMER_MS, requestMs + (length * 1000) / minBytesPerSecond);
}
