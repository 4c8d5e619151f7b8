// Not undici's RetryHandler: it resumes a cut-off body by Range, checking only a strong ETag on the rest (undici 7 retry-handler.js:302-401), so a weak-ETag or Last-Modified object can splice two versions.
/** Retry with capped exponential backoff and full jitter, bounded in attempts and in total time. */

export interface RetryPolicy {
  /** Retries after the first attempt. Default 4; 0 turns retrying off. */
  retries?: number;
  /** First backoff ceiling in ms; it doubles each retry. Default 50. */
  minDelayMs?: number;
  /** Largest backoff in ms (also caps a server's Retry-After). Default 2000. */
  maxDelayMs?: number;
  /** No retry starts later than this many ms after the first attempt. Default 15000. */
  maxElapsedMs?: number;
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

export function resolveRetryPolicy(p: RetryPolicy = {}): ResolvedRetryPolicy {
  const r = { retries: p.retries ?? 4, minDelayMs: p.minDelayMs ?? 50, maxDelayMs: p.maxDelayMs ?? 2000, maxElapsedMs: p.maxElapsedMs ?? 15_000 };
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isFinite(v) || v < 0) throw new TypeError(`HttpFetcher: retry.${k} must be a non-negative number, got ${String(v)}`);
  }
  return r;
}

/** Thrown by an attempt to ask for another one; `retryAfterMs` comes from the server, when it said. */
export class RetryableError extends Error {
  constructor(readonly error: unknown, readonly retryAfterMs?: number) {
    super('retryable');
  }
}

/**
 * Runs `attempt` until it succeeds, throws something other than {@link RetryableError}, or the policy is spent;
 * then the last underlying error is thrown. Aborting `signal` stops waiting at once.
 */
export async function withRetries<T>(policy: ResolvedRetryPolicy, signal: AbortSignal | undefined, attempt: (n: number) => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (!(e instanceof RetryableError)) throw e;
      const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** n);
      const delay = Math.min(policy.maxDelayMs, Math.max(e.retryAfterMs ?? 0, Math.random() * ceiling));
      if (n >= policy.retries || Date.now() - started + delay > policy.maxElapsedMs) throw e.error;
      await sleep(delay, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `Retry-After` as milliseconds (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
