// The range proxy over real servers (HTTP origin, redis-server, a real listening port): RFC 9110 semantics
// (HEAD, single and multiple ranges, 416, malformed ranges, ETag, If-None-Match, If-Range, Content-Type,
// Cache-Control, CORS), the status codes of refusals and failures with nothing internal in them, redirects,
// metrics and health. Every body is compared with the origin's bytes.
import { request } from 'node:http';
import { connect } from 'node:net';
import t from 'tap';
import { pseudoRandomBytes } from '@rangecache/test-support';
import { parseMultipart, startProxy } from './proxy-harness.js';

const proxy = await startProxy({ cors: { origins: ['https://app.example.com'] }, cacheControl: 'public, max-age=30' });
t.teardown(() => proxy.stop());
const { origin } = proxy;
const SIZE = 1_000_000;
const bytes = pseudoRandomBytes(SIZE, 'handler');
origin.put('dir/data.bin', bytes, { contentType: 'image/tiff; application=geotiff' });

async function get(name: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(proxy.url(name), { method, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

t.test('GET and HEAD of a whole object: the bytes, the origin\'s Content-Type, validators and Accept-Ranges', async (t) => {
  const whole = await get('dir/data.bin');
  t.equal(whole.status, 200);
  t.ok(whole.body.equals(bytes), 'the body is the object');
  t.equal(whole.headers.get('content-length'), String(SIZE));
  t.equal(whole.headers.get('content-type'), 'image/tiff; application=geotiff', 'Content-Type passed through');
  t.equal(whole.headers.get('accept-ranges'), 'bytes');
  t.equal(whole.headers.get('cache-control'), 'public, max-age=30', 'the configured Cache-Control');
  t.match(whole.headers.get('etag'), /^"[A-Za-z0-9_-]{27}"$/, 'a strong ETag');
  t.equal(whole.headers.get('last-modified'), new Date(Date.parse(whole.headers.get('last-modified')!)).toUTCString());
  const head = await get('dir/data.bin', {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body.byteLength, 0, 'HEAD has no body');
  t.equal(head.headers.get('content-length'), String(SIZE));
  t.equal(head.headers.get('etag'), whole.headers.get('etag'));
  const headRange = await get('dir/data.bin', { range: 'bytes=0-9' }, 'HEAD');
  t.equal(headRange.status, 200, 'Range is for GET only: HEAD ignores it');
});

t.test('single ranges: a-b, a-, -n → 206 with Content-Range and the exact bytes', async (t) => {
  const cases: [string, number, number][] = [['bytes=0-99', 0, 100], ['bytes=65530-65545', 65530, 65546], ['bytes=999990-', 999990, SIZE], ['bytes=-10', SIZE - 10, SIZE], ['bytes=999999-5000000', 999999, SIZE]];
  for (const [range, start, end] of cases) {
    const r = await get('dir/data.bin', { range });
    t.equal(r.status, 206, range);
    t.equal(r.headers.get('content-range'), `bytes ${start}-${end - 1}/${SIZE}`, range);
    t.equal(r.headers.get('content-length'), String(end - start));
    t.ok(r.body.equals(bytes.subarray(start, end)), `${range}: the bytes`);
  }
});

t.test('several ranges → multipart/byteranges, each part with its type, Content-Range and bytes', async (t) => {
  const r = await get('dir/data.bin', { range: 'bytes=500000-500099, 0-9, -5' });
  t.equal(r.status, 206);
  const type = r.headers.get('content-type')!;
  t.match(type, /^multipart\/byteranges; boundary=[A-Za-z0-9_-]+$/);
  t.equal(Number(r.headers.get('content-length')), r.body.byteLength, 'Content-Length is the body\'s length');
  const parts = parseMultipart(r.body, type);
  t.same(parts.map((p) => p.range), [`bytes 0-9/${SIZE}`, `bytes 500000-500099/${SIZE}`, `bytes ${SIZE - 5}-${SIZE - 1}/${SIZE}`], 'sorted parts');
  t.ok(parts[0]!.bytes.equals(bytes.subarray(0, 10)));
  t.ok(parts[1]!.bytes.equals(bytes.subarray(500000, 500100)));
  t.ok(parts[2]!.bytes.equals(bytes.subarray(SIZE - 5)));
  t.ok(parts.every((p) => p.type === 'image/tiff; application=geotiff'));
  const overlapping = await get('dir/data.bin', { range: 'bytes=0-99,50-149' });
  t.equal(overlapping.status, 206);
  t.equal(overlapping.headers.get('content-range'), `bytes 0-149/${SIZE}`, 'overlapping ranges are merged into one part');
  t.ok(overlapping.body.equals(bytes.subarray(0, 150)));
});

t.test('416 for an unsatisfiable range; a malformed Range or another unit gets the whole object', async (t) => {
  const r = await get('dir/data.bin', { range: `bytes=${SIZE}-` });
  t.equal(r.status, 416);
  t.equal(r.headers.get('content-range'), `bytes */${SIZE}`);
  for (const range of ['bytes=oops', 'items=0-5', 'bytes=9-1']) {
    const whole = await get('dir/data.bin', { range });
    t.equal(whole.status, 200, `${range}: ignored`);
    t.ok(whole.body.equals(bytes), `${range}: the whole object`);
  }
  origin.put('empty.bin', new Uint8Array(0));
  const empty = await get('empty.bin');
  t.equal(empty.status, 200);
  t.equal(empty.body.byteLength, 0);
  t.equal((await get('empty.bin', { range: 'bytes=0-' })).status, 416, 'no range of an empty object is satisfiable');
});

t.test('If-None-Match → 304; If-Range with the current ETag → 206, with another or a date → the whole object', async (t) => {
  const { headers } = await get('dir/data.bin', {}, 'HEAD');
  const etag = headers.get('etag')!;
  const notModified = await get('dir/data.bin', { 'if-none-match': `"other", ${etag}` });
  t.equal(notModified.status, 304);
  t.equal(notModified.body.byteLength, 0);
  t.equal(notModified.headers.get('etag'), etag);
  t.equal((await get('dir/data.bin', { 'if-none-match': `W/${etag}` })).status, 304, 'weak comparison');
  t.equal((await get('dir/data.bin', { 'if-none-match': '"other"' })).status, 200);
  const ranged = await get('dir/data.bin', { range: 'bytes=10-19', 'if-range': etag });
  t.equal(ranged.status, 206);
  t.ok(ranged.body.equals(bytes.subarray(10, 20)));
  const stale = await get('dir/data.bin', { range: 'bytes=10-19', 'if-range': '"old"' });
  t.equal(stale.status, 200, 'If-Range with another ETag: the whole object');
  t.ok(stale.body.equals(bytes));
  t.equal((await get('dir/data.bin', { range: 'bytes=10-19', 'if-range': headers.get('last-modified')! })).status, 200, 'a date is too coarse: whole object');

  // A new version at the origin gets a new ETag once the metadata is checked again.
  const v2 = pseudoRandomBytes(2000, 'handler-v2');
  origin.put('versioned.bin', pseudoRandomBytes(2000, 'handler-v1'));
  const e1 = (await get('versioned.bin', {}, 'HEAD')).headers.get('etag');
  await proxy.reader.invalidate(`${origin.baseUrl}/versioned.bin`);
  origin.put('versioned.bin', v2);
  const second = await get('versioned.bin');
  t.not(second.headers.get('etag'), e1, 'another version, another ETag');
  t.ok(second.body.equals(v2), 'and its bytes');
});

t.test('If-Match and If-Unmodified-Since → 412; If-Modified-Since → 304 (ignored beside If-None-Match)', async (t) => {
  const { headers } = await get('dir/data.bin', {}, 'HEAD');
  const etag = headers.get('etag')!;
  const lastModified = Date.parse(headers.get('last-modified')!);
  const before = new Date(lastModified - 60_000).toUTCString();
  const after = new Date(lastModified + 60_000).toUTCString();
  t.equal((await get('dir/data.bin', { 'if-match': '"other"' })).status, 412);
  t.equal((await get('dir/data.bin', { 'if-match': `W/${etag}` })).status, 412, 'a weak tag never matches strongly');
  const matched = await get('dir/data.bin', { 'if-match': `"other", ${etag}`, range: 'bytes=0-9' });
  t.equal(matched.status, 206);
  t.ok(matched.body.equals(bytes.subarray(0, 10)));
  t.equal((await get('dir/data.bin', { 'if-match': '*' })).status, 200);
  t.equal((await get('dir/data.bin', { 'if-unmodified-since': before })).status, 412, 'modified since then');
  t.equal((await get('dir/data.bin', { 'if-unmodified-since': after })).status, 200);
  t.equal((await get('dir/data.bin', { 'if-modified-since': after })).status, 304, 'not modified since');
  t.equal((await get('dir/data.bin', { 'if-modified-since': headers.get('last-modified')! })).status, 304, 'the same second');
  t.equal((await get('dir/data.bin', { 'if-modified-since': before })).status, 200);
  t.equal((await get('dir/data.bin', { 'if-modified-since': 'not a date' })).status, 200, 'an invalid date is ignored');
  t.equal((await get('dir/data.bin', { 'if-modified-since': after, 'if-none-match': '"other"' })).status, 200, 'If-None-Match wins');
});

t.test('a weak origin version gives a weak ETag, and If-Range never matches it', async (t) => {
  origin.put('weak.bin', pseudoRandomBytes(5000, 'weak'));
  origin.behaviour.etag = 'weak';
  try {
    const head = await get('weak.bin', {}, 'HEAD');
    const etag = head.headers.get('etag')!;
    t.match(etag, /^W\/"/);
    const r = await get('weak.bin', { range: 'bytes=0-9', 'if-range': etag });
    t.equal(r.status, 200, 'strong comparison fails for a weak tag');
    t.equal((await get('weak.bin', { 'if-none-match': etag })).status, 304);
  } finally {
    origin.behaviour.etag = 'strong';
  }
});

t.test('refusals and failures: 403, 404, 405, 400, 502, each one line with nothing internal', async (t) => {
  const base = proxy.server.url;
  const status = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${base}${path}`, init);
    return { status: res.status, text: await res.text() };
  };
  const refused = await status('/https/example.com/x');
  t.equal(refused.status, 403);
  t.equal(refused.text, 'not an allowed origin URL\n');
  const host = origin.baseUrl.replace('http://', '');
  // fetch() would resolve the dot segments itself: send them as they are.
  const raw = (path: string) => new Promise<number>((resolve, reject) => {
    request(`${base}${path}`, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end();
  });
  t.equal(await raw(`/http/${host}/dir/../../../https/example.com/x`), 403, 'dot segments resolved before the check: this is /https/example.com/x');
  t.equal(await raw(`/http/${host}/dir/%2e%2e/dir/data.bin`), 200, 'encoded dot segments too, here inside the prefix');
  t.equal(await raw(`/http/${host}/dir/..%2f..%2fx`), 400);
  // A request target in absolute form (what a client of a forward proxy sends) is refused by the Node adapter
  // before the handler runs: the proxy never reads the target's authority.
  const viaSocket = (target: string, hostHeader: string) => new Promise<string>((resolve, reject) => {
    const socket = connect(proxy.server.port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.on('data', (d) => { text += d.toString('latin1'); }).on('end', () => resolve(text.split('\r\n')[0]!)).on('error', reject);
  });
  t.equal(await viaSocket('http://example.com/https/example.com/x', 'example.com'), 'HTTP/1.1 400 Bad Request', 'absolute-form target: refused');
  t.equal(await viaSocket(`http://evil.test/http/${host}/dir/data.bin`, 'evil.test'), 'HTTP/1.1 400 Bad Request', 'even when its path is allowed');
  t.equal(await viaSocket(`/http/${host}/dir/data.bin`, 'evil.test'), 'HTTP/1.1 200 OK', 'a forged Host changes nothing: only the path is mapped');
  t.equal((await status(`/http/${host}/dir%2F..%2Fx`)).status, 400);
  t.equal((await status(`/http/${host}/missing.bin`)).status, 404);
  const post = await status(`/http/${host}/dir/data.bin`, { method: 'POST', body: 'x' });
  t.equal(post.status, 405);
  t.equal((await status('/nowhere/x')).status, 404);

  origin.failNext(2, 500); // the test's fetcher retries once
  const failed = await status(`/http/${host}/fails.bin`);
  t.equal(failed.status, 502);
  t.equal(failed.text, 'the origin failed (HTTP 500)\n');
  // Known object, then the origin fails on the bytes: still a 502 before any header, not a broken body.
  origin.put('fails-later.bin', pseudoRandomBytes(10_000, 'fails-later'));
  t.equal((await status(`/http/${host}/fails-later.bin`, { method: 'HEAD' })).status, 200);
  origin.failNext(2, 503);
  const later = await status(`/http/${host}/fails-later.bin`);
  t.equal(later.status, 502);
  t.equal(later.text, 'the origin failed (HTTP 503)\n');

  // An allowed prefix on a port where nothing listens: the reason names the network error, not the address.
  const dead = await startProxy({ allow: ['http://127.0.0.1:9/'] });
  try {
    const res = await fetch(`${dead.server.url}/http/127.0.0.1:9/x.bin`);
    const text = await res.text();
    t.equal(res.status, 502);
    t.equal(text, 'the origin could not be reached (ECONNREFUSED)\n');
    t.notMatch(text, /127\.0\.0\.1|:9\b/, 'no internal address in the response');
    t.notMatch([...res.headers.values()].join(' '), /127\.0\.0\.1/);
  } finally {
    await dead.stop();
  }
});

t.test('redirects are followed inside the allow-list only', async (t) => {
  origin.put('real.bin', pseudoRandomBytes(3000, 'real'));
  origin.redirect('moved.bin', `${origin.baseUrl}/real.bin`);
  const inside = await get('moved.bin', { range: 'bytes=0-99' });
  t.equal(inside.status, 206);
  t.ok(inside.body.equals(pseudoRandomBytes(3000, 'real').subarray(0, 100)));
  origin.redirect('escape.bin', 'http://169.254.169.254/latest/meta-data/iam', 307);
  const outside = await fetch(proxy.url('escape.bin'));
  const text = await outside.text();
  t.equal(outside.status, 502);
  t.equal(text, 'the origin redirected to a URL that is not allowed (HTTP 307)\n');
  t.notMatch(text, /169\.254/, 'the target is not named');
  t.notOk(origin.requests.some((r) => r.path.includes('latest')), 'not followed');
});

t.test('CORS: allowed origins get the headers a script needs; the Range preflight', async (t) => {
  const allowed = await get('dir/data.bin', { origin: 'https://app.example.com', range: 'bytes=0-0' });
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
  t.match(allowed.headers.get('access-control-expose-headers'), /Content-Range/);
  t.match(allowed.headers.get('vary'), /Origin/);
  const other = await get('dir/data.bin', { origin: 'https://evil.example.com' });
  t.equal(other.headers.get('access-control-allow-origin'), null);
  const preflight = await fetch(proxy.url('dir/data.bin'), {
    method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range, if-none-match' },
  });
  t.equal(preflight.status, 204);
  t.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com');
  t.equal(preflight.headers.get('access-control-allow-headers'), 'range, if-none-match');
  t.match(preflight.headers.get('access-control-allow-methods'), /GET/);
  const refusedPreflight = await fetch(proxy.url('dir/data.bin'), {
    method: 'OPTIONS', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
  });
  t.equal(refusedPreflight.status, 403);
  const badHeader = await fetch(proxy.url('dir/data.bin'), {
    method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-secret' },
  });
  t.equal(badHeader.status, 403, 'a header the proxy does not take');
});

t.test('/healthz and /metrics (Prometheus text with cache, origin and latency figures)', async (t) => {
  const health = await fetch(`${proxy.server.url}/healthz`);
  t.equal(health.status, 200);
  t.equal(await health.text(), 'ok\n');
  await get('dir/data.bin', { range: 'bytes=0-99' }); // a hit by now
  const res = await fetch(`${proxy.server.url}/metrics`);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const value = (line: RegExp): number => Number(new RegExp(`^${line.source} (\\S+)$`, 'm').exec(text)?.[1]);
  t.ok(value(/rangecache_cache_hits_total/) > 0, 'hits');
  t.ok(value(/rangecache_cache_misses_total/) > 0, 'misses');
  t.ok(value(/rangecache_origin_bytes_total/) >= SIZE, 'origin bytes');
  t.equal(value(/rangecache_redis_errors_total/), 0, 'no Redis errors');
  t.ok(value(/rangecache_origin_seconds_count\{operation="fetch",outcome="ok"\}/) > 0, 'origin latency histogram');
  t.ok(value(/rangecache_cache_seconds_count\{operation="lookup",outcome="ok"\}/) > 0, 'cache latency histogram');
  t.ok(value(/rangecache_http_requests_total\{method="GET",status="206"\}/) > 0);
  proxy.handler.drain();
  const draining = await proxy.handler(new Request('http://proxy/healthz'));
  t.equal(draining.status, 503, 'draining: balancers stop sending');
});
