// Issue 5: never stale, never mixed; fail open; integrity; isolation; bounds. Real redis-server processes, a real
// HTTP origin.
import t from 'tap';
import { createHash } from 'node:crypto';
import { RESP_TYPES } from 'redis';
import { AccessDeniedError, AsyncCachingReader, ConfigError, MemoryStore, VersionChangedError } from '@rangecache/core';
import type { CacheStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { HttpFetcher } from '@rangecache/http';
import { pseudoRandomBytes, startHttpOrigin, startRedis } from '@rangecache/test-support';

const MiB = 1 << 20;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

t.test('a stream over an object overwritten mid-read yields one version or a VersionChangedError, never a mix', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis()]);
  const http = new HttpFetcher();
  t.teardown(async () => { await http.close(); await origin.stop(); await redis.stop(); });
  const v1 = pseudoRandomBytes(8 * MiB, 'v1');
  const v2 = pseudoRandomBytes(8 * MiB, 'v2');
  const outcomes: string[] = [];
  for (let round = 0; round < 4; round++) {
    origin.put('live.bin', v1);
    const store = new RedisStore({ client: await redis.client() });
    const reader = new AsyncCachingReader({ fetcher: http, store, blockSize: 256 * 1024, readAhead: 2, namespace: `mix-${round}` });
    origin.behaviour.delayMs = 5;
    const parts: Buffer[] = [];
    let error: unknown;
    try {
      for await (const chunk of reader.stream(origin.url('live.bin'))) {
        parts.push(Buffer.from(chunk));
        if (parts.length === 3 + round) origin.put('live.bin', v2); // overwrite while streaming
      }
    } catch (e) {
      error = e;
    }
    const got = Buffer.concat(parts);
    if (error) {
      t.ok(error instanceof VersionChangedError, `round ${round}: the stream failed with a typed VersionChangedError`);
      t.same(got, v1.subarray(0, got.byteLength), `round ${round}: what it yielded before failing was all v1`);
      outcomes.push('changed');
    } else {
      t.ok(sha(got) === sha(v1) || sha(got) === sha(v2), `round ${round}: it completed with one version`);
      outcomes.push(sha(got) === sha(v1) ? 'v1' : 'v2');
    }
    await reader.close();
    await store.close();
  }
  t.ok(outcomes.includes('changed'), `outcomes: ${outcomes.join(', ')}`);
});

t.test('after metaTtlMs, reads return the new version over HTTP', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis()]);
  const http = new HttpFetcher();
  t.teardown(async () => { await http.close(); await origin.stop(); await redis.stop(); });
  const store = new RedisStore({ client: await redis.client() });
  t.teardown(() => store.close());
  origin.put('m.bin', pseudoRandomBytes(100_000, 'old'));
  const reader = new AsyncCachingReader({ fetcher: http, store, metaTtlMs: 300, blockSize: 16_384, namespace: 'meta' });
  t.same(Buffer.from(await reader.readRange(origin.url('m.bin'), 0, 100_000)), pseudoRandomBytes(100_000, 'old'));
  const fresh = pseudoRandomBytes(120_000, 'new');
  origin.put('m.bin', fresh);
  await new Promise((r) => setTimeout(r, 400));
  const other = new AsyncCachingReader({ fetcher: http, store, metaTtlMs: 300, blockSize: 16_384, namespace: 'meta' });
  t.same(Buffer.from(await reader.readRange(origin.url('m.bin'), 0, 200_000)), fresh, 'the same reader sees the new bytes');
  t.same(Buffer.from(await other.readRange(origin.url('m.bin'), 0, 200_000)), fresh, 'so does another reader on the same Redis');
});

