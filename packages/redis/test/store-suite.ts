/**
 * The store test suite every supported node-redis major runs (store-v4, store-v5, store-v6 call it with their own
 * client factory): bytes, TTLs, SCAN invalidation, batch splitting, leases and their release channel, a paused
 * Redis, a connection cut in the middle of a big reply, a killed and restarted Redis, a lost subscriber, the owner
 * closing the client, and readers end to end. Real redis-server processes throughout; the server is inspected
 * through test-support's own (node-redis 6) admin client.
 */
import type { Test } from 'tap';
import { AsyncCachingReader, FileFetcher, StoreError, StoreTimeoutError, StoreUnavailableError } from '@rangecache/core';
import type { FetchCoordinator } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import type { RedisClient } from '@rangecache/redis';
import { CountingFetcher, commandCalls, pseudoRandomBytes, startRedis, startSlowLink, tempDir } from '@rangecache/test-support';
import type { RedisServerHandle, TestRedisClient } from '@rangecache/test-support';
import { eventually, sleep, within } from './helpers.js';

/** A connected client of the major under test, as far as the suite uses it. */
export interface SuiteClient extends RedisClient {
  get(key: string): Promise<unknown>;
  disconnect(): Promise<unknown>;
}

export interface SuiteHarness {
  /** e.g. `node-redis 4.7.1 (RESP2)`. */
  name: string;
  /** The driver the store must pick: 4, or 5 for node-redis 5 and 6. */
  major: 4 | 5;
  /** A new connected client for `url`: `disableOfflineQueue: true`, reconnecting every 20 ms, errors ignored. */
  connect(url: string): Promise<SuiteClient>;
}

const MiB = 1024 * 1024;
const key = (ns: string, i: number | string = 0): string => `rangecache:v2:${ns}:src:ver:b:${i}`;

