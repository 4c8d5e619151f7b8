/**
 * RedisCoordinator's cold-path and liveness API (issue 9) against real redis-server processes: lookupAndClaim (one
 * EVAL, binary-safe values up to 256 KiB per script and `landed` past it, leases, waiter counts), extend (a live
 * holder keeps its lease, a dead one loses it), and waitForRelease naming the released keys (once per message,
 * none lost between two waits, all of them on a reconnect).
 */
import t, { type Test } from 'tap';
import { createClient } from 'redis';
import { IntoStop, StoreTimeoutError } from '@rangecache/core';
import type { FetchCoordinator } from '@rangecache/core';
import { LEASE_BACKSTOP_PERIODS, RedisStore } from '@rangecache/redis';
import { commandCalls, cpuHogs, startRedis, startSlowLink } from '@rangecache/test-support';
import type { TestRedisClient } from '@rangecache/test-support';
import { eventually, sleep, within } from './helpers.js';

const MiB = 1024 * 1024;
// Timers of the stores are unref'd (they must not keep a process alive), so the test keeps itself alive.
const keepAlive = setInterval(() => {}, 1000);
t.teardown(() => clearInterval(keepAlive));

const key = (ns: string, i: number | string = 0): string => `rangecache:v2:${ns}:src:ver:b:${i}`;
const keys = (ns: string, n: number): string[] => Array.from({ length: n }, (_, i) => key(ns, i));

/** The lookupAndClaim of a RedisStore's coordinator (present on RedisCoordinator). */
function lac(store: RedisStore): NonNullable<FetchCoordinator['lookupAndClaim']> {
  const c = store.coordinator;
  if (!c.lookupAndClaim) throw new Error('RedisCoordinator has no lookupAndClaim');
  return c.lookupAndClaim.bind(c);
}

function extendOf(store: RedisStore): NonNullable<FetchCoordinator['extend']> {
  const c = store.coordinator;
  if (!c.extend) throw new Error('RedisCoordinator has no extend');
  return c.extend.bind(c);
}

async function connectedStore(url: string, options: { timeoutPerMiBMs?: number } = {}): Promise<{ store: RedisStore; client: TestRedisClient }> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  return { store: new RedisStore({ client, ...options }), client };
}

/** A redis-server of the test's own, an admin client, and two stores (two coordinators) on it; all closed after `t`. */
async function twoStores(t: Test): Promise<{ redis: Awaited<ReturnType<typeof startRedis>>; admin: TestRedisClient; a: { store: RedisStore; client: TestRedisClient }; b: { store: RedisStore; client: TestRedisClient } }> {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  const a = await connectedStore(redis.url);
  const b = await connectedStore(redis.url);
  t.teardown(async () => { await a.store.close(); await b.store.close(); await a.client.disconnect(); await b.client.disconnect(); });
  return { redis, admin, a, b };
}

