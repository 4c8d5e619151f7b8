/** Small hostile parts for the adversarial suite: gated fetchers and stores, and a node:http origin of our own. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ByteRange, CacheStore, FetchCoordinator, FetchOptions, Fetcher, ObjectMeta, StatOptions, StoreEntry } from '@rangecache/core';

/** A promise with its resolver: a gate the test opens when it wants. */
export interface Gate { promise: Promise<void>; open: () => void; entered: Promise<void>; enter: () => void }
export function gate(): Gate {
  let open!: () => void;
  let enter!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  const entered = new Promise<void>((r) => { enter = r; });
  return { promise, open, entered, enter };
}

/** A fetcher that, before each fetch, waits for whatever `before(range)` returns (a gate, a delay). */
export class GatedFetcher implements Fetcher {
  readonly backend: string;
  readonly fetches: ByteRange[] = [];
  constructor(readonly inner: Fetcher, readonly before: (range: ByteRange) => Promise<void> | undefined) {
    this.backend = inner.backend;
  }
  stat(path: string, options?: StatOptions): Promise<ObjectMeta> {
    return this.inner.stat(path, options);
  }
  async fetch(path: string, range: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    this.fetches.push({ start: range.start, end: range.end });
    const wait = this.before(range);
    if (wait) await wait;
    return this.inner.fetch(path, range, options);
  }
}

/** A store whose calls wait for whatever the hooks return, given the keys of the call. */
export class GatedStore implements CacheStore {
  readonly coordinator?: FetchCoordinator;
  constructor(
    readonly inner: CacheStore,
    readonly hooks: { get?: (keys: readonly string[]) => Promise<void> | undefined; set?: (keys: readonly string[]) => Promise<void> | undefined },
  ) {
    if (inner.coordinator) this.coordinator = inner.coordinator;
  }
  async getMany(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    const wait = this.hooks.get?.(keys);
    if (wait) await wait;
    return this.inner.getMany(keys);
  }
  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    const wait = this.hooks.set?.(entries.map((e) => e.key));
    if (wait) await wait;
    return this.inner.setMany(entries);
  }
  deleteMany(keys: readonly string[]): Promise<void> { return this.inner.deleteMany(keys); }
  deleteByPrefix(prefix: string): Promise<number> { return this.inner.deleteByPrefix(prefix); }
}

/** A store whose every call fails (a dead Redis, as the reader sees it). */
export class FailingStore implements CacheStore {
  calls = 0;
  #fail(op: string): Promise<never> {
    this.calls++;
    return Promise.reject(Object.assign(new Error(`test store: ${op} failed`), { code: 'ERR_TEST_STORE_DOWN' }));
  }
  getMany(): Promise<(Uint8Array | null)[]> { return this.#fail('getMany'); }
  setMany(): Promise<void> { return this.#fail('setMany'); }
  deleteMany(): Promise<void> { return this.#fail('deleteMany'); }
  deleteByPrefix(): Promise<number> { return this.#fail('deleteByPrefix'); }
}

export interface OwnOrigin { url(name: string): string; port: number; requests: { method: string; url: string; headers: IncomingMessage['headers'] }[]; stop(): Promise<void> }

/** A node:http server running `handler`, for origin behaviours the shared test origin does not have. */
export async function startOwnOrigin(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<OwnOrigin> {
  const sockets = new Set<Socket>();
  const requests: OwnOrigin['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    Promise.resolve(handler(req, res)).catch(() => res.destroy());
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    requests,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Parses `bytes=a-b` (single range, both ends given or open end). */
export function parseSimpleRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = header ? /^bytes=(\d+)-(\d*)$/.exec(header) : null;
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
  return start < size && end > start ? { start, end } : undefined;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