t.test('fail open: paused, killed and out-of-memory Redis never fail a read; the breaker skips it; hits resume', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  const http = new HttpFetcher();
  t.teardown(async () => { await http.close(); await origin.stop(); await redis.stop(); });
  const bytes = pseudoRandomBytes(4 * MiB, 'fo');
  origin.put('fo.bin', bytes);
  const url = origin.url('fo.bin');
  const client = await redis.client();
  const store = new RedisStore({ client, commandTimeoutMs: 200 });
  t.teardown(() => store.close());
  const events: string[] = [];
  const reader = new AsyncCachingReader({ fetcher: http, store, blockSize: 256 * 1024, namespace: 'fo', circuitBreaker: { failureThreshold: 3, cooldownMs: 500 } });
  reader.on('circuit', (state) => events.push(state));
  let storeErrors = 0;
  reader.on('storeError', () => storeErrors++);
  t.same(Buffer.from(await reader.readRange(url, 0, 4 * MiB)), bytes);
  await reader.flush();

  redis.signal('SIGSTOP');
  try {
    for (let i = 0; i < 8; i++) {
      const before = { skipped: reader.stats().storeSkipped, errors: storeErrors };
      const r = i * 256 * 1024;
      t.same(Buffer.from(await reader.readRange(url, r, r + 300_000)), bytes.subarray(r, r + 300_000), `read ${i} correct with Redis paused`);
      await reader.flush();
      // Counted, not timed (a loaded machine makes any time bound flaky): once open, the breaker skips the store's
      // calls; at most one (the probe after a cool-down) reaches the paused Redis and fails.
      const skipped = reader.stats().storeSkipped - before.skipped;
      const failed = storeErrors - before.errors;
      if (i >= 4) t.ok(skipped >= 1 && failed <= 1, `read ${i}: the open circuit skips Redis (${skipped} calls skipped, ${failed} failed)`);
    }
  } finally {
    redis.signal('SIGCONT');
  }
  t.ok(events.includes('open'), `the breaker opened (events: ${events.join(', ')})`);
  t.ok(reader.stats().storeSkipped > 0 && storeErrors >= 3, `errors ${storeErrors}, skipped ${reader.stats().storeSkipped}`);

  await redis.restart(); // killed and started again, empty
  await new Promise((r) => setTimeout(r, 600)); // past the cool-down
  let hits = 0;
  for (let i = 0; i < 40 && hits === 0; i++) {
    t.same(Buffer.from(await reader.readRange(url, 0, MiB)), bytes.subarray(0, MiB));
    await reader.flush();
    const before = reader.stats().hits;
    await reader.readRange(url, 0, MiB);
    hits = reader.stats().hits - before;
    if (hits === 0) await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(hits > 0, 'hits resumed by themselves after the restart');
  t.ok(events.at(-1) === 'closed', 'and the circuit closed');

  // Out of memory: a tiny maxmemory with noeviction makes every SET fail; reads still work.
  await client.configSet({ maxmemory: '1mb', 'maxmemory-policy': 'noeviction' });
  const oom = new AsyncCachingReader({ fetcher: http, store, blockSize: 256 * 1024, namespace: 'oom' });
  t.same(Buffer.from(await oom.readRange(url, 0, 4 * MiB)), bytes, 'correct bytes while Redis refuses writes');
  await oom.flush();
  t.ok(oom.stats().writeErrors > 0, `writes failed and were counted (${oom.stats().writeErrors})`);
  await client.configSet({ maxmemory: '0' });
});

t.test('pending writes are bounded: beyond maxPendingWriteBytes they are dropped, reads go on', async (t) => {
  const [origin] = await Promise.all([startHttpOrigin()]);
  const http = new HttpFetcher();
  t.teardown(async () => { await http.close(); await origin.stop(); });
  const bytes = pseudoRandomBytes(4 * MiB, 'bound');
  origin.put('b.bin', bytes);
  const inner = new MemoryStore();
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const slow: CacheStore = { ...bindStore(inner), setMany: async (e) => { await gate; return inner.setMany(e); } };
  const reader = new AsyncCachingReader({ fetcher: http, store: slow, blockSize: 512 * 1024, maxPendingWriteBytes: MiB });
  const dropped: number[] = [];
  reader.on('writeDropped', (n) => dropped.push(n));
  for (let i = 0; i < 8; i++) {
    t.same(Buffer.from(await reader.readRange(url(origin), i * 512 * 1024, (i + 1) * 512 * 1024)), bytes.subarray(i * 512 * 1024, (i + 1) * 512 * 1024));
  }
  t.ok(reader.stats().writesDropped > 0 && dropped.length === reader.stats().writesDropped, `dropped ${reader.stats().writesDropped} writes, reads were not held up`);
  release();
  await reader.flush();
});

