import t from 'tap';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFetcher, RedisStore } from '@rangecache/core';
import { CountingFetcher, fetcherConformance, startRedis, tempDir } from '@rangecache/test-support';

const dir = await tempDir();
const redis = await startRedis();
const client = await redis.client();
t.teardown(async () => { await redis.stop(); await dir.remove(); });
const fetcher = new CountingFetcher(new FileFetcher());
let n = 0;

fetcherConformance(t, {
  fetcher,
  // Objects are replaced atomically (write, then rename), as FileFetcher's docs ask.
  async put(name, bytes) {
    const path = join(dir.path, name);
    const tmp = `${path}.tmp-${++n}`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return path;
  },
  missing: (name) => join(dir.path, 'missing', name),
  originGets: () => fetcher.fetches.length,
  store: () => new RedisStore({ client }),
});