function same(a: Uint8Array | null | undefined | unknown, b: Uint8Array): boolean {
  return a instanceof Uint8Array && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

async function connectedClients(admin: TestRedisClient): Promise<number> {
  return Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
}

function lookupAndClaim(store: RedisStore): NonNullable<FetchCoordinator['lookupAndClaim']> {
  const c = store.coordinator;
  if (!c.lookupAndClaim || !c.extend) throw new Error('RedisCoordinator has lookupAndClaim and extend');
  return c.lookupAndClaim.bind(c);
}

export function storeSuite(t: Test, h: SuiteHarness): void {
  // Timers of the stores are unref'd (they must not keep a process alive), so the test keeps itself alive.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));

  /** A redis-server of this test's own, an admin client on it, and clients of the major under test. */
  async function setup(t: Test): Promise<{ redis: RedisServerHandle; admin: TestRedisClient; connect: (url?: string) => Promise<SuiteClient> }> {
    const redis = await startRedis({ ownProcess: true });
    const admin = await redis.client();
    const clients: SuiteClient[] = [];
    const stores: RedisStore[] = [];
    t.teardown(async () => {
      await Promise.all(stores.map((s) => s.close().catch(() => {})));
      await Promise.all(clients.map((c) => (c.isOpen ? c.disconnect().catch(() => {}) : undefined)));
      await redis.stop();
    });
    return {
      redis, admin,
      connect: async (url = redis.url) => {
        const c = await h.connect(url);
        clients.push(c);
        return c;
      },
    };
  }

  t.test(`${h.name}: the store drives it as node-redis ${h.major === 4 ? '4' : '5/6'}`, async (t) => {
    const { connect } = await setup(t);
    const store = new RedisStore({ client: await connect() });
    t.equal(store.driverMajor, h.major, 'told apart by the client\'s shape');
    t.throws(() => new RedisStore({ client: { isOpen: true, isReady: true } as never }), /not a node-redis v4, v5 or v6 client/, 'something else is refused');
    await store.close();
  });

  t.test(`${h.name}: binary values byte for byte, missing keys null, per-key TTLs, SCAN with literal globs`, async (t) => {
    const { admin, connect } = await setup(t);
    const store = new RedisStore({ client: await connect() });
    const every = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256)); // invalid UTF-8 included
    const resp = Buffer.from('\r\n$-1\r\n*3\r\n:1\r\n\xff\xfe', 'latin1'); // looks like RESP, must stay bytes
    const big = pseudoRandomBytes(3 * MiB + 7, 'suite-big');
    const view = every.subarray(10, 20);
    await store.setMany([
      { key: 'bin:every', value: every, ttlMs: 60_000 },
      { key: 'bin:resp', value: resp, ttlMs: null },
      { key: 'bin:big', value: big, ttlMs: null },
      { key: 'bin:view', value: new Uint8Array(view.buffer, view.byteOffset, view.byteLength), ttlMs: null },
      { key: 'bin:empty', value: new Uint8Array(0), ttlMs: null },
    ]);
    const got = await store.getMany(['bin:every', 'bin:none', 'bin:resp', 'bin:big', 'bin:view', 'bin:empty']);
    t.ok(same(got[0], every), 'every byte value comes back exactly');
    t.equal(got[1], null, 'a missing key is null');
    t.ok(same(got[2], resp), 'a value that looks like RESP stays bytes');
    t.ok(same(got[3], big), 'a 3 MiB value comes back exactly');
    t.ok(same(got[4], view), 'a view writes only its own bytes');
    t.ok(got[5] instanceof Uint8Array && got[5].byteLength === 0, 'an empty value is an empty array, not null');
    const pttl = await admin.pTTL('bin:every');
    t.ok(pttl > 55_000 && pttl <= 60_000, `SET … PX: PTTL ${pttl} of 60000`);
    t.equal(await admin.pTTL('bin:resp'), -1, 'ttlMs null: no expiry');

    const one = new Uint8Array([1]);
    const keys = ['pre*x:1', 'pre*x:2', 'prefix:3', 'pre?x:4', 'other:5'];
    for (let i = 0; i < 1200; i++) keys.push(`pre*x:bulk:${i}`);
    await store.setMany(keys.map((k) => ({ key: k, value: one, ttlMs: null })));
    await admin.configResetStat();
    t.equal(await store.deleteByPrefix('pre*x:'), 1202, 'deleteByPrefix deletes exactly the keys under the literal prefix');
    t.ok((await commandCalls(admin))['scan']! >= 2, 'by walking with SCAN (several cursors)');
    t.same((await store.getMany(['prefix:3', 'pre?x:4', 'other:5'])).map((v) => v?.byteLength), [1, 1, 1], 'other keys untouched');
    await store.deleteMany(['prefix:3', 'pre?x:4']);
    t.same(await store.getMany(['prefix:3', 'pre?x:4']), [null, null], 'deleteMany');
  });

  t.test(`${h.name}: big batches are split (16 MiB per MGET, 32 MiB per MULTI) and stay byte-exact`, async (t) => {
    const { admin, connect } = await setup(t);
    const store = new RedisStore({ client: await connect() });
    const entries = Array.from({ length: 40 }, (_, i) => ({ key: `split:${i}`, value: pseudoRandomBytes(MiB, `split-${i}`), ttlMs: 60_000 }));
    await admin.configResetStat();
    await store.setMany(entries);
    t.equal((await commandCalls(admin))['exec'], 2, '40 MiB of writes: two MULTI/EXEC');
    await admin.configResetStat();
    const got = await store.getMany(entries.map((e) => e.key), { expectedBytes: entries.map(() => MiB) });
    t.equal((await commandCalls(admin))['mget'], 3, '40 MiB expected: three MGETs (16 + 16 + 8 keys)');
    t.ok(got.length === 40 && got.every((v, i) => same(v, entries[i]!.value)), 'every value byte-exact, in order');
  });

  t.test(`${h.name}: leases: lookupAndClaim returns bytes, claims and counts waiters; a release wakes the other store; extend`, async (t) => {
    const { admin, connect } = await setup(t);
    const a = new RedisStore({ client: await connect() });
    const b = new RedisStore({ client: await connect() });
    const value = pseudoRandomBytes(200_000, 'lease-value');
    await a.setMany([{ key: key('lease', 'present'), value, ttlMs: 60_000 }]);
    await admin.configResetStat();
    const r = await lookupAndClaim(a)([key('lease', 'present'), key('lease', 'free')], 5000, { expectedBytes: [value.byteLength, 0] });
    t.ok(same(r[0], value), 'a present value comes back from the script byte-exact');
    t.equal(r[1], 'claimed', 'a missing one is claimed');
    t.equal((await commandCalls(admin))['eval'], 1, 'in one EVAL');
    t.match(await admin.get(`${key('lease', 'free')}:lease`), new RegExp(`^${(a.coordinator as unknown as { owner: string }).owner}:[1-9][0-9]*$`), 'the lease names its owner and a version');
    t.same(await b.coordinator.claim([key('lease', 'free')], 5000), ['busy'], 'the other store finds it busy');
    t.equal(await admin.get(`${key('lease', 'free')}:waiters`), '1', 'and is counted as a waiter');
    t.same(await a.coordinator.extend!([key('lease', 'free')], 5000), [true], 'the holder extends its lease');
    t.same(await b.coordinator.extend!([key('lease', 'free')], 5000), [false], 'the other store may not');

    const wait = b.coordinator.waitForRelease([key('lease', 'free')], 20_000);
    const before = await commandCalls(admin);
    await a.coordinator.writeAndRelease!([{ key: key('lease', 'free'), value, ttlMs: 60_000 }]);
    const after = await commandCalls(admin);
    // A value past 64 KiB is not handed to Lua (which would copy it): a plain SET, and the release, in one MULTI.
    t.equal((after['eval'] ?? 0) - (before['eval'] ?? 0), 1, 'writeAndRelease of a 200 kB value: one release EVAL');
    t.equal((after['exec'] ?? 0) - (before['exec'] ?? 0), 1, 'in one MULTI/EXEC with the SET');
    t.same(await within(wait, 20_000, 'waitForRelease'), [key('lease', 'free')], 'the write-and-release wakes the waiter through pub/sub');
    t.equal(await admin.exists(`${key('lease', 'free')}:lease`), 0, 'the lease is gone');
    t.same(await b.coordinator.claim([key('lease', 'free')], 5000), ['landed'], 'and the value has landed');
    t.ok(same((await a.getMany([key('lease', 'free')]))[0], value), 'byte-exact');
    const pttl = await admin.pTTL(key('lease', 'free'));
    t.ok(pttl > 55_000 && pttl <= 60_000, `with its TTL (PTTL ${pttl})`);

    // A small landing is one command: the script writes the value and releases the lease.
    const small = { key: key('lease', 'small'), value: Buffer.from([13, 10, 0, 255, 36]), ttlMs: 60_000 };
    t.same(await a.coordinator.claim([small.key], 5000), ['claimed']);
    const beforeSmall = await commandCalls(admin);
    await a.coordinator.writeAndRelease!([small]);
    const afterSmall = await commandCalls(admin);
    t.equal((afterSmall['eval'] ?? 0) - (beforeSmall['eval'] ?? 0), 1, 'writeAndRelease of 5 bytes: one EVAL');
    t.equal((afterSmall['exec'] ?? 0) - (beforeSmall['exec'] ?? 0), 0, 'and no MULTI/EXEC');
    t.ok(same((await a.getMany([small.key]))[0], small.value), 'byte-exact (CR LF, NUL, $)');
    t.equal(await admin.exists(`${small.key}:lease`), 0, 'its lease released');

    // Several values, one without expiry: each written byte-exact with its own TTL, every lease released.
    const many = [
      { key: key('lease', 'm1'), value: Buffer.alloc(70_000, 1), ttlMs: 30_000 },
      { key: key('lease', 'm2'), value: Buffer.from([0, 13, 10, 255]), ttlMs: null },
    ];
    t.same(await a.coordinator.claim(many.map((e) => e.key), 5000), ['claimed', 'claimed']);
    await a.coordinator.writeAndRelease!(many);
    const back = await a.getMany(many.map((e) => e.key));
    t.ok(back.every((v, i) => same(v, many[i]!.value)), 'both values byte-exact (binary, CR LF included)');
    t.equal(await admin.pTTL(key('lease', 'm2')), -1, 'ttlMs null: no expiry');
    t.ok((await admin.pTTL(key('lease', 'm1'))) > 25_000);
    t.equal(await admin.exists(many.map((e) => `${e.key}:lease`)), 0, 'both leases released');
    await a.close();
    await b.close();
  });

  t.test(`${h.name}: a paused Redis fails calls with StoreTimeoutError within the budget; they work again once it resumes`, async (t) => {
    const { redis, connect } = await setup(t);
    const store = new RedisStore({ client: await connect(), commandTimeoutMs: 150 });
    await store.setMany([{ key: 'p:1', value: new Uint8Array(100).fill(7), ttlMs: null }]);
    redis.signal('SIGSTOP');
    try {
      const t0 = Date.now();
      await t.rejects(store.getMany(['p:1']), /MGET did not answer within 150 ms/);
      await t.rejects(store.setMany([{ key: 'p:2', value: new Uint8Array(1), ttlMs: null }]), StoreTimeoutError, 'writes too');
      await t.rejects(store.deleteByPrefix('p:'), StoreTimeoutError, 'and SCAN');
      t.ok(Date.now() - t0 < 10_000, `all failed in ${Date.now() - t0} ms`);
    } finally {
      redis.signal('SIGCONT');
    }
    t.ok(await eventually(async () => (await store.getMany(['p:1']))[0]?.byteLength === 100), 'works again once resumed');
  });

  t.test(`${h.name}: a connection cut in the middle of a big reply: the store recovers, and every later reply is its own`, async (t) => {
    const { redis, connect } = await setup(t);
    const link = await startSlowLink(redis.port, Infinity);
    t.teardown(() => link.close());
    const client = await connect(`redis://127.0.0.1:${link.port}`);
    const store = new RedisStore({ client });
    const entries = Array.from({ length: 8 }, (_, i) => ({ key: `cut:${i}`, value: pseudoRandomBytes(MiB, `cut-${i}`), ttlMs: null }));
    await store.setMany(entries);
    for (const [round, cutAt] of [3 * MiB + 12_345, 20, MiB + 1].entries()) {
      link.cutRepliesAfter(cutAt); // inside the MGET reply of 8 MiB: in a value, in the first header, after a value
      const cut = await store.getMany(entries.map((e) => e.key)).then(() => 'answered', (e: unknown) => e);
      t.type(cut, StoreError, `round ${round}: the cut MGET fails with a StoreError`);
      let got: (Uint8Array | null)[] | undefined;
      const t0 = Date.now();
      while (!got && Date.now() - t0 < 20_000) {
        got = await store.getMany(entries.map((e) => e.key), { expectedBytes: entries.map(() => MiB) }).catch(() => undefined);
        if (!got) await sleep(50);
      }
      t.ok(got?.every((v, i) => same(v, entries[i]!.value)), `round ${round}: after ${Date.now() - t0} ms every value is read again, byte-exact`);
      const small = await within(store.getMany(['cut:none', 'cut:0']), 5000, 'small MGET');
      t.ok(small[0] === null && same(small[1], entries[0]!.value), `round ${round}: a small MGET gets its own reply`);
      const [claim] = await within(lookupAndClaim(store)([key('cut', round)], 2000), 5000, 'lookupAndClaim');
      t.equal(claim, 'claimed', `round ${round}: and so does a script`);
    }
    t.equal(await within(client.get('cut:none'), 5000, 'GET'), null, 'the caller\'s client answers its own commands too');
  });

  t.test(`${h.name}: Redis killed and restarted: calls fail typed, then the store reads and writes again`, async (t) => {
    const { redis, connect } = await setup(t);
    const store = new RedisStore({ client: await connect() });
    await store.setMany([{ key: 'k:1', value: new Uint8Array([1, 2, 3]), ttlMs: null }]);
    redis.signal('SIGKILL');
    const down = await store.getMany(['k:1']).then(() => 'answered', (e: unknown) => e);
    t.type(down, StoreError, `a call while Redis is down fails typed (${String(down)})`);
    await redis.restart(); // empty again
    t.ok(await eventually(async () => {
      await store.setMany([{ key: 'k:2', value: new Uint8Array([4, 5]), ttlMs: null }]);
      return true;
    }), 'writes succeed again after the restart');
    t.same((await store.getMany(['k:1', 'k:2'])).map((v) => (v ? [...v] : null)), [null, [4, 5]], 'and reads see the new server\'s data');
    t.same(await store.coordinator.claim([key('restart')], 2000), ['claimed'], 'leases work again');
  });

  t.test(`${h.name}: a lost release subscriber wakes its waiters; the next claim listens again`, async (t) => {
    const { admin, connect } = await setup(t);
    const a = new RedisStore({ client: await connect() });
    const b = new RedisStore({ client: await connect() });
    const ks = [key('sub', 0), key('sub', 1)];
    t.same(await a.coordinator.claim(ks, 30_000), ['claimed', 'claimed']);
    t.same(await b.coordinator.claim(ks, 30_000), ['busy', 'busy']);
    const wait = b.coordinator.waitForRelease(ks, 20_000);
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    t.same(await within(wait, 20_000, 'waitForRelease'), ks, 'woken with all its keys: releases may have been missed');
    const next = [key('sub', 2)];
    t.same(await a.coordinator.claim(next, 30_000), ['claimed']);
    // node-redis 5 and 6 resubscribe by themselves; node-redis 4's subscribers are replaced on their store's next check.
    t.ok(await eventually(async () => (await b.coordinator.claim(next, 30_000))[0] === 'busy' && (await a.coordinator.claim([key('sub', 3)], 30_000)).length === 1
      && Number((await admin.pubSubNumSub('rangecache:v2:sub:released'))['rangecache:v2:sub:released']) === 2), 'both stores listen again');
    const again = b.coordinator.waitForRelease(next, 20_000);
    await a.coordinator.release(next);
    t.same(await within(again, 20_000, 'waitForRelease'), next, 'and a release wakes the waiter through the new subscriber');
  });

  t.test(`${h.name}: a client that is not ready fails at once; the owner closing the client closes the store's connections`, async (t) => {
    const { admin, connect } = await setup(t);
    const closed = await connect();
    await closed.disconnect();
    const s0 = new RedisStore({ client: closed, commandTimeoutMs: 5000 });
    const t0 = Date.now();
    await t.rejects(s0.getMany(['k']), StoreUnavailableError);
    await t.rejects(s0.coordinator.claim([key('closed')], 1000), StoreUnavailableError);
    t.ok(Date.now() - t0 < 4000, 'no waiting for the 5 s budget');

    const base = await connectedClients(admin);
    const client = await connect();
    const store = new RedisStore({ client });
    t.same(await store.coordinator.claim([key('own')], 1000), ['claimed'], 'the store works (and opened its subscriber)');
    const opened = await connectedClients(admin);
    t.equal(opened, base + (h.major === 4 ? 3 : 2), `the client, the subscriber${h.major === 4 ? ' and the store\'s own data connection' : ''}`);
    await client.disconnect();
    t.ok(await eventually(async () => (await connectedClients(admin)) === base), 'all of them closed once the owner closes the client');
  });

  t.test(`${h.name}: readers end to end: a warm reader never reaches the origin; two cold readers fetch each block once`, async (t) => {
    const { connect } = await setup(t);
    const dir = await tempDir();
    t.teardown(() => dir.remove());
    const B = 64 * 1024;
    const { path, bytes } = await dir.file('e2e.bin', 16 * B + 100);
    const readerOn = async (namespace: string): Promise<{ reader: AsyncCachingReader; origin: CountingFetcher }> => {
      const origin = new CountingFetcher(new FileFetcher(), { delayMs: 30 });
      const store = new RedisStore({ client: await connect() });
      const reader = new AsyncCachingReader({ fetcher: origin, store, blockSize: B, namespace });
      t.teardown(async () => { await reader.close(); await store.close(); });
      return { reader, origin };
    };
    const cold = await readerOn('e2e');
    t.ok(Buffer.from(await cold.reader.readRange(path, 0, bytes.length)).equals(bytes), 'cold read byte-exact');
    await cold.reader.flush();
    const warm = await readerOn('e2e');
    t.ok(Buffer.from(await warm.reader.readRange(path, 5, bytes.length - 5)).equals(bytes.subarray(5, bytes.length - 5)), 'warm read byte-exact');
    t.equal(warm.origin.fetches.length, 0, 'the warm reader fetched no data from the origin');
    t.equal(warm.origin.stats, 0, 'nor metadata');

    const [x, y] = [await readerOn('fleet'), await readerOn('fleet')];
    const [rx, ry] = await Promise.all([x.reader.readRange(path, 0, bytes.length), y.reader.readRange(path, 0, bytes.length)]);
    t.ok(Buffer.from(rx).equals(bytes) && Buffer.from(ry).equals(bytes), 'both fleet readers byte-exact');
    t.equal(x.origin.fetchedBytes + y.origin.fetchedBytes, bytes.length, 'the origin served the object once between them (leases)');
  });
}
