// A fleet of 4 `rangecache serve` processes sharing one redis-server, each asked for the same cold object by its
// own client at the same moment: the origin serves the object about once (counted at the origin), and every
// client gets every byte.
import { createHash } from 'node:crypto';
import t from 'tap';
import { pseudoRandomBytes, startHttpOrigin, startRedis } from '@rangecache/test-support';
import { startServe } from './serve-support.js';

const MiB = 1 << 20;

t.test('4 proxies, 4 clients, one cold 32 MiB object: the origin serves it about once', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis({ ownProcess: true })]);
  const namespace = `serve-fleet-${process.pid}`;
  const fleet = await Promise.all(Array.from({ length: 4 }, () => startServe(['--allow', `${origin.baseUrl}/`, '--redis-url', redis.url, '--namespace', namespace, '--block-size', '1MiB'])));
  t.teardown(async () => {
    await Promise.all(fleet.map((p) => p.stop()));
    await Promise.all([origin.stop(), redis.stop()]);
  });
  const bytes = pseudoRandomBytes(32 * MiB, 'serve-fleet');
  const expected = createHash('sha256').update(bytes).digest('hex');
  origin.put('fleet.bin', bytes);
  origin.behaviour.delayMs = 20; // like object storage: time to first byte
  const host = origin.baseUrl.replace('http://', '');
  const digests = await Promise.all(fleet.map(async (p) => {
    const res = await fetch(`${p.url}/http/${host}/fleet.bin`);
    const hash = createHash('sha256');
    for await (const chunk of res.body!) hash.update(chunk);
    return { status: res.status, sha256: hash.digest('hex') };
  }));
  t.same(digests.map((d) => d.status), [200, 200, 200, 200]);
  t.ok(digests.every((d) => d.sha256 === expected), 'every client got the object, byte for byte');
  const amplification = origin.bodyBytes('GET') / bytes.byteLength;
  t.ok(amplification <= 1.05, `origin bytes ${amplification.toFixed(3)}x the object (at most 1.05x)`);
  const metrics = await Promise.all(fleet.map(async (p) => (await fetch(`${p.url}/metrics`)).text()));
  const total = (name: string): number => metrics.reduce((n, text) => n + Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0), 0);
  t.ok(total('rangecache_fleet_waits_total') > 0, 'the proxies waited for one another (fleet waits in /metrics)');
  t.equal(total('rangecache_origin_bytes_total'), origin.bodyBytes('GET'), '/metrics counts the origin bytes the origin counted');
});
