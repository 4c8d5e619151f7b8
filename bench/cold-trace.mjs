#!/usr/bin/env node
// Where a cold W2 read's time goes: W2's 4096 64 KiB reads (or the first N), cold, through AsyncCachingReader +
// RedisStore + HttpFetcher in this process, against the plain origin (s3like-origin.mjs with no delay) and a
// redis-server, both started here. Per read it stamps: the call to lookupAndClaim, the first write of the lookup on
// a Redis socket, its answer, the call to the fetcher and its return, and the read's end. Prints the median of each
// phase in µs and the process's CPU time per read; `--direct` runs the same reads with plain undici instead.
//
//   node bench/cold-trace.mjs [--reads 4096] [--runs 2] [--direct]
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { AsyncCachingReader } from '@rangecache/core';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { freePort, startRedis } from '@rangecache/test-support';
import { startS3likeProcess } from './s3like-process.mjs';
import { w2Reads } from './workloads.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { reads: { type: 'string' }, runs: { type: 'string' }, direct: { type: 'boolean' } } });
const reads = w2Reads(Number(args.reads ?? 4096));
const dataFile = join(here, 'data', 'data.bin');
if (!existsSync(dataFile)) throw new Error(`${dataFile} is missing: run the bench once (node bench/run.mjs --only W2 --reps 1) to create it`);

const port = await freePort();
const origin = await startS3likeProcess({ file: dataFile, path: '/data.bin', port, extra: ['--ttfb-ms', '0', '--rate-mibps', '0'] });
const url = `http://127.0.0.1:${port}/data.bin`;
const redis = await startRedis({ ownProcess: true });

/** The read being traced: its stamps (performance.now()). */
let current;
// The first bytes written to Redis after the lookup was asked for, and the first bytes back.
const writeGeneric = net.Socket.prototype._writeGeneric;
net.Socket.prototype._writeGeneric = function (...a) {
  if (current?.lookupAsked && !current.lookupWritten && this.remotePort === redis.port) current.lookupWritten = performance.now();
  return writeGeneric.apply(this, a);
};

const median = (xs) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const µs = (from, to) => (m) => 1000 * (m[to] - m[from]);

async function cachedRun() {
  const client = await redis.client();
  await client.flushAll();
  const inner = new HttpFetcher();
  const fetcher = {
    stat: (p, o) => inner.stat(p, o),
    async fetch(p, range, o) {
      if (current) current.fetchStart = performance.now();
      const v = await inner.fetch(p, range, o);
      if (current) current.fetchEnd = performance.now();
      return v;
    },
  };
  const store = new RedisStore({ client });
  const coordinator = store.coordinator;
  const lookupAndClaim = coordinator.lookupAndClaim.bind(coordinator);
  coordinator.lookupAndClaim = async (...a) => {
    if (current) current.lookupAsked = performance.now();
    const r = await lookupAndClaim(...a);
    if (current) current.lookupAnswered = performance.now();
    return r;
  };
  const reader = new AsyncCachingReader({ fetcher, store, mode: 'chunk', namespace: 'cold-trace', ttlMs: 3_600_000 });
  await reader.stat(url);
  const marks = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const r of reads) {
    current = { start: performance.now() };
    await reader.readRange(url, r.start, r.end);
    current.end = performance.now();
    marks.push(current);
  }
  current = undefined;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await reader.close();
  await store.close();
  await client.close();
  await inner.close();
  const phase = (from, to) => Math.round(median(marks.map(µs(from, to))));
  return {
    wallMs: Math.round(ms), cpuPerReadUs: Math.round((cpu.user + cpu.system) / reads.length),
    median: {
      'read -> lookup asked': phase('start', 'lookupAsked'), 'lookup asked -> written': phase('lookupAsked', 'lookupWritten'),
      'lookup asked -> answered': phase('lookupAsked', 'lookupAnswered'), 'answered -> origin request': phase('lookupAnswered', 'fetchStart'),
      'origin request': phase('fetchStart', 'fetchEnd'), 'origin -> read returns': phase('fetchEnd', 'end'), 'whole read': phase('start', 'end'),
    },
  };
}

async function directRun() {
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const r of reads) {
    const res = await request(url, { dispatcher: agent, headers: { range: `bytes=${r.start}-${r.end - 1}` } });
    new Uint8Array(await res.body.arrayBuffer());
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await agent.close();
  return { wallMs: Math.round(ms), cpuPerReadUs: Math.round((cpu.user + cpu.system) / reads.length) };
}

try {
  for (let i = 0; i < Number(args.runs ?? 2); i++) console.log(JSON.stringify({ variant: args.direct ? 'direct' : 'cold', reads: reads.length, ...(args.direct ? await directRun() : await cachedRun()) }));
} finally {
  origin.kill('SIGTERM');
  await once(origin, 'exit');
  await redis.stop();
}