/** A value of `size` bytes that holds every byte 0..255 and whose position shows (misplaced bytes would show). */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i + seed * 31 + (i >> 8) * 7) & 0xff;
  return b;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function sameBytes(a: unknown, b: Uint8Array): boolean {
  return isBytes(a) && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

t.test('lookupAndClaim: byte-exact values, claimed (with a lease of ttlMs), busy (counted as a waiter), one EVAL', async (t) => {
  const { admin, a, b } = await twoStores(t);

  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // 0x00..0xFF, invalid UTF-8 included
  const big = pattern(200_000, 3);
  const crlf = Buffer.from('\r\n$-1\r\n*3\r\n:1\r\n\xff\xfe', 'latin1'); // looks like RESP, must stay bytes
  await a.store.setMany([
    { key: key('lac', 'every'), value: every, ttlMs: 60_000 },
    { key: key('lac', 'big'), value: big, ttlMs: 60_000 },
    { key: key('lac', 'crlf'), value: crlf, ttlMs: 60_000 },
    { key: key('lac', 'empty'), value: new Uint8Array(0), ttlMs: 60_000 },
  ]);
  await b.store.coordinator.claim([key('lac', 'held')], 30_000); // b holds a lease on 'held'

  const ttlMs = 5000;
  const ask = [key('lac', 'every'), key('lac', 'free'), key('lac', 'big'), key('lac', 'held'), key('lac', 'crlf'), key('lac', 'empty')];
  await admin.configResetStat();
  const r = await lac(a.store)(ask, ttlMs, { expectedBytes: [256, 256, big.byteLength, 256, crlf.byteLength, 0] });
  const calls = await commandCalls(admin);
  t.equal(calls['eval'], 1, 'one EVAL');
  t.equal(calls['subscribe'], 1, 'the release channel was subscribed (once) before it');
  t.equal(r.length, ask.length, 'one result per key');
  t.ok(Buffer.isBuffer(r[0]), 'a present value comes back as a Buffer');
  t.ok(sameBytes(r[0], every), 'every byte 0..255 is returned exactly');
  t.equal(r[1], 'claimed', 'a free key is claimed');
  t.ok(sameBytes(r[2], big), '200 kB value exact');
  t.equal(r[3], 'busy', 'a key leased by another coordinator is busy');
  t.ok(sameBytes(r[4], crlf), 'a value that looks like RESP is returned exactly');
  t.ok(isBytes(r[5]) && r[5].byteLength === 0, 'an empty stored value is an empty Uint8Array, not a claim');

  const lease = await admin.get(`${key('lac', 'free')}:lease`);
  t.match(lease, new RegExp(`^${(a.store.coordinator as unknown as { owner: string }).owner}:[1-9][0-9]*$`), 'the lease holds this coordinator as owner, and a version');
  const pttl = await admin.pTTL(`${key('lac', 'free')}:lease`);
  const backstop = LEASE_BACKSTOP_PERIODS * ttlMs;
  t.ok(pttl > 0 && pttl <= backstop, `the lease's Redis TTL is its backstop, ${LEASE_BACKSTOP_PERIODS} x ttlMs (${pttl} of ${backstop} ms)`);
  t.ok(pttl > backstop - 3000, 'and was set from ttlMs, not some other duration');
  t.equal(await admin.exists(`${key('lac', 'every')}:lease`), 0, 'a present value takes no lease');
  t.equal(await admin.get(`${key('lac', 'held')}:waiters`), '1', 'busy counts this caller as a waiter');
  t.ok((await admin.pTTL(`${key('lac', 'held')}:waiters`)) > 0, 'the waiter count expires');

  // From b's side, a's fresh claim is busy, and the values are the same bytes.
  const rb = await lac(b.store)(ask, ttlMs);
  t.same(rb.map((v) => (isBytes(v) ? 'value' : v)), ['value', 'busy', 'value', 'busy', 'value', 'value'],
    'the other coordinator: busy on what a claimed (and on its own lease too: a lease is taken once, by SET NX)');
  t.same(await lac(a.store)([], ttlMs), [], 'no keys: no call');

  // Releasing wakes b's wait on what a claimed: the usual cycle works with lookupAndClaim.
  const wait = b.store.coordinator.waitForRelease([key('lac', 'free')], 20_000);
  await a.store.coordinator.writeAndRelease!([{ key: key('lac', 'free'), value: every, ttlMs: 60_000 }]);
  t.same(await within(wait, 20_000, 'waitForRelease'), [key('lac', 'free')], 'the waiter is woken by the write-and-release');
  const after = await lac(b.store)([key('lac', 'free')], ttlMs);
  t.ok(sameBytes(after[0], every), 'and its next lookupAndClaim returns the landed value');
});

t.test('lookupAndClaim: values past 256 KiB per script come back as landed (not through the script); getMany reads them, also over a slow link', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  const huge = pattern(16 * MiB, 5);
  const room = pattern(256 * 1024, 6);
  const [first, second] = [pattern(150_000, 7), pattern(150_000, 8)];
  await admin.set(key('room', 'huge'), huge);
  await admin.set(key('room', 'one'), room);
  await admin.set(key('room', 'first'), first);
  await admin.set(key('room', 'second'), second);
  const link = await startSlowLink(redis.port, 32 * MiB); // 16 MiB takes >= 500 ms: twice the 250 ms base budget
  t.teardown(() => link.close());
  // No allowance per MiB: a script that carried 16 MiB through this link would be declared failed (it was).
  const { store, client } = await connectedStore(`redis://127.0.0.1:${link.port}`, { timeoutPerMiBMs: 0 });
  t.teardown(async () => { await store.close(); await client.disconnect().catch(() => {}); });

  const ask = [key('room', 'huge'), key('room', 'free'), key('room', 'first'), key('room', 'second')];
  const r = await lac(store)(ask, 5000, { expectedBytes: [huge.byteLength, MiB, first.byteLength, second.byteLength] });
  t.equal(r[0], 'landed', 'a 16 MiB value is landed, not returned by the script');
  t.equal(r[1], 'claimed', 'a missing key in the same script is claimed');
  t.ok(sameBytes(r[2], first), 'a 150 kB value fits the 256 KiB the script returns, byte-exact');
  t.equal(r[3], 'landed', 'the next 150 kB would not fit: landed');
  t.equal(await admin.exists(`${key('room', 'huge')}:lease`), 0, 'a landed value takes no lease');
  const [exact] = await lac(store)([key('room', 'one')], 5000, { expectedBytes: [room.byteLength] });
  t.ok(sameBytes(exact, room), 'a value of exactly 256 KiB is returned');

  const t0 = performance.now();
  const [a, b] = await store.getMany([key('room', 'huge'), key('room', 'second')], { expectedBytes: [huge.byteLength, second.byteLength] });
  const ms = performance.now() - t0;
  t.ok(sameBytes(a, huge) && sameBytes(b, second), `getMany reads the landed values byte-exact over the slow link, without a per-MiB allowance (${ms.toFixed(0)} ms: bytes arriving are progress)`);
});

