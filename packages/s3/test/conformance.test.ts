import t from 'tap';
import { RedisStore } from '@rangecache/redis';
import { fetcherConformance, startFaultProxy, startRedis, startS3rver } from '@rangecache/test-support';
import { S3Fetcher } from '../src/index.js';

// s3rver, behind a proxy that counts requests at the origin and injects failures.
const s3 = await startS3rver();
const proxy = await startFaultProxy({ host: s3.host, port: s3.port });
const redis = await startRedis();
const client = await redis.client();
const s3client = s3.client(proxy.endpoint);
const fetcher = new S3Fetcher({ client: s3client });
t.teardown(async () => { await proxy.stop(); await s3.stop(); await redis.stop(); });

fetcherConformance(t, {
  fetcher,
  async put(name, bytes) {
    await s3.put(name, bytes);
    return `s3://${s3.bucket}/${name}`;
  },
  missing: (name) => `s3://${s3.bucket}/missing/${name}`,
  originGets: () => proxy.requests.filter((r) => r.method === 'GET').length,
  failNext: (n) => proxy.failNext(n, 503), // the SDK's own retries (maxAttempts) must absorb them
  store: () => new RedisStore({ client }),
});
