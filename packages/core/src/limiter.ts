/** A counting semaphore: at most `limit` tasks run at once; waiting ones leave the queue when aborted. */
export class Limiter {
  #active = 0;
  #waiting: { run: () => void; signal: AbortSignal | undefined; onAbort: () => void }[] = [];

  constructor(readonly limit: number) {}

  /** Runs `task` when a slot is free. Rejects with the signal's reason if it fires while still queued. */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.#active++;
        // Promise.resolve().then(task): a task that throws synchronously still frees its slot.
        Promise.resolve().then(task).then(resolve, reject).finally(() => {
          this.#active--;
          this.#next();
        });
      };
      if (this.#active < this.limit) return start();
      if (signal?.aborted) return reject(signal.reason);
      const entry = {
        run: start,
        signal,
        onAbort: () => {
          const i = this.#waiting.indexOf(entry);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #next(): void {
    const entry = this.#waiting.shift();
    if (entry === undefined) return;
    entry.signal?.removeEventListener('abort', entry.onAbort);
    entry.run();
  }
}
