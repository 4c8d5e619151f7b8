// Opening by URL: one reader, three backends, each path routed by its scheme.
import t from 'tap';
import { pathToFileURL } from 'node:url';
import { AsyncCachingReader, FetcherRouter, FileFetcher, InvalidPathError } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { HttpFetcher } from '@rangecache/http';
import { S3Fetcher } from '@rangecache/s3';
import { pseudoRandomBytes, startHttpOrigin, startRedis, startS3rver, tempDir } from '@rangecache/test-support';

t.test('s3://, https?:// and file:// paths go to their fetchers', async (t) => {
  const [origin, s3, redis, dir] = await Promise.all([startHttpOrigin(), startS3rver(), startRedis(), tempDir()]);
  const http = new HttpFetcher();
  t.teardown(async () => { await http.close(); await origin.stop(); await s3.stop(); await redis.stop(); await dir.remove(); });
  const a = pseudoRandomBytes(100_000, 'a');
  const b = pseudoRandomBytes(100_000, 'b');
  origin.put('a.bin', a);
  await s3.put('b.bin', b);
  const c = await dir.file('c.bin', 100_000);
  const reader = new AsyncCachingReader({
    fetcher: [new FileFetcher(), http, new S3Fetcher({ client: s3.client() })],
    store: new RedisStore({ client: await redis.client() }),
    blockSize: 16_384,
  });
  t.same(Buffer.from(await reader.readRange(origin.url('a.bin'), 10, 50_000)), a.subarray(10, 50_000), 'http');
  t.same(Buffer.from(await reader.readRange(`s3://${s3.bucket}/b.bin`, 10, 50_000)), b.subarray(10, 50_000), 's3');
  t.same(Buffer.from(await reader.readRange(pathToFileURL(c.path).href, 10, 50_000)), c.bytes.subarray(10, 50_000), 'file://');
  t.same(Buffer.from(await reader.readRange(c.path, 10, 50_000)), c.bytes.subarray(10, 50_000), 'a bare absolute path is a file');
  await t.rejects(reader.readRange('gs://bucket/key', 0, 1), InvalidPathError);
  await t.rejects(reader.readRange('gs://bucket/key', 0, 1), /no fetcher for the scheme "gs" \(schemes served: file, http, https, s3\)/);
  await t.rejects(reader.readRange('relative/path', 0, 1), /not a URL or an absolute path/);
});

t.test('the router refuses ambiguous or unroutable fetchers', async (t) => {
  t.throws(() => new FetcherRouter([new FileFetcher(), new FileFetcher()]), /two fetchers claim the URL scheme "file"/);
  const noSchemes = { backend: 'custom', stat: async () => ({ size: 0, version: 'x' }), fetch: async () => new Uint8Array(0) };
  t.throws(() => new FetcherRouter([noSchemes]), /declares no URL schemes/);
});
