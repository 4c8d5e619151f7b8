// `rangecache serve` when its Redis dies and comes back (a real redis-server, killed and restarted): requests
// keep being answered with the right bytes from the origin meanwhile (the cache fails open), /metrics counts the
// Redis errors, and once Redis is back the proxy reconnects and caches again, without a restart.
import t from 'tap';
import { pseudoRandomBytes, startHttpOrigin, startRedis } from '@rangecache/test-support';
import { startServe } from './serve-support.js';

t.test('Redis killed under a running proxy, then restarted', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  const serve = await startServe(['--allow', `${origin.baseUrl}/`, '--redis-url', redis.url, '--namespace', 'serve-faults', '--block-size', '64KiB']);
  t.teardown(async () => {
    await serve.stop();
    await Promise.all([origin.stop(), redis.stop()]);
  });
  const bytes = pseudoRandomBytes(1_000_000, 'serve-faults');
  origin.put('f.bin', bytes);
  const url = `${serve.url}/http/${origin.baseUrl.replace('http://', '')}/f.bin`;
  const read = async (start: number, end: number): Promise<Buffer> => {
    const res = await fetch(url, { headers: { range: `bytes=${start}-${end - 1}` } });
    t.equal(res.status, 206);
    return Buffer.from(await res.arrayBuffer());
  };
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${serve.url}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  };

  t.ok((await read(0, 200_000)).equals(bytes.subarray(0, 200_000)), 'cold read through Redis');
  redis.signal('SIGKILL');
  // Down for longer than a command's few reconnects (about 3 s of backoff): a server must keep trying.
  const downUntil = Date.now() + 5000;
  for (let i = 0; Date.now() < downUntil; i++) {
    const start = (i * 150_000) % 800_000;
    t.ok((await read(start, start + 150_000)).equals(bytes.subarray(start, start + 150_000)), `Redis down: bytes from ${start} still exact, from the origin`);
    await new Promise((r) => setTimeout(r, 250));
  }
  t.ok(await metric('rangecache_redis_errors_total') + await metric('rangecache_circuit_opens_total') > 0, '/metrics shows the cache failing');
  const health = await fetch(`${serve.url}/healthz`);
  t.equal(health.status, 200, 'the proxy stays healthy: the cache is not the service');

  await redis.restart();
  // The client reconnects with backoff, and the circuit breaker lets calls through again after its cool-down.
  const originBytes = (): number => origin.bodyBytes('GET');
  let cachedAgain = false;
  for (let attempt = 0; attempt < 60 && !cachedAgain; attempt++) {
    await new Promise((r) => setTimeout(r, 500));
    await read(600_000, 700_000); // may fill the cache once Redis is back
    const before = originBytes();
    t.ok((await read(600_000, 700_000)).equals(bytes.subarray(600_000, 700_000)));
    cachedAgain = originBytes() === before;
  }
  t.ok(cachedAgain, 'after the restart, reads come from Redis again (no new origin bytes)');
});
