import t from 'tap';
import { S3Client } from '@aws-sdk/client-s3';
import { AccessDeniedError, AsyncCachingReader, InvalidPathError, MemoryStore, ObjectNotFoundError } from '@rangecache/core';
import { pseudoRandomBytes, startFaultProxy, startS3rver } from '@rangecache/test-support';
import { S3Fetcher, parseS3Url } from '../src/index.js';

const s3 = await startS3rver();
const proxy = await startFaultProxy({ host: s3.host, port: s3.port });
t.teardown(async () => { await proxy.stop(); await s3.stop(); });
const bytes = pseudoRandomBytes(300_000, 's3');
await s3.put('data/file one.bin', bytes);
const url = `s3://${s3.bucket}/data/file one.bin`;

t.test('GetObject asks for the range with IfMatch and returns exactly those bytes', async (t) => {
  const f = new S3Fetcher({ client: s3.client(proxy.endpoint) });
  const meta = await f.stat(url);
  t.equal(meta.size, 300_000);
  t.match(meta.version, /^etag:"/);
  proxy.requests.length = 0;
  t.same(Buffer.from(await f.fetch(url, { start: 70_000, end: 200_000 }, { expect: meta })), bytes.subarray(70_000, 200_000));
  t.equal(proxy.requests[0]?.range, 'bytes=70000-199999');
  t.equal(proxy.requests.length, 1);
});

t.test('anonymous (unsigned) access, built from clientConfig', async (t) => {
  const f = new S3Fetcher({ clientConfig: { endpoint: proxy.endpoint, region: 'us-east-1', forcePathStyle: true }, anonymous: true });
  t.teardown(() => f.close());
  const reader = new AsyncCachingReader({ fetcher: f, store: new MemoryStore() });
  t.same(Buffer.from(await reader.readRange(url, 5, 50_005)), bytes.subarray(5, 50_005));
});

t.test('errors map to the core types', async (t) => {
  const f = new S3Fetcher({ client: s3.client() });
  const err = await f.stat(`s3://${s3.bucket}/nope.bin`).then(() => null, (e: unknown) => e);
  t.ok(err instanceof ObjectNotFoundError);
  t.equal((err as ObjectNotFoundError).status, 404);
  await t.rejects(f.stat('s3://no-such-bucket/x'), ObjectNotFoundError, 'a missing bucket is not found too');
  const wrongKey = new S3Fetcher({ client: new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'UNKNOWN-KEY', secretAccessKey: 'S3RVER' } }) });
  const denied = await wrongKey.fetch(url, { start: 0, end: 10 }, { expect: await f.stat(url) }).then(() => null, (e: unknown) => e);
  t.ok(denied instanceof AccessDeniedError, 'an unknown access key is access denied');
  t.equal((denied as AccessDeniedError).status, 403);
  await t.rejects(f.stat('s3://bucket-only'), InvalidPathError);
  await t.rejects(f.stat('https://not-s3/x'), /expected s3:\/\/bucket\/key/);
});

t.test('constructor and URL parsing', async (t) => {
  t.throws(() => new S3Fetcher({ client: s3.client(), anonymous: true }), /either client, or clientConfig\/anonymous/);
  t.throws(() => new S3Fetcher({ client: {} as S3Client }), /client is not an S3Client/);
  t.same(parseS3Url('s3://b/a/b c%20d'), { bucket: 'b', key: 'a/b c%20d' }, 'keys are literal');
});
