import t from 'tap';
import { AccessDeniedError, AsyncCachingReader, ConfigError, InvalidRangeError, MemoryStore, ObjectNotFoundError, OriginError, OriginTimeoutError, UnexpectedEncodingError, VersionChangedError } from '@rangecache/core';
import { Agent, Dispatcher } from 'undici';
import { pseudoRandomBytes, startHttpOrigin } from '@rangecache/test-support';
import { HttpFetcher } from '../src/index.js';

const origin = await startHttpOrigin();
const fast = { minDelayMs: 1, maxDelayMs: 5 };
const fetchers: HttpFetcher[] = [];
const make = (o: ConstructorParameters<typeof HttpFetcher>[0] = {}): HttpFetcher => {
  const f = new HttpFetcher({ retry: fast, ...o });
  fetchers.push(f);
  return f;
};
t.teardown(async () => { await Promise.all(fetchers.map((f) => f.close())); await origin.stop(); });
t.beforeEach(() => origin.reset());
const bytes = pseudoRandomBytes(200_000, 'http');
origin.put('data.bin', bytes);
const url = origin.url('data.bin');

t.test('ranged GET sends Range and If-Match and checks Content-Range', async (t) => {
  const f = make();
  const meta = await f.stat(url);
  t.equal(origin.requests[0]?.method, 'HEAD');
  t.same(Buffer.from(await f.fetch(url, { start: 1000, end: 3000 }, { expect: meta })), bytes.subarray(1000, 3000));
  const get = origin.requests[1]!;
  t.equal(get.range, 'bytes=1000-2999');
  t.equal(get.ifMatch, meta.etag, 'If-Match carries the ETag');
  t.equal(get.status, 206);
});

t.test('reads after a HEAD reuse one keep-alive connection (undici 7 Agent: no connection per request)', async (t) => {
  // undici closes the connection after a HEAD unless told not to, and its Agent (7.x) then let every later request to
  // that origin open a connection of its own and close it: a TCP (for HTTPS, TLS) handshake per origin request.
  const f = make();
  const meta = await f.stat(url);
  for (let i = 0; i < 20; i++) {
    const start = i * 5000;
    t.same(Buffer.from(await f.fetch(url, { start, end: start + 5000 }, { expect: meta })), bytes.subarray(start, start + 5000));
  }
  const gets = origin.requests.filter((r) => r.method === 'GET');
  t.equal(gets.length, 20);
  const used = new Set(origin.requests.map((r) => r.connection));
  // Two at most: the pool may open a second one for a request sent while the first still finishes a response.
  t.ok(used.size <= 2, `the HEAD and 20 sequential GETs came on ${used.size} connection(s), not one each`);
});

t.test('stat falls back to GET bytes=0-0 where HEAD is refused', async (t) => {
  for (const status of [403, 405]) {
    origin.reset();
    origin.behaviour.refuseHead = status;
    const meta = await make().stat(url);
    t.equal(meta.size, 200_000, `HEAD ${status}: size from Content-Range`);
    t.same(origin.requests.map((r) => [r.method, r.range ?? null]), [['HEAD', null], ['GET', 'bytes=0-0']]);
  }
  origin.put('empty.bin', new Uint8Array(0));
  origin.behaviour.refuseHead = 403;
  t.equal((await make().stat(origin.url('empty.bin'))).size, 0, 'an empty object answers 416 bytes */0');
});

t.test('a server that ignores Range (200) still yields exactly the range', async (t) => {
  origin.behaviour.ignoreRange = true;
  const f = make();
  const meta = await f.stat(url);
  t.same(Buffer.from(await f.fetch(url, { start: 150_000, end: 150_100 }, { expect: meta })), bytes.subarray(150_000, 150_100));
  t.equal(origin.requests.at(-1)!.status, 200);
  const reader = new AsyncCachingReader({ fetcher: f, store: new MemoryStore(), blockSize: 4096 });
  t.same(Buffer.from(await reader.readRange(url, 12_345, 23_456)), bytes.subarray(12_345, 23_456));
});

