#!/usr/bin/env node
// Warm reads through a 3-master Redis Cluster against one Redis, same machine, same run: W1 (256 x 1 MiB
// sequential, block mode) and W2 (4096 x 64 KiB scattered, chunk mode) of WORKLOADS.md, how the keys of the
// 256 MiB dataset spread over the masters, which master served the bytes, Redis commands per read, and
// `redis-benchmark` GET 1 MiB on each as the physical limit.
//
//   node bench/cluster.mjs [--reps 3] [--out bench/results/cluster-<stamp>.md]
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
import { namespacePrefix } from '@rangecache/core/store-kit';
import { RedisStore } from '@rangecache/redis';
import { startRedis, startRedisCluster, tempDir } from '@rangecache/test-support';
import { DATASET_SIZE, EXPECTED, MiB, datasetBlock, w1Reads, w2Reads } from './workloads.mjs';

const run = promisify(execFile);
const { values: args } = parseArgs({ options: { reps: { type: 'string', default: '3' }, out: { type: 'string' } } });
const reps = Number(args.reps);
const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', 'T');

const dir = await tempDir('rangecache-cluster-bench-');
const path = join(dir.path, 'dataset.bin');
const file = await open(path, 'w');
for (let k = 0; k < DATASET_SIZE / MiB; k++) await file.write(datasetBlock(k));
await file.close();

const [single, rc] = await Promise.all([startRedis({ ownProcess: true }), startRedisCluster()]);
const nodeClients = await Promise.all(rc.nodes.map((n) => n.client()));
const singleAdmin = await single.client();

/** Per node: commands called and bytes sent, from INFO. */
async function counters(clients) {
  return Promise.all(clients.map(async (c) => {
    const info = (await c.info('commandstats')) + (await c.info('stats'));
    const calls = [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].reduce((n, m) => n + (m[1] === 'info' ? 0 : Number(m[2])), 0);
    return { calls, out: Number(/total_net_output_bytes:(\d+)/.exec(info)[1]) };
  }));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function warm(target, workload) {
  const store = target.store;
  const mode = workload === 'W1' ? 'block' : 'chunk';
  const reads = workload === 'W1' ? w1Reads() : w2Reads();
  const namespace = `bench-${workload}`;
  const options = { fetcher: new FileFetcher(), store, mode, namespace, blockSize: MiB, leaseMs: false };
  const fill = new AsyncCachingReader(options);
  for (const r of reads) await fill.readRange(path, r.start, r.end);
  await fill.close();
  const times = [];
  let perRead = 0;
  let outShare = [];
  for (let i = 0; i < reps; i++) {
    const reader = new AsyncCachingReader(options);
    await reader.stat(path);
    const before = await counters(target.admins);
    const hash = createHash('sha256');
    const t0 = performance.now();
    for (const r of reads) hash.update(await reader.readRange(path, r.start, r.end));
    times.push(performance.now() - t0);
    const after = await counters(target.admins);
    if (hash.digest('hex') !== EXPECTED[workload]) throw new Error(`${workload} on ${target.name}: wrong bytes`);
    const s = reader.stats();
    if (s.misses !== 0 || s.storeErrors !== 0) throw new Error(`${workload} on ${target.name}: ${s.misses} misses, ${s.storeErrors} store errors`);
    perRead = after.reduce((n, a, j) => n + a.calls - before[j].calls, 0) / reads.length;
    const out = after.map((a, j) => a.out - before[j].out);
    const total = out.reduce((a, b) => a + b, 0);
    outShare = out.map((o) => Math.round((100 * o) / total));
  }
  const ms = median(times);
  const bytes = reads.length * 65536 * (workload === 'W1' ? 16 : 1);
  return { ms, mibps: bytes / MiB / (ms / 1000), perRead, outShare };
}

async function redisBenchmark(port, cluster) {
  const { stdout } = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), ...(cluster ? ['--cluster'] : []), '-t', 'set,get', '-d', String(MiB), '-n', '2000', '-c', '1', '-q'],
    { maxBuffer: 16 * MiB });
  const rps = Number(/GET: ([\d.]+) requests per second/.exec(stdout)?.[1]);
  return rps; // 1 MiB each: MiB/s
}

const singleClient = createClient({ url: single.url, disableOfflineQueue: true });
await singleClient.connect();
const cluster = await rc.cluster();
const targets = [
  { name: 'one Redis', store: new RedisStore({ client: singleClient }), admins: [singleAdmin], port: single.port, cluster: false },
  { name: 'cluster, 3 masters', store: new RedisStore({ client: cluster }), admins: nodeClients, port: rc.nodes[0].port, cluster: true },
];
const rows = [];
try {
  for (const target of targets) {
    const w1 = await warm(target, 'W1');
    const w2 = await warm(target, 'W2');
    const limit = await redisBenchmark(target.port, target.cluster);
    rows.push({ target, w1, w2, limit });
  }
  const keys = await Promise.all(nodeClients.map(async (c) => (await c.keys(`${namespacePrefix('bench-W1')}*:b:*`)).length));
  const lines = [
    `# Warm reads: Redis Cluster (3 masters) against one Redis, ${new Date().toISOString()}`,
    '',
    `\`node bench/cluster.mjs --reps ${reps}\`: one machine (2 cores), loopback, median of ${reps} runs, a fresh reader per run; bytes checked by SHA-256.`,
    '',
    '| target | W1 warm (256 x 1 MiB) | W2 warm (4096 x 64 KiB) | Redis commands per read (W1 / W2) | bytes sent per master, W1 | redis-benchmark GET 1 MiB -c 1 |',
    '|---|---|---|---|---|---|',
    ...rows.map(({ target, w1, w2, limit }) => `| ${target.name} | ${w1.ms.toFixed(0)} ms = ${w1.mibps.toFixed(0)} MiB/s | ${w2.ms.toFixed(0)} ms = ${w2.mibps.toFixed(0)} MiB/s | ${w1.perRead.toFixed(2)} / ${w2.perRead.toFixed(2)} | ${w1.outShare.map((p) => `${p}%`).join(' / ')} | ${limit.toFixed(0)} MiB/s |`),
    '',
    `The dataset's 256 blocks (16 segments of 16 MiB) over the masters: ${keys.join(' / ')} keys.`,
    '',
  ];
  const text = lines.join('\n');
  process.stdout.write(text);
  const out = args.out ?? join('bench', 'results', `cluster-${stamp}.md`);
  await mkdir(join('bench', 'results'), { recursive: true });
  await writeFile(out, text);
  process.stdout.write(`\nwritten to ${out}\n`);
} finally {
  await Promise.all(targets.map((t) => t.store.close()));
  await singleClient.close();
  await Promise.all([single.stop(), rc.stop()]);
  await dir.remove();
}
