/**
 * `integrity` holds on the lease path too. The lease lookup (`lookupAndClaim`, used once an object has missed)
 * returns stored values from inside a script; they must be verified like `getMany`'s. Before the fix, the lookup
 * passed values on raw: a forged value of exactly the block's length (no tag) was served as verified bytes, and
 * every genuine tagged value was counted corrupt, deleted and fetched again.
 */
import t from 'tap';
import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
import { blockKey, versionPrefix } from '@rangecache/core/store-kit';
import { RedisStore } from '@rangecache/redis';
import { startRedis, tempDir } from '@rangecache/test-support';

const B = 64 * 1024;
const secret = 'a-shared-secret-of-32-characters';

t.test('lease lookups verify values: genuine ones are hits, a forged one of the right length is refused', async (t) => {
  const [redis, dir] = await Promise.all([startRedis({ ownProcess: true }), tempDir()]);
  t.teardown(async () => { await redis.stop(); await dir.remove(); });
  const client = await redis.client();
  const { path, bytes } = await dir.file('i.bin', 4 * B);
  const reader = (): AsyncCachingReader => new AsyncCachingReader({
    fetcher: new FileFetcher(), store: new RedisStore({ client }), blockSize: B, integrity: { secret }, namespace: 'il',
  });
  const a = reader();
  const b = reader();
  t.teardown(async () => { await a.close(); await b.close(); });

  // a misses block 3, so its next lookups of this object take leases in the same script (lookupAndClaim).
  t.same(Buffer.from(await a.readRange(path, 3 * B, 4 * B)), bytes.subarray(3 * B, 4 * B));
  await a.flush();
  // b writes block 0 (tagged); a reads it through the lease lookup.
  t.same(Buffer.from(await b.readRange(path, 0, B)), bytes.subarray(0, B));
  await b.flush();
  const before = a.stats();
  t.same(Buffer.from(await a.readRange(path, 0, B)), bytes.subarray(0, B), 'the genuine value read through the lease lookup');
  t.equal(a.stats().hits - before.hits, 1, 'and it is a hit');
  t.equal(a.stats().corruptValues, 0, 'not counted corrupt');
  t.equal(a.stats().originRequests - before.originRequests, 0, 'nor fetched again');

  // Someone with write access to Redis but not the secret plants block 1: the right length, no tag.
  const forged = Buffer.alloc(B, 0x66);
  const key = blockKey(versionPrefix('il', path, (await a.stat(path)).version), B, 1);
  await client.set(key, forged);
  const got = Buffer.from(await a.readRange(path, B, 2 * B));
  t.same(got, bytes.subarray(B, 2 * B), 'the forged value is refused: the reader serves the origin bytes');
  t.ok(a.stats().integrityRejected >= 1, `the rejection is counted (integrityRejected ${a.stats().integrityRejected})`);
  await a.flush();
  const stored = await client.withTypeMapping({ [36]: Buffer }).get(key);
  t.not(stored && Buffer.from(stored).equals(forged), true, 'and the forged value is gone from Redis');
});
