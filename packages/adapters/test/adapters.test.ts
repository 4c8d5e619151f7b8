// The real libraries reading files that other software wrote, through the adapters, from an HTTP origin and a
// real Redis: hyparquet a DuckDB Parquet file, geotiff.js a GDAL COG, PMTiles a go-pmtiles archive, and zarrita
// (FetchStore) a zarr-python array through the fetch adapter. Each is read cold, then warm by a second reader
// sharing the Redis, and the origin's requests are counted.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { GeoTIFF } from 'geotiff';
import { parquetMetadataAsync, parquetReadObjects, asyncBufferFromUrl } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { PMTiles } from 'pmtiles';
import * as zarr from 'zarrita';
import { AsyncCachingReader } from '@rangecache/core';
import type { AsyncCachingReaderOptions } from '@rangecache/core';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { startHttpOrigin, startRedis } from '@rangecache/test-support';
import { GeoTiffSource, asyncBuffer, createCachedFetch } from '../src/index.js';
import { PmtilesSource } from '../src/pmtiles.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const zarrFixtures = fileURLToPath(new URL('../../reference/fixtures/', import.meta.url));
const origin = await startHttpOrigin();
const redis = await startRedis();
const client = await redis.client();
const http = new HttpFetcher();
const readers: AsyncCachingReader[] = [];
t.teardown(async () => {
  await Promise.all(readers.map((r) => r.close()));
  await http.close();
  await redis.stop();
  await origin.stop();
});
for (const name of ['rows.parquet', 'ramp.tif', 'stamen-toner-z3.pmtiles']) origin.put(name, readFileSync(join(fixtures, name)));
let namespaces = 0;

function makeReader(namespace: string, options: Partial<AsyncCachingReaderOptions> = {}): AsyncCachingReader {
  const reader = new AsyncCachingReader({ fetcher: http, store: new RedisStore({ client }), namespace, blockSize: 16_384, ...options });
  readers.push(reader);
  return reader;
}
const gets = (): number => origin.requests.filter((r) => r.method === 'GET').length;

/** Runs `read` with a cold reader, then with a second reader on the same Redis; returns both results. */
async function coldThenWarm<T>(t: Test, label: string, read: (reader: AsyncCachingReader) => Promise<T>): Promise<[T, T]> {
  const ns = `${label}-${++namespaces}`;
  origin.reset();
  const cold = await read(makeReader(ns));
  const coldGets = gets();
  t.ok(coldGets > 0, `${label} cold: ${coldGets} GETs at the origin`);
  origin.reset();
  const warmReader = makeReader(ns);
  const warm = await read(warmReader);
  t.equal(gets(), 0, `${label} warm: a second reader got every byte from Redis (${warmReader.stats().hits} hits)`);
  return [cold, warm];
}

t.test('hyparquet reads a DuckDB file (5 row groups, zstd) through asyncBuffer', async (t) => {
  const [cold, warm] = await coldThenWarm(t, 'parquet', async (reader) => {
    const file = asyncBuffer(await reader.open(origin.url('rows.parquet')));
    const metadata = await parquetMetadataAsync(file);
    const rows = await parquetReadObjects({ file, compressors });
    const some = await parquetReadObjects({ file, compressors, columns: ['name'], rowStart: 6000, rowEnd: 6003 });
    return { groups: metadata.row_groups.length, codec: metadata.row_groups[0]!.columns[0]!.meta_data!.codec, rows, some };
  });
  for (const result of [cold, warm]) {
    t.equal(result.groups, 5, 'row groups');
    t.equal(result.codec, 'ZSTD');
    t.equal(result.rows.length, 10_000);
    const wrong = result.rows.findIndex((r, i) => r.id !== BigInt(i) || r.name !== `row-${i}` || r.value !== i / 4 || r.category !== i % 7);
    t.equal(wrong, -1, 'every row equals what DuckDB wrote');
    t.same(result.some, [{ name: 'row-6000' }, { name: 'row-6001' }, { name: 'row-6002' }], 'a row range in the middle of a row group');
  }
});