t.test('lookupAndClaim and getMany of landed 16 MiB values succeed on a CPU-loaded machine (default options)', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  const { store, client } = await connectedStore(redis.url);
  t.teardown(async () => { await store.close(); await client.disconnect(); });
  const values = [pattern(16 * MiB, 7), pattern(16 * MiB, 8)];
  await admin.set(key('load', 0), values[0]!);
  await admin.set(key('load', 1), values[1]!);
  await lac(store)([key('load', 'warm')], 5000); // subscriber up before the load starts
  const hogs = cpuHogs(2);
  t.teardown(() => hogs.stop());
  await sleep(200);
  for (let round = 0; round < 4; round++) {
    const i = round % 2;
    const t0 = performance.now();
    const r = await within(lac(store)([key('load', i), key('load', `free${round}`)], 5000, { expectedBytes: [16 * MiB, 16 * MiB] }), 60_000, 'lookupAndClaim');
    t.equal(r[0], 'landed', `round ${round}: the 16 MiB value is landed`);
    t.equal(r[1], 'claimed', `round ${round}: the missing key in the same call is claimed`);
    const [got] = await within(store.getMany([key('load', i)], { expectedBytes: [16 * MiB] }), 60_000, 'getMany');
    t.ok(sameBytes(got, values[i]!), `round ${round}: and read byte-exact (${(performance.now() - t0).toFixed(0)} ms)`);
  }
  await hogs.stop();
});

t.test('lookupAndClaim: batches split at 16 MiB expected (two parts per round trip); a stalled Redis fails within one part\'s budget', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  const { store, client } = await connectedStore(redis.url); // defaults: 250 ms + 100 ms per MiB
  t.teardown(async () => { await store.close(); await client.disconnect().catch(() => {}); });
  const n = 40;
  const ks = keys('split', n);
  const values = ks.map((_, i) => pattern(MiB, i));
  for (let i = 0; i < n; i += 2) await admin.set(ks[i]!, values[i]!); // every other key present
  await lac(store)([key('split', 'warm')], 5000); // subscriber up

  await admin.configResetStat();
  const r = await lac(store)(ks, 30_000, { expectedBytes: ks.map(() => MiB) });
  t.equal((await commandCalls(admin))['eval'], 3, '40 MiB expected: three scripts of at most 16 MiB');
  t.ok(r.every((v, i) => (i % 2 === 0 ? v === 'landed' || sameBytes(v, values[i]!) : v === 'claimed')), 'every value byte-exact or landed, every missing key claimed, in order');
  t.equal(r.filter((v) => v === 'landed').length, 20, 'every 1 MiB value is past the 256 KiB a script returns: landed');

  await admin.configResetStat();
  const cold = keys('split-cold', 32);
  t.same(new Set(await lac(store)(cold, 30_000, { expectedBytes: cold.map(() => MiB) })), new Set(['claimed']), 'a cold 32 MiB batch is claimed');
  t.equal((await commandCalls(admin))['eval'], 2, 'in two scripts (the store sends two parts at once: one round trip)');
  await admin.configResetStat();
  const small = keys('split-small', 500);
  t.same(new Set(await lac(store)(small, 30_000, { expectedBytes: small.map(() => 65536) })), new Set(['claimed']), '500 cold 64 KiB chunks are claimed');
  t.equal((await commandCalls(admin))['eval'], 2, 'in two scripts (16 MiB each at most)');
  await admin.configResetStat();
  const unsized = keys('split-unsized', 100);
  await lac(store)(unsized, 30_000);
  t.equal((await commandCalls(admin))['eval'], 2, 'without sizes: 64 keys per script, as an MGET part');

  // 64 MiB expected, all cold, on a stopped Redis: the first part's budget (250 + 16 × 100 ms) decides, not one
  // budget for the whole batch (250 + 64 × 100 ms).
  redis.signal('SIGSTOP');
  try {
    const stalled = Array.from({ length: 64 }, (_, i) => key('split', 100 + i)); // a channel already subscribed
    const t0 = performance.now();
    const e = await within(lac(store)(stalled, 30_000, { expectedBytes: stalled.map(() => MiB) }).then(() => undefined, (err: unknown) => err), 30_000, 'stalled lookupAndClaim');
    const ms = performance.now() - t0;
    t.type(e, StoreTimeoutError, `a stalled Redis fails the call (${ms.toFixed(0)} ms)`);
    t.equal((e as StoreTimeoutError).operation, 'EVAL lookupAndClaim', 'the script timed out (not the subscriber)');
    // One part's budget is 250 + 16 x 100 ms on a quiet machine; a busy one raises the base with the round trips it
    // measured (RFC 6298), but never to the whole batch's 250 + 64 x 100.
    t.ok((e as StoreTimeoutError).ms < 250 + 64 * 100, `its budget was one part's, not the whole batch's: ${(e as StoreTimeoutError).ms.toFixed(0)} ms`);
    t.ok(ms < 6000, `before a single 64 MiB budget (6650 ms) would have run out: ${ms.toFixed(0)} ms`);
  } finally {
    redis.signal('SIGCONT');
  }
});