t.test('416 becomes an InvalidRangeError (a RangeError) with the status', async (t) => {
  const f = make();
  const meta = await f.stat(url);
  const err = await f.fetch(url, { start: 300_000, end: 300_010 }, { expect: { ...meta, size: 400_000 } }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof InvalidRangeError && err instanceof RangeError);
  t.equal((err as InvalidRangeError).status, 416);
  t.equal((err as InvalidRangeError).size, 200_000);
});

t.test('412 and a changed ETag are VersionChangedErrors; the reader refreshes and retries once', async (t) => {
  const f = make();
  origin.put('v.bin', pseudoRandomBytes(10_000, 'a'));
  const u = origin.url('v.bin');
  const reader = new AsyncCachingReader({ fetcher: f, store: new MemoryStore(), blockSize: 4096, metaTtlMs: 3_600_000 });
  await reader.stat(u);
  const meta = await f.stat(u);
  const v2 = pseudoRandomBytes(10_000, 'b');
  origin.put('v.bin', v2);
  await t.rejects(f.fetch(u, { start: 0, end: 10 }, { expect: meta }), VersionChangedError, '412 from If-Match');
  origin.behaviour.ignoreIfMatch = true;
  await t.rejects(f.fetch(u, { start: 0, end: 10 }, { expect: meta }), VersionChangedError, 'or a different ETag on the response');
  origin.behaviour.ignoreIfMatch = false;
  origin.reset();
  t.same(Buffer.from(await reader.readRange(u, 0, 10_000)), v2, 'new bytes only');
  t.same(origin.requests.map((r) => [r.method, r.status]), [['GET', 412], ['HEAD', 200], ['GET', 206]], 'failed once, refreshed, read the new version');
});

t.test('weak ETags and Last-Modified still detect a change', async (t) => {
  for (const mode of ['weak', 'none'] as const) {
    origin.reset();
    origin.behaviour.etag = mode;
    const name = `w-${mode}.bin`;
    origin.put(name, pseudoRandomBytes(1000, 'w1'));
    const f = make();
    const meta = await f.stat(origin.url(name));
    t.match(meta.version, mode === 'weak' ? /^etag:W\// : /^lm:/);
    t.same(Buffer.from(await f.fetch(origin.url(name), { start: 0, end: 10 }, { expect: meta })), pseudoRandomBytes(1000, 'w1').subarray(0, 10));
    t.equal(origin.requests.at(-1)!.ifMatch, undefined, 'no If-Match with a weak or missing ETag');
    origin.put(name, pseudoRandomBytes(1000, 'w2'));
    await t.rejects(f.fetch(origin.url(name), { start: 0, end: 10 }, { expect: meta }), VersionChangedError, `${mode}: change detected`);
  }
});

t.test('retries resets, 429 and 5xx with backoff; not 4xx; bounded in count', async (t) => {
  const f = make({ retry: { retries: 3, minDelayMs: 1, maxDelayMs: 5 } });
  const meta = await f.stat(url);
  for (const fault of ['reset', 'truncate', 429, 500, 502, 503] as const) {
    origin.reset();
    origin.failNext(2, fault);
    t.same(Buffer.from(await f.fetch(url, { start: 0, end: 50_000 }, { expect: meta })), bytes.subarray(0, 50_000), `${fault}: recovered`);
    t.equal(origin.requests.length, 3, `${fault}: 2 failures + 1 success`);
  }
  origin.reset();
  origin.failNext(10, 503);
  const err = await f.fetch(url, { start: 0, end: 10 }, { expect: meta }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof OriginError);
  t.equal((err as OriginError).status, 503);
  t.equal(origin.requests.length, 4, 'gave up after 1 + 3 retries');
  origin.reset();
  origin.failNext(1, 400);
  const bad = await f.fetch(url, { start: 0, end: 10 }, { expect: meta }).then(() => null, (e: unknown) => e);
  t.equal((bad as OriginError | null)?.status, 400);
  t.equal(origin.requests.length, 1, 'no retry on 400');
  origin.reset();
  await t.rejects(f.stat(origin.url('gone.bin')), ObjectNotFoundError);
  t.equal(origin.requests.length, 1, 'no retry on 404');
});

t.test('retries stop at maxElapsedMs', async (t) => {
  const f = make({ retry: { retries: 100, minDelayMs: 50, maxDelayMs: 50, maxElapsedMs: 300 } });
  const meta = await f.stat(url);
  origin.reset();
  origin.failNext(1000, 500);
  const t0 = Date.now();
  await t.rejects(f.fetch(url, { start: 0, end: 10 }, { expect: meta }), OriginError);
  const ms = Date.now() - t0;
  t.ok(ms < 1000, `gave up after ${ms} ms`);
  t.ok(origin.requests.length < 20, `${origin.requests.length} attempts`);
});

t.test('custom headers (static or per request) reach the origin', async (t) => {
  origin.behaviour.requireHeader = ['authorization', 'Bearer s3cr3t'];
  await t.rejects(make().stat(url), AccessDeniedError, '401 without the header');
  t.equal((await make({ headers: { authorization: 'Bearer s3cr3t' } }).stat(url)).size, 200_000);
  let calls = 0;
  const f = make({ headers: async () => { calls++; return { authorization: 'Bearer s3cr3t' }; } });
  const meta = await f.stat(url);
  await f.fetch(url, { start: 0, end: 10 }, { expect: meta });
  t.equal(calls, 2, 'the header function runs per request');
});

t.test('abort and timeouts', async (t) => {
  origin.behaviour.delayMs = 2500;
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 30);
  const t0 = Date.now();
  await t.rejects(make().stat(url, { signal: ac.signal }), { name: 'AbortError' });
  t.ok(Date.now() - t0 < 1000, 'aborted long before the response came');
  // undici arms header timeouts on ~1 s resolution timers, so the bound is checked loosely.
  const f = make({ retry: { retries: 0 }, timeouts: { headersMs: 200 } });
  const t1 = Date.now();
  const err = await f.stat(url).then(() => null, (e: unknown) => e);
  t.ok(err instanceof OriginError, 'a headers timeout is an OriginError');
  t.match(String((err as Error | null)?.message), /UND_ERR_HEADERS_TIMEOUT/);
  t.ok(Date.now() - t1 < 2400, `timed out after ${Date.now() - t1} ms, before the 2.5 s response`);
});

