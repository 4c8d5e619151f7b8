// RedisStore over a real 3-master Redis Cluster (redis-server --cluster-enabled yes, joined by redis-cli --cluster
// create): byte-exact reads, keys spread over every master, leases woken by sharded pub/sub, invalidation by SCAN
// on every master, shared counters, node-redis 4, 5 and 6 clusters, a slot migration mid-workload, and a master
// killed and restarted.
import t, { type Test } from 'tap';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createCluster as createClusterV4 } from 'redis-v4';
import { createCluster as createClusterV5 } from 'redis-v5';
import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
import { SEGMENT_BYTES, namespacePrefix, statsKey } from '@rangecache/core/store-kit';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { commandCalls, pseudoRandomBytes, startHttpOrigin, startRedisCluster, tempDir } from '@rangecache/test-support';
import { eventually } from './helpers.js';

const MiB = 1 << 20;

const rc = await startRedisCluster();
t.teardown(() => rc.stop());
const origin = await startHttpOrigin();
t.teardown(() => origin.stop());
const http = new HttpFetcher();
t.teardown(() => http.close());

/** A store over a new cluster client of the test cluster (node-redis 6), closed at the end of `t`. */
async function clusterStore(t: Test): Promise<RedisStore> {
  const store = new RedisStore({ client: await rc.cluster() });
  t.teardown(() => store.close());
  return store;
}

/** Keys of `namespace` on each master. */
async function keysPerMaster(namespace: string): Promise<number[]> {
  return Promise.all(rc.nodes.map(async (_, i) => (await (await rc.nodeClient(i)).keys(`${namespacePrefix(namespace)}*`)).length));
}

t.test('a cluster client is told apart, reads are byte-exact, and one object\'s keys land on every master', async (t) => {
  const store = await clusterStore(t);
  t.equal(store.isCluster, true);
  t.equal(store.ownLookupConnection, true, 'lookups go over the store\'s own connections to the masters');
  // A sparse 512 MiB file: 32 segments of 16 MiB, one 64 KiB block read at the start of each.
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const path = join(dir.path, 'sparse.bin');
  const segments = 32;
  const marks = Array.from({ length: segments }, (_, s) => pseudoRandomBytes(64 * 1024, `segment-${s}`));
  const file = await open(path, 'w');
  for (let s = 0; s < segments; s++) await file.write(marks[s]!, 0, marks[s]!.length, s * SEGMENT_BYTES);
  await file.truncate(segments * SEGMENT_BYTES);
  await file.close();
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store, blockSize: 64 * 1024, namespace: 'spread' });
  for (let s = 0; s < segments; s++) t.same(Buffer.from(await reader.readRange(path, s * SEGMENT_BYTES, s * SEGMENT_BYTES + 64 * 1024)), marks[s], `segment ${s}`);
  await reader.flush();
  const perMaster = await keysPerMaster('spread');
  t.equal(perMaster.reduce((a, b) => a + b, 0), segments + 1, '32 blocks and the metadata');
  t.ok(perMaster.every((n) => n > 0), `keys on every master: ${perMaster.join(', ')}`);
  const warm = new AsyncCachingReader({ fetcher: new FileFetcher(), store, blockSize: 64 * 1024, namespace: 'spread' });
  const all = await warm.readRanges(path, marks.map((_, s) => ({ start: s * SEGMENT_BYTES, end: s * SEGMENT_BYTES + 64 * 1024 })));
  all.forEach((b, s) => t.same(Buffer.from(b), marks[s], `warm segment ${s}, one batch over three masters`));
  t.same([warm.stats().hits, warm.stats().misses, warm.stats().storeErrors], [segments, 0, 0], 'all from the cluster');
  t.ok(store.lookupCounters!.values >= segments, `values came over the store's own connections (${store.lookupCounters!.values})`);
  t.equal(await warm.invalidate(path), segments + 1, 'invalidate walks every master');
  t.same(await keysPerMaster('spread'), [0, 0, 0], 'nothing left anywhere');
  await rm(path);
});

