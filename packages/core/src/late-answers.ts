/**
 * How the reader treats a store call that timed out: on a busy machine it is usually slow, not failed, and may
 * still answer. These helpers wait a bounded time for that late answer.
 */

/**
 * Whether `e` is a store call that timed out but is answered after all, within `graceMs` (default: half its budget
 * again): the store is slow (a busy machine), not failed, and is worth asking again. A stalled store costs the grace.
 */
export async function answersLate(e: unknown, graceMs?: number): Promise<boolean> {
  const { code, completed, ms } = (e ?? {}) as { code?: unknown; completed?: unknown; ms?: unknown };
  if (code !== 'ERR_RANGECACHE_STORE_TIMEOUT' || !(completed instanceof Promise) || typeof ms !== 'number') return false;
  return (await orAfter(completed, graceMs ?? ms / 2, false)) === true;
}

/** The answer of a store call that timed out (see `StoreTimeoutError.answer`) if it comes within `ms`, else undefined. */
export async function lateAnswer(e: unknown, ms: number): Promise<unknown> {
  const { code, answer } = (e ?? {}) as { code?: unknown; answer?: unknown };
  if (code !== 'ERR_RANGECACHE_STORE_TIMEOUT' || !(answer instanceof Promise)) return undefined;
  return orAfter(answer, ms, undefined);
}

/**
 * `e` with its late answer (see `StoreTimeoutError.answer`) passed through `map`, for a wrapper store whose callers
 * expect its own answers (verified values, every key in place), never the inner store's; other errors as they are.
 */
export function mapLateAnswer(e: unknown, map: (answer: unknown) => unknown): unknown {
  const late = e as { mapAnswer?: (map: (answer: unknown) => unknown) => unknown } | null | undefined;
  return typeof late?.mapAnswer === 'function' ? late.mapAnswer(map) : e;
}

/** `promise`'s value, or `fallback` once `ms` have passed; the timer is cleared either way and keeps nobody alive. */
export async function orAfter<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => { timer = setTimeout(resolve, ms, fallback); timer.unref(); });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