t.test('configuration errors name the option', async (t) => {
  t.throws(() => new HttpFetcher({ timeouts: { headersMs: 0 } }), /timeouts.headersMs must be a positive number/);
  t.throws(() => new HttpFetcher({ retry: { retries: -1 } }), /retry.retries/);
  for (const bad of [0, -1, Number.NaN, Infinity, 2 ** 31, 1e12]) {
    t.throws(() => new HttpFetcher({ timeouts: { requestMs: bad } }), { name: 'ConfigError', message: /timeouts\.requestMs/ }, `requestMs ${bad}`);
    t.throws(() => new HttpFetcher({ timeouts: { headersMs: bad } }), ConfigError, `headersMs ${bad}`);
  }
  for (const bad of [0, -5, Number.NaN, Infinity, 2 ** 41]) {
    t.throws(() => new HttpFetcher({ timeouts: { minBytesPerSecond: bad } }), { name: 'ConfigError', message: /timeouts\.minBytesPerSecond/ }, `minBytesPerSecond ${bad}`);
  }
  t.throws(() => new HttpFetcher({ timeouts: { requestMs: '1000' as unknown as number } }), /timeouts\.requestMs/, 'a string is not a number');
  make({ timeouts: { requestMs: 2 ** 31 - 1, minBytesPerSecond: 1 } }); // the largest values are accepted
});