t.test('a big read, cold then warm, over segments on several masters', async (t) => {
  const store = await clusterStore(t);
  const bytes = pseudoRandomBytes(72 * MiB, 'big');
  origin.put('big.bin', bytes);
  const cold = new AsyncCachingReader({ fetcher: http, store, namespace: 'big' });
  t.same(Buffer.from(await cold.readRange(origin.url('big.bin'), 0, bytes.length)), bytes, 'cold, one read of 72 MiB');
  await cold.flush();
  const warm = new AsyncCachingReader({ fetcher: http, store, namespace: 'big' });
  t.same(Buffer.from(await warm.readRange(origin.url('big.bin'), 5, bytes.length - 5)), bytes.subarray(5, bytes.length - 5), 'warm');
  t.same([warm.stats().misses, warm.stats().storeErrors], [0, 0], 'every block from the cluster');
  const stream: Buffer[] = [];
  for await (const chunk of warm.stream(origin.url('big.bin'), { start: 17 * MiB + 3, end: 40 * MiB })) stream.push(Buffer.from(chunk));
  t.same(Buffer.concat(stream), bytes.subarray(17 * MiB + 3, 40 * MiB), 'a warm stream');
});

t.test('leases across two processes\' stores: one origin fetch per block, the waiter woken by sharded pub/sub', async (t) => {
  const [a, b] = [await clusterStore(t), await clusterStore(t)];
  const bytes = pseudoRandomBytes(40 * MiB, 'lease');
  origin.put('lease.bin', bytes);
  origin.behaviour.delayMs = 150;
  t.teardown(() => { origin.behaviour.delayMs = 0; });
  const before = await Promise.all(rc.nodes.map(async (_, i) => commandCalls(await rc.nodeClient(i))));
  origin.requests.length = 0;
  const readerA = new AsyncCachingReader({ fetcher: http, store: a, namespace: 'lease', maxRequest: MiB });
  const readerB = new AsyncCachingReader({ fetcher: http, store: b, namespace: 'lease', maxRequest: MiB });
  const url = origin.url('lease.bin');
  // A's origin responses are held until B waits on A's leases (Redis counts B as a waiter): B comes while A fetches,
  // however slow the machine.
  let letGo = (): void => {};
  origin.behaviour.holdGets = new Promise((r) => { letGo = r; });
  t.teardown(() => { letGo(); origin.behaviour.holdGets = undefined; });
  const first = readerA.readRange(url, 0, bytes.length);
  t.ok(await eventually(async () => (await Promise.all(rc.nodes.map(async (_, i) => (await rc.nodeClient(i)).keys('*lease*:lease')))).flat().length > 0, 30_000), 'A holds leases');
  const second = readerB.readRange(url, 0, bytes.length);
  t.ok(await eventually(async () => (await Promise.all(rc.nodes.map(async (_, i) => (await rc.nodeClient(i)).keys('*lease*:waiters')))).flat().length > 0, 30_000), 'B waits on them');
  letGo();
  const [ra, rb] = await Promise.all([first, second]);
  t.same(Buffer.from(ra), bytes);
  t.same(Buffer.from(rb), bytes);
  const served = origin.bodyBytes('GET') / bytes.length;
  t.ok(served <= 1.05, `the origin served ${served.toFixed(2)} x the object`);
  t.ok(readerB.stats().fleetWaits > 0, `B waited for A's blocks (${readerB.stats().fleetWaits} waits, ${readerB.stats().fleetFallbacks} fallbacks)`);
  t.equal(readerB.stats().fleetFallbacks, 0, 'no wait ended in vain');
  const after = await Promise.all(rc.nodes.map(async (_, i) => commandCalls(await rc.nodeClient(i))));
  const delta = (name: string): number => after.reduce((n, calls, i) => n + (calls[name] ?? 0) - (before[i]![name] ?? 0), 0);
  t.ok(delta('spublish') > 0, `releases went out on shard channels (${delta('spublish')} SPUBLISH)`);
  t.equal(delta('publish'), 0, 'no cluster-wide PUBLISH');
  t.ok(delta('ssubscribe') > 0, 'B listened on shard channels');
});

