// Why HttpFetcher keeps its own retry loop (src/retry.ts) instead of undici's RetryAgent/RetryHandler: a body cut
// short is asked for again in full, never resumed from where it stopped. undici's RetryHandler resumes with
// `Range: bytes=<received>-<end>` and keeps the resumed response's headers to itself, comparing only a strong ETag
// it remembered; with a weak ETag or Last-Modified alone, the tail of another version would be spliced on unseen.
import t from 'tap';
import { VersionChangedError } from '@rangecache/core';
import { pseudoRandomBytes, startHttpOrigin } from '@rangecache/test-support';
import { HttpFetcher } from '../src/index.js';

const origin = await startHttpOrigin();
const fetchers: HttpFetcher[] = [];
t.teardown(async () => { await Promise.all(fetchers.map((f) => f.close())); await origin.stop(); });

t.test('a body cut short is fetched again whole, so a version change between attempts is seen, never spliced', async (t) => {
  for (const etag of ['weak', 'none'] as const) { // no If-Match possible: only the response's validators tell
    const name = `splice-${etag}.bin`;
    const v1 = pseudoRandomBytes(100_000, `${name}-1`);
    const v2 = pseudoRandomBytes(100_000, `${name}-2`); // same size: only the ETag / Last-Modified differs
    origin.reset();
    origin.behaviour.etag = etag;
    origin.put(name, v1);
    const u = origin.url(name);
    const f = new HttpFetcher({ retry: { retries: 2, minDelayMs: 1, maxDelayMs: 5 } });
    fetchers.push(f);
    const meta = await f.stat(u);

    origin.reset();
    // Every response waits 300 ms before the origin looks the object up; the first one is cut off halfway.
    Object.assign(origin.behaviour, { etag, delayMs: 300 });
    origin.failNext(1, 'truncate');
    const outcome = f.fetch(u, { start: 0, end: 100_000 }, { expect: meta }).then((b) => b, (e: unknown) => e);
    // Once the retry has reached the origin (and is waiting), the object is replaced: the retry sees version 2.
    const t0 = Date.now();
    while (origin.requests.length < 2 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
    origin.put(name, v2);
    const result = await outcome;

    t.ok(result instanceof VersionChangedError, `${etag}: a VersionChangedError (got ${result instanceof Uint8Array ? `${result.byteLength} bytes` : String(result)})`);
    if (result instanceof Uint8Array) {
      const half = 50_000;
      const spliced = Buffer.from(result.subarray(0, half)).equals(v1.subarray(0, half)) && Buffer.from(result.subarray(half)).equals(v2.subarray(half));
      t.notOk(spliced, `${etag}: bytes of two versions were spliced into one result`);
    }
    const gets = origin.requests.filter((r) => r.method === 'GET');
    t.same(gets.map((r) => r.range), ['bytes=0-99999', 'bytes=0-99999'], `${etag}: the retry asked for the whole range again, not the rest`);
    t.equal(gets[0]?.bytes, 50_000, `${etag}: the first response was cut off halfway`);
  }
});
