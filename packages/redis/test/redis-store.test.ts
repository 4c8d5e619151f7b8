import t from 'tap';
import { ConfigError, IntegrityStore, StoreTimeoutError } from '@rangecache/core';
import type { CacheStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { commandCalls, startRedis } from '@rangecache/test-support';

// Bytes, TTLs, SCAN invalidation, a client that is not ready and more run on node-redis 4, 5 and 6 in store-suite.ts;
// this file holds what does not depend on the client's major: the timeout back-off, batch splitting by expected
// sizes, IntegrityStore's size hints and option checks (on node-redis 6).
t.test('RedisStore against a real redis-server', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const client = await redis.client();
  const store = new RedisStore({ client: client });

  t.test('a paused server makes operations fail with StoreTimeoutError within the bound', async (t) => {
    await store.setMany([{ key: 'bin:ff', value: new Uint8Array(1000).fill(0xff), ttlMs: null }]);
    const quick = new RedisStore({ client: client, commandTimeoutMs: 150 });
    redis.signal('SIGSTOP');
    const t0 = Date.now();
    try {
      await t.rejects(quick.getMany(['bin:ff']), /MGET did not answer within 150 ms/);
      // After a timeout the next call gets twice the time (as TCP backs off its retransmission timer), up to 4x.
      await t.rejects(quick.setMany([{ key: 'x', value: new Uint8Array(1), ttlMs: null }]), /MULTI\/EXEC did not answer within 300 ms/);
      await t.rejects(quick.getMany(['bin:ff']), /within 600 ms/);
      await t.rejects(quick.getMany(['bin:ff']), /within 600 ms/, 'the back-off is capped: a stall is still caught');
      await t.rejects(quick.getMany(['bin:ff']), StoreTimeoutError);
    } finally {
      redis.signal('SIGCONT');
    }
    t.ok(Date.now() - t0 < 15_000, 'all failed well before anyone would notice a hang (bound generous for a loaded machine)');
    t.equal((await store.getMany(['bin:ff']))[0]?.length, 1000, 'works again once resumed');
    const t1 = performance.now();
    t.equal((await quick.getMany(['bin:ff']))[0]?.length, 1000, 'the store that timed out works again too');
    const measured = performance.now() - t1;
    redis.signal('SIGSTOP');
    try {
      const e = await quick.getMany(['bin:ff']).then(() => undefined, (err: unknown) => err);
      // Reset, the budget is max(150, about 3 x that round trip); still backed off, it would be 4 x that, at least 600.
      const bound = Math.max(600, 4 * measured);
      t.ok(e instanceof StoreTimeoutError && e.ms < bound, `a success resets the back-off (the next budget follows the measured round trip of ${measured.toFixed(0)} ms: ${(e as StoreTimeoutError).ms.toFixed(0)} ms < ${bound.toFixed(0)})`);
    } finally {
      redis.signal('SIGCONT');
    }
  });

  t.test('large batches are split into parts (64 keys or 16 MiB per MGET, 32 MiB per MULTI) and stay byte-exact', async (t) => {
    const admin = await redis.client();
    const entries = Array.from({ length: 200 }, (_, i) => ({ key: `big:${i}`, value: new Uint8Array(256 * 1024).fill(i % 251), ttlMs: 60_000 }));
    await admin.configResetStat();
    await store.setMany(entries);
    // With the expected lengths each 16 MiB part gets 250 ms + 1.6 s (it used to get 250 ms, and flaked in CI).
    const got = await store.getMany(entries.map((e) => e.key), { expectedBytes: entries.map((e) => e.value.byteLength) });
    const calls = await commandCalls(admin);
    t.equal(calls['exec'], 2, '50 MiB of writes: two MULTI/EXEC');
    t.equal(calls['mget'], 4, '200 keys of 256 KiB: four MGETs (64 keys = 16 MiB each)');
    t.equal(got.length, 200);
    t.ok(got.every((v, i) => v !== null && v.byteLength === 256 * 1024 && v[0] === i % 251 && v[v.byteLength - 1] === i % 251), 'every value in order');

    const mib = Array.from({ length: 40 }, (_, i) => ({ key: `mib:${i}`, value: new Uint8Array(1 << 20).fill(i), ttlMs: 60_000 }));
    await store.setMany(mib);
    await admin.configResetStat();
    const expectedBytes = mib.map((e) => e.value.byteLength);
    expectedBytes[3] = 0; // unknown: counts as small
    const back = await store.getMany(mib.map((e) => e.key), { expectedBytes });
    t.equal((await commandCalls(admin))['mget'], 3, '40 MiB expected: MGETs of at most 16 MiB (17, 16 and 7 keys)');
    t.ok(back.every((v, i) => v !== null && v.byteLength === 1 << 20 && v[0] === i && v[v.byteLength - 1] === i), 'every value in order');
  });

  t.test('IntegrityStore passes expectedBytes on, plus its tag', async (t) => {
    const seen: (readonly number[] | undefined)[] = [];
    const recording: CacheStore = {
      getMany: (keys, options) => { seen.push(options?.expectedBytes); return store.getMany(keys, options); },
      setMany: (e) => store.setMany(e),
      deleteMany: (k) => store.deleteMany(k),
      deleteByPrefix: (p) => store.deleteByPrefix(p),
    };
    const signed = new IntegrityStore(recording, { secret: 'a secret of 16+ bytes' });
    await signed.setMany([{ key: 'sig:a', value: new Uint8Array(1000).fill(3), ttlMs: 60_000 }]);
    const [v, none] = await signed.getMany(['sig:a', 'sig:none'], { expectedBytes: [1000, 0] });
    t.equal(v?.byteLength, 1000, 'the value verifies');
    t.equal(none, null);
    t.same(seen.at(-1), [1032, 0], 'known lengths grow by the 32-byte tag, unknown stay 0');
    await signed.getMany(['sig:a']);
    t.equal(seen.at(-1), undefined, 'no hint in, no hint out');
  });

  t.test('constructor validates its options', async (t) => {
    t.throws(() => new RedisStore({} as never), ConfigError);
    t.throws(() => new RedisStore({ client: {} as never }), /not a node-redis v4, v5 or v6 client/);
    t.throws(() => new RedisStore({ client: client, commandTimeoutMs: 0 }), /commandTimeoutMs/);
    for (const bad of [1e12, 600_001, -1, Number.NaN, Infinity, '250' as unknown as number]) {
      t.throws(() => new RedisStore({ client: client, commandTimeoutMs: bad }), { name: 'ConfigError', message: /commandTimeoutMs/ }, `commandTimeoutMs ${String(bad)} refused`);
    }
    for (const bad of [-1, 60_001, 1e12, Number.NaN]) {
      t.throws(() => new RedisStore({ client: client, timeoutPerMiBMs: bad }), { name: 'ConfigError', message: /timeoutPerMiBMs/ }, `timeoutPerMiBMs ${String(bad)} refused`);
    }
    const s = new RedisStore({ client: client, commandTimeoutMs: 600_000, timeoutPerMiBMs: 0 });
    t.equal(s.commandTimeoutMs, 600_000);
    t.equal(s.timeoutPerMiBMs, 0, '0 turns the per-MiB allowance off');
    t.equal(store.timeoutPerMiBMs, 100, 'default: 100 ms per MiB (10 MiB/s)');
    t.equal(store.commandTimeoutMs, 250, 'default base: 250 ms');
  });
});
