import t from 'tap';
import { RedisStore } from '@rangecache/redis';
import { readerFixture } from './helpers.js';

// A connection cut in the middle of a big reply (node-redis 4's flaw) is tested on node-redis 4, 5 and 6 in store-suite.ts.
t.test('a paused or dead Redis never fails a read; hits resume when it is back', async (t) => {
  const fx = await readerFixture(t, { ownProcess: true });
  const B = 65536;
  const { path, bytes } = await fx.dir.file('fo.bin', 8 * B);
  const client = await fx.redis.client();
  const store = new RedisStore({ client, commandTimeoutMs: 200 });
  const { reader: warmup } = fx.reader({ blockSize: B, store });
  await warmup.readRange(path, 0, 8 * B);
  await warmup.flush();

  fx.redis.signal('SIGSTOP');
  try {
    const { reader } = fx.reader({ blockSize: B, store });
    const t0 = Date.now();
    t.same(Buffer.from(await reader.readRange(path, B, 3 * B)), bytes.subarray(B, 3 * B), 'right bytes from the origin');
    const ms = Date.now() - t0;
    t.ok(ms < 5000, `answered in ${ms} ms with Redis paused (a few timeouts of 200 ms: metadata, data, claim)`);
    t.ok(reader.stats().storeErrors >= 2, 'the failures are counted');
    t.equal(reader.stats().hits, 0);
  } finally {
    fx.redis.signal('SIGCONT');
  }

  await fx.redis.restart(); // killed and started again: empty, and the client must reconnect by itself
  const { reader: afterKill } = fx.reader({ blockSize: B, store });
  t.same(Buffer.from(await afterKill.readRange(path, 0, 2 * B)), bytes.subarray(0, 2 * B), 'right bytes while Redis comes back');
  await afterKill.flush();
  let hits = 0;
  for (let i = 0; i < 50 && hits === 0; i++) {
    const { reader } = fx.reader({ blockSize: B, store });
    t.same(Buffer.from(await reader.readRange(path, 0, 2 * B)), bytes.subarray(0, 2 * B));
    await reader.flush();
    hits = reader.stats().hits;
    if (hits === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(hits > 0, 'cache hits resume after the restart');
});

t.test('cold namespace: a new store on a paused Redis (no subscriber yet) never hangs a read or close()', async (t) => {
  const fx = await readerFixture(t, { ownProcess: true });
  const B = 65536;
  const { path, bytes } = await fx.dir.file('cold.bin', 4 * B);
  const client = await fx.redis.client();
  const store = new RedisStore({ client }); // default options; its subscriber would open on the first claim
  fx.redis.signal('SIGSTOP');
  try {
    const { reader } = fx.reader({ blockSize: B, store, namespace: `cold-${process.pid}-${Date.now()}` });
    const t0 = Date.now();
    const read = reader.readRange(path, 0, 3 * B).then((v) => Buffer.from(v));
    const hang = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref());
    const got = await Promise.race([read, hang]);
    t.not(got, 'hung', 'the read settles while Redis is paused');
    t.same(got, bytes.subarray(0, 3 * B), 'right bytes from the origin');
    t.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
    const c0 = Date.now();
    await reader.close();
    const closed = await Promise.race([store.close().then(() => 'closed'), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref())]);
    t.equal(closed, 'closed', 'store.close() settles while Redis is paused');
    t.ok(Date.now() - c0 < 5000, `reader and store closed in ${Date.now() - c0} ms`);
  } finally {
    fx.redis.signal('SIGCONT');
  }
});