t.test('extend: a live holder keeps its lease past its TTL; other owners get false; a lease no longer extended expires', async (t) => {
  const { admin, a, b } = await twoStores(t);

  const leaseMs = 2000; // extended every ~667 ms: only a 2 s stall of this process could let it lapse
  const [k0, k1, k2] = keys('ext', 3) as [string, string, string];
  t.same(await lac(a.store)([k0, k1], leaseMs), ['claimed', 'claimed'], 'a claims k0 and k1');
  t.same(await lac(b.store)([k0, k2], leaseMs), ['busy', 'claimed'], 'b waits on k0 and claims k2');

  t.same(await extendOf(b.store)([k0, k1, k2, key('ext', 'none')], leaseMs), [false, false, true, false],
    'b may extend only its own lease: not a\'s, not a missing one');
  t.same(await extendOf(a.store)([], leaseMs), [], 'no keys: no call');

  // a extends k0 every leaseMs/3 for more than twice a lease; k1 it leaves alone. b checks both each time, as a
  // waiter does: k0 stays a's, k1 b takes over once it has seen it unextended for a lease (over 3 answers or more).
  const ownerA = (a.store.coordinator as unknown as { owner: string }).owner;
  const start = Date.now();
  const results: boolean[] = [];
  const seenByB: { ms: number; k0: unknown; k1: unknown }[] = [];
  while (Date.now() - start < 2.5 * leaseMs) {
    results.push(...(await extendOf(a.store)([k0], leaseMs)));
    const [r0, r1] = await lac(b.store)([k0, k1], leaseMs);
    seenByB.push({ ms: Date.now() - start, k0: r0, k1: r1 });
    await sleep(leaseMs / 3);
  }
  t.ok(results.length >= 3 && results.every(Boolean), `each of ${results.length} extensions answered true`);
  t.match(await admin.get(`${k0}:lease`), new RegExp(`^${ownerA}:`), `k0's lease is alive ${Date.now() - start} ms after it was taken for ${leaseMs} ms`);
  t.ok(seenByB.every((s) => s.k0 === 'busy'), 'b never took over k0, which a extends');
  const takeover = seenByB.findIndex((s) => s.k1 === 'claimed');
  t.ok(takeover >= 2 && seenByB.slice(0, takeover).every((s) => s.k1 === 'busy'),
    `b took over k1 after ${takeover} busy answers (${JSON.stringify(seenByB.map((s) => [s.ms, s.k1]))})`);
  t.ok(takeover >= 0 && seenByB[takeover]!.ms - seenByB[0]!.ms >= leaseMs, 'and not before it had watched it for a lease');
  t.same(await extendOf(a.store)([k1], leaseMs), [false], 'a\'s extension of k1 now answers false');
  t.ok(await admin.exists(`${k0}:waiters`), 'k0\'s waiter count lives as long as the extended lease');

  // b, waiting since before the original TTL ran out, is still woken by the release (its waiter count was kept).
  const wait = b.store.coordinator.waitForRelease([k0], 20_000);
  await a.store.coordinator.release([k0]);
  t.same(await within(wait, 20_000, 'waitForRelease'), [k0], 'the release of an extended lease still wakes its old waiter');

  // A dead holder nobody waits on: Redis drops its lease after the backstop, and another process can claim it.
  const shortMs = 300;
  const [again] = await lac(a.store)([key('ext', 'dead')], shortMs);
  t.equal(again, 'claimed');
  t.same(await extendOf(a.store)([key('ext', 'dead')], shortMs), [true]);
  const pttl = await admin.pTTL(`${key('ext', 'dead')}:lease`);
  t.ok(pttl > shortMs && pttl <= LEASE_BACKSTOP_PERIODS * shortMs, `an extension sets the backstop TTL (${pttl} ms)`);
  const gone = await eventually(async () => (await admin.exists(`${key('ext', 'dead')}:lease`)) === 0, 15_000);
  t.ok(gone, 'a lease that is no longer extended expires');
  t.same(await lac(b.store)([key('ext', 'dead')], shortMs), ['claimed'], 'and another process can claim it');
  t.same(await extendOf(a.store)([key('ext', 'dead')], shortMs), [false], 'the old holder\'s extension now answers false');
});

