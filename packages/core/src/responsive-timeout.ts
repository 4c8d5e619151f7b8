/**
 * Calls `onTimeout` after `ms` milliseconds of time in which an answer could have been received. A stretch in
 * which this process's own event loop was blocked (a big copy, a GC pause) counts as one short tick only, so the
 * process never blames the server for its own stall; a server that really stalls still fails after `ms`.
 * `onTimeout` runs from setImmediate, after the I/O poll, so a reply that has arrived is handled first.
 * Returns a function that cancels it.
 *
 * @example
 * ```ts
 * const cancel = responsiveTimeout(1000, () => reject(new Error('no answer')));
 * reply.finally(cancel);
 * ```
 */
export function responsiveTimeout(ms: number, onTimeout: () => void): () => void {
  const tick = Math.max(1, Math.min(ms, 50));
  let credited = 0;
  let last = performance.now();
  let cancelled = false;
  let timer: NodeJS.Timeout;
  const check = (): void => {
    if (cancelled) return;
    const now = performance.now();
    credited += Math.min(now - last, 2 * tick);
    last = now;
    if (credited >= ms) {
      setImmediate(() => { if (!cancelled) onTimeout(); });
      return;
    }
    timer = setTimeout(check, Math.min(tick, ms - credited));
    timer.unref();
  };
  timer = setTimeout(check, Math.min(tick, ms));
  timer.unref();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
