/**
 * One 'abort' listener per signal, however many waiters subscribe to it: a caller that passes one signal to
 * hundreds of reads would otherwise trip Node's MaxListenersExceededWarning and pay a listener per read.
 */
export class AbortFanout {
  #subscribers = new WeakMap<AbortSignal, { callbacks: Set<() => void>; off: () => void }>();

  /** Calls `onAbort` when `signal` fires (once). Returns the unsubscribe function. */
  subscribe(signal: AbortSignal, onAbort: () => void): () => void {
    let entry = this.#subscribers.get(signal);
    if (entry === undefined) {
      const callbacks = new Set<() => void>();
      const fire = (): void => {
        this.#subscribers.delete(signal);
        for (const cb of callbacks) cb();
      };
      signal.addEventListener('abort', fire, { once: true });
      entry = { callbacks, off: () => signal.removeEventListener('abort', fire) };
      this.#subscribers.set(signal, entry);
    }
    const e = entry;
    e.callbacks.add(onAbort);
    return () => {
      e.callbacks.delete(onAbort);
      if (e.callbacks.size === 0 && this.#subscribers.get(signal) === e) {
        e.off();
        this.#subscribers.delete(signal);
      }
    };
  }

  /** `promise`, or a rejection with the signal's reason as soon as it fires. The promise itself goes on. */
  race<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) return promise;
    if (signal.aborted) {
      promise.catch(() => {}); // its failure is reported to the callers that still wait, not here
      return Promise.reject(abortReason(signal));
    }
    return new Promise<T>((resolve, reject) => {
      const unsubscribe = this.subscribe(signal, () => reject(abortReason(signal)));
      promise.then(
        (v) => { unsubscribe(); resolve(v); },
        (e) => { unsubscribe(); reject(e); },
      );
    });
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
