/** Running work items a bounded number at a time. */

/**
 * Calls `work` on each item of `items`, at most `concurrency` at once, in order of the items. The first failure
 * stops the rest: no new item starts, the signal passed to the running ones fires, and that failure is thrown
 * once they have settled. `signal` (the caller's) stops everything the same way.
 *
 * @example
 * ```ts
 * await runPool(pieces, 8, (piece, signal) => reader.readRange(path, piece.start, piece.end, { signal }));
 * ```
 */
export async function runPool<T>(items: Iterable<T>, concurrency: number, work: (item: T, signal: AbortSignal) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const next = iterator.next();
      if (next.done) return;
      try {
        await work(next.value, stop.signal);
      } catch (e) {
        failure ??= { error: e };
        stop.abort(e);
        return;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  if (stop.signal.aborted) throw stop.signal.reason ?? new DOMException('aborted', 'AbortError');
}