t.test('a waiter takes over, in every slot, the leases it watched go unextended, and only those', async (t) => {
  const [a, b] = [await clusterStore(t), await clusterStore(t)];
  const admin = await rc.cluster(); // closed by rc.stop()
  const owner = (s: RedisStore): string => (s.coordinator as unknown as { owner: string }).owner;
  // Six segments of one object: six hash tags, spread over the masters; a's extended leases are the even ones.
  const keys = Array.from({ length: 6 }, (_, i) => `rangecache:v2:takeover:{obj:v=1:s${i}}:b:1:${i}`);
  const extended = keys.filter((_, i) => i % 2 === 0);
  const leaseMs = 600;
  t.same(await a.coordinator.claim(keys, leaseMs), keys.map(() => 'claimed'), 'a claims all six');
  let extending = true;
  const extender = (async () => {
    while (extending) {
      await a.coordinator.extend!(extended, leaseMs).catch(() => {});
      await new Promise((r) => setTimeout(r, leaseMs / 3));
    }
  })();
  // b checks all six every half lease with claim (redis-coordinator.test.ts takes over with lookupAndClaim).
  const answers: string[][] = [];
  for (let round = 0; round < 20; round++) {
    const r = await b.coordinator.claim(keys, leaseMs);
    answers.push(r.map(String));
    if (keys.every((_, i) => i % 2 === 0 || answers.some((x) => x[i] === 'claimed'))) break;
    await new Promise((r) => setTimeout(r, leaseMs / 2));
  }
  extending = false;
  await extender;
  const holders = await Promise.all(keys.map(async (k) => String(await admin.get(`${k}:lease`))));
  keys.forEach((_, i) => {
    if (i % 2 === 0) t.ok(holders[i]!.startsWith(`${owner(a)}:`) && answers.every((x) => x[i] === 'busy'), `segment ${i}, extended: still a's, busy to b every time`);
    else t.ok(holders[i]!.startsWith(`${owner(b)}:`) && answers.findIndex((x) => x[i] === 'claimed') >= 2, `segment ${i}, unextended: b took it over after watching it (${answers.map((x) => x[i]).join(' ')})`);
  });
  await a.coordinator.release(keys);
  await b.coordinator.release(keys);
});

t.test('a coordinator keeps at most 1024 shard channels, the most recently used', async (t) => {
  const store = await clusterStore(t);
  const keyOf = (i: number): string => `rangecache:v2:chan:{obj:v=1:s${i}}:b:1:${i}`;
  const all = Array.from({ length: 1100 }, (_, i) => keyOf(i));
  for (let i = 0; i < all.length; i += 100) t.same(new Set(await store.coordinator.claim(all.slice(i, i + 100), 60_000)), new Set(['claimed']));
  await store.coordinator.claim([keyOf(0)], 60_000); // segment 0 used again: now the most recent
  await store.coordinator.claim([keyOf(1100)], 60_000); // one more channel: the oldest unused one goes
  const channels = (await Promise.all(rc.nodes.map(async (_, i) => (await rc.nodeClient(i)).sendCommand(['PUBSUB', 'SHARDCHANNELS', 'rangecache:v2:chan:*']) as Promise<string[]>))).flat();
  t.ok(channels.length <= 1024, `${channels.length} shard channels subscribed`);
  t.ok(channels.length >= 1000, 'the recent ones stay');
  t.ok(channels.includes('rangecache:v2:chan:released{obj:v=1:s0}'), 'the channel used again stayed');
  t.ok(channels.includes('rangecache:v2:chan:released{obj:v=1:s1100}'), 'the newest is there');
  t.notOk(channels.includes('rangecache:v2:chan:released{obj:v=1:s1}'), 'the least recently used went');
  await store.coordinator.release([...all, keyOf(1100)]);
});

