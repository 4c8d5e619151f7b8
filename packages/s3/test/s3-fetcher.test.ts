import t from 'tap';
import { S3Client } from '@aws-sdk/client-s3';
import { AccessDeniedError, AsyncCachingReader, ConfigError, InvalidPathError, MemoryStore, ObjectNotFoundError, OriginError, OriginTimeoutError } from '@rangecache/core';
import { S3RVER_CREDENTIALS, pseudoRandomBytes, startFaultProxy, startHttpOrigin, startS3rver } from '@rangecache/test-support';
import { S3Fetcher, parseS3Url } from '../src/index.js';

const s3 = await startS3rver();
const proxy = await startFaultProxy({ host: s3.host, port: s3.port });
// A real node:http origin answering path-style S3 requests (GET/HEAD /bucket/key with Range and If-Match): it can
// leave out the ETag or trickle its bodies, which s3rver cannot.
const origin = await startHttpOrigin();
const viaOrigin = (options: { timeouts?: { requestMs?: number; minBytesPerSecond?: number } } = {}): S3Fetcher =>
  new S3Fetcher({ client: new S3Client({ endpoint: origin.baseUrl, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 }), ...options });
t.teardown(async () => { await proxy.stop(); await s3.stop(); await origin.stop(); });
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

// Issue 8: the reader must know when a version cannot tell two contents apart.
t.test('weakVersion: S3 ETags (content hashes) are strong; a size-only version is weak', async (t) => {
  const f = new S3Fetcher({ client: s3.client() });
  const meta = await f.stat(url);
  t.equal(meta.weakVersion, false, `s3rver: ${meta.version} is strong`);
  const small = pseudoRandomBytes(5000, 'no-etag');
  origin.put('bucket/no-etag.bin', small);
  Object.assign(origin.behaviour, { etag: 'none' });
  const g = viaOrigin();
  const weak = await g.stat('s3://bucket/no-etag.bin');
  t.equal(weak.version, 'size:5000');
  t.equal(weak.weakVersion, true, 'no ETag and no VersionId: size only, weak');
  t.same(Buffer.from(await g.fetch('s3://bucket/no-etag.bin', { start: 100, end: 4100 }, { expect: weak })), small.subarray(100, 4100));
  origin.reset();
  const strong = await g.stat('s3://bucket/no-etag.bin');
  t.equal(strong.weakVersion, false, 'with an ETag: strong');
  await g.close();
});

// Issue 8: an origin trickling bytes kept a read pending forever; the SDK's timeouts only measure pauses.
t.test('every request has a deadline that grows with its length', async (t) => {
  t.teardown(() => origin.reset());
  const body = pseudoRandomBytes(65_536, 's3-trickle');
  origin.put('bucket/trickle.bin', body);
  const path = 's3://bucket/trickle.bin';
  const f = viaOrigin({ timeouts: { requestMs: 500, minBytesPerSecond: 32_768 } });
  t.teardown(() => f.close());
  const meta = await f.stat(path);
  origin.behaviour.trickleMs = 20; // one byte every 20 ms: 64 KiB would take 22 minutes
  const t0 = Date.now();
  const outcome = await Promise.race([
    f.fetch(path, { start: 0, end: 65_536 }, { expect: meta }).then(() => 'resolved', (e: unknown) => e),
    new Promise((r) => setTimeout(() => r('still pending after 60 s'), 60_000).unref()),
  ]);
  const ms = Date.now() - t0;
  t.ok(outcome instanceof OriginTimeoutError, `rejected with an OriginTimeoutError (got ${String(outcome)})`);
  t.ok(outcome instanceof OriginError);
  const e = outcome as OriginTimeoutError;
  t.equal(e.code, 'ERR_RANGECACHE_ORIGIN_TIMEOUT');
  t.equal(e.timeoutMs, 2500, 'requestMs + 64 KiB at 32 KiB/s');
  t.equal(e.backend, 's3');
  t.equal(e.path, path);
  t.ok(ms >= 2400 && ms < 30_000, `after ${ms} ms`);
  const gets = origin.requests.filter((r) => r.method === 'GET');
  t.ok(gets.length >= 1 && gets.every((r) => r.bytes < 65_536), `aborted early (${gets.map((r) => r.bytes).join(', ')} bytes sent)`);

  origin.behaviour.trickleMs = 0;
  origin.behaviour.delayMs = 5000;
  const s0 = Date.now();
  await t.rejects(f.stat(path), OriginTimeoutError, 'HeadObject has a deadline too');
  t.ok(Date.now() - s0 < 4500, `before the 5 s answer (${Date.now() - s0} ms)`);
  origin.behaviour.delayMs = 0;

  // Healthy but slower than requestMs alone: 1 MiB at about 800 KiB/s; its deadline is 32.5 s.
  const big = pseudoRandomBytes(1 << 20, 's3-trickle-big');
  origin.put('bucket/big.bin', big);
  const bigMeta = await f.stat('s3://bucket/big.bin');
  Object.assign(origin.behaviour, { trickleMs: 20, trickleBytes: 16_384 });
  const t1 = Date.now();
  t.same(Buffer.from(await f.fetch('s3://bucket/big.bin', { start: 0, end: 1 << 20 }, { expect: bigMeta })), big, 'a large read at a healthy rate completes');
  t.ok(Date.now() - t1 > 500, `taking longer than requestMs alone (${Date.now() - t1} ms)`);
});

t.test('deadline options are validated and named', async (t) => {
  for (const bad of [0, -1, Number.NaN, Infinity, 2 ** 31]) {
    t.throws(() => new S3Fetcher({ client: s3.client(), timeouts: { requestMs: bad } }), { name: 'ConfigError', message: /timeouts\.requestMs/ }, `requestMs ${bad}`);
  }
  for (const bad of [0, -1, Number.NaN, 2 ** 41]) {
    t.throws(() => new S3Fetcher({ client: s3.client(), timeouts: { minBytesPerSecond: bad } }), ConfigError, `minBytesPerSecond ${bad}`);
  }
});
