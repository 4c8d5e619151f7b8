/**
 * readRangeInto: the caller's memory receives the bytes, straight from the store where it can, and is never
 * written once the read has settled, also when the caller gave up while its value was still arriving. A readRange
 * over several blocks reads the same way into its own result.
 */
import t from 'tap';
import { createClient } from 'redis';
import { AsyncCachingReader, ConfigError, FileFetcher, InvalidRangeError, MemoryStore, TieredStore } from '@rangecache/core';
import type { CacheStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { startSlowLink } from '@rangecache/test-support';
import { readerFixture, sleep } from './helpers.js';

t.test('bytes land in the target, byte-exact, through every store and both modes', async (t) => {
  const fx = await readerFixture(t);
  const size = 6 * 65536 + 777;
  const { path, bytes } = await fx.dir.file('into.bin', size);
  const stores: [string, () => CacheStore][] = [
    ['redis', () => new RedisStore({ client: fx.client })],
    ['memory', () => new MemoryStore()],
    ['tiered', () => new TieredStore({ near: new MemoryStore(), far: new RedisStore({ client: fx.client }) })],
    ['redis through node-redis', () => new RedisStore({ client: fx.client, ownLookupConnection: false })],
  ];
  const ranges: [number, number][] = [[0, 65536], [65536, 3 * 65536], [100, 70_000], [size - 10, size + 500], [5, 5], [size - 65536, size]];
  for (const [name, store] of stores) {
    for (const mode of ['block', 'chunk'] as const) {
      const { reader } = fx.reader({ store: store(), mode, blockSize: 65536, integrity: name === 'memory' && mode === 'chunk' ? { secret: 'a secret of sixteen+ bytes' } : undefined });
      for (let pass = 0; pass < 2; pass++) {
        for (const [s, e] of ranges) {
          const target = new Uint8Array(e - s + 16).fill(0xee);
          const n = await reader.readRangeInto(path, s, e, target);
          const want = bytes.subarray(s, Math.min(e, size));
          t.equal(n, want.length, `${name} ${mode} pass ${pass} [${s}, ${e}): the count`);
          t.same(Buffer.from(target.subarray(0, n)), want, `${name} ${mode} pass ${pass} [${s}, ${e}): the bytes`);
          t.ok(target.subarray(n).every((b) => b === 0xee), 'nothing past the count is touched');
        }
        await reader.flush();
      }
      t.ok(reader.stats().hits > 0, `${name} ${mode}: the second pass hit the cache`);
    }
  }
});

t.test('a warm value is read straight into the caller\'s memory, and it is the caller\'s alone', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('direct.bin', 4 * 65536);
  const store = new RedisStore({ client: fx.client });
  t.ok(store.ownLookupConnection, 'the store reads over its own connection');
  const { reader } = fx.reader({ store, mode: 'chunk' });
  await reader.readRange(path, 0, 65536);
  await reader.flush();
  const key = (await fx.client.keys('*:c:0-65536'))[0]!;
  const target = new Uint8Array(65536);
  const [value] = await store.getMany([key], { into: [target] });
  t.equal(value!.buffer, target.buffer, 'the store returned the caller\'s memory');
  t.same(Buffer.from(target), bytes.subarray(0, 65536));

  // readRangeInto and readRange of the same chunk in one tick: each gets bytes of its own.
  const into = new Uint8Array(65536);
  const [n, copy] = await Promise.all([reader.readRangeInto(path, 0, 65536, into), reader.readRange(path, 0, 65536)]);
  t.equal(n, 65536);
  into.fill(1);
  t.same(Buffer.from(copy), bytes.subarray(0, 65536), 'scribbling on the target changes nobody else\'s bytes');
  t.same(Buffer.from(await reader.readRange(path, 0, 65536)), bytes.subarray(0, 65536), 'nor the cache');
  const small = new Uint8Array(65536);
  const [m] = await store.getMany([key], { into: [new Uint8Array(10)] });
  t.not(m!.buffer, small.buffer, 'memory of the wrong length is not used');
  t.equal(m!.byteLength, 65536);
});