t.test('shared counters add up across readers in the cluster', async (t) => {
  const store = await clusterStore(t);
  const bytes = pseudoRandomBytes(3 * MiB, 'stats');
  origin.put('stats.bin', bytes);
  for (let i = 0; i < 2; i++) {
    const reader = new AsyncCachingReader({ fetcher: http, store, namespace: 'stats', sharedStats: { intervalMs: 60_000 } });
    t.same(Buffer.from(await reader.readRange(origin.url('stats.bin'), 0, bytes.length)), bytes);
    await reader.close();
  }
  const counters = await (await rc.cluster()).hGetAll(statsKey('stats'));
  t.equal(counters['misses'], '3', 'the first reader\'s misses');
  t.equal(counters['hits'], '3', 'the second reader\'s hits');
  t.equal(counters['reads'], '2');
  t.equal(counters['bytesRead'], String(2 * bytes.length));
});

const olderMajors = {
  'node-redis 4': async () => {
    const cluster = createClusterV4({ rootNodes: [{ url: rc.rootUrl }], defaults: { disableOfflineQueue: true } });
    cluster.on('error', () => {});
    await cluster.connect();
    return { store: new RedisStore({ client: cluster }), close: () => cluster.disconnect() };
  },
  'node-redis 5': async () => {
    const cluster = createClusterV5({ rootNodes: [{ url: rc.rootUrl }], defaults: { disableOfflineQueue: true } });
    cluster.on('error', () => {});
    await cluster.connect();
    return { store: new RedisStore({ client: cluster }), close: () => cluster.close() };
  },
};
for (const [name, connect] of Object.entries(olderMajors)) {
  t.test(`${name} clusters work too: byte-exact, cached, leased`, async (t) => {
    const { store, close } = await connect();
    t.teardown(close);
    t.teardown(() => store.close());
    t.equal(store.isCluster, true);
    t.equal(store.driverMajor, name === 'node-redis 4' ? 4 : 5);
    t.equal(store.ownLookupConnection, name !== 'node-redis 4', 'node-redis 4 keeps its cluster options private: lookups go through it');
    const bytes = pseudoRandomBytes(40 * MiB, name);
    origin.put(`${name}.bin`, bytes);
    const url = origin.url(`${name}.bin`);
    const namespace = name.replace(/\W/g, '');
    const cold = new AsyncCachingReader({ fetcher: http, store, namespace });
    t.same(Buffer.from(await cold.readRange(url, 0, bytes.length)), bytes, 'cold');
    await cold.flush();
    const warm = new AsyncCachingReader({ fetcher: http, store, namespace });
    t.same(Buffer.from(await warm.readRange(url, 3, bytes.length)), bytes.subarray(3), 'warm');
    t.same([warm.stats().misses, warm.stats().storeErrors], [0, 0]);
    t.same(await store.coordinator.claim(['rangecache:v2:x:{a:s0}:b:1:0', 'rangecache:v2:x:{a:s1}:b:1:1'], 5000), ['claimed', 'claimed'], 'claims over two slots');
    t.same(await store.coordinator.claim(['rangecache:v2:x:{a:s1}:b:1:1'], 5000), ['busy']);
    await store.coordinator.release(['rangecache:v2:x:{a:s0}:b:1:0', 'rangecache:v2:x:{a:s1}:b:1:1']);
    t.same(await store.coordinator.claim(['rangecache:v2:x:{a:s1}:b:1:1'], 5000), ['claimed'], 'released');
    await store.coordinator.release(['rangecache:v2:x:{a:s1}:b:1:1']);
    t.equal(await warm.invalidate(url), 41, '40 blocks and the metadata, over every master');
  });
}

