import t from 'tap';
import { RedisStore } from '@rangecache/core';
import { readerFixture } from './helpers.js';

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
    t.ok(ms < 1500, `answered in ${ms} ms with Redis paused (two timeouts of 200 ms: metadata and data)`);
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
