/**
 * TieredStore: an in-process MemoryStore in front of a RedisStore on a real redis-server. Hot reads come from
 * memory (Redis sees no MGET for them), what one process fetched still reaches the others through Redis, and a
 * changed object never reads old bytes from the memory tier.
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { AsyncCachingReader, ConfigError, FileFetcher, MemoryStore, TieredStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { CountingFetcher, commandCalls } from '@rangecache/test-support';
import { readerFixture, sleep } from './helpers.js';

t.test('hot reads come from the memory tier; Redis shares what was fetched with another process', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('hot.bin', 8 * 65536);
  const tiered = (): TieredStore => new TieredStore({ near: new MemoryStore({ maxBytes: 64 << 20 }), far: new RedisStore({ client: fx.client }) });
  const first = tiered();
  const { reader, origin } = fx.reader({ store: first, mode: 'chunk' });
  const ranges = [[0, 65536], [65536 + 7, 3 * 65536], [5 * 65536, 8 * 65536]] as const;
  for (const [s, e] of ranges) t.same(Buffer.from(await reader.readRange(path, s, e)), bytes.subarray(s, e), `cold [${s}, ${e})`);
  await reader.flush();
  const fetched = origin.fetchedBytes;

  const before = (await commandCalls(fx.client)).mget ?? 0;
  for (let round = 0; round < 5; round++) {
    for (const [s, e] of ranges) t.same(Buffer.from(await reader.readRange(path, s, e)), bytes.subarray(s, e), `hot [${s}, ${e}) round ${round}`);
  }
  t.equal((await commandCalls(fx.client)).mget ?? 0, before, 'hot reads send no MGET: the memory tier answers');
  t.equal(origin.fetchedBytes, fetched, 'nor go to the origin');
  t.ok(first.counters.nearHits >= 15, `near hits ${first.counters.nearHits}`);

  // Another process: its own, empty memory tier, the same Redis.
  const second = tiered();
  const { reader: other, origin: otherOrigin } = fx.reader({ store: second, mode: 'chunk' });
  for (const [s, e] of ranges) t.same(Buffer.from(await other.readRange(path, s, e)), bytes.subarray(s, e), `other process [${s}, ${e})`);
  t.equal(otherOrigin.fetches.length, 0, 'it reads what the first fetched from Redis');
  const misses = second.counters.nearMisses;
  t.ok(misses > 0, 'its first reads missed its memory tier');
  for (const [s, e] of ranges) t.same(Buffer.from(await other.readRange(path, s, e)), bytes.subarray(s, e));
  t.equal(second.counters.nearMisses, misses, 'and filled it: the second round stays in memory');

  // What a caller does to its bytes never reaches the tier.
  const mine = await other.readRange(path, 0, 65536);
  mine.fill(0);
  t.same(Buffer.from(await other.readRange(path, 0, 65536)), bytes.subarray(0, 65536), 'a caller scribbling on its result changes nothing cached');
});

t.test('a value read from Redis stays in memory at most maxAgeMs', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('age.bin', 65536);
  const store = new TieredStore({ near: new MemoryStore(), far: new RedisStore({ client: fx.client }), maxAgeMs: 100 });
  const { reader } = fx.reader({ store, mode: 'chunk' });
  await reader.readRange(path, 0, 65536);
  await reader.flush();
  const near = store.counters.nearHits;
  await reader.readRange(path, 0, 65536);
  t.equal(store.counters.nearHits, near + 1, 'in memory right after');
  await sleep(250);
  const misses = store.counters.nearMisses;
  t.same(Buffer.from(await reader.readRange(path, 0, 65536)), bytes.subarray(0, 65536));
  t.equal(store.counters.nearMisses, misses + 1, 'past maxAgeMs it is read from Redis again');
});

t.test('a changed object is never read from the memory tier, and invalidate() clears both tiers', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('changes.bin', 65536);
  const store = new TieredStore({ near: new MemoryStore(), far: new RedisStore({ client: fx.client }) });
  const { reader } = fx.reader({ store, mode: 'chunk', metaTtlMs: 1 });
  t.same(Buffer.from(await reader.readRange(path, 0, 4096)), bytes.subarray(0, 4096));
  await reader.flush();
  await sleep(20); // a new mtime: a new version
  const changed = Buffer.from(bytes.map((b) => b ^ 0xff));
  await writeFile(path, changed);
  await sleep(5);
  t.same(Buffer.from(await reader.readRange(path, 0, 4096)), changed.subarray(0, 4096), 'the new version, not the old bytes still in memory');
  await reader.flush();
  t.ok(await reader.invalidate(path) > 0, 'invalidate deleted keys in Redis');
  const misses = store.counters.nearMisses;
  const origin = new CountingFetcher(new FileFetcher());
  const after = new AsyncCachingReader({ fetcher: origin, store, mode: 'chunk', namespace: reader.options.namespace });
  t.teardown(() => after.close());
  t.same(Buffer.from(await after.readRange(path, 0, 4096)), changed.subarray(0, 4096));
  t.ok(store.counters.nearMisses > misses, 'after invalidate the memory tier misses too');
  t.equal(origin.fetches.length, 1, 'and the bytes come from the origin');
});

t.test('fleet leases still hold: two processes with their own memory tiers fetch each piece once', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('fleet.bin', 16 * 65536);
  const mk = (): { reader: AsyncCachingReader; origin: CountingFetcher } =>
    fx.reader({ store: new TieredStore({ near: new MemoryStore(), far: new RedisStore({ client: fx.client }) }), blockSize: 65536, delayMs: 50 });
  const a = mk();
  const b = mk();
  const [ra, rb] = await Promise.all([a.reader.readRange(path, 0, 16 * 65536), b.reader.readRange(path, 0, 16 * 65536)]);
  t.same(Buffer.from(ra), bytes);
  t.same(Buffer.from(rb), bytes);
  t.equal(a.origin.fetchedBytes + b.origin.fetchedBytes, 16 * 65536, 'the object left the origin once between them');
});

t.test('a failing Redis behind the memory tier fails open; the memory tier still answers', async (t) => {
  const fx = await readerFixture(t, { ownProcess: true });
  const { path, bytes } = await fx.dir.file('down.bin', 4 * 65536);
  const store = new TieredStore({ near: new MemoryStore(), far: new RedisStore({ client: fx.client, commandTimeoutMs: 200 }) });
  const { reader, origin } = fx.reader({ store, mode: 'chunk', circuitBreaker: false });
  await reader.readRange(path, 0, 65536);
  await reader.flush();
  await fx.redis.stop();
  const fetches = origin.fetches.length;
  t.same(Buffer.from(await reader.readRange(path, 0, 65536)), bytes.subarray(0, 65536), 'a hot chunk, from memory');
  t.equal(origin.fetches.length, fetches, 'without the origin');
  t.same(Buffer.from(await reader.readRange(path, 65536, 2 * 65536)), bytes.subarray(65536, 2 * 65536), 'a cold one, from the origin');
  t.equal(origin.fetches.length, fetches + 1);
});

t.test('bad options are refused with ConfigError naming the option', async (t) => {
  const far = new MemoryStore();
  t.throws(() => new TieredStore({ near: {} as MemoryStore, far }), { name: 'ConfigError', message: /options\.near must implement CacheStore \(missing getMany\)/ });
  t.throws(() => new TieredStore({ near: new MemoryStore(), far: null as unknown as MemoryStore }), /options\.far must implement CacheStore/);
  t.throws(() => new TieredStore({ near: new MemoryStore().withLeases(), far }), /options\.near must not offer leases/);
  for (const maxAgeMs of [0, -1, Number.NaN, Infinity, '5' as unknown as number]) {
    t.throws(() => new TieredStore({ near: new MemoryStore(), far, maxAgeMs }), ConfigError, `maxAgeMs ${String(maxAgeMs)}`);
  }
});
