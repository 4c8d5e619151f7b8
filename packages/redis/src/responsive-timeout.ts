import { readFileSync } from 'node:fs';

/**
 * Milliseconds this process's main thread has spent runnable but waiting for a CPU (Linux `schedstat`
 * run_delay), or `undefined` where the kernel does not report it. Read at most once per millisecond.
 */
function runQueueWaitMs(): number | undefined {
  const now = performance.now();
  if (schedstat.readable && now - schedstat.at >= 1) {
    schedstat.at = now;
    try {
      const fields = readFileSync('/proc/self/schedstat', 'latin1').split(' ');
      const ns = Number(fields[1]);
      if (Number.isFinite(ns)) schedstat.waitMs = ns / 1e6;
      else schedstat.readable = false;
    } catch {
      schedstat.readable = false;
    }
  }
  return schedstat.readable ? schedstat.waitMs : undefined;
}
const schedstat = { readable: process.platform === 'linux', at: -Infinity, waitMs: 0 };

/**
 * Calls `onTimeout` after `ms` milliseconds of time in which an answer could have been received. A stretch in
 * which this process's own event loop was blocked (a big copy, a GC pause) counts as one short tick only, and on
 * Linux, time the process spent waiting for a CPU (a machine busier than its cores) does not count at all: the
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
  let lastWait = runQueueWaitMs();
  let cancelled = false;
  let timer: NodeJS.Timeout;
  const check = (): void => {
    if (cancelled) return;
    const now = performance.now();
    const wait = runQueueWaitMs();
    const starved = wait !== undefined && lastWait !== undefined ? wait - lastWait : 0;
    credited += Math.max(0, Math.min(now - last, 2 * tick) - starved);
    last = now;
    lastWait = wait;
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

/**
 * Settles like `work`, or rejects with `timeoutError()` once `ms` of {@link responsiveTimeout} time has passed
 * without `work` settling. `work` itself is not cancelled (a late rejection of it is swallowed): the caller
 * decides what to do with whatever is still running.
 *
 * @example
 * ```ts
 * await withResponsiveTimeout(client.connect(), 500, () => new Error('connect did not finish within 500 ms'));
 * ```
 */
export function withResponsiveTimeout<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  work.catch(() => {}); // a rejection after the deadline must not be unhandled
  return new Promise<T>((resolve, reject) => {
    const cancel = responsiveTimeout(ms, () => reject(timeoutError()));
    work.then((v) => { cancel(); resolve(v); }, (e: unknown) => { cancel(); reject(e); });
  });
}