t.test('extend goes around the holder\'s own big write: the lease is kept while 16 MiB crawl to Redis on the client\'s connection', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  // 4 MiB/s per connection: the write takes about 4 s on the client's connection; the store's own is free.
  const link = await startSlowLink(redis.port, 4 * MiB);
  t.teardown(() => link.close());
  const a = await connectedStore(`redis://127.0.0.1:${link.port}`, { timeoutPerMiBMs: 2000 });
  t.teardown(async () => { await a.store.close(); await a.client.disconnect(); });
  t.ok(a.store.ownLookupConnection, 'the store has a connection of its own');
  const leaseMs = 1000;
  const k = key('around', 0);
  t.same(await lac(a.store)([k], leaseMs), ['claimed'], 'the lease is taken');
  let written = false;
  const write = a.store.setMany([{ key: key('around', 1), value: Buffer.alloc(16 * MiB, 3), ttlMs: 60_000 }]).then(() => { written = true; });
  const start = Date.now();
  const answers: boolean[] = [];
  while (Date.now() - start < 2.5 * leaseMs) {
    answers.push(...(await extendOf(a.store)([k], leaseMs)));
    await sleep(leaseMs / 3);
  }
  t.notOk(written, 'the write was still on its way');
  t.ok(answers.length >= 3 && answers.every(Boolean), `each of ${answers.length} extensions answered true meanwhile`);
  t.match(await admin.get(`${k}:lease`), new RegExp(`^${(a.store.coordinator as unknown as { owner: string }).owner}:`),
    `the lease is alive ${Date.now() - start} ms later, past twice its ${leaseMs} ms`);
  await write;
  t.equal(await admin.strLen(key('around', 1)), 16 * MiB, 'and the write landed');
});

t.test('a Redis stalled for twice a lease does not cost a live holder its lease; a holder that stops extending is taken over', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => { redis.signal('SIGCONT'); return redis.stop(); });
  const admin = await redis.client();
  const a = await connectedStore(redis.url);
  const b = await connectedStore(redis.url);
  t.teardown(async () => { await a.store.close(); await b.store.close(); await a.client.disconnect(); await b.client.disconnect(); });
  const ownerA = (a.store.coordinator as unknown as { owner: string }).owner;
  const ownerB = (b.store.coordinator as unknown as { owner: string }).owner;

  const leaseMs = 1000;
  const k = key('stalled', 0);
  t.same(await lac(a.store)([k], leaseMs), ['claimed'], 'a claims the key');
  // a is the holder: it extends every third of a lease, as the origin loader does (a stalled Redis fails some calls).
  let extending = true;
  const extender = (async () => {
    while (extending) {
      await extendOf(a.store)([k], leaseMs).catch(() => {});
      await sleep(leaseMs / 3);
    }
  })();
  // b is a waiter, as the fleet stage is: it waits half a lease, then asks again; a claim that times out may still
  // be run by Redis later, so who holds the lease is read from Redis itself.
  let waiting = true;
  const claims: string[] = [];
  const waiter = (async () => {
    while (waiting) {
      await b.store.coordinator.waitForRelease([k], leaseMs / 2);
      if (!waiting) break;
      try {
        const [r] = await lac(b.store)([k], leaseMs);
        claims.push(String(r));
        if (r === 'claimed') break;
      } catch { claims.push('timeout'); }
    }
  })();
  t.same(await lac(b.store)([k], leaseMs), ['busy'], 'b finds it busy');
  await sleep(leaseMs / 2);
  redis.signal('SIGSTOP');
  await sleep(2 * leaseMs); // Redis's clock runs on; it answers nobody, extensions included
  redis.signal('SIGCONT');
  await sleep(3 * leaseMs); // a goes on extending; b goes on checking
  const holder = await admin.get(`${k}:lease`);
  t.ok(holder?.startsWith(`${ownerA}:`), `a still holds the lease after the stall (holder ${holder === null ? 'none' : holder.startsWith(`${ownerB}:`) ? 'b' : holder}; b saw ${claims.join(', ')})`);
  t.notOk(claims.includes('claimed'), 'b never took it over');

  // a stops extending, as if it had died: b takes the lease over after watching it unextended for a lease or so.
  extending = false;
  await extender;
  const stopped = Date.now();
  const taken = await eventually(async () => (await admin.get(`${k}:lease`))?.startsWith(`${ownerB}:`) === true, 15_000);
  const tookMs = Date.now() - stopped;
  t.ok(taken, `b took the lease over ${tookMs} ms after a's last extension`);
  t.ok(tookMs >= leaseMs * 0.6, `not before it had gone unextended for about a lease (${tookMs} ms, lease ${leaseMs} ms)`);
  waiting = false;
  await waiter;
  t.same(await extendOf(a.store)([k], leaseMs), [false], 'a\'s extension now answers false');
  t.same(await extendOf(b.store)([k], leaseMs), [true], 'b\'s answers true');
});

/** A Redis of its own, an admin client straight to it, and a store whose connections all go through a 1 MiB/s link. */
async function overSlowLink(t: Test): Promise<{ admin: TestRedisClient; a: { store: RedisStore; client: TestRedisClient } }> {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const admin = await redis.client();
  const link = await startSlowLink(redis.port, MiB);
  t.teardown(() => link.close());
  const a = await connectedStore(`redis://127.0.0.1:${link.port}`, { timeoutPerMiBMs: 10_000 });
  t.teardown(async () => { await a.store.close(); await a.client.disconnect(); });
  return { admin, a };
}

/** The commands Redis ran since SLOWLOG was reset with a threshold of 0, oldest first (Redis 7.0 logs a script's own calls too). */
async function slowlogCommands(admin: TestRedisClient): Promise<string[][]> {
  const log = (await admin.sendCommand(['SLOWLOG', 'GET', '1000'])) as [number, number, number, Buffer[] | string[]][];
  return log.reverse().map((e) => e[3].map(String));
}

