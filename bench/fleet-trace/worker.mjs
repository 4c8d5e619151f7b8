// One fleet member for bench/fleet-trace/run.mjs: W3 "loop" (64 sequential 1 MiB readRange calls of /data.bin)
// through AsyncCachingReader + RedisStore + HttpFetcher, with a trace of its origin fetches and reads (ms since
// release), its CPU time and page faults. Prints "ready", waits for a line on stdin, runs, checks the bytes
// against W3's SHA-256, prints one JSON line.
//   node worker.mjs URL REDIS_URL ID
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { AsyncCachingReader } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { HttpFetcher } from '@rangecache/http';
import { EXPECTED } from '../workloads.mjs';

const [url, redisUrl, id] = process.argv.slice(2);
const MiB = 1 << 20;
const client = await createClient({ url: redisUrl, disableOfflineQueue: true }).connect();
let t0 = 0;
const events = [];
const now = () => +(performance.now() - t0).toFixed(1);
class TracedFetcher extends HttpFetcher {
  async fetch(path, range, options) {
    const start = now();
    const bytes = await super.fetch(path, range, options);
    events.push({ kind: 'fetch', block: range.start / MiB, blocks: (range.end - range.start) / MiB, start, end: now() });
    return bytes;
  }
}
const reader = new AsyncCachingReader({ fetcher: new TracedFetcher(), store: new RedisStore({ client }), mode: 'block', blockSize: MiB, ttlMs: 3_600_000 });
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy(); // released: stdin must not keep the process alive
t0 = performance.now();
const cpu0 = process.cpuUsage();
const faults0 = process.resourceUsage().minorPageFault;
await reader.stat(url);
const got = [];
for (let i = 0; i < 64; i++) {
  const start = now();
  got.push(await reader.readRange(url, i * MiB, (i + 1) * MiB));
  events.push({ kind: 'read', block: i, start, end: now() });
}
const wallMs = now();
const cpu = process.cpuUsage(cpu0);
const faults = process.resourceUsage().minorPageFault - faults0;
await reader.close();
await client.close();
const hash = createHash('sha256');
for (const b of got) hash.update(b);
if (hash.digest('hex') !== EXPECTED.W3) throw new Error(`worker ${id}: wrong bytes`); // WORKLOADS.md W3's digest
console.log(JSON.stringify({ id, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, sysMs: cpu.system / 1000, faults, events, stats: reader.stats() }));
