#!/usr/bin/env node
// The seed's motivating service, in TypeScript's world: serve the Zarr keys of kerchunk-referenced datasets over
// HTTP, as xpublish's Zarr router does, through one cache shared by every instance. Run several instances with
// the same REDIS_URL: the first to read a chunk fetches it from the origin, the others answer from Redis.
//
//   DATASETS='ocean=https://host/ocean.json,era5=s3://bucket/era5.parq' REDIS_URL=redis://… PORT=8080 \
//     node examples/reference-service.mjs
//
//   GET /<dataset>/.zmetadata          consolidated metadata (what xarray.open_zarr asks for first)
//   GET /<dataset>/<var>/<key>         a chunk or metadata key, e.g. /ocean/temp/0.0.0.0, /ocean/temp/.zarray
//   GET /-/stats                       this instance's reader stats (hits, misses, origin bytes)
//
// Without REDIS_URL the cache is an in-process MemoryStore. PORT=0 picks a free port. The first line printed is
// `listening http://127.0.0.1:<port>`. Stop it with SIGTERM or Ctrl-C.
import { createServer } from 'node:http';
import { createClient } from 'redis';
import { AsyncCachingReader, FileFetcher, MemoryStore, RangecacheError } from '@rangecache/core';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { ReferenceStore, ReferenceTargetError } from '@rangecache/reference';
import { S3Fetcher } from '@rangecache/s3';

const datasets = new Map(
  (process.env.DATASETS ?? '').split(',').filter(Boolean).map((entry) => {
    const at = entry.indexOf('=');
    if (at <= 0) throw new Error(`DATASETS: expected name=url, got ${JSON.stringify(entry)}`);
    return [entry.slice(0, at), entry.slice(at + 1)];
  }),
);
if (datasets.size === 0) {
  console.error('Set DATASETS=name=url[,name=url…]: kerchunk JSON files or Parquet reference directories');
  process.exit(2);
}

const client = process.env.REDIS_URL ? await createClient({ url: process.env.REDIS_URL }).connect() : undefined;
const http = new HttpFetcher();
const reader = new AsyncCachingReader({
  fetcher: [new FileFetcher(), http, new S3Fetcher({ clientConfig: {} })],
  store: client ? new RedisStore({ client }) : new MemoryStore(),
  namespace: process.env.NAMESPACE ?? 'reference-service',
  mode: 'chunk', // each reference is one cache entry, keyed by its exact byte range
  maxGap: 64_000, // as fsspec's reference filesystem: chunks at most this far apart are fetched together
});

/** Each dataset's store, opened at its first request and kept (open it again, by restarting, to see new references). */
const stores = new Map();
function storeOf(name) {
  let store = stores.get(name);
  if (!store) {
    store = ReferenceStore.open(datasets.get(name), { reader });
    store.catch(() => stores.delete(name)); // a failed open is tried again at the next request
    stores.set(name, store);
  }
  return store;
}

function send(res, status, body, type = 'text/plain; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'content-length': body.byteLength, 'cache-control': 'no-store' });
  res.end(body);
}

const server = createServer(async (req, res) => {
  const text = (status, message) => send(res, status, Buffer.from(`${message}\n`));
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'only GET and HEAD');
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (path === '/-/stats') return send(res, 200, Buffer.from(JSON.stringify(reader.stats())), 'application/json');
    const [, name, ...rest] = path.split('/');
    const key = rest.join('/');
    if (!datasets.has(name) || key === '') return text(404, `no such dataset or key: ${path}`);
    const store = await storeOf(name);
    const bytes = key === '.zmetadata' ? await store.consolidatedMetadata() : await store.get(key);
    if (bytes === undefined) return text(404, `no such key: ${key}`);
    const type = /(^|\/)\.z(metadata|group|attrs|array)$/.test(key) ? 'application/json' : 'application/octet-stream';
    send(res, 200, bytes, type);
  } catch (e) {
    // One line for the client; the origin's own message may name internal hosts, so it is logged, not sent.
    console.error(e);
    if (ReferenceTargetError.is(e)) return text(502, `the data of ${e.key} could not be read`);
    if (RangecacheError.is(e) && e.code === 'ERR_RANGECACHE_REFERENCE_FORMAT') return text(500, 'the dataset\'s references cannot be read');
    text(502, 'origin error');
  }
});

server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});

async function stop() {
  server.close();
  await reader.close();
  await http.close();
  if (client) await client.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