// Issue 8: a 206 with `Content-Encoding: gzip` (a misconfigured server or CDN) was cached as the object's bytes.
t.test('Accept-Encoding: identity on every request; an encoded body is refused with a typed error, never cached', async (t) => {
  const f = make({ headers: { 'Accept-Encoding': 'gzip, br' } }); // even where the caller's headers ask for gzip
  const meta = await f.stat(url);
  t.same(Buffer.from(await f.fetch(url, { start: 0, end: 10 }, { expect: meta })), bytes.subarray(0, 10));
  t.same(origin.requests.map((r) => r.acceptEncoding), ['identity', 'identity'], 'HEAD and GET both ask for identity');

  origin.behaviour.contentEncoding = 'gzip';
  const err = await f.fetch(url, { start: 1000, end: 5000 }, { expect: meta }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof UnexpectedEncodingError, 'a gzip 206 is an UnexpectedEncodingError');
  t.ok(err instanceof OriginError, 'which is an OriginError');
  const e = err as UnexpectedEncodingError;
  t.equal(e.code, 'ERR_RANGECACHE_ENCODING');
  t.equal(e.encoding, 'gzip');
  t.equal(e.status, 206);
  t.equal(e.path, url);
  t.equal(e.backend, 'http');
  t.match(e.message, /gzip/);
  t.equal(origin.requests.filter((r) => r.method === 'GET').length, 2, 'not retried: the origin will say the same again');
  await t.rejects(f.stat(url), UnexpectedEncodingError, 'a HEAD that says gzip is refused too (its length is not the object\'s)');
  origin.behaviour.refuseHead = 403;
  await t.rejects(f.stat(url), UnexpectedEncodingError, 'and so is the GET bytes=0-0 fallback');
  origin.behaviour.refuseHead = undefined;

  const store = new MemoryStore();
  const reader = new AsyncCachingReader({ fetcher: f, store, blockSize: 4096 });
  origin.behaviour.contentEncoding = undefined;
  await reader.stat(url); // metadata from a clean HEAD; the data requests then come back gzipped
  origin.behaviour.contentEncoding = 'gzip';
  await t.rejects(reader.readRange(url, 0, 20_000), UnexpectedEncodingError, 'the reader passes the error on');
  origin.behaviour.contentEncoding = undefined;
  const atClean = origin.requests.length;
  t.same(Buffer.from(await reader.readRange(url, 0, 20_000)), bytes.subarray(0, 20_000), 'then the right bytes');
  t.ok(origin.requests.length > atClean, 'fetched again: nothing of the encoded body was cached');
  await reader.close();
});