t.test('geotiff.js reads a GDAL COG (deflate tiles, overviews) through GeoTiffSource', async (t) => {
  const [cold, warm] = await coldThenWarm(t, 'cog', async (reader) => {
    const tiff = await GeoTIFF.fromSource(await GeoTiffSource.open(reader, origin.url('ramp.tif')));
    const images = await tiff.getImageCount();
    const image = await tiff.getImage();
    const window = [100, 200, 700, 460] as const; // crosses tile boundaries in both directions
    const [band] = (await image.readRasters({ window: [...window] })) as unknown as Uint16Array[];
    const overview = await tiff.getImage(2);
    return { images, width: image.getWidth(), tile: image.getTileWidth(), band: band!, window, overviewWidth: overview.getWidth() };
  });
  for (const r of [cold, warm]) {
    t.same([r.images, r.width, r.tile, r.overviewWidth], [3, 1024, 256, 256], 'full resolution and two overviews, 256 x 256 tiles');
    const [x0, y0, x1, y1] = r.window;
    let wrong = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (r.band[(y - y0) * (x1 - x0) + (x - x0)] !== (x * 3 + y * 5) % 65536) wrong++;
    t.equal(wrong, 0, `all ${(x1 - x0) * (y1 - y0)} pixels of the window equal GDAL's input`);
  }
});

t.test('PMTiles reads a go-pmtiles archive through PmtilesSource, and follows a new version of it', async (t) => {
  const bytes = readFileSync(join(fixtures, 'stamen-toner-z3.pmtiles'));
  // The library reading the same file with no cache at all: the reference for every tile.
  const direct = new PMTiles({ getKey: () => 'direct', getBytes: async (offset: number, length: number) => ({ data: bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + Math.min(offset + length, bytes.length)) }) });
  const header = await direct.getHeader();
  const tiles: [number, number, number][] = [];
  for (let z = header.minZoom; z <= header.maxZoom; z++) for (let x = 0; x < 2 ** z; x++) for (let y = 0; y < 2 ** z; y++) tiles.push([z, x, y]);
  const expected = await Promise.all(tiles.map(([z, x, y]) => direct.getZxy(z, x, y)));
  t.ok(expected.filter(Boolean).length >= 80, `${expected.filter(Boolean).length} tiles in the archive`);

  const [cold, warm] = await coldThenWarm(t, 'pmtiles', async (reader) => {
    const archive = new PMTiles(new PmtilesSource(reader, origin.url('stamen-toner-z3.pmtiles')));
    return Promise.all(tiles.map(([z, x, y]) => archive.getZxy(z, x, y)));
  });
  for (const got of [cold, warm]) {
    const wrong = got.findIndex((g, i) => Buffer.compare(Buffer.from(g?.data ?? new ArrayBuffer(0)), Buffer.from(expected[i]?.data ?? new ArrayBuffer(0))) !== 0);
    t.equal(wrong, -1, `all ${tiles.length} tiles equal the library's own reading`);
  }

  // A new version of the archive (the same tiles after a longer metadata block would move offsets; here the
  // file is replaced by one whose tile data differs): PMTiles must not mix the versions.
  const reader = makeReader(`pmtiles-change-${++namespaces}`, { metaTtlMs: 1 });
  const source = new PmtilesSource(reader, origin.url('stamen-toner-z3.pmtiles'));
  const archive = new PMTiles(source);
  const before = await archive.getZxy(0, 0, 0);
  t.same(Buffer.from(before!.data), Buffer.from(expected[0]!.data));
  const changed = Buffer.from(bytes);
  const { tileDataOffset } = header;
  const tileAt = Number(tileDataOffset) + 10;
  changed[tileAt] = changed[tileAt]! ^ 0xff; // one byte of the first tile's data
  origin.put('stamen-toner-z3.pmtiles', changed);
  await new Promise((r) => setTimeout(r, 20));
  const after = await archive.getZxy(0, 0, 0);
  const newDirect = new PMTiles({ getKey: () => 'new', getBytes: async (offset: number, length: number) => ({ data: changed.buffer.slice(changed.byteOffset + offset, changed.byteOffset + Math.min(offset + length, changed.length)) }) });
  t.same(Buffer.from(after!.data), Buffer.from((await newDirect.getZxy(0, 0, 0))!.data), 'after the change, the tile of the new version');
  origin.put('stamen-toner-z3.pmtiles', bytes);
});

