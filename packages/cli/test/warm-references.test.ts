// `rangecache warm` of kerchunk reference sets (JSON v0 and v1 over HTTP, Parquet from disk), run as a child
// process against a real Redis: afterwards a reader in this process, in the same namespace, reads every chunk
// through ReferenceStore, as zarrita does (one get() per key), without a single request to the origin.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { ReferenceStore, parseReferences } from '@rangecache/reference';
import { CountingFetcher, startHttpOrigin, startRedis } from '@rangecache/test-support';
import { type CliResult, runCli } from './run-cli.js';

const fixtures = fileURLToPath(new URL('../../reference/fixtures/', import.meta.url));
const redis = await startRedis();
const client = await redis.client();
const origin = await startHttpOrigin();
const http = new HttpFetcher();
const readers: AsyncCachingReader[] = [];
t.teardown(async () => {
  await Promise.all(readers.map((r) => r.close()));
  await http.close();
  await redis.stop();
  await origin.stop();
});
for (const name of ['ocean.nc', 'ocean.v0.json', 'ocean.v1.json']) origin.put(name, readFileSync(join(fixtures, name)));
const env = { REDIS_URL: redis.url };

/** A chunk-mode reader on the test's Redis, counting what reaches the origin (HTTP and files). */
function reader(namespace: string): { reader: AsyncCachingReader; counting: CountingFetcher[] } {
  const counting = [new CountingFetcher(http), new CountingFetcher(new FileFetcher())];
  const r = new AsyncCachingReader({ fetcher: counting, store: new RedisStore({ client }), namespace, mode: 'chunk' });
  readers.push(r);
  return { reader: r, counting };
}

for (const name of ['ocean.v0.json', 'ocean.v1.json']) {
  t.test(`warm ${name} over HTTP, then every chunk through ReferenceStore comes from Redis`, async (t) => {
    const namespace = `refs-${name}`;
    const url = origin.url(name);
    const warm = await runCli(['warm', url, '-n', namespace, '--progress', 'plain'], { env });
    t.equal(warm.code, 0, warm.stderr);
    const spec = JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;
    const refs = parseReferences(spec, url);
    const targets = [...refs.values()].filter((r) => r.kind !== 'inline').length;
    t.match(warm.stdout.toString(), new RegExp(`^warmed ${url.replace(/[.?]/g, '\\$&')}: ${targets} references, \\d+ bytes`, 'm'), 'summary: every reference to a file');
    const requestsBefore = origin.requests.length;
    const { reader: r, counting } = reader(namespace);
    const store = await ReferenceStore.open(url, { reader: r });
    const nc = readFileSync(join(fixtures, 'ocean.nc'));
    for (const [key, ref] of refs) {
      const bytes = await store.get(key);
      if (ref.kind === 'range') t.ok(Buffer.from(bytes!).equals(nc.subarray(ref.offset, ref.offset + ref.length)), `${key}: the referenced bytes`);
    }
    t.equal(counting.reduce((n, c) => n + c.fetches.length, 0), 0, 'no origin fetch: the reference file and every chunk were in Redis');
    t.equal(origin.requests.length, requestsBefore, 'and no request at all reached the HTTP origin');
  });
}

t.test('warm a Parquet reference directory (--format parquet), then read it all from Redis', async (t) => {
  const namespace = 'refs-parquet';
  const root = join(fixtures, 'ocean.parq');
  const warm = await runCli(['warm', root, '--format', 'parquet', '-n', namespace, '--progress', 'none'], { env });
  t.equal(warm.code, 0, warm.stderr);
  t.match(warm.stdout.toString(), /^warmed \S+ocean\.parq: \d+ references, \d+ bytes/m);
  const { reader: r, counting } = reader(namespace);
  const store = await ReferenceStore.open(root, { reader: r, format: 'parquet' });
  const zmetadata = JSON.parse(readFileSync(join(root, '.zmetadata'), 'utf8')) as { metadata: Record<string, { shape: number[]; chunks: number[] }> };
  let chunks = 0;
  for (const [key, zarray] of Object.entries(zmetadata.metadata)) {
    if (!key.endsWith('/.zarray')) continue;
    const name = key.slice(0, -'/.zarray'.length);
    const meta = typeof zarray === 'string' ? JSON.parse(zarray) as { shape: number[]; chunks: number[] } : zarray;
    const grid = meta.shape.map((s, i) => Math.ceil(s / meta.chunks[i]!));
    const at = grid.map(() => 0);
    for (;;) {
      if (await store.get(`${name}/${(grid.length ? at : [0]).join('.')}`)) chunks++;
      let d = grid.length - 1;
      while (d >= 0 && ++at[d]! === grid[d]!) at[d--] = 0;
      if (d < 0) break;
    }
  }
  t.ok(chunks > 10, `${chunks} chunks read`);
  t.equal(counting.reduce((n, c) => n + c.fetches.length, 0), 0, 'no origin fetch: .zmetadata, the record files and every chunk were in Redis');
});

t.test('bad reference sets: one line, exit codes', async (t) => {
  origin.put('broken.json', Buffer.from('{"a": [1, 2]'));
  origin.put('wrong.json', Buffer.from('{"a": [1, 2]}'));
  const [broken, wrong, missing] = await Promise.all(['broken.json', 'wrong.json', 'missing.json'].map((name) => runCli(['warm', origin.url(name), '-n', 'refs-bad'], { env }))) as [CliResult, CliResult, CliResult];
  t.equal(broken.code, 1);
  t.match(broken.stderr, /^rangecache: bad references: \S+broken\.json is not JSON/);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /^rangecache: bad references: reference "a": expected \[url\] or \[url, offset, length\]/);
  t.equal(missing.code, 4, 'a reference file that does not exist: exit 4');
  for (const r of [broken, wrong, missing]) t.equal(r.stderr.split('\n').length, 2, 'one line');
});