t.test('a readRange over several blocks: cached blocks land straight in its result, which is its own', async (t) => {
  const fx = await readerFixture(t);
  const B = 65536;
  const size = 6 * B + 777;
  const { path, bytes } = await fx.dir.file('multi.bin', size);
  const stores: [string, () => CacheStore, boolean][] = [
    ['redis', () => new RedisStore({ client: fx.client }), true],
    ['memory', () => new MemoryStore(), true],
    ['tiered', () => new TieredStore({ near: new MemoryStore(), far: new RedisStore({ client: fx.client }) }), true],
    ['redis through node-redis', () => new RedisStore({ client: fx.client, ownLookupConnection: false }), false],
  ];
  for (const [name, store, readsInto] of stores) {
    const shared = store();
    const namespace = `multi-${name.replace(/ /g, '-')}`;
    const fill = fx.reader({ store: shared, mode: 'block', blockSize: B, namespace });
    t.same(Buffer.from(await fill.reader.readRange(path, 0, size)), bytes, `${name}: the cold read, byte-exact`);
    await fill.reader.flush();
    const { reader } = fx.reader({ store: shared, mode: 'block', blockSize: B, namespace });
    // Whole blocks only: each lands in the result, nothing is copied.
    const aligned = await reader.readRange(path, B, 5 * B);
    t.same(Buffer.from(aligned), bytes.subarray(B, 5 * B), `${name}: 4 whole blocks, byte-exact`);
    t.ok(aligned.byteOffset === 0 && aligned.buffer.byteLength === 4 * B, `${name}: the result is memory of its own, of its exact size`);
    t.equal(reader.stats().copiedBytes, readsInto ? 0 : 4 * B, `${name}: ${readsInto ? 'no byte copied' : 'each value copied once (node-redis reads into memory of its own)'}`);
    // Partial blocks at both ends: those are copied, the whole ones in between are not.
    const before = reader.stats().copiedBytes;
    const partial = await reader.readRange(path, 100, 3 * B + 5);
    t.same(Buffer.from(partial), bytes.subarray(100, 3 * B + 5), `${name}: partial first and last blocks, byte-exact`);
    if (readsInto) t.equal(reader.stats().copiedBytes - before, B - 100 + 5, `${name}: only the partial blocks' bytes copied`);
    t.same(Buffer.from(await reader.readRange(path, size - B - 10, size + 500)), bytes.subarray(size - B - 10), `${name}: a range past the end is clamped`);
    // Two reads of the same blocks in one tick: each gets memory of its own, and scribbling on one result changes
    // neither the other nor the cache.
    const [a, b] = await Promise.all([reader.readRange(path, 0, 3 * B), reader.readRange(path, 0, 3 * B)]);
    t.not(a.buffer, b.buffer, `${name}: two reads, two results`);
    a.fill(0x5a);
    t.same(Buffer.from(b), bytes.subarray(0, 3 * B), `${name}: the other result is untouched`);
    t.same(Buffer.from(await reader.readRange(path, 0, 3 * B)), bytes.subarray(0, 3 * B), `${name}: and so is the cache`);
  }
});

t.test('a caller who gives up while its value arrives: nothing is written into its memory afterwards', async (t) => {
  const fx = await readerFixture(t);
  const size = 8 << 20;
  const { path, bytes } = await fx.dir.file('slow.bin', size);
  const warm = fx.reader({ mode: 'chunk' });
  await warm.reader.readRange(path, 0, size);
  await warm.reader.flush();
  // Lookups through a link that moves 4 MiB/s: the 8 MiB value takes about 2 s to arrive.
  const link = await startSlowLink(fx.redis.port, 4 << 20);
  t.teardown(() => link.close());
  const client = createClient({ url: `redis://127.0.0.1:${link.port}`, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.close());
  const store = new RedisStore({ client, commandTimeoutMs: 5000 });
  const { reader } = fx.reader({ store, mode: 'chunk', circuitBreaker: false, fetcher: new FileFetcher() });
  await reader.stat(path);
  const target = new Uint8Array(size);
  const controller = new AbortController();
  const read = reader.readRangeInto(path, 0, size, target, { signal: controller.signal });
  await sleep(400); // part of the value has arrived by now
  controller.abort();
  await t.rejects(read, { name: 'AbortError' }, 'the read rejects at once');
  target.fill(0x5a);
  await sleep(2500); // longer than the rest of the value needs to arrive
  t.ok(target.every((b) => b === 0x5a), 'the late reply never wrote into the caller\'s memory');
  t.equal(reader.stats().storeErrors, 0, 'the dropped lookup is the caller\'s doing: no store error, nothing toward the circuit breaker');

  const again = new Uint8Array(size);
  t.equal(await reader.readRangeInto(path, 0, size, again), size, 'a later read works (a new lookup connection)');
  t.ok(Buffer.from(again).equals(bytes), 'byte-exact');
});

t.test('bad targets are refused with typed errors that name the problem', async (t) => {
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore() });
  t.teardown(() => reader.close());
  await t.rejects(reader.readRangeInto('/tmp/x', 0, 10, new Uint8Array(5)), { name: 'InvalidRangeError', message: /target has room for 5 bytes, the range asks for 10/ });
  await t.rejects(reader.readRangeInto('/tmp/x', 0, 10, [1, 2, 3] as unknown as Uint8Array), { name: 'ConfigError', message: /target must be a Uint8Array, got \[object Array\]/ });
  await t.rejects(reader.readRangeInto('/tmp/x', 0, 10, null as unknown as Uint8Array), ConfigError);
  await t.rejects(reader.readRangeInto('/tmp/x', 10, 5, new Uint8Array(10)), InvalidRangeError);
  await t.rejects(reader.readRangeInto('/tmp/x', -1, 5, new Uint8Array(10)), InvalidRangeError);
});
