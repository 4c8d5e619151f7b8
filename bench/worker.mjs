#!/usr/bin/env node
// One timed run in a fresh process (WORKLOADS.md §3). argv[2] is a JSON config; prints one JSON line.
//   variant "direct":  undici (or the S3 SDK) with one ranged GET per read, plus one HEAD: no cache at all.
//   variant "cached":  rangecache (AsyncCachingReader + RedisStore), cold or warm depending on Redis.
//   variant "ceiling": plain node-redis GETs of values of the same sizes, sequential, as fast as node-redis can.
//   variant "floor":   the same GETs on a raw socket into one reused buffer, copied into the caller's memory: the
//                      fastest any Node client can deliver them (socketFloor below).
//   variant "stream":  rangecache stream() over a local file, measuring peak RSS above the baseline.
// cfg.shape (W3 only): "loop" = the reads of the workload one after another (1 MiB each); "whole" = ONE
// readRange(objectUrl, 0, size) over the whole object; "stream" = for await over reader.stream(objectUrl). As in the
// shared harness (../shared/bench/seed/rangecache-driver.mjs), "loop" and "stream" copy what they get into a
// pre-faulted arena and drop it; "whole" keeps its one array.
// Every run counts the Redis commands it sends (resp-counter.mjs) and prints them as `redisClient`.
import { createHash } from 'node:crypto';
import { installRedisCounter, redisTraffic } from './resp-counter.mjs';
installRedisCounter(); // before any Redis client exists
import { once } from 'node:events';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { RESP_TYPES, createClient } from 'redis';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AsyncCachingReader, FileFetcher, MemoryStore, TieredStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { HttpFetcher } from '@rangecache/http';
import { S3Fetcher } from '@rangecache/s3';
import { hotReads, w1Reads, w2Reads, w3Reads } from './workloads.mjs';

const cfg = JSON.parse(process.argv[2]);
const readsFor = { W1: w1Reads, W2: w2Reads, W3: w3Reads, HOT: hotReads, STREAM: () => [] };
const reads = readsFor[cfg.workload](cfg.count);

const s3client = () => new S3Client({
  endpoint: cfg.origin.endpoint, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});
const originPath = cfg.origin.kind === 's3' ? `s3://${cfg.origin.bucket}/${cfg.origin.key}` : cfg.origin.url;

