#!/usr/bin/env node
// Reads an S3 object through rangecache in chunk mode (exact ranges, as a kerchunk/GRIB reader would), twice.
//
//   node examples/s3.mjs [s3://bucket/key]
//
// With a URL it uses the AWS SDK's default credentials and region (AWS_REGION); add S3_ANONYMOUS=1 for a public
// bucket. Without one it starts s3rver, an S3-compatible server, in-process with a generated object, so the
// example runs anywhere. With REDIS_URL set the cache is Redis; otherwise an in-process MemoryStore.
import { S3Client } from '@aws-sdk/client-s3';
import { createClient } from 'redis';
import { AsyncCachingReader, MemoryStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { S3Fetcher } from '@rangecache/s3';
import { pseudoRandomBytes, startS3rver, S3RVER_CREDENTIALS } from '@rangecache/test-support';

let url = process.argv[2];
let s3server;
let fetcher;
if (url) {
  fetcher = process.env.S3_ANONYMOUS ? new S3Fetcher({ clientConfig: {}, anonymous: true }) : new S3Fetcher({ client: new S3Client({}) });
} else {
  s3server = await startS3rver('example-bucket');
  await s3server.put('forecast.grib2', pseudoRandomBytes(8 << 20, 's3-example'));
  url = `s3://example-bucket/forecast.grib2`;
  fetcher = new S3Fetcher({
    clientConfig: { endpoint: s3server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS },
  });
}
let client;
if (process.env.REDIS_URL) {
  client = createClient({ url: process.env.REDIS_URL });
  await client.connect();
}
const store = client ? new RedisStore({ client }) : new MemoryStore();
const namespace = `example-s3-${Date.now()}`;
// Chunks at known offsets, like the messages of a GRIB2 file listed in an index.
const chunks = Array.from({ length: 32 }, (_, i) => ({ start: i * 250_000 + 17, end: i * 250_000 + 17 + 40_000 }));

for (const pass of ['cold', 'warm']) {
  const reader = new AsyncCachingReader({ fetcher, store, namespace, mode: 'chunk' });
  const t0 = performance.now();
  const parts = await reader.readRanges(url, chunks);
  const ms = performance.now() - t0;
  await reader.close();
  const s = reader.stats();
  const bytes = parts.reduce((n, p) => n + p.byteLength, 0);
  console.log(`${pass}: ${parts.length} chunks, ${bytes} bytes in ${ms.toFixed(0)} ms; origin requests ${s.originRequests}, cache hits ${s.hits}`);
}
await fetcher.close();
if (client) await client.close();
if (s3server) await s3server.stop();
