// zarrita.js reading a NetCDF4 file written by netCDF4-python, through kerchunk references (JSON v0, JSON v1 with
// templates and gen, and the Parquet layout) and as a plain Zarr copy written by zarr-python, from an HTTP
// origin, S3 (s3rver) and disk, through a real Redis. Every value is compared with what netCDF4 read back
// (fixtures/ocean.expected.json); origin requests and Redis use are counted.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import * as zarr from 'zarrita';
import { AsyncCachingReader, ConfigError, FileFetcher, InvalidPathError } from '@rangecache/core';
import type { AsyncCachingReaderOptions, Fetcher } from '@rangecache/core';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { S3Fetcher } from '@rangecache/s3';
import { CountingFetcher, startHttpOrigin, startRedis, startS3rver } from '@rangecache/test-support';
import { ReferenceFormatError, ReferenceStore, ReferenceTargetError, ZarrStore } from '../src/index.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const expected = JSON.parse(readFileSync(join(fixtures, 'ocean.expected.json'), 'utf8')) as Record<string, { dtype: string; shape: number[]; values: number[] }>;
const VARIABLES = ['temp', 'salt', 'level', 'time', 'depth', 'lat', 'lon', 'mask'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const origin = await startHttpOrigin();
const s3 = await startS3rver('refs');
const redis = await startRedis();
const client = await redis.client();
for (const path of filesUnder(fixtures)) {
  const name = relative(fixtures, path);
  origin.put(name, readFileSync(path));
  await s3.put(name, readFileSync(path));
}
const http = new HttpFetcher();
const s3Fetcher = new S3Fetcher({ client: s3.client() });
const readers: AsyncCachingReader[] = [];
let namespaces = 0;
t.teardown(async () => {
  await Promise.all(readers.map((r) => r.close()));
  await http.close();
  await redis.stop();
  await s3.stop();
  await origin.stop();
});

/** A chunk-mode reader on the shared Redis; readers made with the same `namespace` share one cache. */
function makeReader(namespace: string, options: Partial<AsyncCachingReaderOptions> = {}): { reader: AsyncCachingReader; counting: CountingFetcher } {
  const counting = new CountingFetcher(new FileFetcher());
  const fetcher: Fetcher[] = [counting, http, s3Fetcher];
  const reader = new AsyncCachingReader({ fetcher, store: new RedisStore({ client }), namespace, mode: 'chunk', ...options });
  readers.push(reader);
  return { reader, counting };
}

const dataRequests = (): number => origin.requests.filter((r) => r.method === 'GET').length;

async function checkAll(t: Test, store: zarr.AsyncReadable, label: string, variables = VARIABLES): Promise<void> {
  const root = zarr.root(store);
  for (const name of variables) {
    const arr = await zarr.open.v2(root.resolve(name), { kind: 'array' });
    const got = await zarr.get(arr);
    const want = expected[name]!;
    t.same(got.shape, want.shape, `${label} ${name}: shape`);
    t.equal(arr.dtype, { '<f4': 'float32', '<f8': 'float64', '<i2': 'int16', '<i4': 'int32', '|u1': 'uint8' }[want.dtype], `${label} ${name}: dtype`);
    const values = Array.from(got.data as ArrayLike<number>);
    const wrong = values.findIndex((v, i) => v !== want.values[i]);
    t.equal(wrong, -1, `${label} ${name}: all ${want.values.length} values equal netCDF4's${wrong >= 0 ? ` (first difference at ${wrong}: ${values[wrong]} != ${want.values[wrong]})` : ''}`);
  }
}

t.test('JSON v0 over HTTP: values equal netCDF4, cold then warm from Redis in a second reader', async (t) => {
  const ns = `v0-${++namespaces}`;
  origin.reset();
  const cold = makeReader(ns).reader;
  await checkAll(t, await ReferenceStore.open(origin.url('ocean.v0.json'), { reader: cold }), 'cold');
  const coldStats = cold.stats();
  t.ok(coldStats.misses > 0 && coldStats.hits === 0, `cold: ${coldStats.misses} chunks from the origin`);
  const coldRequests = dataRequests();
  t.ok(coldRequests < coldStats.misses + 1, `cold: chunks of one file read concurrently were coalesced: ${coldRequests} GETs for ${coldStats.misses} chunks`);

  const warm = makeReader(ns).reader; // another instance: its own memory is empty, Redis is shared
  await checkAll(t, await ReferenceStore.open(origin.url('ocean.v0.json'), { reader: warm }), 'warm');
  t.equal(dataRequests(), coldRequests, 'warm: no GET reached the origin (the references file is cached too)');
  t.equal(warm.stats().misses, 0);
  t.ok(warm.stats().hits >= coldStats.misses, `warm: ${warm.stats().hits} hits`);
});

t.test('JSON v1 (templates, gen with arithmetic, base64 inline) shares the v0 set\'s cache entries', async (t) => {
  const ns = `v1-${++namespaces}`;
  const first = makeReader(ns).reader;
  await checkAll(t, await ReferenceStore.open(origin.url('ocean.v0.json'), { reader: first }), 'v0', ['temp', 'salt']);
  origin.reset();
  const second = makeReader(ns).reader;
  const v1 = await ReferenceStore.open(origin.url('ocean.v1.json'), { reader: second });
  await checkAll(t, v1, 'v1', ['temp', 'salt']);
  t.same(origin.requests.filter((r) => r.method === 'GET').map((r) => r.path), ['ocean.v1.json'], 'temp and salt chunks came from the cache the v0 set filled: only the v1 file was fetched');
  await checkAll(t, v1, 'v1');

  const before = second.stats().reads;
  const time = await v1.get('/time/0');
  t.same(Array.from(new Int32Array(time!.buffer, time!.byteOffset, 4)), expected.time!.values, 'inline base64 chunk decodes');
  t.equal(second.stats().reads, before, 'the inline chunk never reached the reader (no origin, no Redis)');
  const level = await v1.resolve('level/3.2.0.0');
  t.match(level, { kind: 'range', offset: Number(/"offset": "\{\{ (\d+)/.exec(readFileSync(join(fixtures, 'ocean.v1.json'), 'utf8'))![1]) + (3 * 3 + 2) * 960, length: 960 }, 'gen offset = base + (t * 3 + z) * 960');
});

t.test('the Parquet layout, lazily, from S3 and from disk', async (t) => {
  for (const [label, root] of [['s3', 's3://refs/ocean.parq'], ['file', join(fixtures, 'ocean.parq')]] as const) {
    const { reader, counting } = makeReader(`parq-${label}-${++namespaces}`);
    const store = await ReferenceStore.open(root, { reader, recordCacheSize: 2 });
    const temp = await store.get('/temp/1.2.1.1'); // chunk 23 of temp's 2x3x2x2 grid: row 3 of refs.2.parq
    t.ok(temp && temp.length > 0, `${label}: a chunk of temp from record file 2`);
    await checkAll(t, store, label);
    t.equal(await store.get('/salt/2.0.0'), undefined, `${label}: a chunk that was never written is missing (zarrita fills it)`);
    t.equal(await store.get('/temp/9.0.0.0'), undefined, `${label}: a chunk index outside the grid is missing`);
    t.equal(await store.get('/nothing/.zarray'), undefined, `${label}: an unknown variable is missing`);
    if (label === 'file') t.ok(counting.stats >= 3 && counting.fetches.length >= 3, `file: .zmetadata and the record files were read through the reader (${counting.stats} stats, ${counting.fetches.length} fetches)`);
  }
});

t.test('plain Zarr v2 written by zarr-python, and Zarr v3 written by zarrita, through ZarrStore', async (t) => {
  const { reader } = makeReader(`zarr-${++namespaces}`, { mode: 'block', blockSize: 4096 });
  const store = new ZarrStore(origin.url('ocean.zarr'), { reader });
  await checkAll(t, store, 'zarr v2', ['temp', 'salt', 'lat']);
  t.equal(await store.get('/temp/9.9.9.9'), undefined, 'missing chunk: undefined');
  const shard = await store.getRange('/temp/.zarray', { suffixLength: 10 });
  t.equal(new TextDecoder().decode(shard), readFileSync(join(fixtures, 'ocean.zarr/temp/.zarray'), 'utf8').slice(-10), 'getRange suffixLength');
  const part = await store.getRange('/temp/.zarray', { offset: 5, length: 20 });
  t.equal(new TextDecoder().decode(part), readFileSync(join(fixtures, 'ocean.zarr/temp/.zarray'), 'utf8').slice(5, 25), 'getRange offset/length');
  for (const bad of ['/../ocean.v0.json', '/temp/../../x', '/a//b', '/', '/x?y=1', '/x#y', '/%2e%2e/x', '/a\\b']) {
    await t.rejects(store.get(bad), InvalidPathError, `key ${bad} is refused`);
  }

  // Zarr v3: written by zarrita into a Map, then served by the origin.
  const written = new Map<string, Uint8Array>();
  const writable = { get: async (k: string) => written.get(k), set: async (k: string, v: Uint8Array) => void written.set(k, v) };
  const arr = await zarr.create(zarr.root(writable).resolve('v'), { shape: [6, 8], chunkShape: [4, 4], dtype: 'int32', codecs: [{ name: 'bytes', configuration: { endian: 'little' } }] });
  const values = Int32Array.from({ length: 48 }, (_, i) => i * 7 - 100);
  await zarr.set(arr, null, { data: values, shape: [6, 8], stride: [8, 1] });
  for (const [key, bytes] of written) origin.put(`v3.zarr${key}`, bytes);
  t.ok([...written.keys()].includes('/v/zarr.json'));
  const v3 = await zarr.open.v3(zarr.root(new ZarrStore(origin.url('v3.zarr'), { reader })).resolve('v'), { kind: 'array' });
  t.same(Array.from((await zarr.get(v3)).data as Int32Array), Array.from(values), 'zarr v3 values');
});

t.test('typed errors name what was wrong', async (t) => {
  const { reader } = makeReader(`errors-${++namespaces}`);
  const store = await ReferenceStore.open({ 'a/0': [origin.url('gone.nc'), 0, 10], 'b/0': [origin.url('ocean.nc'), 34_000, 10_000] }, { reader });
  const gone = await store.get('a/0').catch((e: unknown) => e);
  t.ok(ReferenceTargetError.is(gone), 'a missing target is a ReferenceTargetError');
  t.match(gone, { key: 'a/0', path: origin.url('gone.nc'), cause: { name: 'ObjectNotFoundError' } }, 'naming the key and the target, with the cause');
  const err = await store.get('b/0').catch((e: unknown) => e);
  t.ok(ReferenceTargetError.is(err), 'a range past the end of the target is a ReferenceTargetError');
  t.match((err as Error).message, /reference "b\/0": target http:\/\/127\.0\.0\.1:\d+\/ocean\.nc is not reachable/);
  const block = new AsyncCachingReader({ fetcher: http });
  readers.push(block);
  await t.rejects(ReferenceStore.open({}, { reader: block }), ConfigError, 'a block-mode reader is refused');
  await t.rejects(ReferenceStore.open({ version: 2, refs: {} }, { reader }), ReferenceFormatError);
  await t.rejects(ReferenceStore.open({ 'x/0': ['rel.nc', 0, 1] }, { reader }), /relative, and the references were given without a base URL/);
  await t.rejects(ReferenceStore.open({ version: 1, gen: [{ key: 'k/{{i}}', url: 'u', offset: '{{ i * }}', length: '1', dimensions: { i: [1] } }] }, { reader, base: 'file:///tmp/' }), /template "\{\{ i \* \}\}": the expression ends too early/);
  await t.rejects(ReferenceStore.open(origin.url('ocean.nc'), { reader, format: 'json' }), /is not JSON/);
  await t.rejects(ReferenceStore.open(origin.url('ocean.zarr'), { reader }), { name: 'ObjectNotFoundError' }, 'a directory without .zmetadata');
});

t.test('getMany reads the ranges of one target in one coalesced call; whole-file references and getRange', async (t) => {
  const { reader } = makeReader(`many-${++namespaces}`);
  const v0 = JSON.parse(readFileSync(join(fixtures, 'ocean.v0.json'), 'utf8')) as Record<string, unknown>;
  const nc = readFileSync(join(fixtures, 'ocean.nc'));
  const store = await ReferenceStore.open(v0, { reader, base: origin.url('ocean.v0.json') });
  const keys = Object.keys(v0).filter((k) => /^(temp|salt)\/\d/.test(k));
  origin.reset();
  const got = await store.getMany([...keys, 'temp/.zarray', 'no/such']);
  const gets = origin.requests.filter((r) => r.method === 'GET');
  t.ok(gets.length <= 2, `${keys.length} chunks of ocean.nc in ${gets.length} origin GET(s)`);
  keys.forEach((k, i) => {
    const [, offset, length] = v0[k] as [string, number, number];
    t.same(Buffer.from(got[i]!), nc.subarray(offset, offset + length), k);
  });
  t.equal(new TextDecoder().decode(got[keys.length]), v0['temp/.zarray'], 'inline metadata');
  t.equal(got[keys.length + 1], undefined, 'a missing key');

  const [, offset, length] = v0['temp/0.0.0.0'] as [string, number, number];
  t.same(Buffer.from((await store.getRange('/temp/0.0.0.0', { offset: 3, length: 10 }))!), nc.subarray(offset + 3, offset + 13), 'getRange inside a reference');
  t.same(Buffer.from((await store.getRange('/temp/0.0.0.0', { suffixLength: 7 }))!), nc.subarray(offset + length - 7, offset + length), 'getRange suffix');
  await t.rejects(store.getRange('/temp/0.0.0.0', { offset: length + 1, length: 1 }), { name: 'InvalidRangeError' }, 'past the reference\'s end');

  const whole = await ReferenceStore.open({ 'w/0': ['ocean.nc'], 'e/0': ['ocean.nc', 100, 0] }, { reader, base: origin.url('ocean.v0.json') });
  t.same(Buffer.from((await whole.get('w/0'))!), nc, 'a whole-file reference reads the whole target');
  t.same(Buffer.from((await whole.getRange('w/0', { suffixLength: 100 }))!), nc.subarray(nc.length - 100), 'suffix of a whole-file reference');
  t.equal((await whole.get('e/0'))!.length, 0, 'a zero-length reference');

  const mine = (await store.get('temp/0.0.0.0'))!;
  mine.fill(0);
  t.same(Buffer.from((await store.get('temp/0.0.0.0'))!), nc.subarray(offset, offset + length), 'a caller that overwrites its bytes changes nobody else\'s');
  const inline = (await store.get('temp/.zarray'))!;
  inline.fill(0);
  t.equal(new TextDecoder().decode(await store.get('temp/.zarray')), v0['temp/.zarray'], '… inline data included');
});

t.test('consolidated metadata; nothing negative outlives the metadata TTL', async (t) => {
  const { reader } = makeReader(`meta-${++namespaces}`, { metaTtlMs: 50 });
  const fromJson = await (await ReferenceStore.open(origin.url('ocean.v0.json'), { reader })).consolidatedMetadata();
  const fromParquet = await (await ReferenceStore.open(origin.url('ocean.parq'), { reader })).consolidatedMetadata();
  const json = JSON.parse(new TextDecoder().decode(fromJson)) as { zarr_consolidated_format: number; metadata: Record<string, unknown> };
  t.equal(json.zarr_consolidated_format, 1);
  t.same(Object.keys(json.metadata).sort(), ['.zattrs', '.zgroup', ...VARIABLES.flatMap((v) => [`${v}/.zarray`, `${v}/.zattrs`])].sort());
  t.same(JSON.parse(new TextDecoder().decode(fromParquet)), json, 'JSON and Parquet sets give the same .zmetadata');
  const store = new ZarrStore(origin.url('later.zarr'), { reader });
  t.equal(await store.get('/.zgroup'), undefined, 'missing');
  origin.put('later.zarr/.zgroup', new TextEncoder().encode('{"zarr_format":2}'));
  t.equal(new TextDecoder().decode(await store.get('/.zgroup')), '{"zarr_format":2}', 'found as soon as it exists: a miss is not cached');

  const parquet = await ReferenceStore.open(origin.url('ocean.parq'), { reader });
  const saltRecord = readFileSync(join(fixtures, 'ocean.parq/salt/refs.0.parq'));
  origin.remove('ocean.parq/salt/refs.0.parq');
  t.equal(await parquet.get('salt/0.0.0'), undefined, 'a missing record file: its keys are missing');
  origin.put('ocean.parq/salt/refs.0.parq', saltRecord);
  await new Promise((r) => setTimeout(r, 120));
  t.ok((await parquet.get('salt/0.0.0'))?.length, 'found again once the metadata TTL has passed');
});
