#!/usr/bin/env node
// What an origin request costs this process, whoever makes it: W2's 64 KiB ranged GETs against a plain
// s3like-origin.mjs (no delay) started here, in blocks of reads that take turns in one process (so that the
// machine's slow and fast moments fall on every variant alike), each block timed for wall and CPU (user + system,
// this process only). Variants:
//   request  - undici request() + body.arrayBuffer(), the bench's "direct" baseline;
//   dispatch - undici dispatch() with a bare handler copying the body into one buffer: the least undici does;
//   fetcher  - HttpFetcher.fetch (@rangecache/http) with a caller signal, as the reader calls it;
//   cold     - a cold AsyncCachingReader read (chunk mode) through HttpFetcher and a RedisStore (a redis-server of
//              its own), each block under a namespace of its own.
// Prints per variant the median and first quartile over the blocks, in µs per read.
// A diagnostic, not a benchmark (bench/run.mjs is). Needs bench/data/data.bin (made by bench/run.mjs) and a build.
//
//   node bench/origin-client.mjs [--variants request,dispatch,fetcher,cold] [--block 256] [--passes 2]
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { createClient } from 'redis';
import { AsyncCachingReader } from '@rangecache/core';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { freePort, startRedis } from '@rangecache/test-support';
import { startS3likeProcess } from './s3like-process.mjs';
import { w2Reads } from './workloads.mjs';

const { values: args } = parseArgs({ options: {
  variants: { type: 'string', default: 'request,dispatch,fetcher,cold' }, block: { type: 'string', default: '256' }, passes: { type: 'string', default: '2' },
} });
const variants = args.variants.split(',');
const block = Number(args.block);
const port = await freePort();
let origin;
const redis = await startRedis({ ownProcess: true });
const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
const client = createClient({ url: redis.url });
try {
  origin = await startS3likeProcess({ file: new URL('./data/data.bin', import.meta.url).pathname, path: '/data.bin', port, extra: ['--ttfb-ms', '0', '--rate-mibps', '0'] });
  await client.connect();
  const url = `http://127.0.0.1:${port}/data.bin`;
  const reads = w2Reads();
  const arena = new Uint8Array(65536); // every variant copies what it gets here, as a consumer would
  let namespaces = 0;
  const make = {
    request: async () => ({
      read: async (r) => {
        const res = await request(url, { dispatcher: agent, headers: { range: `bytes=${r.start}-${r.end - 1}` } });
        if (res.statusCode !== 206) throw new Error(`status ${res.statusCode}`);
        arena.set(new Uint8Array(await res.body.arrayBuffer()));
      },
      close: async () => {},
    }),
    dispatch: async () => {
      const target = new URL(url);
      const get = (r) => new Promise((resolve, reject) => {
        const length = r.end - r.start;
        const out = Buffer.allocUnsafeSlow(length);
        let at = 0;
        let status = 0;
        agent.dispatch({ origin: target.origin, path: target.pathname, method: 'GET', headers: { range: `bytes=${r.start}-${r.end - 1}` } }, {
          onRequestStart() {},
          onResponseStart(_c, statusCode) { status = statusCode; },
          onResponseData(c, chunk) {
            if (at + chunk.length > length) return c.abort(new Error('a longer body than asked for'));
            chunk.copy(out, at);
            at += chunk.length;
          },
          onResponseEnd() { if (status === 206 && at === length) resolve(out); else reject(new Error(`status ${status}, ${at} bytes`)); },
          onResponseError(_c, e) { reject(e); },
        });
      });
      return { read: async (r) => arena.set(await get(r)), close: async () => {} };
    },
    fetcher: async () => {
      const fetcher = new HttpFetcher();
      const meta = await fetcher.stat(url);
      const signal = new AbortController().signal; // the reader always passes one
      return { read: async (r) => arena.set(await fetcher.fetch(url, r, { expect: meta, signal })), close: () => fetcher.close() };
    },
    cold: async () => {
      const fetcher = new HttpFetcher();
      const store = new RedisStore({ client });
      const reader = new AsyncCachingReader({ fetcher, store, mode: 'chunk', namespace: `origin-client-${namespaces++}`, ttlMs: 600_000 });
      await reader.stat(url);
      return {
        read: async (r) => arena.set(await reader.readRange(url, r.start, r.end)),
        close: async () => { await reader.close(); await store.close(); await fetcher.close(); },
      };
    },
  };
  for (const v of variants) if (!make[v]) throw new Error(`unknown variant ${v}`);
  const results = Object.fromEntries(variants.map((v) => [v, { wall: [], cpu: [] }]));
  for (let pass = 0; pass < Number(args.passes); pass++) {
    for (let b = 0; b < reads.length; b += block) {
      for (const v of variants) {
        const s = await make[v]();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = b; i < Math.min(b + block, reads.length); i++) await s.read(reads[i]);
        const n = Math.min(block, reads.length - b);
        const cpu = process.cpuUsage(cpu0);
        results[v].wall.push((1000 * (performance.now() - t0)) / n);
        results[v].cpu.push((cpu.user + cpu.system) / n);
        await s.close();
      }
    }
  }
  const quantile = (a, q) => [...a].sort((x, y) => x - y)[Math.floor(q * (a.length - 1))].toFixed(0);
  for (const v of variants) {
    const { wall, cpu } = results[v];
    console.log(`${v.padEnd(9)} µs per read: wall ${quantile(wall, 0.5)} (first quartile ${quantile(wall, 0.25)}), CPU ${quantile(cpu, 0.5)} (first quartile ${quantile(cpu, 0.25)}), ${wall.length} blocks of ${block}`);
  }
} finally {
  await client.close().catch(() => {});
  await agent.close();
  origin?.kill();
  await redis.stop();
}
