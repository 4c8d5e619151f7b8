// How many writes (syscalls) to Redis a sequential cold reader makes per read: N cold 64 KiB (CHUNK) chunk reads of a
// local file through RedisStore with leases, counting every net.Socket write to the Redis port and each flush
// (one event-loop turn's writes). `node bench/writes-per-read.mjs [N]`; HWM=<bytes> creates the client with that
// socket writableHighWaterMark instead of Node's 16 KiB. The file has 1000 chunks: past N = 1000, reads are warm.
import net from 'node:net';
import { createClient } from 'redis';
import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { redisCpuMs, startRedis, tempDir } from '@rangecache/test-support';

const N = Number(process.argv[2] ?? 1000);
/** Bytes per chunk read (CHUNK=<bytes>; WORKLOADS.md W2's 64 KiB by default). */
const CHUNK = Number(process.env.CHUNK ?? 65536);
const redis = await startRedis({ ownProcess: true });
const dir = await tempDir();
const { path } = await dir.file('f.bin', 64 << 20);
const socket = process.env.HWM ? { socket: { writableHighWaterMark: Number(process.env.HWM) } } : {};
const client = createClient({ url: redis.url, disableOfflineQueue: true, ...socket });
await client.connect();
const port = new URL(redis.url).port;
let syscalls = 0;
const writeGeneric = net.Socket.prototype._writeGeneric;
net.Socket.prototype._writeGeneric = function (writev, data, encoding, cb) {
  if (String(this.remotePort) === port) syscalls++;
  return writeGeneric.call(this, writev, data, encoding, cb);
};
const store = new RedisStore({ client });
const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store, mode: 'chunk', namespace: 'wpr' });
await reader.stat(path);
const cpu0 = await redisCpuMs(client);
syscalls = 0;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const start = ((i * 7919) % 1000) * CHUNK;
  await reader.readRange(path, start, start + CHUNK);
}
const ms = performance.now() - t0;
const writes = syscalls; // before INFO below, which is one more write to the Redis port
const redisUsPerRead = Math.round((1000 * ((await redisCpuMs(client)) - cpu0)) / N);
console.log(JSON.stringify({ reads: N, chunk: CHUNK, ms: Math.round(ms), writesToRedis: writes, perRead: +(writes / N).toFixed(3), redisCpuUsPerRead: redisUsPerRead }));
await reader.close(); await store.close(); await client.close(); await redis.stop(); await dir.remove();
