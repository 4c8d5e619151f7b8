import type { ByteRange, FetchOptions, Fetcher, ObjectMeta, StatOptions } from '@rangecache/core';

/**
 * Wraps a real fetcher and records every call that reaches it, so tests can count what the origin served.
 * It changes nothing about the calls; `delayMs` slows each fetch down, to widen race windows on purpose.
 */
export class CountingFetcher implements Fetcher {
  readonly backend: string;
  /** The wrapped fetcher's URL schemes, so a counting fetcher can be routed like the one it wraps. */
  readonly schemes: readonly string[] | undefined;
  stats = 0;
  fetches: ByteRange[] = [];
  aborted = 0;

  constructor(readonly inner: Fetcher, readonly options: { delayMs?: number } = {}) {
    this.backend = inner.backend;
    this.schemes = inner.schemes;
  }

  get fetchedBytes(): number {
    return this.fetches.reduce((n, r) => n + (r.end - r.start), 0);
  }

  async stat(path: string, options?: StatOptions): Promise<ObjectMeta> {
    this.stats++;
    return this.inner.stat(path, options);
  }

  async fetch(path: string, range: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    this.fetches.push({ start: range.start, end: range.end });
    if (this.options.delayMs) {
      const signal = options.signal;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { clearTimeout(t); this.aborted++; reject(signal!.reason); };
        const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, this.options.delayMs);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    return this.inner.fetch(path, range, options);
  }

  reset(): void {
    this.stats = 0;
    this.fetches = [];
    this.aborted = 0;
  }
}
