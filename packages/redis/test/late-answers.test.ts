/**
 * A store call that timed out on a paused redis-server (SIGSTOP) and is answered once it resumes: RedisStore's late
 * `getMany` answer is one value per key, and wrapper stores hand on a late answer in their own terms, never the
 * inner store's. IntegrityStore's late `getMany` answer is
 * verified (tags checked and removed, like an answer in time); TieredStore's covers every key asked, with the
 * memory tier's values in place (the Redis tier only answered for the keys the memory tier lacked).
 */
import t, { type Test } from 'tap';
import { createClient } from 'redis';
import { IntegrityStore, MemoryStore, StoreTimeoutError, TieredStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { startRedis } from '@rangecache/test-support';
import { within } from './helpers.js';

const key = (i: number): string => `rangecache:v2:late:src:ver:b:${i}`;
const value = (i: number): Buffer => Buffer.from(Array.from({ length: 1000 + i }, (_, j) => (j * 7 + i) & 0xff));

async function pausedTimeout(t: Test, call: () => Promise<unknown>, resume: () => void): Promise<StoreTimeoutError> {
  const e = await within(call().then(() => undefined, (err: unknown) => err), 30_000, 'the paused call');
  resume();
  t.type(e, StoreTimeoutError, 'the call on the paused Redis timed out');
  return e as StoreTimeoutError;
}

t.test('late getMany answers: verified through IntegrityStore, complete and in place through TieredStore', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = createClient({ url: redis.url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  const redisStore = new RedisStore({ client });
  t.teardown(async () => { await redisStore.close(); await client.disconnect().catch(() => {}); });
  const integrity = new IntegrityStore(redisStore, { secret: 'a secret of more than 16 bytes' });
  const near = new MemoryStore();
  const tiered = new TieredStore({ near, far: integrity });
  await integrity.setMany([0, 1, 2].map((i) => ({ key: key(i), value: value(i), ttlMs: 60_000 })));
  await near.setMany([{ key: key(0), value: value(0), ttlMs: 60_000 }]);
  await redisStore.getMany([key(0)]); // the store's own connection is open before Redis pauses

  const resume = (): void => redis.signal('SIGCONT');
  t.teardown(resume);
  redis.signal('SIGSTOP');
  const raw = await pausedTimeout(t, () => redisStore.getMany([key(1), key(2)]), resume);
  const values = await within(raw.answer!, 30_000, 'the late answer');
  t.ok(Array.isArray(values) && values.length === 2 && values.every((v, i) => v instanceof Uint8Array && v.byteLength === value(i + 1).byteLength + 32),
    'RedisStore: a late MGET answer is one (tagged) value per key, not one list per part');

  redis.signal('SIGSTOP');
  const late = await pausedTimeout(t, () => integrity.getMany([key(1), key(2)]), resume);
  const answer = await within(late.answer!, 30_000, 'the late answer');
  t.ok(Array.isArray(answer) && answer.length === 2, 'the late answer has one value per key');
  const [a, b] = answer as Uint8Array[];
  t.same(Buffer.from(a!), value(1), 'IntegrityStore: the late value is the stored bytes, tag removed');
  t.same(Buffer.from(b!), value(2), 'and so is the second');

  redis.signal('SIGSTOP');
  const tieredLate = await pausedTimeout(t, () => tiered.getMany([key(0), key(1), key(2)]), resume);
  const all = await within(tieredLate.answer!, 30_000, 'the late answer');
  t.ok(Array.isArray(all) && all.length === 3, 'TieredStore: the late answer covers all three keys, not only the two Redis was asked for');
  (all as Uint8Array[]).forEach((v, i) => t.same(Buffer.from(v), value(i), `key ${i} in its place, byte-exact`));
});