t.test('a small landing is a SET and the release script, pipelined on the store\'s own connection: no script copies the value', async (t) => {
  const { admin, a, b } = await twoStores(t);
  t.ok(a.store.ownLookupConnection, 'the store has a connection of its own');
  const value = pattern(64 * 1024, 9);
  const k = key('pipe', 'one');
  t.same(await lac(a.store)([k], 30_000), ['claimed']);
  t.same(await lac(b.store)([k], 30_000), ['busy']);
  const wait = b.store.coordinator.waitForRelease([k], 20_000);

  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
  await admin.sendCommand(['SLOWLOG', 'RESET']);
  await a.store.coordinator.writeAndRelease!([{ key: k, value, ttlMs: 60_000 }]);
  const commands = (await slowlogCommands(admin)).filter((c) => !['SLOWLOG', 'CONFIG'].includes(c[0]!.toUpperCase()));
  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '10000']);
  // (Redis 7.0 logs the commands a script runs too, before the script itself.)
  const evals = commands.filter((c) => c[0]!.toUpperCase() === 'EVAL');
  const sets = commands.filter((c) => c[0]!.toUpperCase() === 'SET');
  t.equal(evals.length, 1, 'one script');
  t.match(evals[0]![1], /^\s*local waited = \{\}/, 'the release script, not the write-and-release one');
  t.equal(evals[0]!.length, 6, 'EVAL script 1 key owner channel: no value among its arguments');
  t.equal(sets.length, 1, 'one SET');
  t.equal(sets[0]![1], k, 'of the landed key');
  t.same(sets[0]!.slice(-2), ['PX', '60000'], 'with its TTL');
  t.ok(commands.indexOf(sets[0]!) < commands.indexOf(evals[0]!), 'before the release');

  t.same(await within(wait, 20_000, 'waitForRelease'), [k], 'the waiter is woken by the release');
  t.ok(sameBytes((await b.store.getMany([k]))[0], value), 'and reads the value, byte-exact');
  t.equal(await admin.exists(`${k}:lease`), 0, 'the lease is gone');
  const pttl = await admin.pTTL(k);
  t.ok(pttl > 50_000 && pttl <= 60_000, `the value expires in its TTL (${pttl} ms)`);

  // A landing Redis refuses (maxmemory reached) rejects, and still releases its lease: waiters need not wait for it.
  const k2 = key('pipe', 'refused');
  t.same(await lac(a.store)([k2], 30_000), ['claimed']);
  await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
  await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '1']);
  const refused = await a.store.coordinator.writeAndRelease!([{ key: k2, value, ttlMs: 60_000 }]).then(() => undefined, (e: unknown) => e);
  await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
  t.match(refused, { name: 'StoreError' }, 'the refused write rejects with a StoreError');
  t.match(String((refused as Error)?.message), /OOM/, 'that names what Redis said');
  t.equal(await admin.exists(k2), 0, 'nothing was stored');
  t.equal(await admin.exists(`${k2}:lease`), 0, 'and the lease was released all the same');
});

t.test('a small landing queued behind a lookup whose caller gives up mid-value is sent again on a new link, not failed', async (t) => {
  // 1 MiB/s each way: the 1 MiB value takes about a second to come back, and the landing waits behind it.
  const { admin, a } = await overSlowLink(t);
  const big = pattern(MiB, 7);
  await admin.set(key('gaveup', 'big'), Buffer.from(big));
  const k = key('gaveup', 'landing');
  t.same(await lac(a.store)([k], 30_000), ['claimed']);
  const stop = new IntoStop();
  const target = new Uint8Array(MiB);
  const lookup = a.store.getMany([key('gaveup', 'big')], { into: [target], intoSignal: stop, expectedBytes: [MiB] }).then(() => 'answered', (e: unknown) => e);
  await sleep(150); // the value is arriving in the caller's memory
  const value = pattern(64 * 1024, 8);
  const written = a.store.coordinator.writeAndRelease!([{ key: k, value, ttlMs: 60_000 }]).then(() => 'written', (e: unknown) => e);
  await sleep(100); // the landing is on the same link, behind the lookup
  stop.abort(); // the caller gives up: the link is dropped
  t.ok(await lookup instanceof Error, 'the given-up lookup rejects (the reader reads it as misses)');
  t.equal(await within(written, 20_000, 'the landing'), 'written', 'the landing did not fail: it went again on a new link');
  t.ok(sameBytes((await a.store.getMany([k]))[0], value), 'its bytes landed, byte-exact');
  t.equal(await admin.exists(`${k}:lease`), 0, 'and its lease was released');
});