t.test('createCachedFetch: zarrita FetchStore and hyparquet asyncBufferFromUrl over the cache; HTTP semantics', async (t) => {
  origin.put('ocean.zarr/temp/.zarray', readFileSync(join(zarrFixtures, 'ocean.zarr/temp/.zarray')));
  for (const f of readdirSync(join(zarrFixtures, 'ocean.zarr/temp'))) origin.put(`ocean.zarr/temp/${f}`, readFileSync(join(zarrFixtures, 'ocean.zarr/temp', f)));
  const expected = JSON.parse(readFileSync(join(zarrFixtures, 'ocean.expected.json'), 'utf8')).temp as { values: number[] };
  const reader = makeReader(`fetch-${++namespaces}`);
  const fetch = createCachedFetch(reader);
  const store = new zarr.FetchStore(origin.url('ocean.zarr'), { fetch: (request: Request) => fetch(request) });
  const temp = await zarr.open.v2(zarr.root(store).resolve('temp'), { kind: 'array' });
  const chunk = await zarr.get(temp, [zarr.slice(0, 2), zarr.slice(0, 1), zarr.slice(0, 5), zarr.slice(0, 6)]);
  const want: number[] = [];
  for (let a = 0; a < 2; a++) for (let c = 0; c < 5; c++) for (let d = 0; d < 6; d++) want.push(expected.values[((a * 3) * 10 + c) * 12 + d]!);
  t.same(Array.from(chunk.data as Float32Array), want, 'zarrita decodes a chunk fetched through the cached fetch');
  t.equal(await store.get('/temp/7.7.7.7'), undefined, 'a missing chunk is a 404, which zarrita reads as missing');

  const [cold, warm] = await coldThenWarm(t, 'fetch', async (r) => {
    const file = await asyncBufferFromUrl({ url: origin.url('rows.parquet'), fetch: createCachedFetch(r) });
    return (await parquetReadObjects({ file, compressors, columns: ['id'], rowStart: 9998, rowEnd: 10_000 })).map((row) => row.id);
  });
  t.same([cold, warm], [[9998n, 9999n], [9998n, 9999n]], 'hyparquet over the cached fetch, cold then warm');

  const bytes = readFileSync(join(fixtures, 'rows.parquet'));
  const url = origin.url('rows.parquet');
  const get = async (range?: string, method = 'GET'): Promise<Response> => fetch(url, { method, headers: range ? { range } : {} });
  let r = await get('bytes=10-19');
  t.same([r.status, r.headers.get('content-range'), r.headers.get('content-length')], [206, `bytes 10-19/${bytes.length}`, '10']);
  t.same(Buffer.from(await r.arrayBuffer()), bytes.subarray(10, 20));
  r = await get('bytes=-5');
  t.same(Buffer.from(await r.arrayBuffer()), bytes.subarray(bytes.length - 5), 'suffix range');
  r = await get(`bytes=${bytes.length - 3}-`);
  t.same(Buffer.from(await r.arrayBuffer()), bytes.subarray(bytes.length - 3), 'open-ended range');
  r = await get(`bytes=${bytes.length}-`);
  t.same([r.status, r.headers.get('content-range')], [416, `bytes */${bytes.length}`], 'unsatisfiable');
  r = await get('bytes=oops');
  t.equal(r.status, 200, 'a malformed Range is ignored');
  t.same(Buffer.from(await r.arrayBuffer()), bytes, 'whole object, streamed');
  r = await get(undefined, 'HEAD');
  t.same([r.status, r.headers.get('content-length'), r.headers.get('accept-ranges'), await r.text()], [200, String(bytes.length), 'bytes', '']);
  t.equal((await get(undefined, 'POST')).status, 405);
  t.equal((await fetch(origin.url('nothing-here'))).status, 404);
  const limited = createCachedFetch(reader, { allow: (u) => u.endsWith('.parquet') });
  t.equal((await limited(origin.url('ramp.tif'))).status, 403, 'outside the allow function: 403 without reaching the origin');
});
