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

/** The last reading of {@link runQueueWaitMs}, without reading again. */
function lastRunQueueWaitMs(): number | undefined {
  return schedstat.readable ? schedstat.waitMs : undefined;
}

/** One pending {@link responsiveTimeout}. */
interface Watch {
  readonly ms: number;
  /** How often its time is credited: often enough that one long stretch counts as one short tick only. */
  readonly tick: number;
  credited: number;
  /** When it was last credited (performance.now()), and the run-queue wait then. */
  last: number;
  lastWait: number | undefined;
  cancelled: boolean;
  readonly onTimeout: () => void;
}

/**
 * Every pending timeout, credited by one shared timer: a store call costs a Set insertion, not a timer of its
 * own and a read of schedstat (measured: about 15 µs of a 250 µs warm read on a microVM).
 */
const watches = new Set<Watch>();
let timer: NodeJS.Timeout | undefined;
/** When the shared timer fires next (performance.now()). */
let timerDue = Infinity;

function arm(now: number, delay: number): void {
  if (timer !== undefined && timerDue <= now + delay) return;
  clearTimeout(timer);
  timerDue = now + delay;
  timer = setTimeout(creditAll, delay);
  timer.unref();
}

function creditAll(): void {
  timer = undefined;
  timerDue = Infinity;
  const now = performance.now();
  const wait = runQueueWaitMs();
  let next = Infinity;
  for (const w of watches) {
    const starved = wait !== undefined && w.lastWait !== undefined ? wait - w.lastWait : 0;
    w.credited += Math.max(0, Math.min(now - w.last, 2 * w.tick) - starved);
    w.last = now;
    w.lastWait = wait;
    if (w.credited >= w.ms) {
      watches.delete(w);
      setImmediate(() => { if (!w.cancelled) w.onTimeout(); });
    } else {
      next = Math.min(next, w.tick, w.ms - w.credited);
    }
  }
  if (next !== Infinity) arm(now, next);
}

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
  const now = performance.now();
  // The baseline run-queue wait is the shared timer's last reading (read afresh only once per process): a
  // stale one can only make this timeout later, by at most one tick, never earlier.
  const lastWait = schedstat.at === -Infinity ? runQueueWaitMs() : lastRunQueueWaitMs();
  const w: Watch = { ms, tick: Math.max(1, Math.min(ms, 50)), credited: 0, last: now, lastWait, cancelled: false, onTimeout };
  watches.add(w);
  arm(now, Math.min(w.tick, ms));
  return () => {
    w.cancelled = true;
    watches.delete(w);
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
