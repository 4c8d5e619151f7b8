// The store suite on node-redis 4 (the `redis-v4` alias of the dev dependencies), and the flaw of node-redis 4 that
// its driver works around: a plain client whose connection is cut in the middle of a reply reads the replies after
// the reconnect as the rest of the old one; the store, over a client of the same kind, does not.
import t from 'tap';
import { createRequire } from 'node:module';
import { createClient } from 'redis-v4';
import { RedisStore } from '@rangecache/redis';
import { startRedis, startSlowLink } from '@rangecache/test-support';
import { storeSuite } from './store-suite.js';

const version = (createRequire(import.meta.url)('redis-v4/package.json') as { version: string }).version;

function v4Client(url: string) {
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 20 } });
  client.on('error', () => {});
  return client;
}

/** `p`'s value, or `'no answer'` after `ms`. */
function orNoAnswer<T>(p: Promise<T>, ms: number): Promise<T | 'no answer' | 'failed'> {
  let timer: NodeJS.Timeout;
  return Promise.race([p.catch(() => 'failed' as const), new Promise<'no answer'>((r) => { timer = setTimeout(() => r('no answer'), ms); })])
    .finally(() => clearTimeout(timer));
}

t.test(`node-redis ${version}: a reply cut in the middle poisons a plain client for good; the store over the same kind of client recovers`, async (t) => {
  t.match(version, /^4\./, `node-redis ${version}`);
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const link = await startSlowLink(redis.port, Infinity);
  t.teardown(() => link.close());
  const url = `redis://127.0.0.1:${link.port}`;
  const admin = await redis.client();
  for (let i = 0; i < 4; i++) await admin.set(`k:${i}`, `value-${i}`);
  const keys = ['k:0', 'k:1', 'k:2', 'k:3'];

  // A plain node-redis 4 client: the MGET reply (*4, then $7 value-i four times) is cut after 20 bytes.
  const plain = v4Client(url);
  await plain.connect();
  t.teardown(() => plain.disconnect().catch(() => {}));
  link.cutRepliesAfter(20);
  await t.rejects(plain.mGet(keys), /Socket closed unexpectedly|Disconnects client/, 'the cut MGET fails');
  await new Promise((r) => setTimeout(r, 300)); // reconnected (every 20 ms)
  t.ok(plain.isReady, 'the plain client says it is ready again');
  const answers: unknown[] = [];
  for (let i = 0; i < 4; i++) answers.push(await orNoAnswer(plain.get(`k:${i}`), 1000));
  const own = answers.filter((a, i) => a === `value-${i}`).length;
  t.equal(own, 0, `not one GET after the reconnect gets its own reply: ${JSON.stringify(answers)}`);
  t.ok(answers.some((a) => typeof a === 'string' && !/^value-\d$/.test(a)), 'one gets bytes of the old reply instead (wrong data, not only a hang)');
  t.ok(answers.includes('no answer'), 'and later ones never answer');

  // The store over a client made the same way: the same cut, then every reply is its own.
  const client = v4Client(url);
  await client.connect();
  t.teardown(() => client.disconnect().catch(() => {}));
  const store = new RedisStore({ client });
  t.teardown(() => store.close());
  t.equal(store.driverMajor, 4);
  t.same((await store.getMany(keys)).map((v) => v && Buffer.from(v).toString()), ['value-0', 'value-1', 'value-2', 'value-3'], 'before the cut');
  link.cutRepliesAfter(20);
  await t.rejects(store.getMany(keys), { code: 'ERR_RANGECACHE_STORE' }, 'the cut MGET fails with a StoreError');
  let after: (Uint8Array | null)[] | undefined;
  for (let i = 0; i < 100 && !after; i++) {
    after = await store.getMany(keys).catch(() => undefined);
    if (!after) await new Promise((r) => setTimeout(r, 20));
  }
  t.same(after?.map((v) => v && Buffer.from(v).toString()), ['value-0', 'value-1', 'value-2', 'value-3'], 'after it, on a new connection');
  for (let i = 0; i < 4; i++) {
    t.same((await store.getMany([`k:${i}`])).map((v) => v && Buffer.from(v).toString()), [`value-${i}`], `GET-sized call ${i}: its own reply`);
  }
});

storeSuite(t, {
  name: `node-redis ${version} (RESP2)`,
  major: 4,
  async connect(url) {
    const client = v4Client(url);
    await client.connect();
    return client;
  },
});