t.test('a slot migration mid-workload: no failed read, no wrong byte', async (t) => {
  const store = await clusterStore(t);
  const bytes = pseudoRandomBytes(64 * MiB, 'migrate');
  origin.put('migrate.bin', bytes);
  const url = origin.url('migrate.bin');
  let stop = false;
  let reads = 0;
  let wrong = 0;
  const failures: unknown[] = [];
  const worker = async (w: number): Promise<void> => {
    for (let round = 0; !stop; round++) {
      // New namespaces keep cold reads (writes, leases) going as well as warm ones.
      const reader = new AsyncCachingReader({ fetcher: http, store, namespace: `migrate-${w}-${round % 3}`, blockSize: 256 * 1024 });
      for (let i = 0; i < 16 && !stop; i++) {
        const start = ((w * 7919 + i * 104_729 + round * 15_485_863) % (bytes.length - 2 * MiB));
        try {
          const got = await reader.readRange(url, start, start + 2 * MiB);
          if (Buffer.compare(Buffer.from(got), bytes.subarray(start, start + 2 * MiB)) !== 0) wrong++;
          reads++;
        } catch (e) {
          failures.push(e);
        }
      }
      await reader.close();
    }
  };
  const workers = [0, 1, 2].map(worker);
  await new Promise((r) => setTimeout(r, 300));
  const before = reads;
  await rc.reshard(0, 1, 2000);
  await rc.reshard(1, 2, 1000);
  stop = true;
  await Promise.all(workers);
  t.ok(reads > before, `${reads} reads, ${reads - before} during the migrations`);
  t.equal(wrong, 0, 'no wrong byte');
  t.same(failures.map(String), [], 'no failed read');
  // After the migration the cache serves again.
  const warm = new AsyncCachingReader({ fetcher: http, store, namespace: 'migrate-0-0', blockSize: 256 * 1024 });
  t.same(Buffer.from(await warm.readRange(url, 0, bytes.length)), bytes);
  await warm.flush();
  const direct = store.lookupCounters!.values;
  const again = new AsyncCachingReader({ fetcher: http, store, namespace: 'migrate-0-0', blockSize: 256 * 1024 });
  t.same(Buffer.from(await again.readRange(url, 0, bytes.length)), bytes);
  t.same([again.stats().misses, again.stats().storeErrors], [0, 0], 'all from the cluster, no store error after the migration');
  t.equal(store.lookupCounters!.values - direct, 257, 'the 256 blocks and the metadata over the own connections again: the slot map followed the migration');
});

t.test('a master killed and restarted: reads stay byte-exact throughout, and the cache serves again after', async (t) => {
  const store = await clusterStore(t);
  const bytes = pseudoRandomBytes(64 * MiB, 'kill');
  origin.put('kill.bin', bytes);
  const url = origin.url('kill.bin');
  const fill = new AsyncCachingReader({ fetcher: http, store, namespace: 'kill', circuitBreaker: false });
  t.same(Buffer.from(await fill.readRange(url, 0, bytes.length)), bytes);
  await fill.flush();
  await rc.kill(2);
  const during = new AsyncCachingReader({ fetcher: http, store, namespace: 'kill', circuitBreaker: false });
  for (let i = 0; i < 4; i++) t.same(Buffer.from(await during.readRange(url, i * 16 * MiB, (i + 1) * 16 * MiB)), bytes.subarray(i * 16 * MiB, (i + 1) * 16 * MiB), `segment ${i} with a master down`);
  t.ok(during.stats().hits > 0, `the live masters still served (${during.stats().hits} hits, ${during.stats().storeErrors} store errors)`);
  await rc.restart(2);
  const deadline = Date.now() + 20_000;
  let after: AsyncCachingReader;
  let round = 0;
  do {
    // Until node-redis has reconnected to the restarted master, its segments go to the origin (and are written back).
    after = new AsyncCachingReader({ fetcher: http, store, namespace: 'kill', circuitBreaker: false });
    t.same(Buffer.from(await after.readRange(url, 0, bytes.length)), bytes, `after the restart, round ${round++}`);
    await after.flush();
    if (after.stats().misses === 0 && after.stats().storeErrors === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  t.same([after.stats().misses, after.stats().storeErrors], [0, 0], 'every block from the cluster again');
});
