// Cross-instance single flight, with real OS processes sharing a real redis-server and a real HTTP origin.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AsyncCachingReader } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { HttpFetcher } from '@rangecache/http';
import { pseudoRandomBytes, startHttpOrigin, startRedis, startRedisCluster } from '@rangecache/test-support';

const root = fileURLToPath(new URL('../', import.meta.url));
const MiB = 1 << 20;

interface Instance { child: ChildProcess; ready: Promise<void>; result: Promise<{ sha256: string; wallMs: number; stats: Record<string, number> }> }

function instance(url: string, redisUrl: string, count: number, leaseMs: number | null, namespace: string, kind: 'single' | 'cluster' = 'single'): Instance {
  const child = spawn(process.execPath, ['test/fixtures/fleet-reader.mjs', url, redisUrl, String(count), String(leaseMs), namespace, kind], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let onReady: () => void;
  let onFail: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => { onReady = resolve; onFail = reject; });
  child.stdout!.on('data', (d) => { out += d; if (out.includes('"ready"')) onReady(); });
  child.on('exit', (code, signal) => onFail(new Error(`fleet reader exited before it was ready (${code ?? signal})`)));
  const result = new Promise<Instance['result'] extends Promise<infer R> ? R : never>((resolve, reject) => child.on('exit', (code, signal) => {
    if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    else reject(new Error(`fleet reader exited with ${code ?? signal}`));
  }));
  result.catch(() => {});
  return { child, ready, result };
}

t.test('8 processes cold-reading the same 32 MiB make the origin serve it about once', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  t.teardown(async () => { await origin.stop(); await redis.stop(); });
  const bytes = pseudoRandomBytes(32 * MiB, 'fleet');
  origin.put('fleet.bin', bytes);
  origin.behaviour.delayMs = 20; // like object storage: the processes stay in step
  const expected = createHash('sha256').update(bytes).digest('hex');
  for (const leaseMs of [2000, null]) {
    origin.requests.length = 0;
    const fleet = Array.from({ length: 8 }, () => instance(origin.url('fleet.bin'), redis.url, 32, leaseMs, `fleet-${leaseMs}`));
    await Promise.all(fleet.map((f) => f.ready));
    for (const f of fleet) f.child.stdin!.write('go\n');
    const results = await Promise.all(fleet.map((f) => f.result));
    for (const r of results) t.equal(r.sha256, expected, 'byte-exact');
    const amplification = origin.bodyBytes('GET') / (32 * MiB);
    if (leaseMs !== null) {
      const sum = (k: string): number => results.reduce((n, r) => n + (r.stats[k] ?? 0), 0);
      const why = ['misses', 'fleetWaits', 'fleetFallbacks', 'storeErrors', 'storeSkipped', 'writeErrors', 'writesDropped'].map((k) => `${k} ${sum(k)}`).join(', ');
      t.ok(amplification <= 1.05, `with leases: origin served ${amplification.toFixed(3)} x the object (<= 1.05); fleet totals: ${why}`);
      t.ok(results.reduce((n, r) => n + r.stats['fleetWaits']!, 0) > 0, 'instances received blocks that others fetched');
    } else {
      // The control: the same fleet without leases, to show the test would catch their absence.
      t.ok(amplification > 1.5, `without leases: origin served ${amplification.toFixed(2)} x the object`);
    }
  }
});

t.test('the same fleet through a 3-master Redis Cluster: the origin serves the object about once', async (t) => {
  const [origin, rc] = await Promise.all([startHttpOrigin(), startRedisCluster()]);
  t.teardown(async () => { await origin.stop(); await rc.stop(); });
  const bytes = pseudoRandomBytes(32 * MiB, 'fleet-cluster');
  origin.put('fleet.bin', bytes);
  origin.behaviour.delayMs = 20;
  const expected = createHash('sha256').update(bytes).digest('hex');
  const fleet = Array.from({ length: 8 }, () => instance(origin.url('fleet.bin'), rc.rootUrl, 32, 2000, 'fleet-cluster', 'cluster'));
  await Promise.all(fleet.map((f) => f.ready));
  for (const f of fleet) f.child.stdin!.write('go\n');
  const results = await Promise.all(fleet.map((f) => f.result));
  for (const r of results) t.equal(r.sha256, expected, 'byte-exact');
  const sum = (k: string): number => results.reduce((n, r) => n + (r.stats[k] ?? 0), 0);
  const amplification = origin.bodyBytes('GET') / (32 * MiB);
  const why = ['misses', 'fleetWaits', 'fleetFallbacks', 'storeErrors', 'writeErrors'].map((k) => `${k} ${sum(k)}`).join(', ');
  t.ok(amplification <= 1.05, `origin served ${amplification.toFixed(3)} x the object (<= 1.05); fleet totals: ${why}`);
  t.ok(sum('fleetWaits') > 0, 'instances received blocks that others fetched');
});

