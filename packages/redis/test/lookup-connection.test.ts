// The store's own lookup connection: it follows the client's endpoint, user, password and database, recovers
// from a killed server, never keeps a process alive, and stands aside where it cannot follow the client.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createClient } from 'redis';
import { StoreError } from '@rangecache/core';
import { startRedis } from '@rangecache/test-support';
import { RedisStore } from '../src/index.js';
import { LookupConnection, endpointOf } from '../src/lookup-connection.js';
import { RespError } from '../src/resp-reader.js';

t.test('endpointOf follows what a client says, and declines what it cannot follow', async (t) => {
  const of = (options: unknown) => endpointOf({ options });
  t.same(of({ url: 'redis://127.0.0.1:6390/2', socket: { host: '127.0.0.1', port: 6390, tls: false }, database: 2 }), { host: '127.0.0.1', port: 6390, database: 2 });
  t.same(of({ url: 'redis://al%40ce:p%3Ass@db.local:7000/5' }), { host: 'db.local', port: 7000, username: 'al@ce', password: 'p:ss', database: 5 });
  t.same(of({ socket: { path: '/run/redis.sock' }, password: 'x' }), { path: '/run/redis.sock', password: 'x' });
  t.same(of({ socket: { port: 6390 } }), { host: 'localhost', port: 6390 }, 'node-redis\'s default host');
  t.equal(of({}), undefined, 'no endpoint named: the client keeps its lookups');
  t.equal(of({ sentinelRootNodes: [{ host: '127.0.0.1', port: 26379 }], name: 'mymaster' }), undefined, 'a sentinel client');
  t.equal(of({ url: 'rediss://host:6380' }), undefined, 'TLS URL');
  t.equal(of({ socket: { host: 'h', tls: true } }), undefined, 'TLS socket');
  t.equal(of({ password: () => 'token' }), undefined, 'a credentials function');
  t.equal(of({ url: 'redis://h/notanumber' }), undefined, 'a database it cannot read');
  t.equal(endpointOf({}), undefined, 'no options at all');
  t.equal(of({ rootNodes: [{ url: 'redis://127.0.0.1:7000' }] }), undefined, 'a cluster client: not one endpoint');
});

t.test('password, ACL user and database: lookups see what the client wrote', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  await admin.sendCommand(['ACL', 'SETUSER', 'reader', 'on', '>pw-reader', '~*', '+@all']);
  await admin.sendCommand(['CONFIG', 'SET', 'requirepass', 'pw-default']);
  for (const [label, url] of [['requirepass, db 3', `redis://:pw-default@127.0.0.1:${redis.port}/3`], ['ACL user, db 0', `redis://reader:pw-reader@127.0.0.1:${redis.port}`]]) {
    const client = await createClient({ url, disableOfflineQueue: true }).connect();
    const store = new RedisStore({ client });
    t.ok(store.ownLookupConnection, `${label}: own lookup connection`);
    const value = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 13) % 256));
    await store.setMany([{ key: `lc:${label}`, value, ttlMs: 60_000 }]);
    const [got, missing] = await store.getMany([`lc:${label}`, 'lc:none']);
    t.same(Buffer.from(got!), value, `${label}: byte-exact`);
    t.equal(missing, null);
    await store.close();
    await client.close();
  }
  const other = await createClient({ url: `redis://:pw-default@127.0.0.1:${redis.port}/4` }).connect();
  t.same(await new RedisStore({ client: other }).getMany(['lc:requirepass, db 3']), [null], 'database 4 does not see database 3');
  await other.close();
});

