/**
 * Timeouts measure failure, not size (issues 8 and 9), against real redis-server processes: big calls over a slow
 * but healthy link or on a loaded machine succeed with the default options, while a paused Redis (SIGSTOP,
 * CLIENT PAUSE ALL, DEBUG SLEEP) still fails small calls quickly; a timed-out write says when it has settled.
 */
import t from 'tap';
import { createClient } from 'redis';
import { StoreTimeoutError } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { commandCalls, cpuHogs, startRedis, startSlowLink } from '@rangecache/test-support';
import type { RedisServerHandle } from '@rangecache/test-support';

const MiB = 1024 * 1024;
// Timers of the stores are unref'd (they must not keep a process alive), so the test keeps itself alive.
const keepAlive = setInterval(() => {}, 1000);
t.teardown(() => clearInterval(keepAlive));

/** `n` values of `size` bytes, each with its own pattern, so that misplaced bytes show. */
function values(prefix: string, n: number, size: number): { key: string; value: Uint8Array; ttlMs: number }[] {
  return Array.from({ length: n }, (_, i) => {
    const value = new Uint8Array(size);
    for (let j = 0; j < size; j += 4096) value[j] = (i * 7 + j / 4096) & 0xff;
    value[size - 1] = i & 0xff;
    return { key: `${prefix}:${i}`, value, ttlMs: 120_000 };
  });
}

function sameBytes(got: readonly (Uint8Array | null)[], want: readonly { value: Uint8Array }[]): boolean {
  return got.length === want.length && got.every((v, i) => v !== null && Buffer.compare(Buffer.from(v.buffer, v.byteOffset, v.byteLength), Buffer.from(want[i]!.value)) === 0);
}

/** Rejects after `ms` (so a hang fails the test instead of stalling it); the timer does not keep the process alive. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/** The time `p` takes to settle, in ms, and how it settled. */
async function timed(p: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const t0 = performance.now();
  try {
    await p;
    return { ms: performance.now() - t0, error: undefined };
  } catch (e) {
    return { ms: performance.now() - t0, error: e };
  }
}