t.test('a lease holder killed with SIGKILL delays the others by about one lease period, no more', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  t.teardown(async () => { await origin.stop(); await redis.stop(); });
  const bytes = pseudoRandomBytes(MiB, 'kill');
  origin.put('kill.bin', bytes);
  // Metadata in Redis already, so both processes go straight to the block.
  const http = new HttpFetcher();
  const store = new RedisStore({ client: await redis.client() });
  const warmup = new AsyncCachingReader({ fetcher: http, store, namespace: 'kill' });
  await warmup.stat(origin.url('kill.bin'));
  await warmup.close();
  await store.close();
  await http.close();
  origin.behaviour.delayMs = 600;
  const holder = instance(origin.url('kill.bin'), redis.url, 1, 800, 'kill');
  const waiter = instance(origin.url('kill.bin'), redis.url, 1, 800, 'kill');
  await Promise.all([holder.ready, waiter.ready]);
  holder.child.stdin!.write('go\n');
  await new Promise((r) => setTimeout(r, 150)); // the holder has claimed block 0 and waits for the origin
  const t0 = Date.now();
  waiter.child.stdin!.write('go\n');
  await new Promise((r) => setTimeout(r, 100));
  holder.child.kill('SIGKILL');
  await t.rejects(holder.result, /SIGKILL/);
  const r = await waiter.result;
  const ms = Date.now() - t0;
  t.equal(r.sha256, createHash('sha256').update(bytes).digest('hex'), 'the waiter got the right bytes');
  t.equal(r.stats['fleetFallbacks'], 1, `it fetched the block itself after the lease expired: ${JSON.stringify(r.stats)}`);
  t.equal(r.stats['originStats'], 0, 'metadata came from Redis');
  t.ok(ms >= 600, `it waited for the lease (${ms} ms)`);
  // Not a timing bound a loaded machine could miss: it catches a waiter that sits out its whole 60 s fleet wait (or
  // several lease periods) instead of one lease. How long one lease really costs is the fleet matrix's to report.
  t.ok(ms < 15_000, `done ${ms} ms after it started (lease 800 ms + origin 600 ms; far below the 60 s wait cap)`);
});

t.test('waiting on other instances is bounded by maxFleetWaiters', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  const http = new HttpFetcher();
  t.teardown(async () => { await http.close(); await origin.stop(); await redis.stop(); });
  const bytes = pseudoRandomBytes(4 * MiB, 'bounded-wait');
  origin.put('w.bin', bytes);
  origin.behaviour.delayMs = 300;
  const storeA = new RedisStore({ client: await redis.client() });
  const storeB = new RedisStore({ client: await redis.client() });
  t.teardown(async () => { await storeA.close(); await storeB.close(); });
  const a = new AsyncCachingReader({ fetcher: http, store: storeA, blockSize: MiB, namespace: 'bw', maxGap: 0, maxRequest: MiB });
  const b = new AsyncCachingReader({ fetcher: http, store: storeB, blockSize: MiB, namespace: 'bw', maxGap: 0, maxRequest: MiB, maxFleetWaiters: 1 });
  await a.stat(origin.url('w.bin'));
  await b.stat(origin.url('w.bin'));
  const ra = a.readRange(origin.url('w.bin'), 0, 4 * MiB); // A claims the 4 blocks
  await new Promise((r) => setTimeout(r, 100));
  const rb = b.readRange(origin.url('w.bin'), 0, 4 * MiB); // B finds them busy: waits for 1, fetches 3 itself
  t.same(Buffer.from(await rb), bytes);
  t.same(Buffer.from(await ra), bytes);
  await a.flush();
  await b.flush();
  t.equal(b.stats().misses, 3, 'B fetched the 3 blocks it could not wait for');
  t.equal(b.stats().fleetWaits, 1, 'and waited for 1');
});

t.test('a slow but live lease holder keeps its lease: 4 processes on a 2 MiB/s origin fetch an 8 MiB object once', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  t.teardown(async () => { await origin.stop(); await redis.stop(); });
  const size = 8 * MiB;
  const bytes = pseudoRandomBytes(size, 'slow-holder');
  origin.put('slow.bin', bytes);
  // 64 KiB every 32 ms: one 8 MiB response takes about 4 s, twice the default 2 s lease.
  Object.assign(origin.behaviour, { trickleMs: 32, trickleBytes: 64 * 1024 });
  const fleet = Array.from({ length: 4 }, () => {
    const child = spawn(process.execPath, ['test/fixtures/fleet-shapes.mjs', origin.url('slow.bin'), redis.url, 'whole', String(size), 'slow-holder'], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise<void>((resolve) => child.stdout!.on('data', (d) => { out += d; if (out.includes('"ready"')) resolve(); }));
    const done = new Promise<{ sha256: string; stats: Record<string, number> }>((resolve, reject) => child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1)!));
      else reject(new Error(`fleet-shapes exited with ${code}`));
    }));
    t.teardown(() => { child.kill('SIGKILL'); });
    return { child, ready, done };
  });
  await Promise.all(fleet.map((f) => f.ready));
  for (const f of fleet) f.child.stdin!.write('go\n');
  const results = await Promise.all(fleet.map((f) => f.done));
  const expected = createHash('sha256').update(bytes).digest('hex');
  for (const r of results) t.equal(r.sha256, expected, 'byte-exact');
  const amplification = origin.bodyBytes('GET') / size;
  const fallbacks = results.reduce((n, r) => n + (r.stats['fleetFallbacks'] ?? 0), 0);
  t.ok(amplification <= 1.05, `origin served ${amplification.toFixed(3)} x the object (<= 1.05); fleetFallbacks ${fallbacks}`);
  t.equal(fallbacks, 0, 'no waiter gave up on the holder');
});