t.test('a write goes to Redis once the lookups in flight are answered, so it does not delay them', async (t) => {
  // 1 MiB/s each way: a 200 kB answer takes about 200 ms to come back, a 64 KiB write about 60 ms to go.
  const { admin, a } = await overSlowLink(t);
  const landed = pattern(200_000, 5);
  await admin.set(key('order', 'landed'), Buffer.from(landed));
  const entry = { key: key('order', 'new'), value: pattern(64 * 1024, 6), ttlMs: 60_000 };
  await lac(a.store)([key('order', 'first')], 5000); // the release channel is listened to from now on, as in a reader

  const lookup = lac(a.store)([key('order', 'landed')], 5000, { expectedBytes: [landed.byteLength] });
  await new Promise(setImmediate); // as the origin loader does: the lookup is sent before the write is asked for
  const written = a.store.setMany([entry]);
  const [value] = await lookup;
  const existedAtAnswer = await admin.exists(entry.key);
  await written;
  t.ok(sameBytes(value, landed), 'the lookup answered the landed value, byte-exact');
  t.equal(existedAtAnswer, 0, 'the write had not reached Redis when the lookup was answered: it was sent after it');
  t.ok(sameBytes((await a.store.getMany([entry.key]))[0], entry.value), 'and it landed then, byte-exact');
});

t.test('a lookup goes on the store\'s own connection while it is free, through the client while a big reply crawls there', async (t) => {
  // 1 MiB/s each way: a 1 MiB MGET answer takes about a second on whichever connection carries it.
  const { admin, a } = await overSlowLink(t);
  const small = pattern(100, 7);
  await admin.set(key('route', 'small'), Buffer.from(small));
  const big = pattern(MiB, 8);
  await admin.set(key('route', 'big'), Buffer.from(big));
  await lac(a.store)([key('route', 'first')], 5000); // the release channel is listened to from now on

  const own = a.store.lookupCounters!;
  const before = own.values;
  const [free] = await lac(a.store)([key('route', 'small')], 5000, { expectedBytes: [small.byteLength] });
  t.ok(sameBytes(free, small), 'a landed value comes back inline, byte-exact');
  t.equal(own.values, before + 1, 'it came on the store\'s own connection (its reader counted the value)');

  const order: string[] = [];
  const mget = a.store.getMany([key('route', 'big')], { expectedBytes: [MiB] }).then((v) => { order.push('mget'); return v; });
  await sleep(50); // the MGET is on its way: its answer crawls back for about a second
  const [routed] = await lac(a.store)([key('route', 'small')], 5000, { expectedBytes: [small.byteLength] });
  order.push('lookup');
  t.ok(sameBytes(routed, small), 'the lookup answered, byte-exact');
  t.ok(sameBytes((await mget)[0], big), 'the MGET answered, byte-exact');
  t.same(order, ['lookup', 'mget'], 'the lookup did not wait behind the MGET\'s answer: it went through the client');
  t.equal(own.values, before + 2, 'only the MGET\'s value came on the store\'s own connection');
});

t.test('waitForRelease names exactly the released keys; none is lost between two waits', async (t) => {
  const redis = await startRedis({ ownProcess: true });
  t.teardown(() => redis.stop());
  const a = await connectedStore(redis.url);
  const b = await connectedStore(redis.url);
  t.teardown(async () => { await a.store.close(); await b.store.close(); await a.client.disconnect(); await b.client.disconnect(); });
  const ks = keys('wake', 5);
  const [k0, k1, k2, k3, k4] = ks as [string, string, string, string, string];
  t.same(await lac(a.store)(ks, 30_000), ks.map(() => 'claimed'));
  t.same(await lac(b.store)(ks, 30_000), ks.map(() => 'busy'));

  const first = b.store.coordinator.waitForRelease(ks, 20_000);
  await a.store.coordinator.release([k1, k3]);
  t.same(await within(first, 20_000, 'waitForRelease'), [k1, k3], 'a release of k1 and k3 wakes the waiter with exactly those');

  // k2 is released while b is not waiting (it would be reading k1, k3): its next wait learns of it at once.
  await a.store.coordinator.release([k2]);
  await sleep(200); // the message has arrived
  t.same(await within(b.store.coordinator.waitForRelease([k0, k2, k4], 20_000), 20_000, 'waitForRelease'), [k2],
    'a release seen between two waits is reported by the next one');
  // Checking k2 again (it is free now) clears that, so the next wait does not return at once.
  t.same(await lac(b.store)([k2], 30_000), ['claimed']);
  t.same(await b.store.coordinator.waitForRelease([k0, k2, k4], 300), [], 'a timeout resolves with no keys');

  const controller = new AbortController();
  const aborted = b.store.coordinator.waitForRelease([k0, k4], 20_000, controller.signal);
  controller.abort();
  t.same(await within(aborted, 5000, 'aborted wait'), [], 'an abort resolves with no keys');
  t.same(await within(b.store.coordinator.waitForRelease([k0], 20_000, controller.signal), 5000, 'pre-aborted wait'), [],
    'an already aborted signal resolves at once');

  // Two waits on the same key (two readers sharing one store) are both woken.
  const w1 = b.store.coordinator.waitForRelease([k0], 20_000);
  const w2 = b.store.coordinator.waitForRelease([k0, k4], 20_000);
  await a.store.coordinator.release([k0]);
  t.same(await within(Promise.all([w1, w2]), 20_000, 'two waits'), [[k0], [k0]], 'every wait on the key is woken with it');

  // Existing callers that ignore the value keep working (the type is a superset of void-returning use).
  const ignored: Promise<unknown> = b.store.coordinator.waitForRelease([k4], 20_000);
  await a.store.coordinator.release([k4]);
  await within(ignored, 20_000, 'waitForRelease');
  t.pass('a caller that ignores the value is woken as before');
});

