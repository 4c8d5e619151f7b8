/** Shared set-up for the reader tests: a real redis-server, a temp dir, and a reader factory. */
import type { Test } from 'tap';
import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
import type { AsyncCachingReaderOptions, Fetcher } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { CountingFetcher, startRedis, tempDir } from '@rangecache/test-support';
import type { RedisServerHandle, TempDir, TestRedisClient } from '@rangecache/test-support';

export interface ReaderFixture {
  redis: RedisServerHandle;
  client: TestRedisClient;
  dir: TempDir;
  /** A reader over a counting FileFetcher and a RedisStore, in a namespace unique to this fixture. */
  reader(options?: Partial<Omit<AsyncCachingReaderOptions, 'fetcher'>> & { fetcher?: Fetcher; delayMs?: number }): { reader: AsyncCachingReader; origin: CountingFetcher };
}

let counter = 0;

export async function readerFixture(t: Test, redisOptions: { ownProcess?: boolean } = {}): Promise<ReaderFixture> {
  const redis = await startRedis(redisOptions);
  const dir = await tempDir();
  const client = await redis.client();
  const namespace = `test-${process.pid}-${++counter}-${Date.now()}`;
  const readers: AsyncCachingReader[] = [];
  t.teardown(async () => {
    await Promise.all(readers.map((r) => r.close().catch(() => {})));
    await Promise.all(readers.map((r) => r.store.close?.().catch(() => {})));
    await redis.stop();
    await dir.remove();
  });
  return {
    redis, client, dir,
    reader(options = {}) {
      const { delayMs, ...rest } = options;
      const origin = new CountingFetcher(rest.fetcher ?? new FileFetcher(), delayMs === undefined ? {} : { delayMs });
      const reader = new AsyncCachingReader({ store: new RedisStore({ client }), namespace, ...rest, fetcher: origin });
      readers.push(reader);
      return { reader, origin };
    },
  };
}

/** Deterministic pseudo-random integers (LCG), so failures reproduce. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` (so a hang fails the test instead of stalling it); the timer is cleared either way. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/** Polls `cond` every 50 ms until it holds or `ms` passed; returns whether it held (a check that throws has not held). */
export async function eventually(cond: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