// Issue 8: versions that cannot tell two contents apart are marked, so that the reader never splices cached and fresh
// bytes of them and caps their TTL.
t.test('weakVersion classifies each validator configuration of a real origin', async (t) => {
  const cases: [string, Partial<typeof origin.behaviour>, RegExp, boolean][] = [
    ['strong ETag (content hash)', { etag: 'strong' }, /^etag:"[0-9a-f]{16}-\d+"$/, false],
    ['weak W/ ETag', { etag: 'weak' }, /^etag:W\//, true],
    ['nginx "<hex mtime>-<hex size>" ETag', { etag: 'nginx' }, /^etag:"[0-9a-f]+-30d40"$/, true],
    ['Last-Modified only', { etag: 'none', lastModified: true }, /^lm:/, true],
    ['no validators (size only)', { etag: 'none', lastModified: false }, /^size:200000$/, true],
  ];
  for (const [label, behaviour, version, weak] of cases) {
    for (const refuseHead of [undefined, 403]) {
      origin.reset();
      Object.assign(origin.behaviour, behaviour, { refuseHead });
      const f = make();
      const meta = await f.stat(url);
      const via = refuseHead === undefined ? 'HEAD' : 'GET bytes=0-0';
      t.match(meta.version, version, `${label} via ${via}: version ${meta.version}`);
      t.equal(meta.weakVersion, weak, `${label} via ${via}: weakVersion ${String(weak)}`);
      t.same(Buffer.from(await f.fetch(url, { start: 199_000, end: 200_000 }, { expect: meta })), bytes.subarray(199_000, 200_000), `${label}: bytes`);
    }
  }
  // A strong ETag of the same shape whose second part is not the size is not taken for nginx's.
  origin.reset();
  origin.put('tiny.bin', pseudoRandomBytes(0x2a, 'tiny'));
  origin.behaviour.etag = 'nginx';
  t.equal((await make().stat(origin.url('tiny.bin'))).weakVersion, true, 'nginx ETag of a 42-byte object: "…-2a"');
  origin.behaviour.etag = 'strong';
  t.equal((await make().stat(origin.url('tiny.bin'))).weakVersion, false, 'a content-hash ETag "<hex>-<n>" with n ≠ the size in hex');
});

// Issue 8: an origin trickling one byte at a time kept a read pending forever (undici's bodyTimeout measures pauses).
t.test('every request has a deadline that grows with its length: a trickle fails typed, a slow healthy read succeeds', async (t) => {
  const small = pseudoRandomBytes(65_536, 'trickle');
  origin.put('trickle.bin', small);
  const u = origin.url('trickle.bin');
  const f = make({ retry: { retries: 1, minDelayMs: 1, maxDelayMs: 5 }, timeouts: { requestMs: 500, minBytesPerSecond: 32_768 } });
  const meta = await f.stat(u);
  origin.behaviour.trickleMs = 20; // one byte every 20 ms: 64 KiB would take 22 minutes
  const t0 = Date.now();
  const outcome = await Promise.race([
    f.fetch(u, { start: 0, end: 65_536 }, { expect: meta }).then(() => 'resolved', (e: unknown) => e),
    new Promise((r) => setTimeout(() => r('still pending after 60 s'), 60_000).unref()),
  ]);
  const ms = Date.now() - t0;
  t.ok(outcome instanceof OriginTimeoutError, `rejected with an OriginTimeoutError (got ${String(outcome)})`);
  t.ok(outcome instanceof OriginError, 'an OriginError');
  const e = outcome as OriginTimeoutError;
  t.equal(e.code, 'ERR_RANGECACHE_ORIGIN_TIMEOUT');
  t.equal(e.timeoutMs, 500 + 2000, 'deadline = requestMs + 64 KiB at 32 KiB/s');
  t.equal(e.path, u);
  t.equal(e.backend, 'http');
  t.ok(ms >= 2 * 2500 - 100 && ms < 30_000, `two attempts of 2.5 s each, then gave up: ${ms} ms`);
  const gets = origin.requests.filter((r) => r.method === 'GET');
  t.equal(gets.length, 2, 'retried once, as the retry policy allows, and no more');
  t.ok(gets.every((r) => r.bytes < 65_536), `each request was aborted early (${gets.map((r) => r.bytes).join(', ')} bytes sent)`);

  // Healthy but slower than requestMs alone: 1 MiB at about 800 KiB/s takes over a second; its deadline is 32.5 s.
  const big = pseudoRandomBytes(1 << 20, 'trickle-big');
  origin.put('big.bin', big);
  const bu = origin.url('big.bin');
  origin.behaviour.trickleMs = 0;
  const bigMeta = await f.stat(bu);
  Object.assign(origin.behaviour, { trickleMs: 20, trickleBytes: 16_384 });
  const t1 = Date.now();
  t.same(Buffer.from(await f.fetch(bu, { start: 0, end: 1 << 20 }, { expect: bigMeta })), big, 'a large read at a healthy rate completes');
  t.ok(Date.now() - t1 > 500, `and it took longer than requestMs alone would allow (${Date.now() - t1} ms)`);
  Object.assign(origin.behaviour, { trickleMs: 0, trickleBytes: 1 });
  t.same(Buffer.from(await f.fetch(bu, { start: 0, end: 1 << 20 }, { expect: bigMeta })), big, 'and at full speed');
});

t.test('abort still wins over the deadline, and a caller abort is not a timeout', async (t) => {
  origin.put('slow.bin', pseudoRandomBytes(4096, 'slow'));
  const u = origin.url('slow.bin');
  const f = make({ timeouts: { requestMs: 60_000 } });
  const meta = await f.stat(u);
  origin.behaviour.trickleMs = 50;
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const err = await f.fetch(u, { start: 0, end: 4096 }, { expect: meta, signal: ac.signal }).then(() => null, (e: unknown) => e);
  t.equal((err as Error | null)?.name, 'AbortError', 'an AbortError');
  t.notOk(err instanceof OriginTimeoutError);
  t.equal(origin.requests.filter((r) => r.method === 'GET').length, 1, 'not retried');
});


t.test('Content-Type: stat reports the origin\'s media type; a malformed one is left out', async (t) => {
  origin.put('typed.nc', pseudoRandomBytes(100, 'typed'), { contentType: 'application/x-netcdf; version=4' });
  origin.put('badly-typed.bin', pseudoRandomBytes(100, 'typed'), { contentType: 'not a media type' });
  const fetcher = make();
  t.equal((await fetcher.stat(origin.url('typed.nc'))).contentType, 'application/x-netcdf; version=4');
  t.equal((await fetcher.stat(origin.url('badly-typed.bin'))).contentType, undefined);
});

t.test('followRedirect: only the redirects it allows are followed; a refused one names no target', async (t) => {
  const target = pseudoRandomBytes(5000, 'redirect-target');
  origin.put('target.bin', target);
  origin.redirect('hop1.bin', `${origin.baseUrl}/hop2.bin`, 301);
  origin.redirect('hop2.bin', '/target.bin', 307); // relative Location
  origin.redirect('away.bin', 'http://10.1.2.3:8080/internal/secret.bin', 302);
  const seen: string[] = [];
  const fetcher = make({ followRedirect: (u) => { seen.push(u); return u.startsWith(`${origin.baseUrl}/`); } });
  const meta = await fetcher.stat(origin.url('hop1.bin'));
  t.equal(meta.size, 5000, 'HEAD followed two allowed redirects, one of them relative');
  t.same(seen, [`${origin.baseUrl}/hop2.bin`, `${origin.baseUrl}/target.bin`]);
  const got = await fetcher.fetch(origin.url('hop1.bin'), { start: 100, end: 200 }, { expect: meta });
  t.ok(Buffer.from(got).equals(target.subarray(100, 200)), 'ranged GET through the same redirects');
  const before = origin.requests.length;
  const refused = await fetcher.stat(origin.url('away.bin')).catch((e: unknown) => e);
  t.ok(refused instanceof OriginError, 'an OriginError');
  t.equal((refused as OriginError).status, 302);
  t.notMatch((refused as Error).message, /10\.1\.2\.3|internal/, 'the target is not named');
  t.equal(origin.requests.length, before + 1, 'nothing else was requested');
  const capped = make({ followRedirect: () => true, maxRedirections: 1 });
  await t.rejects(capped.stat(origin.url('hop1.bin')), { message: /more than 1 redirects/ });
  t.throws(() => make({ followRedirect: 'yes' as unknown as () => boolean }), ConfigError);
  t.throws(() => make({ maxRedirections: -1 }), { message: /maxRedirections/ });
});

t.test('a ranged GET (undici dispatch) fails typed before its response, and on redirects it may not follow', async (t) => {
  const f = make({ retry: { retries: 0 }, timeouts: { headersMs: 200 } });
  const meta = await f.stat(url);
  origin.behaviour.delayMs = 2500;
  // The caller gives up before the response head: an AbortError, at once, not retried.
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 30);
  const t0 = Date.now();
  await t.rejects(f.fetch(url, { start: 0, end: 100 }, { expect: meta, signal: ac.signal }), { name: 'AbortError' });
  t.ok(Date.now() - t0 < 2000, `aborted before the 2.5 s response came (${Date.now() - t0} ms)`);
  // No head within headersMs: an OriginError naming undici's code (undici checks it on ~1 s timers), not the
  // response that comes after 2.5 s.
  const late = await f.fetch(url, { start: 0, end: 100 }, { expect: meta }).then(() => null, (e: unknown) => e);
  t.ok(late instanceof OriginError, `an OriginError (got ${String(late)})`);
  t.match(String((late as Error | null)?.message), /UND_ERR_HEADERS_TIMEOUT/);
  origin.behaviour.delayMs = 0;
  // An aborted signal is refused before anything is sent.
  const before = origin.requests.length;
  await t.rejects(f.fetch(url, { start: 0, end: 100 }, { expect: meta, signal: AbortSignal.abort() }), { name: 'AbortError' });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(origin.requests.length, before, 'nothing was requested');

  // Redirects a data request meets are judged like stat's: a refused one names no target, a hop too many fails.
  const target = pseudoRandomBytes(3000, 'fetch-redirect');
  origin.put('fetch-target.bin', target);
  origin.redirect('fetch-away.bin', 'http://10.1.2.3:8080/internal/secret.bin', 302);
  origin.redirect('fetch-hop1.bin', '/fetch-hop2.bin', 302);
  origin.redirect('fetch-hop2.bin', '/fetch-target.bin', 307);
  const targetMeta = await make().stat(origin.url('fetch-target.bin'));
  const guarded = make({ followRedirect: (u) => u.startsWith(`${origin.baseUrl}/`) });
  const refused = await guarded.fetch(origin.url('fetch-away.bin'), { start: 0, end: 100 }, { expect: targetMeta }).then(() => null, (e: unknown) => e);
  t.ok(refused instanceof OriginError, 'a refused redirect is an OriginError');
  t.equal((refused as OriginError).status, 302);
  t.notMatch((refused as Error).message, /10\.1\.2\.3|internal/, 'the target is not named');
  const got = await guarded.fetch(origin.url('fetch-hop1.bin'), { start: 1000, end: 2500 }, { expect: targetMeta });
  t.ok(Buffer.from(got).equals(target.subarray(1000, 2500)), 'two allowed hops, then the exact bytes');
  const capped = make({ followRedirect: () => true, maxRedirections: 1 });
  await t.rejects(capped.fetch(origin.url('fetch-hop1.bin'), { start: 0, end: 10 }, { expect: targetMeta }), { message: /more than 1 redirects/ });
  // Without followRedirect the fetcher's own agent follows them (undici's redirect interceptor), within maxRedirections.
  const plain = await make().fetch(origin.url('fetch-hop1.bin'), { start: 2000, end: 3000 }, { expect: targetMeta });
  t.ok(Buffer.from(plain).equals(target.subarray(2000, 3000)), 'the default agent follows both hops to the exact bytes');
  const none = await make({ maxRedirections: 0 }).fetch(origin.url('fetch-hop1.bin'), { start: 0, end: 10 }, { expect: targetMeta }).then(() => null, (e: unknown) => e);
  t.ok(none instanceof OriginError, `maxRedirections 0: the redirect is an OriginError (got ${String(none)})`);
});

