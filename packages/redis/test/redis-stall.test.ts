/**
 * A stalled or misconfigured Redis never hangs anything (issue 8): the coordinator's subscriber (connect and
 * SUBSCRIBE) on a cold namespace, close(), and deleteByPrefix all have deadlines and typed errors; and a store
 * does not leave listeners behind on the shared client. Real redis-server processes throughout.
 */
import t from 'tap';
import { createClient } from 'redis';
import { StoreError, StoreTimeoutError } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { startRedis } from '@rangecache/test-support';
import type { TestRedisClient } from '@rangecache/test-support';

// Timers of the stores are unref'd (they must not keep a process alive), so the test keeps itself alive.
const keepAlive = setInterval(() => {}, 1000);
t.teardown(() => clearInterval(keepAlive));

const key = (ns: string, i: number | string = 0): string => `rangecache:v2:${ns}:src:ver:b:${i}`;

/** How `p` settled and how long it took (ms); rejects the test's own wait after `capMs` so a hang cannot stall it. */
async function settle(p: Promise<unknown>, capMs = 15_000): Promise<{ ms: number; error: unknown; hung: boolean; value?: unknown }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = Symbol('hang');
  try {
    const r = await Promise.race([p, new Promise((r) => { timer = setTimeout(() => r(hang), capMs); })]);
    return { ms: performance.now() - t0, error: undefined, hung: r === hang, value: r === hang ? undefined : r };
  } catch (e) {
    return { ms: performance.now() - t0, error: e, hung: false };
  } finally {
    clearTimeout(timer);
  }
}

async function connectedClients(admin: TestRedisClient): Promise<number> {
  const info = await admin.info('clients');
  return Number(/connected_clients:(\d+)/.exec(info)?.[1]);
}

async function connectionsReceived(admin: TestRedisClient): Promise<number> {
  const info = await admin.info('stats');
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
}

/** Polls `cond` every 50 ms until it holds or `ms` passed; returns whether it held. */
async function eventually(cond: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('cold namespace on a SIGSTOPped Redis: claim and close settle within bounds; a later claim reconnects', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const store = new RedisStore({ client }); // no subscriber yet
  redis.signal('SIGSTOP');
  try {
    const claim = await settle(store.coordinator.claim([key('cold')], 2000));
    t.notOk(claim.hung, 'the claim settles while Redis is stopped');
    t.type(claim.error, StoreTimeoutError, `it rejects with StoreTimeoutError (${String(claim.error)})`);
    t.ok(claim.ms < 3000, `within ${claim.ms.toFixed(0)} ms (< 3 s)`);
    const received = await settle(store.coordinator.claim([key('cold', 1)], 2000));
    // The subscriber backs off after its failure: the next claim does not wait for it (its waits would poll), and
    // goes to Redis itself, which is stopped: a timeout, not a hang.
    t.notOk(received.hung, 'a claim right after settles too');
    t.type(received.error, StoreTimeoutError, `it does not wait on the failed subscriber: the claim itself times out (${String(received.error)})`);

    const other = new RedisStore({ client });
    const pending = settle(other.coordinator.claim([key('cold2')], 2000)); // its subscriber is mid-connect
    const close = await settle(other.close());
    t.notOk(close.hung, 'close() of a store whose subscriber is connecting settles');
    t.ok(close.ms < 3000, `close() took ${close.ms.toFixed(0)} ms (< 3 s)`);
    const p = await pending;
    t.notOk(p.hung, 'the claim that was waiting on that subscriber settles too');
    t.type(p.error, StoreError, 'and rejects typed');
    const closeFirst = await settle(store.close());
    t.ok(!closeFirst.hung && closeFirst.ms < 3000, `store.close() on a stopped Redis took ${closeFirst.ms.toFixed(0)} ms`);
  } finally {
    redis.signal('SIGCONT');
  }
  // After the back-off a claim tries again and, with Redis back, works.
  await new Promise((r) => setTimeout(r, 1200));
  const later = await settle(store.coordinator.claim([key('cold')], 2000));
  t.equal(later.error, undefined, 'a later claim reconnects');
  t.notOk(later.hung);
  await store.close();
});

