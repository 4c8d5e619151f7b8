// The load and fault suite (`pnpm test:faults`, also part of `pnpm test`): 32 concurrent readers with a mixed
// workload for a bounded time, while faults are injected on a schedule: Redis paused, Redis killed and restarted,
// Redis out of memory, the origin answering 500s and resetting connections. Checked: zero wrong bytes, zero
// failed reads (origin faults are absorbed by retries, cache faults by failing open). Counts are reported.
import t from 'tap';
import { AsyncCachingReader } from '@rangecache/core';
import type { ReaderStats } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { HttpFetcher } from '@rangecache/http';
import { pseudoRandomBytes, startHttpOrigin, startRedis } from '@rangecache/test-support';

const DURATION_MS = Number(process.env.FAULTS_DURATION_MS ?? 20_000);
const READERS = 32;
const MiB = 1 << 20;

t.test(`32 readers for ${DURATION_MS / 1000} s under injected faults`, async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  t.teardown(async () => { await origin.stop(); await redis.stop(); });
  const size = 48 * MiB;
  const bytes = pseudoRandomBytes(size, 'faults');
  origin.put('data.bin', bytes);
  const url = origin.url('data.bin');
  const admin = await redis.client();

  const instances = await Promise.all(Array.from({ length: READERS }, async (_, i) => {
    const client = await redis.client();
    const store = new RedisStore({ client, commandTimeoutMs: 200 });
    const fetcher = new HttpFetcher({ retry: { retries: 6, minDelayMs: 5, maxDelayMs: 100 } });
    const reader = new AsyncCachingReader({
      fetcher, store, mode: i % 4 === 3 ? 'chunk' : 'block', blockSize: 256 * 1024, namespace: 'faults',
      circuitBreaker: { failureThreshold: 3, cooldownMs: 1000 }, leaseMs: 1000,
    });
    return { reader, store, fetcher };
  }));
  t.teardown(async () => {
    for (const { reader, store, fetcher } of instances) { await reader.close(); await store.close(); await fetcher.close(); }
  });

  const log: string[] = [];
  const at = (ms: number, what: string, fn: () => Promise<void> | void): Promise<void> =>
    new Promise((resolve) => setTimeout(async () => { log.push(`${(ms / 1000).toFixed(1)}s ${what}`); await fn(); resolve(); }, ms));
  const scale = DURATION_MS / 20_000;
  const faults = Promise.all([
    at(2500 * scale, 'redis paused (SIGSTOP) for 1.5 s', async () => {
      redis.signal('SIGSTOP');
      await new Promise((r) => setTimeout(r, 1500 * scale));
      redis.signal('SIGCONT');
    }),
    at(6000 * scale, 'redis killed and restarted', () => redis.restart()),
    at(9500 * scale, 'origin: next 20 requests answer 500', () => origin.failNext(20, 500)),
    at(11000 * scale, 'origin: next 20 requests reset the connection', () => origin.failNext(20, 'reset')),
    at(12500 * scale, 'redis out of memory (maxmemory 1mb, noeviction) for 2 s', async () => {
      const c = await redis.client();
      await c.configSet({ maxmemory: '1mb', 'maxmemory-policy': 'noeviction' });
      await new Promise((r) => setTimeout(r, 2000 * scale));
      await c.configSet({ maxmemory: '0' });
    }),
    at(14000 * scale, 'origin: 5 requests answer 503, then 20 ms of latency on every response', async () => {
      origin.failNext(5, 503);
      origin.behaviour.delayMs = 20;
    }),
  ]);

  let reads = 0;
  let wrong = 0;
  const failures: string[] = [];
  let bytesRead = 0;
  const deadline = Date.now() + DURATION_MS;
  let seed = 7;
  const rand = (n: number): number => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return Math.floor((seed / 2 ** 32) * n); };
  await Promise.all(instances.map(async ({ reader }, i) => {
    while (Date.now() < deadline) {
      const kind = rand(10);
      try {
        if (kind === 0) {
          // A short stream.
          const start = rand(size - MiB);
          let off = start;
          for await (const chunk of reader.stream(url, { start, end: start + MiB })) {
            if (!Buffer.from(chunk).equals(bytes.subarray(off, off + chunk.byteLength))) wrong++;
            off += chunk.byteLength;
            bytesRead += chunk.byteLength;
          }
          if (off !== start + MiB) wrong++;
        } else {
          const start = rand(size);
          const len = kind < 5 ? 1 + rand(4096) : kind < 9 ? 1 + rand(300_000) : 1 + rand(2 * MiB);
          const got = await reader.readRange(url, start, start + len);
          if (!Buffer.from(got).equals(bytes.subarray(start, Math.min(start + len, size)))) wrong++;
          bytesRead += got.byteLength;
        }
        reads++;
      } catch (e) {
        failures.push(`reader ${i}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  }));
  await faults;

  const total = instances.map((x) => x.reader.stats()).reduce((acc, s) => {
    for (const [k, v] of Object.entries(s)) acc[k as keyof ReaderStats] = (acc[k as keyof ReaderStats] ?? 0) + v;
    return acc;
  }, {} as ReaderStats);
  t.comment(`faults: ${log.join('; ')}`);
  t.comment(`${reads} reads, ${(bytesRead / MiB).toFixed(0)} MiB returned; hits ${total.hits}, misses ${total.misses}, fleet waits ${total.fleetWaits}, ` +
    `origin requests ${total.originRequests} (${(total.originBytes / MiB).toFixed(0)} MiB), origin errors ${total.originErrors}, ` +
    `store errors ${total.storeErrors}, store calls skipped ${total.storeSkipped}, circuit opens ${total.circuitOpens}, write errors ${total.writeErrors}`);
  t.ok(reads > 500, `${reads} reads completed`);
  t.equal(wrong, 0, 'zero wrong bytes');
  t.same(failures.slice(0, 5), [], `zero failed reads (${failures.length})`);
  t.ok(total.storeErrors + total.storeSkipped > 0, 'the Redis faults were felt (and absorbed)');
  t.ok(origin.requests.some((r) => r.status === 500) && origin.requests.some((r) => r.status === -1), 'the origin faults happened');
  await admin.ping().catch(() => {});
});