t.test('a dispatcher that speaks only the older handler API (as undici 6 does) serves ranged GETs too', async (t) => {
  // Hands undici 7's Agent a handler with only the older methods, so that those are the ones called.
  class OlderHandlersOnly extends Dispatcher {
    readonly inner = new Agent();
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const h = handler;
      if (typeof h.onConnect !== 'function') throw new TypeError('the handler lacks the older API');
      return this.inner.dispatch(options, {
        onConnect: (abort) => h.onConnect!(abort),
        onHeaders: (status, headers, resume, text) => h.onHeaders!(status, headers, resume, text),
        onData: (chunk) => h.onData!(chunk),
        onComplete: (trailers) => h.onComplete!(trailers),
        onError: (error) => h.onError!(error),
      });
    }
    override async close(): Promise<void> {
      await this.inner.close();
    }
  }
  const dispatcher = new OlderHandlersOnly();
  t.teardown(() => dispatcher.close());
  const f = make({ dispatcher });
  const meta = await f.stat(url);
  t.same(Buffer.from(await f.fetch(url, { start: 1000, end: 70_000 }, { expect: meta })), bytes.subarray(1000, 70_000), 'a 206, byte-exact');
  origin.behaviour.ignoreRange = true;
  t.same(Buffer.from(await f.fetch(url, { start: 150_000, end: 150_100 }, { expect: meta })), bytes.subarray(150_000, 150_100), 'a 200 cut to the range');
  origin.behaviour.ignoreRange = false;
  origin.behaviour.trickleMs = 50;
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  await t.rejects(f.fetch(url, { start: 0, end: 4096 }, { expect: meta, signal: ac.signal }), { name: 'AbortError' }, 'an abort mid-body');
});