t.test('a subscriber that cannot authenticate never hangs a claim, and stops retrying when abandoned', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const setup = await redis.client();
  await setup.configSet('requirepass', 'first-pass');
  const mk = async (password: string): Promise<TestRedisClient> => {
    const c = createClient({ url: `redis://:${password}@127.0.0.1:${redis.port}`, disableOfflineQueue: true, socket: { reconnectStrategy: (n) => Math.min(50 * n, 500) } });
    c.on('error', () => {});
    await c.connect();
    t.teardown(() => c.disconnect().catch(() => {}));
    return c;
  };
  const client = await mk('first-pass');
  const admin = await mk('first-pass');
  // The connected clients stay authenticated; every new connection made with the old password now fails AUTH.
  await admin.configSet('requirepass', 'second-pass');
  const before = await connectedClients(admin);

  const store = new RedisStore({ client });
  const claim = await settle(store.coordinator.claim([key('auth')], 2000));
  t.notOk(claim.hung, 'the claim settles (it used to wait forever)');
  // The main client is fine: the claim goes on without the subscriber (waits on the key would poll).
  t.same(claim.value, ['claimed'], `a broken subscriber does not fail the claim: ${String(claim.error ?? '')}`);
  t.ok(claim.ms < 3000, `within ${claim.ms.toFixed(0)} ms (< 3 s)`);
  const close = await settle(store.close());
  t.ok(!close.hung && close.ms < 3000, `close() took ${close.ms.toFixed(0)} ms`);
  // node-redis retries a failed AUTH forever (every 50-500 ms here) unless the attempt is stopped.
  await new Promise((r) => setTimeout(r, 300));
  const accepted = await connectionsReceived(admin);
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(await connectionsReceived(admin), accepted, 'the abandoned subscriber stopped reconnecting');
  t.equal(await connectedClients(admin), before, 'no subscriber connection left behind');

  // Fixed configuration: after the back-off, a claim connects.
  await admin.configSet('requirepass', 'first-pass');
  const store2 = new RedisStore({ client });
  t.same(await store2.coordinator.claim([key('auth', 1)], 2000), ['claimed'], 'a fresh store works once the password is right');
  await store2.close();

  // A client that needs no password (connected before requirepass was set): its subscriber connects, but its
  // SUBSCRIBE is refused (NOAUTH). That fails the claim typed, with the reply as the cause.
  await admin.configSet('requirepass', 'third-pass');
  const store3 = new RedisStore({ client: setup });
  const noauth = await settle(store3.coordinator.claim([key('auth', 2)], 2000));
  t.notOk(noauth.hung);
  // Its own connection is still authenticated: the claim goes on without the subscriber.
  t.same(noauth.value, ['claimed'], `a refused SUBSCRIBE does not fail the claim: ${String(noauth.error ?? '')}`);
  // And a wait on a key whose release cannot be heard polls: it ends early instead of sleeping the whole timeout.
  const wait = await settle(store3.coordinator.waitForRelease([key('auth', 2)], 10_000));
  t.ok(!wait.hung && wait.ms < 5000, `a deaf wait polls (${wait.ms.toFixed(0)} ms, not 10 000)`);
  await store3.close();
  await admin.configSet('requirepass', '');
});

t.test('deleteByPrefix has deadlines and typed errors: stalled and killed Redis', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const store = new RedisStore({ client });
  const one = new Uint8Array([1]);
  await store.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `inv:${i}`, value: one, ttlMs: null })));

  redis.signal('SIGSTOP');
  try {
    const stalled = await settle(store.deleteByPrefix('inv:'));
    t.notOk(stalled.hung, 'deleteByPrefix settles on a stopped Redis');
    t.type(stalled.error, StoreTimeoutError, `it rejects with StoreTimeoutError (${String(stalled.error)})`);
    t.ok(stalled.ms < 3000, `within ${stalled.ms.toFixed(0)} ms (< 3 s)`);
  } finally {
    redis.signal('SIGCONT');
  }
  t.ok(await eventually(async () => (await store.deleteByPrefix('inv:').catch(() => -1)) >= 0), 'works again after SIGCONT');

  redis.signal('SIGKILL');
  const killed = await settle(store.deleteByPrefix('inv:'));
  t.notOk(killed.hung, 'deleteByPrefix settles on a killed Redis');
  t.type(killed.error, StoreError, `it rejects with a StoreError, not a raw node-redis error (${String(killed.error)})`);
  t.match((killed.error as StoreError | undefined)?.code, /^ERR_RANGECACHE_STORE/, 'with a store error code');
  const later = await settle(store.deleteByPrefix('inv:'));
  t.type(later.error, StoreError, 'so does the next call, while the client reconnects');
});

t.test('no listener leak: many stores on one client leave its listeners as they were', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const admin = await redis.client();
  const base = client.listenerCount('end');
  const baseClients = await connectedClients(admin);
  for (let i = 0; i < 100; i++) {
    const store = new RedisStore({ client });
    t.ok(store); // constructed, never used, never closed: must not add listeners either
  }
  t.equal(client.listenerCount('end'), base, '100 unused stores add no listener');
  for (let i = 0; i < 100; i++) {
    const store = new RedisStore({ client });
    const [r] = await store.coordinator.claim([key('leak', i)], 1000); // opens its subscriber
    if (r !== 'claimed') t.fail(`claim ${i}: ${r}`);
    await store.close();
  }
  t.equal(client.listenerCount('end'), base, '100 stores that subscribed and closed leave the count flat');
  t.ok(await eventually(async () => (await connectedClients(admin)) === baseClients), 'and every subscriber connection is closed');

  // The owner closing the client closes the subscriber of a store that was never closed.
  const own = await redis.client();
  const ownBase = own.listenerCount('end');
  const store = new RedisStore({ client: own });
  await store.coordinator.claim([key('leak', 'own')], 1000);
  t.equal(await connectedClients(admin), baseClients + 2, 'the client and its subscriber');
  await own.disconnect();
  t.ok(await eventually(async () => (await connectedClients(admin)) === baseClients), 'both gone after the owner disconnects the client');
  t.equal(own.listenerCount('end'), ownBase, 'and the store took its listener off');
});

t.test('close() of a store with a live subscriber on a stopped Redis is bounded', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const store = new RedisStore({ client });
  t.same(await store.coordinator.claim([key('live')], 2000), ['claimed']);
  redis.signal('SIGSTOP');
  try {
    const close = await settle(store.close());
    t.ok(!close.hung && close.ms < 3000, `close() took ${close.ms.toFixed(0)} ms`);
  } finally {
    redis.signal('SIGCONT');
  }
});