async function setup() {
  if (cfg.variant === 'direct') {
    if (cfg.origin.kind === 's3') {
      const client = s3client();
      const Bucket = cfg.origin.bucket;
      const Key = cfg.origin.key;
      return {
        open: async () => { await client.send(new HeadObjectCommand({ Bucket, Key })); },
        read: async (r) => {
          const res = await client.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${r.start}-${r.end - 1}` }));
          return res.Body.transformToByteArray();
        },
        close: async () => client.destroy(),
      };
    }
    const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
    return {
      // reset: false keeps the connection: undici closes it after a HEAD by default, and undici 7's Agent then opened
      // (and closed) a connection for every later request, which made this baseline pay a handshake per read.
      open: async () => { const res = await request(cfg.origin.url, { method: 'HEAD', dispatcher: agent, reset: false }); await res.body.dump(); },
      read: async (r) => {
        const res = await request(cfg.origin.url, { dispatcher: agent, headers: { range: `bytes=${r.start}-${r.end - 1}` } });
        if (res.statusCode !== 206) throw new Error(`status ${res.statusCode}`);
        return new Uint8Array(await res.body.arrayBuffer());
      },
      close: () => agent.close(),
    };
  }
  const client = createClient({ url: cfg.redisUrl, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  if (cfg.variant === 'floor') return socketFloor(client);
  if (cfg.variant === 'ceiling') {
    const buffers = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    // The same values, under plain keys, stored before the timed region.
    const keys = reads.map((_, i) => `bench:ceiling:${i}`);
    return {
      open: async () => {},
      read: async (_r, i) => buffers.get(keys[i]),
      close: () => client.close(),
      client,
    };
  }
  const fetcher = cfg.variant === 'stream' ? new FileFetcher()
    : cfg.origin.kind === 's3' ? new S3Fetcher({ client: s3client() }) : new HttpFetcher();
  // cfg.tier: bytes of an in-process memory tier in front of Redis (TieredStore), else Redis alone.
  const redisStore = new RedisStore({ client });
  const store = cfg.tier ? new TieredStore({ near: new MemoryStore({ maxBytes: cfg.tier }), far: redisStore }) : redisStore;
  const reader = new AsyncCachingReader({
    fetcher, store, mode: cfg.mode, blockSize: cfg.blockSize, namespace: 'bench', ttlMs: 3_600_000, readAhead: cfg.readAhead ?? 4,
    ...(cfg.integrity ? { integrity: { secret: 'benchmark-secret-0123456789' } } : {}),
    ...(cfg.leaseMs === undefined ? {} : { leaseMs: cfg.leaseMs }),
    ...(cfg.metaTtl == null ? {} : { metaTtlMs: Math.round(cfg.metaTtl * 1000) }),
  });
  return {
    reader,
    open: async () => { await reader.stat(cfg.variant === 'stream' ? cfg.file : cfg.objectUrl ?? originPath); },
    // cfg.into: readRangeInto straight into the read's slot of the arena (below), as a consumer reusing its memory.
    read: cfg.into
      ? async (r, i) => { const slot = arenaSlot(i); return slot.subarray(0, await reader.readRangeInto(originPath, r.start, r.end, slot)); }
      : (r) => reader.readRange(originPath, r.start, r.end),
    readBatch: (rs) => reader.readRanges(originPath, rs),
    // W3 shapes over the whole object (cfg.objectUrl): one readRange of [0, size), or one stream().
    whole: async (url) => { const { size } = await reader.stat(url); return reader.readRange(url, 0, size); },
    stream: (url) => reader.stream(url),
    // The lookup connection's cost counters (values allocated or read into the caller's memory, bytes copied).
    lookups: () => redisStore.lookupCounters,
    close: async () => { await reader.close(); await store.close(); await client.close(); await fetcher.close?.(); },
  };
}

/**
 * Variant "floor": the least a Node process can do per warm read. Each read writes one GET to a raw socket of its
 * own; the reply lands in one reused, already-touched receive buffer, and its value is copied into the read's arena
 * slot, the caller's memory. No RESP parsing besides the bulk header, no allocation per read. Nothing in Node
 * delivers a value to the caller's memory with less work, so no Node client can be faster than this loop.
 */
async function socketFloor(client) {
  await client.close(); // connected above only for the command counter's set-up; the floor uses a socket of its own
  const { hostname, port } = new URL(cfg.redisUrl);
  const receive = Buffer.alloc(4 * 1024 * 1024).fill(1);
  // The reply being read: its bulk header `$<length>\r\n`, its value (into the read's arena slot), its final CRLF.
  // Any part may be split across socket reads.
  let pending; // { target, header: string, left: value bytes still to come, trailer: CRLF bytes still to come, resolve, reject }
  let failure;
  const onData = (n) => {
    let at = 0;
    while (at < n) {
      const p = pending;
      if (!p) throw new Error(`${n - at} bytes from Redis with no GET pending`);
      if (p.left === undefined) {
        const lf = receive.indexOf(10, at);
        const end = lf < 0 || lf >= n ? n : lf + 1;
        p.header += receive.toString('latin1', at, end);
        at = end;
        if (!p.header.endsWith('\r\n')) continue;
        const length = p.header.startsWith('$') ? Number(p.header.slice(1, -2)) : NaN;
        if (length !== p.target.byteLength) throw new Error(`unexpected reply ${JSON.stringify(p.header)} for a value of ${p.target.byteLength} bytes`);
        p.left = length;
      } else if (p.left > 0) {
        const k = Math.min(n - at, p.left);
        receive.copy(p.target, p.target.byteLength - p.left, at, at + k);
        p.left -= k;
        at += k;
      } else {
        const k = Math.min(n - at, p.trailer);
        p.trailer -= k;
        at += k;
        if (p.trailer === 0) {
          pending = undefined;
          p.resolve(p.target);
        }
      }
    }
  };
  const socket = net.connect({ host: hostname, port: Number(port), noDelay: true, onread: { buffer: receive, callback: (n) => {
    try {
      onData(n);
    } catch (e) {
      failure = e;
      pending?.reject(e);
      pending = undefined;
      socket.destroy();
    }
  } } });
  await once(socket, 'connect');
  const keys = reads.map((_, i) => `bench:ceiling:${i}`);
  return {
    open: async () => {},
    // One GET at a time: a second read() before the first is answered (a batched run) is refused.
    read: (_r, i) => new Promise((resolve, reject) => {
      if (failure || pending) return reject(failure ?? new Error('the floor reads one value at a time'));
      pending = { target: arenaSlot(i), header: '', left: undefined, trailer: 2, resolve, reject };
      socket.write(`*2\r\n$3\r\nGET\r\n$${keys[i].length}\r\n${keys[i]}\r\n`, 'latin1');
    }),
    close: async () => { socket.end(); await once(socket, 'close'); },
  };
}

const s = await setup();
if (cfg.fleet) {
  process.stdout.write('{"ready": true}\n');
  const rl = createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
}
globalThis.gc?.();
const baselineRss = process.memoryUsage().rss;
// Peak RSS of the timed region, sampled (the process's lifetime maxRSS would include start-up, e.g. loading the SDK).
let peakRss = baselineRss;
const sampler = cfg.variant === "stream" ? setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 5) : undefined;
const out = [];
let bytes = 0;
// Reads of W1/W2 are copied into their slots of an arena allocated and pre-faulted here, before the timed region,
// and dropped, as the shared seed harness does (and as a consumer that uses each read and lets it go): keeping
// every returned array instead would charge each read the page faults of memory no consumer keeps.
const slots = [];
let arenaSize = 0;
for (const r of reads) { slots.push(arenaSize); arenaSize += r.end - r.start; }
// W3's "loop" and "stream" shapes too (the shared harness's W3 worker does the same); "whole" is one 64 MiB array.
const arena = cfg.shape === 'whole' || cfg.variant === 'stream' ? undefined : new Uint8Array(arenaSize);
arena?.fill(0xa5);
function arenaSlot(i) {
  return arena.subarray(slots[i], slots[i] + reads[i].end - reads[i].start);
}
const keep = (v, i) => {
  if (arena && v.byteLength === reads[i].end - reads[i].start) {
    if (v.buffer !== arena.buffer || v.byteOffset !== slots[i]) arena.set(v, slots[i]); // readRangeInto put it there
  } else out.push(v);
};
const faults0 = process.resourceUsage().minorPageFault;
const t0 = performance.now();
await s.open();
if (cfg.variant === 'stream') {
  for await (const chunk of s.reader.stream(cfg.file)) bytes += chunk.byteLength;
} else if (cfg.shape === 'whole') {
  const v = await s.whole(cfg.objectUrl);
  out.push(v);
  bytes += v.byteLength;
} else if (cfg.shape === 'stream') {
  // Each chunk copied into the arena at its offset, then dropped, as the loop's reads are.
  for await (const chunk of s.stream(cfg.objectUrl)) {
    if (bytes + chunk.byteLength > arena.byteLength) throw new Error(`stream delivered more than ${arena.byteLength} bytes`);
    arena.set(chunk, bytes);
    bytes += chunk.byteLength;
  }
  if (bytes !== arena.byteLength) throw new Error(`stream delivered ${bytes} bytes, not ${arena.byteLength}`);
} else if (cfg.batch) {
  // Batched: `batch` reads issued together, as a client that knows its chunk list (Zarr, kerchunk) does.
  for (let i = 0; i < reads.length; i += cfg.batch) {
    const group = reads.slice(i, i + cfg.batch);
    const values = s.readBatch ? await s.readBatch(group) : await Promise.all(group.map((r, k) => s.read(r, i + k)));
    values.forEach((v, k) => {
      if (v.byteLength !== group[k].end - group[k].start) throw new Error(`batched read ${i + k} returned ${v.byteLength} bytes`);
      keep(v, i + k);
      bytes += v.byteLength;
    });
  }
} else {
  for (let i = 0; i < reads.length; i++) {
    const r = reads[i];
    const v = await s.read(r, i);
    if (v.byteLength !== r.end - r.start) throw new Error(`read ${i} returned ${v.byteLength} bytes, not ${r.end - r.start}`);
    keep(v, i);
    bytes += v.byteLength;
  }
}
const stats = s.reader?.stats();
const lookups = s.lookups?.() ? { ...s.lookups() } : undefined;
await s.close();
const wallMs = performance.now() - t0;
const pageFaults = process.resourceUsage().minorPageFault - faults0;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
const hash = createHash('sha256');
if (arena) hash.update(arena);
else for (const v of out) hash.update(v);
process.stdout.write(JSON.stringify({
  wallMs, bytes, sha256: hash.digest('hex'), baselineRssMiB: baselineRss / 2 ** 20, peakRssMiB: peakRss / 2 ** 20,
  peakAboveBaselineMiB: (peakRss - baselineRss) / 2 ** 20, pageFaults, stats, lookups, redisClient: redisTraffic,
}) + '\n');
