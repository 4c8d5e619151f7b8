#!/usr/bin/env node
// rangecache demo: reads a generated 64 MiB file through the cache twice and prints cold vs warm.
//
// The second pass uses a NEW reader (a fresh instance with no memory of the first), the way a second
// serverless instance would: only the shared store is warm. With REDIS_URL set, the store is Redis; without
// it, both readers share one in-process MemoryStore.
//
// The origin is a local file behind FileFetcher. A local disk answers in microseconds, which hides what a cache
// is for, so by default every origin request waits 20 ms first, like an object store seen from a function in the
// same region (--latency-ms 0 turns that off).
//
//   node examples/demo.mjs [--size-mib 64] [--latency-ms 20] [--block-kib 1024]
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { AsyncCachingReader, FileFetcher, MemoryStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';

const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '64' }, 'latency-ms': { type: 'string', default: '20' }, 'block-kib': { type: 'string', default: '1024' } },
});
const size = Number(values['size-mib']) * 2 ** 20;
const latencyMs = Number(values['latency-ms']);
const blockSize = Number(values['block-kib']) * 1024;

/** FileFetcher with a fixed delay before each data request: a stand-in for a remote origin's first byte. */
class SlowFileFetcher extends FileFetcher {
  async fetch(path, range, options) {
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    return super.fetch(path, range, options);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'rangecache-demo-'));
const path = join(dir, 'dataset.bin');
const data = Buffer.alloc(size);
for (let off = 0, k = 0; off < size; off += 1 << 20, k++) {
  createHash('shake128', { outputLength: Math.min(1 << 20, size - off) }).update(`demo/${k}`).digest().copy(data, off);
}
await writeFile(path, data);

let client;
let store;
if (process.env.REDIS_URL) {
  client = createClient({ url: process.env.REDIS_URL });
  client.on('error', (e) => console.error('redis:', e.message));
  await client.connect();
  store = new RedisStore({ client });
} else {
  store = new MemoryStore({ maxBytes: 2 * size });
}
const namespace = `demo-${process.pid}-${Date.now()}`; // a fresh namespace: the first pass is really cold

async function pass(label) {
  const reader = new AsyncCachingReader({ fetcher: new SlowFileFetcher(), store, namespace, blockSize, ttlMs: 600_000 });
  const t0 = performance.now();
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of reader.stream(path)) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  const ms = performance.now() - t0;
  await reader.close(); // waits for the cache writes of this pass
  const s = reader.stats();
  const ok = hash.digest('hex') === createHash('sha256').update(data).digest('hex');
  console.log(
    `${label.padEnd(5)} ${ms.toFixed(0).padStart(6)} ms  ${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0).padStart(6)} MiB/s  ` +
      `origin requests ${String(s.originRequests).padStart(3)}  origin bytes ${String(s.originBytes).padStart(9)}  ` +
      `cache hits ${String(s.hits).padStart(3)}  bytes ${ok ? 'verified' : 'WRONG'}`,
  );
  return { ms, ok };
}

console.log(`rangecache demo: ${size / 2 ** 20} MiB file, ${blockSize / 1024} KiB blocks, store ${process.env.REDIS_URL ? `Redis at ${process.env.REDIS_URL}` : 'MemoryStore (set REDIS_URL to use Redis)'}, origin latency ${latencyMs} ms per request`);
const cold = await pass('cold');
const warm = await pass('warm');
console.log(`warm read was ${(cold.ms / warm.ms).toFixed(1)}x faster than cold`);
if (client) {
  await store.deleteByPrefix(`rangecache:v2:${namespace}:`);
  await client.close();
}
await rm(dir, { recursive: true, force: true });
if (!cold.ok || !warm.ok) process.exit(1);