t.test('integrity: values forged by someone without the secret are rejected and refetched', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis()]);
  const http = new HttpFetcher();
  t.teardown(async () => { await http.close(); await origin.stop(); await redis.stop(); });
  const bytes = pseudoRandomBytes(MiB, 'integrity');
  origin.put('i.bin', bytes);
  const client = await redis.client();
  const store = new RedisStore({ client });
  t.teardown(() => store.close());
  const secret = 'a-long-shared-secret-for-tests';
  const writer = new AsyncCachingReader({ fetcher: http, store, blockSize: 256 * 1024, namespace: 'hmac', integrity: { secret } });
  t.same(Buffer.from(await writer.readRange(origin.url('i.bin'), 0, MiB)), bytes);
  await writer.flush();
  const keys = (await client.keys('rangecache:v2:hmac:*:b:*')).sort();
  t.equal(keys.length, 4);
  // The attacker writes a value of the right length (plus a fake tag), and copies a valid value to another key.
  await client.set(keys[0]!, Buffer.alloc(256 * 1024 + 32, 0x41));
  await client.set(keys[2]!, (await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(keys[1]!))!);
  const reader = new AsyncCachingReader({ fetcher: http, store, blockSize: 256 * 1024, namespace: 'hmac', integrity: { secret } });
  t.same(Buffer.from(await reader.readRange(origin.url('i.bin'), 0, MiB)), bytes, 'the forged blocks were not served');
  t.equal(reader.stats().integrityRejected, 2, 'both forgeries rejected');
  // The threat it answers: without integrity, a forged value of the right length is served as it is.
  const plain = new AsyncCachingReader({ fetcher: http, store, blockSize: 256 * 1024, namespace: 'plain' });
  await plain.readRange(origin.url('i.bin'), 0, MiB);
  await plain.flush();
  const plainKey = (await client.keys('rangecache:v2:plain:*:b:*')).sort()[0]!;
  await client.set(plainKey, Buffer.alloc(256 * 1024, 0x41));
  const fooled = new AsyncCachingReader({ fetcher: http, store, blockSize: 256 * 1024, namespace: 'plain' });
  t.same(Buffer.from(await fooled.readRange(origin.url('i.bin'), 0, 16)), Buffer.alloc(16, 0x41), 'without integrity the forgery is served');
  t.throws(() => new AsyncCachingReader({ fetcher: http, integrity: { secret: 'short' } }), ConfigError);
});

t.test('authorize: "origin" checks the caller may read the object before serving cached bytes', async (t) => {
  const [origin] = await Promise.all([startHttpOrigin()]);
  const withToken = new HttpFetcher({ headers: { authorization: 'Bearer good' } });
  const without = new HttpFetcher();
  t.teardown(async () => { await withToken.close(); await without.close(); await origin.stop(); });
  origin.put('secret.bin', pseudoRandomBytes(100_000, 'secret'));
  origin.behaviour.requireHeader = ['authorization', 'Bearer good'];
  const shared = new MemoryStore();
  const allowed = new AsyncCachingReader({ fetcher: withToken, store: shared });
  await allowed.readRange(origin.url('secret.bin'), 0, 100_000);
  await allowed.flush();
  const leaky = new AsyncCachingReader({ fetcher: without, store: shared });
  t.equal((await leaky.readRange(origin.url('secret.bin'), 0, 10)).byteLength, 10, 'without authorize, a shared cache serves a reader the origin would refuse');
  const checked = new AsyncCachingReader({ fetcher: without, store: shared, authorize: 'origin' });
  await t.rejects(checked.readRange(origin.url('secret.bin'), 0, 10), AccessDeniedError, 'with authorize: "origin" it is refused');
  const checkedOk = new AsyncCachingReader({ fetcher: withToken, store: shared, authorize: 'origin', authorizeTtlMs: 60_000 });
  origin.requests.length = 0;
  for (let i = 0; i < 5; i++) await checkedOk.readRange(origin.url('secret.bin'), i, i + 10);
  t.equal(checkedOk.stats().authorizations, 1, 'one origin check, remembered for authorizeTtlMs');
  const gets = origin.requests.filter((r) => r.method === 'GET');
  t.same(gets.map((r) => r.range), ['bytes=0-0'], 'the check reads one byte (as serving would: GET, not only HEAD), and no data comes from the origin');
});

function url(origin: { url(name: string): string }): string {
  return origin.url('b.bin');
}

function bindStore(s: CacheStore): CacheStore {
  return { getMany: (k) => s.getMany(k), setMany: (e) => s.setMany(e), deleteMany: (k) => s.deleteMany(k), deleteByPrefix: (p) => s.deleteByPrefix(p) };
}
