#!/usr/bin/env node
// Warm lookups through RedisStore.getMany, one 64 KiB value per call (a W2 warm read's store call), over each
// Redis client the store supports (node-redis 4, 5 and 6, with `ownLookupConnection: false`) and over the store's
// own lookup connection, with `redis-benchmark -t get -d 65536 -c 1` as the physical limit, all in one run.
// Each measurement is a fresh process (as W2 warm is), the variants take turns, and each result is copied into a
// pre-faulted arena and dropped, as the shared harness does.
//
//   node bench/lookup-clients.mjs [--n 4096] [--reps 3]
//
// Prints one line per variant: median µs per lookup [min-max], minor page faults per lookup, and the ratio to
// the node-redis 6 path.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { n: { type: 'string', default: '4096' }, reps: { type: 'string', default: '3' }, child: { type: 'string' }, port: { type: 'string' } } });
const N = Number(args.n);
const SIZE = 65536;
const require = createRequire(fileURLToPath(new URL('../packages/redis/package.json', import.meta.url)));

if (args.child) {
  // One measurement: variant `args.child` against the server on `args.port`.
  const [client, own] = args.child.split(':');
  const mod = await import(require.resolve(client === 'v6' ? 'redis' : `redis-${client}`));
  const url = `redis://127.0.0.1:${args.port}`;
  const c = mod.createClient({ url });
  await c.connect();
  const { RedisStore } = await import('../packages/redis/dist/index.js');
  const store = new RedisStore({ client: c, ownLookupConnection: own === 'own' });
  const arena = new Uint8Array(N * SIZE);
  arena.fill(1);
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const [v] = await store.getMany([`lc-bench:${i % 1024}`], { expectedBytes: [SIZE] });
    arena.set(v, i * SIZE);
  }
  const us = ((performance.now() - t0) * 1000) / N;
  const faults = (process.resourceUsage().minorPageFault - f0) / N;
  await store.close();
  await (c.close ?? c.quit).call(c);
  process.stdout.write(JSON.stringify({ us, faults }) + '\n');
  process.exit(0);
}

const { startRedis } = await import('../packages/test-support/dist/index.js');
const redis = await startRedis({ ownProcess: true });
const admin = await redis.client();
for (let i = 0; i < 1024; i++) await admin.set(`lc-bench:${i}`, Buffer.alloc(SIZE, i % 251));

function child(variant) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', variant, '--port', String(redis.port), '--n', String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${variant} exited ${code}`))));
  });
}

const variants = ['v4:client', 'v5:client', 'v6:client', 'v6:own'];
const results = Object.fromEntries(variants.map((v) => [v, []]));
const benchmark = [];
for (let rep = 0; rep < Number(args.reps); rep++) {
  const order = variants.slice(rep % variants.length).concat(variants.slice(0, rep % variants.length));
  for (const v of order) results[v].push(await child(v));
  const csv = execFileSync('redis-benchmark', ['-p', String(redis.port), '-t', 'get', '-d', String(SIZE), '-c', '1', '-n', String(N), '--csv'], { encoding: 'utf8' });
  const rps = Number(csv.trim().split('\n').at(-1).split(',')[1].replace(/"/g, ''));
  benchmark.push(1e6 / rps);
}
await redis.stop();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const v6 = median(results['v6:client'].map((r) => r.us));
const label = { 'v4:client': 'node-redis 4.7 (store via its own duplicate)', 'v5:client': 'node-redis 5.12, through the client', 'v6:client': 'node-redis 6.3, through the client', 'v6:own': 'own lookup connection (resp-reader.ts)' };
console.log(`warm 64 KiB lookups through RedisStore.getMany, ${N} per fresh process, medians of ${args.reps} [min-max]`);
for (const v of variants) {
  const us = results[v].map((r) => r.us);
  console.log(`${label[v].padEnd(46)} ${median(us).toFixed(1).padStart(6)} us [${Math.min(...us).toFixed(1)}-${Math.max(...us).toFixed(1)}]  ${median(results[v].map((r) => r.faults)).toFixed(2)} faults/lookup  ${(v6 / median(us)).toFixed(2)}x node-redis 6`);
}
console.log(`${'redis-benchmark -t get -d 65536 -c 1'.padEnd(46)} ${median(benchmark).toFixed(1).padStart(6)} us [${Math.min(...benchmark).toFixed(1)}-${Math.max(...benchmark).toFixed(1)}]  (the physical limit)`);