t.test('a release of many keys is published in bounded messages and wakes a waiter once per message, not per key', async (t) => {
  const { redis, admin, a, b } = await twoStores(t);
  const n = 600;
  const ks = keys('many', n);
  t.same(new Set(await lac(a.store)(ks, 30_000)), new Set(['claimed']));
  t.same(new Set(await lac(b.store)(ks, 30_000)), new Set(['busy']));

  // A raw listener on the channel sees the messages themselves.
  const spy = await redis.client();
  const messages: string[] = [];
  await spy.subscribe('rangecache:v2:many:released', (m) => messages.push(m));

  let wakes = 0;
  const seen = new Set<string>();
  let pending = ks;
  const deadline = Date.now() + 20_000;
  const firstWait = b.store.coordinator.waitForRelease(pending, 20_000).then((r) => { wakes++; return r; });
  await admin.configResetStat();
  await a.store.coordinator.release(ks);
  const calls = await commandCalls(admin);
  t.equal(calls['eval'], 1, 'one EVAL releases all 600 keys');
  for (let r = await firstWait; ; r = await b.store.coordinator.waitForRelease(pending, 5000)) {
    for (const k of r) seen.add(k);
    pending = pending.filter((k) => !seen.has(k));
    if (pending.length === 0 || Date.now() > deadline) break;
    wakes++;
  }
  t.equal(seen.size, n, 'every released key is reported');
  t.ok(wakes <= Math.ceil(n / 256), `the waiter woke ${wakes} time(s) for ${n} keys (at most one per message)`);
  t.ok(await eventually(async () => messages.length === Math.ceil(n / 256), 10_000), `published in ${messages.length} messages`);
  t.ok(messages.every((m) => m.split('\n').length <= 256), 'no message names more than 256 keys');
  t.same(new Set(messages.flatMap((m) => m.split('\n'))), new Set(ks), 'together they name every key once');
  t.equal(messages.flatMap((m) => m.split('\n')).length, n, 'and no key twice');
});

t.test('a reconnect of the release listener wakes waiters with all their keys', async (t) => {
  const { admin, a, b } = await twoStores(t);
  const ks = keys('reconnect', 3);
  await lac(a.store)(ks, 30_000);
  t.same(await lac(b.store)(ks, 30_000), ['busy', 'busy', 'busy']);
  const wait = b.store.coordinator.waitForRelease(ks, 20_000);
  await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']); // both subscribers drop and reconnect
  t.same(await within(wait, 20_000, 'waitForRelease'), ks, 'all keys: releases may have been missed');
});

t.test('two coordinators race lookupAndClaim on the same 100 keys: each key is claimed by exactly one', async (t) => {
  const { admin, a, b } = await twoStores(t);
  // Warm both subscribers so that the calls below really run at the same time.
  await lac(a.store)([key('race', 'warm-a')], 1000);
  await lac(b.store)([key('race', 'warm-b')], 1000);

  for (let round = 0; round < 5; round++) {
    const ks = keys(`race${round}`, 100);
    // Half the keys in reverse order on one side, so the two scripts meet in the middle.
    const order = round % 2 === 0 ? ks : [...ks].reverse();
    const present = ks.filter((_, i) => i % 10 === 0);
    for (const k of present) await admin.set(k, pattern(1000, round));
    const [ra, rbOrdered] = await Promise.all([lac(a.store)(ks, 30_000), lac(b.store)(order, 30_000)]);
    const rb = ks.map((k) => rbOrdered[order.indexOf(k)]);
    let both = 0;
    let neither = 0;
    let values = 0;
    ks.forEach((k, i) => {
      const x = ra[i];
      const y = rb[i];
      if (present.includes(k)) {
        if (sameBytes(x, pattern(1000, round)) && sameBytes(y, pattern(1000, round))) values++;
        return;
      }
      const claims = Number(x === 'claimed') + Number(y === 'claimed');
      const busies = Number(x === 'busy') + Number(y === 'busy');
      if (claims > 1) both++;
      if (claims === 0 || busies !== 1) neither++;
    });
    t.equal(both, 0, `round ${round}: no key claimed by both`);
    t.equal(neither, 0, `round ${round}: every missing key claimed by one and busy for the other`);
    t.equal(values, present.length, `round ${round}: present keys are values for both`);
    t.ok(ra.some((v) => v === 'claimed') || rb.some((v) => v === 'claimed'), `round ${round}: someone claimed`);
  }
});
