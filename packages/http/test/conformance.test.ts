import t from 'tap';
import { RedisStore } from '@rangecache/redis';
import { fetcherConformance, startHttpOrigin, startRedis } from '@rangecache/test-support';
import { HttpFetcher } from '../src/index.js';

const origin = await startHttpOrigin();
const redis = await startRedis();
const client = await redis.client();
const fetcher = new HttpFetcher({ retry: { minDelayMs: 1, maxDelayMs: 10 } });
t.teardown(async () => { await fetcher.close(); await origin.stop(); await redis.stop(); });

fetcherConformance(t, {
  fetcher,
  async put(name, bytes) {
    origin.put(name, bytes);
    return origin.url(name);
  },
  missing: (name) => origin.url(`missing/${name}`),
  originGets: () => origin.requests.filter((r) => r.method === 'GET').length,
  failNext: (k) => origin.failNext(k, 503),
  store: () => new RedisStore({ client }),
});