/** Waits until the server answers PING again (after a pause or a DEBUG SLEEP). */
async function waitForServer(redis: RedisServerHandle): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = createClient({ url: redis.url, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
    c.on('error', () => {});
    try {
      await c.connect();
      await within(c.ping(), 2000, 'PING');
      await c.disconnect();
      return;
    } catch (e) {
      await c.disconnect().catch(() => {});
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

t.test('budgets grow with the bytes moved: a slow but healthy link is not a failure', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const link = await startSlowLink(redis.port, 32 * MiB); // 16 MiB takes >= 500 ms, twice the 250 ms base
  t.teardown(() => link.close());
  const client = createClient({ url: `redis://127.0.0.1:${link.port}`, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.disconnect().catch(() => {}));
  const admin = await redis.client();
  const store = new RedisStore({ client }); // default options: 250 ms + 100 ms per MiB

  const entries = values('link', 16, MiB);
  await admin.configResetStat();
  const write = await timed(store.setMany(entries)); // 16 MiB up the link in one MULTI
  t.equal(write.error, undefined, `16 MiB write over a 32 MiB/s link succeeded (${write.ms.toFixed(0)} ms)`);
  const expectedBytes = entries.map((e) => e.value.byteLength);
  const read = await timed(store.getMany(entries.map((e) => e.key), { expectedBytes }).then((got) => {
    t.ok(sameBytes(got, entries), 'every value byte-exact');
  }));
  t.equal(read.error, undefined, `16 MiB MGET over the link succeeded (${read.ms.toFixed(0)} ms)`);
  t.ok(read.ms >= 400, `the link really is slow: ${read.ms.toFixed(0)} ms for 16 MiB (more than the 250 ms base budget)`);
  t.equal((await commandCalls(admin))['mget'], 1, '16 MiB expected: one MGET part');

  // The same read without the per-MiB allowance: through node-redis (which shows no bytes before the whole reply),
  // a fixed 250 ms budget declares the healthy read failed; on the store's own lookup connection, bytes still
  // arriving are progress, so it succeeds.
  const fixed = new RedisStore({ client, timeoutPerMiBMs: 0, ownLookupConnection: false });
  const old = await timed(fixed.getMany(entries.map((e) => e.key), { expectedBytes }));
  t.type(old.error, StoreTimeoutError, 'through node-redis, with a fixed 250 ms budget the same healthy read is declared failed');
  const streaming = new RedisStore({ client, timeoutPerMiBMs: 0 });
  t.teardown(() => streaming.close());
  const progressing = await timed(streaming.getMany(entries.map((e) => e.key), { expectedBytes }));
  t.equal(progressing.error, undefined, `on its own connection, bytes arriving keep a 250 ms budget alive: succeeded in ${progressing.ms.toFixed(0)} ms`);
});

t.test('a Redis that stalls in the middle of a big reply still fails the call, one budget after its last byte', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const link = await startSlowLink(redis.port, 32 * MiB);
  t.teardown(() => link.close());
  const client = createClient({ url: `redis://127.0.0.1:${link.port}`, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.disconnect().catch(() => {}));
  const store = new RedisStore({ client, timeoutPerMiBMs: 0 }); // 250 ms, with no allowance for the 16 MiB
  t.teardown(() => store.close());
  const entries = values('stall', 16, MiB);
  const writer = new RedisStore({ client }); // the default allowance: 16 MiB up a 32 MiB/s link takes 500 ms
  t.teardown(() => writer.close());
  await writer.setMany(entries);
  link.stallRepliesAfter(4 * MiB); // a quarter of the reply arrives, then nothing
  const read = await timed(within(store.getMany(entries.map((e) => e.key), { expectedBytes: entries.map((e) => e.value.byteLength) }), 20_000, 'the stalled read'));
  t.type(read.error, StoreTimeoutError, `the stalled read failed with a StoreTimeoutError (${read.ms.toFixed(0)} ms)`);
  t.ok(read.ms < 5000, `within ${read.ms.toFixed(0)} ms: bytes that stopped are no progress (the cap would be 20 x 250 ms)`);
  t.equal(store.lookupCounters !== undefined, true, 'the read went over the store\'s own lookup connection');
});

t.test('a 32 MiB write and a 32 MiB read succeed on a loaded machine with the default options', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const admin = await redis.client();
  const store = new RedisStore({ client });
  const entries = values('load', 32, MiB);
  const hogs = cpuHogs(2);
  t.teardown(() => hogs.stop());
  await new Promise((r) => setTimeout(r, 200)); // let the hogs get going
  for (let round = 0; round < 3; round++) {
    await admin.configResetStat();
    const write = await timed(store.setMany(entries));
    t.equal(write.error, undefined, `round ${round}: 32 MiB write in one MULTI succeeded (${write.ms.toFixed(0)} ms)`);
    let got: (Uint8Array | null)[] = [];
    const read = await timed(store.getMany(entries.map((e) => e.key), { expectedBytes: entries.map((e) => e.value.byteLength) }).then((v) => { got = v; }));
    t.equal(read.error, undefined, `round ${round}: 32 MiB read succeeded (${read.ms.toFixed(0)} ms)`);
    t.ok(sameBytes(got, entries), `round ${round}: byte-exact`);
    const calls = await commandCalls(admin);
    t.equal(calls['mget'], 2, `round ${round}: 32 MiB expected: two MGET parts of 16 MiB`);
    t.equal(calls['exec'], 1, `round ${round}: one MULTI/EXEC`);
  }
});

t.test('a paused Redis still fails small calls quickly: SIGSTOP, CLIENT PAUSE ALL, DEBUG SLEEP', async (t) => {
  const redis = await startRedis({ ownProcess: true, extraArgs: ['--enable-debug-command', 'yes'] });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const store = new RedisStore({ client }); // default options
  await store.setMany([{ key: 'ns:small', value: new Uint8Array(100).fill(7), ttlMs: null }]);
  // Warm the subscriber, so that the claims below test the claim script's own deadline.
  t.same(await store.coordinator.claim(['rangecache:v2:ns:x:1'], 5000), ['claimed']);
  await store.coordinator.release(['rangecache:v2:ns:x:1']);

  const checkStalled = async (how: string): Promise<void> => {
    const get = await timed(store.getMany(['ns:small'], { expectedBytes: [100] }));
    t.type(get.error, StoreTimeoutError, `${how}: getMany rejects with StoreTimeoutError`);
    t.ok(get.ms < 3000, `${how}: getMany failed in ${get.ms.toFixed(0)} ms (< 3 s)`);
    const claim = await timed(store.coordinator.claim(['rangecache:v2:ns:x:2'], 5000));
    t.type(claim.error, StoreTimeoutError, `${how}: claim rejects with StoreTimeoutError`);
    t.ok(claim.ms < 3000, `${how}: claim failed in ${claim.ms.toFixed(0)} ms (< 3 s)`);
    const release = await timed(store.coordinator.release(['rangecache:v2:ns:x:2']));
    t.type(release.error, StoreTimeoutError, `${how}: release rejects with StoreTimeoutError`);
  };

  redis.signal('SIGSTOP');
  try {
    await checkStalled('SIGSTOP');
  } finally {
    redis.signal('SIGCONT');
  }
  await waitForServer(redis);

  const admin = await redis.client();
  await admin.sendCommand(['CLIENT', 'PAUSE', '8000', 'ALL']);
  await checkStalled('CLIENT PAUSE ALL');
  await waitForServer(redis);

  const sleeper = await redis.client();
  const sleeping = sleeper.sendCommand(['DEBUG', 'SLEEP', '8']);
  sleeping.catch(() => {});
  await new Promise((r) => setTimeout(r, 100)); // the server is inside DEBUG SLEEP now
  await checkStalled('DEBUG SLEEP');
  await within(sleeping, 30_000, 'DEBUG SLEEP');
  await waitForServer(redis);
  t.same((await store.getMany(['ns:small']))[0]?.byteLength, 100, 'works again once Redis answers');
});

t.test('a timed-out write carries `settled`, which resolves once Redis has answered', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const store = new RedisStore({ client });
  const entries = values('settle', 4, MiB);
  redis.signal('SIGSTOP');
  let error: unknown;
  try {
    error = (await timed(store.setMany(entries))).error;
    t.type(error, StoreTimeoutError, 'the write times out while Redis is stopped');
    t.match((error as Error).message, /MULTI\/EXEC did not answer within 650 ms/, 'its budget was 250 ms + 4 × 100 ms');
    const settled = (error as StoreTimeoutError).settled;
    t.type(settled, Promise, 'it carries a settled promise');
    let done = false;
    void settled?.then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 500));
    t.equal(done, false, 'not settled while Redis is still stopped: node-redis still holds the bytes');
  } finally {
    redis.signal('SIGCONT');
  }
  await within((error as StoreTimeoutError).settled ?? Promise.reject(new Error('no settled')), 20_000, 'settled');
  t.pass('settled resolved after SIGCONT');
  const got = await store.getMany(entries.map((e) => e.key), { expectedBytes: entries.map((e) => e.value.byteLength) });
  t.ok(sameBytes(got, entries), 'the late write did land, byte-exact');
});

t.test('a write that timed out on a stalled Redis does not stretch the budget of the calls after it', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const store = new RedisStore({ client });
  t.teardown(() => store.close());
  await store.setMany(values('warmup', 1, 1024)); // the connection is open and answering
  redis.signal('SIGSTOP');
  t.teardown(() => redis.signal('SIGCONT'));
  // 16 MiB, so its budget is 250 ms + 16 x 100 ms; it times out, and Redis will not answer it while stopped.
  const write = await timed(within(store.setMany(values('big', 16, MiB)), 30_000, 'the big write'));
  t.type(write.error, StoreTimeoutError, `the 16 MiB write timed out (${write.ms.toFixed(0)} ms)`);
  // A small call on the same connection afterwards: the timed-out write's bytes are no longer counted ahead of it.
  const small = await timed(within(store.deleteMany(['big:0']), 30_000, 'the small call'));
  t.type(small.error, StoreTimeoutError, 'the small call after it times out too');
  t.ok(small.ms < 1500, `within ${small.ms.toFixed(0)} ms: one base budget, not the write's 1.85 s again`);
});