t.test('pipeline: several commands in one write, values uncopied and byte-exact, replies in order with errors as values; a killed server rejects it', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const connection = new LookupConnection({ host: '127.0.0.1', port: redis.port });
  t.teardown(() => connection.close());
  const value = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff)); // CRLFs and '$' inside
  const replies = await connection.pipeline([['SET', 'pl:a', value, 'PX', '60000'], ['INCR', 'pl:a'], ['GET', 'pl:a'], ['SET', 'pl:e', new Uint8Array(0)]]);
  t.equal(replies.length, 4, 'one reply per command');
  t.equal(replies[0], 'OK', 'SET answered');
  t.ok(replies[1] instanceof RespError, 'a refused command is an error value in its place, not a rejection');
  t.ok(Buffer.isBuffer(replies[2]) && Buffer.compare(replies[2], value) === 0, 'the value came back byte-exact');
  t.equal(replies[3], 'OK', 'an empty value is written too');
  t.same(await connection.pipeline([]), [], 'no commands: no replies, at once');
  const admin = await redis.client();
  t.equal(await admin.strLen('pl:e'), 0);
  t.ok((await admin.pTTL('pl:a')) > 50_000, 'with its TTL');

  await redis.restart(); // SIGKILL, then a new, empty server on the same port
  // The dead link's write rejects, or (its close already seen) goes on a new link to the new server; either way the
  // next one reaches the new server, and nothing of the old one's remains.
  const first = await connection.pipeline([['EXISTS', 'pl:a']]).then((r) => r, (e: unknown) => e);
  t.ok(first instanceof Error || (Array.isArray(first) && first[0] === 0), 'never an answer of the old server');
  t.same(await connection.pipeline([['SET', 'pl:b', value], ['STRLEN', 'pl:b'], ['EXISTS', 'pl:a']]), ['OK', value.byteLength, 0], 'the next one works, on the new server');
  connection.close();
  await t.rejects(connection.pipeline([['PING']]), /closed/, 'a closed connection rejects');
});

t.test('a killed server fails lookups, and they work again once it is back', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = createClient({ url: redis.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
  client.on('error', () => {});
  await client.connect();
  const store = new RedisStore({ client, commandTimeoutMs: 500 });
  t.teardown(async () => { await store.close(); await client.close().catch(() => {}); });
  await store.setMany([{ key: 'lc:k', value: Buffer.from('before'), ttlMs: null }]);
  t.same(Buffer.from((await store.getMany(['lc:k']))[0]!).toString(), 'before');
  await redis.restart(); // SIGKILL, then a new server on the same port (empty: it keeps nothing)
  // The old connection is gone: the lookup fails (StoreError), or a new connection finds the new, empty server.
  const first = await store.getMany(['lc:k']).catch((e: unknown) => e);
  t.ok(first instanceof StoreError || (Array.isArray(first) && first[0] === null), 'never the old server\'s bytes');
  for (let i = 0; i < 100 && !client.isReady; i++) await new Promise((r) => setTimeout(r, 50));
  await store.setMany([{ key: 'lc:k', value: Buffer.from('after'), ttlMs: null }]);
  t.same(Buffer.from((await store.getMany(['lc:k']))[0]!).toString(), 'after', 'a new connection, with a fresh reader');
  t.notOk(new RedisStore({ client, ownLookupConnection: false }).ownLookupConnection, 'ownLookupConnection: false');
  t.throws(() => new RedisStore({ client, ownLookupConnection: 'yes' as unknown as boolean }), { name: 'ConfigError' });
});

t.test('an idle lookup connection never keeps a process alive', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  // A script beside the package, so that it resolves redis and the built store as a user's code would.
  const file = fileURLToPath(new URL('../.alive-check.mjs', import.meta.url));
  writeFileSync(file, `
    import { createClient } from 'redis';
    import { RedisStore } from '@rangecache/redis';
    const client = await createClient({ url: process.env.URL }).connect();
    const store = new RedisStore({ client });
    await store.getMany(['lc:x']);
    await client.close(); // the store is never closed
    console.log('done');`);
  t.teardown(() => rmSync(file, { force: true }));
  const child = spawn(process.execPath, [file], { env: { ...process.env, URL: redis.url }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(-1); }, 15_000);
    child.on('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  t.equal(code, 0, 'the process exited by itself');
  t.match(out, /done/);
});

t.test('the lookup connection closes with the client, and with the store', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  const connected = async (): Promise<number> => String(await admin.sendCommand(['CLIENT', 'LIST'])).trim().split('\n').length;
  const settle = async (want: number): Promise<number> => {
    for (let i = 0; i < 100 && (await connected()) !== want; i++) await new Promise((r) => setTimeout(r, 20));
    return connected();
  };
  const base = await connected();
  const client = await createClient({ url: redis.url }).connect();
  const store = new RedisStore({ client });
  t.equal(await connected(), base + 1, 'no lookup connection before the first lookup');
  await store.getMany(['lc:a']);
  t.equal(await settle(base + 2), base + 2, 'the client and the lookup connection');
  await client.close();
  t.equal(await settle(base), base, 'closing the client closes the lookup connection');

  const again = await createClient({ url: redis.url }).connect();
  const closing = new RedisStore({ client: again });
  await closing.getMany(['lc:a']);
  await closing.close();
  t.equal(await settle(base + 1), base + 1, 'closing the store closes it too; the client stays open');
  t.ok(again.isOpen);
  await again.close();
});
