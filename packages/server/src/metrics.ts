/**
 * The proxy's Prometheus metrics (`/metrics`), on prom-client with a registry of their own (two handlers in one
 * process never share or clash):
 * - HTTP: requests by method and status, response body bytes, time to response headers;
 * - the cache, from the reader's own counters: hits, misses, origin bytes and requests, Redis errors, fleet waits;
 * - latency histograms of store calls and origin calls, where the reader was built on {@link ServerMetrics.timeStore}
 *   and {@link ServerMetrics.timeFetcher}.
 */
import type { AsyncCachingReader, ByteRange, CacheStore, FetchOptions, Fetcher, ObjectMeta, ReaderStats, StatOptions } from '@rangecache/core';
import { Counter, Histogram, Registry } from 'prom-client';

/** Store calls by what they are for; others (deletes, waiting for a lease) are not timed. */
const STORE_OPERATIONS: Readonly<Record<string, string>> = {
  getMany: 'lookup', lookupAndClaim: 'lookup', setMany: 'write', writeAndRelease: 'write', claim: 'lease', extend: 'lease', release: 'lease',
};

/** Reader counters exported as Prometheus counters: the metric name (after `rangecache_`), its help, the stat. */
const READER_COUNTERS: readonly [string, string, keyof ReaderStats][] = [
  ['cache_hits_total', 'Pieces (blocks or chunks) found in the cache.', 'hits'],
  ['cache_misses_total', 'Pieces fetched from the origin by this process.', 'misses'],
  ['cache_bytes_total', 'Bytes served from the cache.', 'cacheBytes'],
  ['origin_requests_total', 'Data requests sent to the origin.', 'originRequests'],
  ['origin_bytes_total', 'Bytes received from the origin.', 'originBytes'],
  ['origin_stats_total', 'Metadata requests sent to the origin.', 'originStats'],
  ['origin_errors_total', 'Origin requests that failed.', 'originErrors'],
  ['redis_errors_total', 'Cache store calls that failed or timed out (the reads went on to the origin).', 'storeErrors'],
  ['redis_write_errors_total', 'Cache writes that failed.', 'writeErrors'],
  ['fleet_waits_total', 'Pieces another process was fetching, received from the cache after waiting.', 'fleetWaits'],
  ['fleet_fallbacks_total', 'Pieces waited for in vain, then fetched from the origin.', 'fleetFallbacks'],
  ['fleet_read_ahead_dropped_total', 'Read-ahead pieces another process held, let go once released (neither read nor fetched).', 'aheadDropped'],
  ['circuit_opens_total', 'Times the circuit breaker opened (the cache was skipped for a while).', 'circuitOpens'],
];

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Metrics of one proxy. Build the reader's store and fetcher through it to get latency histograms:
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics();
 * const reader = new AsyncCachingReader({ fetcher: metrics.timeFetcher(new HttpFetcher()), store: metrics.timeStore(store) });
 * const handler = createRangeHandler({ reader, allow: ['https://data.example.com/'], metrics });
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'status'>;
  readonly #responseBytes: Counter;
  readonly #responseSeconds: Histogram<'method' | 'status'>;
  readonly #storeSeconds: Histogram<'operation' | 'outcome'>;
  readonly #originSeconds: Histogram<'operation' | 'outcome'>;
  #readers: AsyncCachingReader[] = [];

  constructor() {
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'rangecache_http_requests_total', help: 'HTTP requests answered, by method and status.', labelNames: ['method', 'status'], registers });
    this.#responseBytes = new Counter({ name: 'rangecache_http_response_bytes_total', help: 'Body bytes of the responses (as announced in Content-Length).', registers });
    this.#responseSeconds = new Histogram({
      name: 'rangecache_http_response_seconds', help: 'Time from request to response headers, by method and status.', labelNames: ['method', 'status'], buckets: LATENCY_BUCKETS, registers,
    });
    this.#storeSeconds = new Histogram({
      name: 'rangecache_cache_seconds', help: 'Latency of cache store calls (Redis), by operation (lookup, write, lease) and outcome.', labelNames: ['operation', 'outcome'], buckets: LATENCY_BUCKETS, registers,
    });
    this.#originSeconds = new Histogram({
      name: 'rangecache_origin_seconds', help: 'Latency of origin calls, by operation (stat, fetch) and outcome.', labelNames: ['operation', 'outcome'], buckets: LATENCY_BUCKETS, registers,
    });
    const readers = (): AsyncCachingReader[] => this.#readers;
    for (const [name, help, stat] of READER_COUNTERS) {
      let reported = 0;
      new Counter({
        name: `rangecache_${name}`, help, registers,
        collect() {
          const now = readers().reduce((n, r) => n + r.stats()[stat], 0);
          if (now > reported) this.inc(now - reported);
          reported = now;
        },
      });
    }
  }

  /** Counts `reader`'s counters in the cache metrics (the handler does this for its reader). */
  observe(reader: AsyncCachingReader): void {
    if (!this.#readers.includes(reader)) this.#readers.push(reader);
  }

  /** Records one answered request. */
  recordResponse(method: string, status: number, bodyBytes: number, seconds: number): void {
    const labels = { method: method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? method : 'other', status: String(status) };
    this.#requests.inc(labels);
    this.#responseSeconds.observe(labels, seconds);
    if (bodyBytes > 0) this.#responseBytes.inc(bodyBytes);
  }

  /** The metrics in Prometheus text format, and the content type to send them with. */
  async render(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /**
   * `store`, with the latency of its lookups, writes and lease calls (and its coordinator's) recorded. Everything
   * else passes through unchanged.
   */
  timeStore<S extends CacheStore>(store: S): S {
    return timeCalls(store, (operation, seconds, ok) => this.#storeSeconds.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds));
  }

  /** `fetcher`, with the latency of its `stat` and `fetch` calls recorded. */
  timeFetcher(fetcher: Fetcher): Fetcher & { close?(): Promise<void> } {
    return new TimedFetcher(fetcher, (operation, seconds, ok) => this.#originSeconds.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds));
  }
}

type Observe = (operation: string, seconds: number, ok: boolean) => void;

/** Times the promise `run()` returns. */
function timed<T>(operation: string, observe: Observe, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const done = (ok: boolean): void => observe(operation, (performance.now() - t0) / 1000, ok);
  const p = run();
  p.then(() => done(true), () => done(false));
  return p;
}

/**
 * A view of `target` whose methods named in {@link STORE_OPERATIONS} are timed, and whose `coordinator` is such a
 * view too. Methods run on the target itself (private fields work); `in` and `instanceof` see the target.
 */
function timeCalls<T extends object>(target: T, observe: Observe): T {
  return new Proxy(target, {
    get(t, property) {
      const value: unknown = Reflect.get(t, property, t);
      if (property === 'coordinator' && value !== null && typeof value === 'object') return timeCalls(value, observe);
      if (typeof value !== 'function') return value;
      const operation = typeof property === 'string' ? STORE_OPERATIONS[property] : undefined;
      const method = value as (...args: unknown[]) => unknown;
      if (operation === undefined) return method.bind(t);
      return (...args: unknown[]) => timed(operation, observe, () => method.apply(t, args) as Promise<unknown>);
    },
  });
}

/** A fetcher that records how long its calls take. */
class TimedFetcher implements Fetcher {
  readonly backend: string;
  readonly schemes?: readonly string[];
  readonly #inner: Fetcher & { close?(): Promise<void> };
  readonly #observe: Observe;

  constructor(inner: Fetcher, observe: Observe) {
    this.#inner = inner;
    this.#observe = observe;
    this.backend = inner.backend;
    if (inner.schemes) this.schemes = inner.schemes;
  }

  stat(path: string, options?: StatOptions): Promise<ObjectMeta> {
    return timed('stat', this.#observe, () => this.#inner.stat(path, options));
  }

  fetch(path: string, range: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    return timed('fetch', this.#observe, () => this.#inner.fetch(path, range, options));
  }

  async close(): Promise<void> {
    await this.#inner.close?.();
  }
}
