#!/usr/bin/env node
// rangecache benchmark: the workloads of WORKLOADS.md (W1 sequential, W2 scattered chunks, W3 fleet) plus a 1 GiB
// stream(), each against a plain loopback origin, the "s3like" origin (20 ms first byte, 100 MiB/s per response)
// and s3rver, with a redis-server it starts itself. Every run is a fresh process; origin requests and bytes are
// counted at the origin (its access log, or a counting proxy in front of s3rver); Redis calls by INFO commandstats.
//
//   pnpm bench [--quick] [--reps N] [--only W1,W2,W3,HOT,STREAM] [--origins plain,s3like,s3]
//              [--shapes loop,whole,stream] [--fleet N] [--lease-ms MS|null] [--meta-ttl S] [--tag NAME]
//
// W3 (fleet) runs in three read shapes, each alone (one process, cold) and as a fleet of 8 processes released
// together: "loop" = WORKLOADS.md W3 (64 reads of 1 MiB of /data.bin), "whole" = one readRange(url, 0, size)
// over a 64 MiB object (/w3.bin, the first 64 MiB of the dataset), "stream" = reader.stream(url) over it.
//
// Redis commands: INFO commandstats after a CONFIG RESETSTAT just before each run (server side: it also counts
// the commands Lua scripts run and those queued in MULTI), and each worker's own count of the commands it wrote
// (resp-counter.mjs: client side). Server total minus client total = commands run inside scripts.
//
// Writes bench/results/<timestamp>.{json,md,svg}, and bench/results/latest.{json,svg}.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, openSync, readFileSync, statSync, closeSync, writeFileSync, ftruncateSync, writeSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { commandCalls, freePort, startFaultProxy, startRedis, startS3rver } from '@rangecache/test-support';
import { renderChart } from './chart.mjs';
import { EXPECTED, MiB, hotReads, loadDataset, w1Reads, w2Reads, w3Reads } from './workloads.mjs';
import { gitDescribe } from './run-info.mjs';
import { startS3likeProcess } from './s3like-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    origins: { type: 'string' },
    'lease-ms': { type: 'string' },
    shapes: { type: 'string' },
    'meta-ttl': { type: 'string' },
    fleet: { type: 'string' },
    tag: { type: 'string' },
  },
});
// --lease-ms null: fleet single flight off, to measure what the leases cost a lone reader.
const leaseMs = args['lease-ms'] === undefined ? undefined : args['lease-ms'] === 'null' || args['lease-ms'] === 'false' ? false : Number(args['lease-ms']);
// --meta-ttl S: the reader's metaTtl (default: the library's, 60 s). A weak validator (the origins' nginx-style ETags)
// caps every value's TTL at metaTtl, so a warm run that starts more than metaTtl after the cold run began finds
// part of the cache expired (s3like W2: the cold run alone takes ~95 s).
const metaTtl = args['meta-ttl'] === undefined ? undefined : Number(args['meta-ttl']);
const quick = args.quick;
const reps = Number(args.reps ?? (quick ? 1 : 3));
const only = new Set((args.only ?? 'W1,W2,W3,HOT,STREAM').split(','));
const originNames = (args.origins ?? 'plain,s3like,s3').split(',');
const counts = quick ? { W1: 32, W2: 64, W3: 8, HOT: 512, fleet: 2, streamMiB: 128 } : { W1: 256, W2: 4096, W3: 64, HOT: 4096, fleet: 8, streamMiB: 1024 };
if (args.fleet) counts.fleet = Number(args.fleet);
const shapes = (args.shapes ?? 'loop,whole,stream').split(',');
// Quick mode (the test suite's smoke run) tries every shape on the plain origin and only the loop on s3like.
const shapesFor = (originName) => (quick && !args.shapes && originName !== 'plain' ? ['loop'] : shapes);
for (const sh of shapes) if (!['loop', 'whole', 'stream'].includes(sh)) throw new Error(`unknown W3 shape ${sh}`);
const t0 = performance.now();
const log = (...a) => console.error(`[bench +${((performance.now() - t0) / 1000).toFixed(1)}s]`, ...a);

// ------------------------------------------------------------------ dataset
const dataDir = join(here, 'data');
const { data, dataFile } = await loadDataset(dataDir, log);
// The W3 object of the "whole" and "stream" shapes: the first counts.W3 MiB of the dataset, as a file of its own.
const objectFile = join(dataDir, `w3-object-${counts.W3}.bin`);
if (!existsSync(objectFile) || statSync(objectFile).size !== counts.W3 * MiB) writeFileSync(objectFile, data.subarray(0, counts.W3 * MiB));
const streamFile = join(dataDir, `stream-${counts.streamMiB}.bin`);
if (!existsSync(streamFile)) {
  const fd = openSync(streamFile, 'w');
  ftruncateSync(fd, counts.streamMiB * MiB); // sparse: the bytes do not matter, the memory does
  closeSync(fd);
}
const readsOf = { W1: w1Reads(counts.W1), W2: w2Reads(counts.W2), W3: w3Reads(counts.W3), HOT: hotReads(counts.HOT) };
const expectedHash = (reads) => {
  const h = createHash('sha256');
  for (const r of reads) h.update(data.subarray(r.start, r.end));
  return h.digest('hex');
};
const expected = Object.fromEntries(Object.entries(readsOf).map(([w, r]) => [w, expectedHash(r)]));
if (!quick) for (const w of ['W1', 'W2', 'W3']) if (expected[w] !== EXPECTED[w]) throw new Error(`${w} expected hash mismatch`);

// ------------------------------------------------------------------ servers
const redis = await startRedis({ ownProcess: true });
const admin = await redis.client();
const children = [];
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

// One s3like-origin.mjs process serves one file: /data.bin (W1, W2, W3 loop) and /w3.bin (W3 whole, stream) each
// get one, with the same profile; origin requests and bytes are the sum of both access logs.
async function startHttpOrigin(name, extra) {
  const serve = async (file, path, logFile) => {
    const port = await freePort();
    writeFileSync(logFile, '');
    const child = await startS3likeProcess({ file, path, port, log: logFile, extra, onSpawn: (c) => children.push(c) });
    return { child, logFile, url: `http://127.0.0.1:${port}${path}`, mark: 0 };
  };
  const servers = [await serve(dataFile, '/data.bin', join(dataDir, `${name}-access.log`)),
    await serve(objectFile, '/w3.bin', join(dataDir, `${name}-w3-access.log`))];
  return {
    name, kind: 'http', url: servers[0].url, objectUrl: servers[1].url,
    describe: `s3like-origin.mjs ${extra.join(' ') || '(defaults: ttfb 20 ms, 100 MiB/s)'}`,
    mark: () => { for (const s of servers) s.mark = statSync(s.logFile).size; },
    async count() {
      await new Promise((r) => setTimeout(r, 300));
      const lines = servers.flatMap((s) => readFileSync(s.logFile).subarray(s.mark).toString('utf8').split('\n').filter(Boolean));
      return { requests: lines.length, bytes: lines.reduce((n, l) => n + Number(l.split(' ').at(-2)), 0) };
    },
    stop: async () => { for (const s of servers) s.child.kill('SIGTERM'); },
  };
}

async function startS3Origin() {
  const s3 = await startS3rver('bench');
  const client = s3.client();
  await client.send(new PutObjectCommand({ Bucket: 'bench', Key: 'data.bin', Body: data }));
  const proxy = await startFaultProxy({ host: s3.host, port: s3.port });
  let mark = { n: 0, bytes: 0 };
  return {
    name: 's3', kind: 's3', endpoint: proxy.endpoint, bucket: 'bench', key: 'data.bin', describe: 's3rver 3.7.1 in-process, behind a counting proxy',
    mark: () => { mark = { n: proxy.requests.length, bytes: proxy.requests.reduce((n, r) => n + r.bytes, 0) }; },
    async count() {
      await new Promise((r) => setTimeout(r, 300));
      return { requests: proxy.requests.length - mark.n, bytes: proxy.requests.reduce((n, r) => n + r.bytes, 0) - mark.bytes };
    },
    stop: async () => { await proxy.stop(); await s3.stop(); },
  };
}

// ------------------------------------------------------------------ runs
function spawnWorker(cfg) {
  // BENCH_WORKER_ARGS: extra node flags for every worker, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const extra = (process.env.BENCH_WORKER_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, ['--expose-gc', ...extra, join(here, 'worker.mjs'), JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const done = once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`worker ${cfg.workload}/${cfg.variant} exited with ${code}`);
    const lines = out.trim().split('\n');
    return JSON.parse(lines.at(-1));
  });
  return { child, done, ready: () => new Promise((resolve) => { const check = () => (out.includes('"ready"') ? resolve() : setTimeout(check, 5)); check(); }) };
}

// Commands of the orchestrator's own connection, left out of the totals.
const ADMIN_COMMANDS = new Set(['config|resetstat', 'info', 'dbsize', 'flushall']);
const sum = (xs) => xs.reduce((n, x) => n + x, 0);
/** The client-side counts of one or more workers (resp-counter.mjs), added up. CLIENT (node-redis's CLIENT SETINFO
 * on connect, which Redis 7.0 refuses and commandstats does not count) is left out of `issued`. */
function clientTraffic(list) {
  const commands = {};
  for (const t of list) for (const [k, v] of Object.entries(t?.commands ?? {})) commands[k] = (commands[k] ?? 0) + v;
  const issued = sum(Object.entries(commands).filter(([k]) => k !== 'client').map(([, v]) => v));
  return { commands, issued, queued: sum(list.map((t) => t?.queued ?? 0)), flushes: sum(list.map((t) => t?.flushes ?? 0)) };
}

async function measured(origin, fn) {
  origin?.mark();
  await admin.configResetStat();
  const result = await fn();
  const originCount = origin ? await origin.count() : { requests: 0, bytes: 0 };
  const calls = await commandCalls(admin);
  const dbsize = await admin.dbSize();
  const serverTotal = sum(Object.entries(calls).filter(([k]) => !ADMIN_COMMANDS.has(k)).map(([, v]) => v));
  const client = clientTraffic(result.redisClientAll ?? [result.redisClient]);
  delete result.redisClientAll;
  return { ...result, originCount, redis: { calls, dbsize, serverTotal, client, scriptInner: serverTotal - client.issued } };
}

const originCfg = (o) => (o.kind === 's3' ? { kind: 's3', endpoint: o.endpoint, bucket: o.bucket, key: o.key } : { kind: 'http', url: o.url });

async function runOne(origin, workload, variant, extra = {}) {
  const mode = workload === 'W2' || workload === 'HOT' ? 'chunk' : 'block';
  const cfg = { workload, variant, origin: originCfg(origin), redisUrl: redis.url, mode, blockSize: MiB, count: counts[workload], leaseMs, metaTtl, ...extra };
  const r = await measured(variant === 'ceiling' || variant === 'floor' ? null : origin, () => spawnWorker(cfg).done);
  if (r.bytes && workload !== 'STREAM' && r.sha256 !== expected[workload]) throw new Error(`${workload}/${variant} on ${origin.name}: wrong bytes (sha256 ${r.sha256})`);
  r.reads = counts[workload];
  return r;
}

async function preloadCeiling(workload) {
  const reads = readsOf[workload];
  for (let i = 0; i < reads.length; i += 64) {
    const m = admin.multi();
    for (let j = i; j < Math.min(i + 64, reads.length); j++) m.set(`bench:ceiling:${j}`, data.subarray(reads[j].start, reads[j].end));
    await m.exec();
  }
}

const results = { meta: {}, runs: [], redisBenchmark: {} };
const record = (origin, workload, variant, r) => {
  results.runs.push({ origin: origin?.name ?? 'file', workload, variant, ...r });
  if (r.reads && r.redis.client.issued) log(`  redis per read: ${(r.redis.client.issued / r.reads).toFixed(2)} client cmds, ${(r.redis.client.flushes / r.reads).toFixed(2)} flushes, ${(r.redis.serverTotal / r.reads).toFixed(2)} server (commandstats)`);
  const mibs = r.bytes / MiB / (r.wallMs / 1000);
  const faults = r.pageFaults === undefined || !r.bytes ? '' : `, ${(r.pageFaults / (r.bytes / MiB)).toFixed(0)} page faults/MiB`;
  log(`${origin?.name ?? 'file'} ${workload} ${variant}: ${r.wallMs.toFixed(0)} ms, ${mibs.toFixed(0)} MiB/s${faults}, origin ${r.originCount.requests} req / ${(r.originCount.bytes / MiB).toFixed(1)} MiB, redis keys ${r.redis.dbsize}`);
};

async function benchWorkload(origin, workload) {
  for (let rep = 0; rep < reps; rep++) {
    record(origin, workload, 'direct', await runOne(origin, workload, 'direct'));
    await admin.flushAll();
    record(origin, workload, 'cold', await runOne(origin, workload, 'cached'));
    record(origin, workload, 'warm', await runOne(origin, workload, 'cached'));
    // The same warm reads with readRangeInto, into memory the consumer reuses (the arena).
    record(origin, workload, 'warm-into', await runOne(origin, workload, 'cached', { into: true }));
  }
  if (workload === 'W2' && (!quick || origin.name === 'plain')) {
    // W2 with its reads issued 64 at a time (readRanges), against direct reads with the same concurrency. (Quick
    // mode, the test suite's smoke run, checks it on the plain origin only.)
    for (let rep = 0; rep < reps; rep++) {
      record(origin, workload, 'direct-batch64', await runOne(origin, workload, 'direct', { batch: 64 }));
      await admin.flushAll();
      record(origin, workload, 'cold-batch64', await runOne(origin, workload, 'cached', { batch: 64 }));
    }
  }
  if (origin.name === 'plain') {
    // The cost of integrity: the same cold and warm runs with HMAC tags on every value.
    for (let rep = 0; rep < reps; rep++) {
      await admin.flushAll();
      record(origin, workload, 'cold-hmac', await runOne(origin, workload, 'cached', { integrity: true }));
      record(origin, workload, 'warm-hmac', await runOne(origin, workload, 'cached', { integrity: true }));
    }
  }
  await admin.flushAll();
  await preloadCeiling(workload);
  for (let rep = 0; rep < reps; rep++) record(origin, workload, 'ceiling', await runOne(origin, workload, 'ceiling'));
  // The same values on a raw socket: what no Node client can beat (worker.mjs, socketFloor).
  if (origin.name === 'plain' && (workload === 'W1' || workload === 'W2')) {
    for (let rep = 0; rep < reps; rep++) record(origin, workload, 'floor', await runOne(origin, workload, 'floor'));
  }
  await admin.flushAll();
  if (origin.name === 'plain') for (let rep = 0; rep < reps; rep++) physicalLimit(workload);
}

/**
 * The physical limit of a warm read: `redis-benchmark -t get -d <value size> -c 1` against the bench's Redis, in
 * the same run (one client, as the workloads read one value at a time). Recorded in MiB/s per repetition.
 */
function physicalLimit(workload) {
  const size = workload === 'W1' ? MiB : 64 * 1024;
  const n = quick ? 200 : workload === 'W1' ? 2000 : 20000;
  let csv;
  try {
    csv = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(redis.port), '-t', 'set,get', '-d', String(size), '-c', '1', '-n', String(n), '--csv'], { encoding: 'utf8' });
  } catch (e) {
    log(`redis-benchmark unavailable (${e.code ?? e.message}): no physical limit for ${workload}`);
    return;
  }
  const row = csv.trim().split('\n').find((l) => l.startsWith('"GET"'));
  const rps = Number(row?.split(',')[1]?.replace(/"/g, ''));
  if (!Number.isFinite(rps)) return;
  const mibps = (rps * size) / MiB;
  (results.redisBenchmark[workload] ??= []).push(mibps);
  log(`plain ${workload} redis-benchmark -t set,get (GET) -d ${size} -c 1 -n ${n}: ${rps.toFixed(0)} GET/s, ${mibps.toFixed(0)} MiB/s`);
}

/**
 * HOT: the same 256 chunks read 16 times over, warm, in a fresh process: Redis alone, and with a 64 MiB memory tier
 * (TieredStore) in front of it. The first read of each chunk goes to Redis either way.
 */
async function benchHot(origin) {
  await admin.flushAll();
  record(origin, 'HOT', 'cold', await runOne(origin, 'HOT', 'cached'));
  for (let rep = 0; rep < reps; rep++) {
    record(origin, 'HOT', 'warm', await runOne(origin, 'HOT', 'cached'));
    record(origin, 'HOT', 'warm-tiered', await runOne(origin, 'HOT', 'cached', { tier: 64 * MiB }));
  }
  await admin.flushAll();
}

// W3 in one read shape: one process alone (cold), then counts.fleet processes released together (cold).
const FLEET_STATS = ['fleetWaits', 'fleetFallbacks', 'storeErrors', 'hits', 'misses', 'originRequests'];
async function benchFleet(origin, shape) {
  const workload = `W3-${shape}`;
  const shapeCfg = { shape, ...(shape === 'loop' ? {} : { objectUrl: origin.objectUrl }) };
  const statsOf = (list) => Object.fromEntries(FLEET_STATS.map((k) => [k, sum(list.map((e) => e.stats?.[k] ?? 0))]));
  for (let rep = 0; rep < reps; rep++) {
    await admin.flushAll();
    const alone = await runOne(origin, 'W3', 'cached', shapeCfg);
    alone.fleetStats = statsOf([alone]);
    alone.amplification = alone.originCount.bytes / (counts.W3 * MiB);
    record(origin, workload, 'alone', alone);
    await admin.flushAll();
    const r = await runFleet(origin, workload, shapeCfg, statsOf);
    r.reads = counts.W3 * r.processes;
    r.amplification = r.originCount.bytes / (counts.W3 * MiB);
    r.aloneMs = alone.wallMs;
    r.slowestOverAlone = r.wallMs / alone.wallMs;
    results.runs.push({ origin: origin.name, workload, variant: 'fleet', ...r });
    const fs = r.fleetStats;
    log(`${origin.name} ${workload} fleet x${r.processes}: slowest ${r.wallMs.toFixed(0)} ms (${r.slowestOverAlone.toFixed(2)}x alone ${alone.wallMs.toFixed(0)} ms), fastest ${r.fastestMs.toFixed(0)} ms, ` +
      `origin ${r.originCount.requests} req / ${(r.originCount.bytes / MiB).toFixed(1)} MiB (amplification ${r.amplification.toFixed(2)}), ` +
      `fleetWaits ${fs.fleetWaits} fleetFallbacks ${fs.fleetFallbacks} storeErrors ${fs.storeErrors}`);
    if (quick) continue;
    // The same fleet again on the now warm cache: what 8 processes reading the object at once cost on this machine
    // (CPU, Redis, memory) with no origin and no waiting, a floor for the cold fleet's slowest process.
    const warm = await runFleet(origin, workload, shapeCfg, statsOf);
    warm.reads = counts.W3 * warm.processes;
    warm.amplification = warm.originCount.bytes / (counts.W3 * MiB);
    results.runs.push({ origin: origin.name, workload, variant: 'fleet-warm', ...warm });
    log(`${origin.name} ${workload} fleet-warm x${warm.processes}: slowest ${warm.wallMs.toFixed(0)} ms, fastest ${warm.fastestMs.toFixed(0)} ms, origin ${warm.originCount.requests} req`);
  }
}

async function runFleet(origin, workload, shapeCfg, statsOf) {
  return measured(origin, async () => {
    const workers = Array.from({ length: counts.fleet }, () => spawnWorker({
      workload: 'W3', variant: 'cached', origin: originCfg(origin), redisUrl: redis.url, mode: 'block', blockSize: MiB, count: counts.W3,
      leaseMs, metaTtl, fleet: true, ...shapeCfg,
    }));
    await Promise.all(workers.map((w) => w.ready()));
    const released = performance.now();
    for (const w of workers) w.child.stdin.write('go\n');
    const each = await Promise.all(workers.map((w) => w.done.then((x) => ({ ...x, finished: performance.now() }))));
    for (const e of each) if (e.sha256 !== expected.W3) throw new Error(`${workload} fleet on ${origin.name}: wrong bytes`);
    const walls = each.map((e) => e.wallMs);
    return {
      wallMs: Math.max(...walls), fastestMs: Math.min(...walls), spanMs: Math.max(...each.map((e) => e.finished)) - released,
      bytes: each[0].bytes, processes: each.length, sha256: each[0].sha256, walls,
      fleetStats: statsOf(each), perProcessStats: each.map((e) => e.stats), redisClientAll: each.map((e) => e.redisClient),
    };
  });
}

// ------------------------------------------------------------------ main
const started = new Date();
results.meta = {
  date: started.toISOString(), quick, reps, counts, node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model,
  memGiB: Math.round(totalmem() / 2 ** 30), redis: (await admin.info('server')).match(/redis_version:(\S+)/)?.[1],
  loadavgStart: loadavg(), commit: process.env.BENCH_COMMIT ?? gitDescribe(), // BENCH_COMMIT: when run from an exported tree
  args: process.argv.slice(2).join(' '), fleetProcesses: counts.fleet, shapes,
};
try {
  for (const name of originNames) {
    const origin = name === 's3' ? await startS3Origin()
      : await startHttpOrigin(name, name === 'plain' ? ['--ttfb-ms', '0', '--rate-mibps', '0'] : []);
    results.meta[`origin_${name}`] = origin.describe;
    try {
      for (const w of ['W1', 'W2']) if (only.has(w)) await benchWorkload(origin, w);
      if (only.has('HOT') && name === 'plain') await benchHot(origin);
      if (only.has('W3') && name !== 's3') for (const shape of shapesFor(name)) await benchFleet(origin, shape);
    } finally {
      await origin.stop();
    }
  }
  if (only.has('STREAM')) {
    for (let rep = 0; rep < reps; rep++) {
      await admin.flushAll();
      const r = await measured(null, () => spawnWorker({ workload: 'STREAM', variant: 'stream', file: streamFile, redisUrl: redis.url, mode: 'block', blockSize: MiB, origin: { kind: 'file' } }).done);
      record(null, 'STREAM', 'stream', r);
      log(`stream ${counts.streamMiB} MiB: peak RSS ${r.peakAboveBaselineMiB.toFixed(1)} MiB above a baseline of ${r.baselineRssMiB.toFixed(0)} MiB`);
    }
  }
} finally {
  await admin.flushAll();
  await redis.stop();
}

results.meta.loadavgEnd = loadavg();
results.meta.elapsedS = (performance.now() - t0) / 1000;
// ------------------------------------------------------------------ summary
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const summary = [];
const groups = new Map();
for (const r of results.runs) {
  const k = `${r.origin}|${r.workload}|${r.variant}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
for (const [k, rs] of groups) {
  const [origin, workload, variant] = k.split('|');
  const walls = rs.map((r) => r.wallMs);
  const mibs = rs.map((r) => r.bytes / MiB / (r.wallMs / 1000));
  const allCommands = [...new Set(rs.flatMap((r) => Object.keys(r.redis.calls)))].filter((c) => !ADMIN_COMMANDS.has(c));
  const perRead = (f) => (rs[0].reads ? median(rs.map((r) => f(r) / r.reads)) : undefined);
  const fleet = rs[0].fleetStats ? Object.fromEntries(FLEET_STATS.map((s) => [s, median(rs.map((r) => r.fleetStats[s]))])) : undefined;
  summary.push({
    origin, workload, variant, n: rs.length,
    wallMs: spread(walls),
    mibps: spread(mibs),
    originRequests: median(rs.map((r) => r.originCount.requests)), originBytes: median(rs.map((r) => r.originCount.bytes)),
    redisKeys: median(rs.map((r) => r.redis.dbsize)),
    redisCalls: Object.fromEntries(['mget', 'get', 'set', 'exec'].map((c) => [c, median(rs.map((r) => r.redis.calls[c] ?? 0))])),
    // Redis commands per read (W3: per 1 MiB block read by each process), medians over the repetitions:
    // server = INFO commandstats (every command Redis ran, script-inner and MULTI-queued included);
    // client = commands the workers wrote; flushes = pipelined writes (≈ round trips); scriptInner = server - client.
    reads: rs[0].reads,
    redisPerRead: rs[0].reads ? {
      server: perRead((r) => r.redis.serverTotal), client: perRead((r) => r.redis.client.issued), queuedInMulti: perRead((r) => r.redis.client.queued),
      flushes: perRead((r) => r.redis.client.flushes), scriptInner: perRead((r) => r.redis.scriptInner),
    } : undefined,
    redisTopCommands: Object.fromEntries(allCommands.map((c) => [c, median(rs.map((r) => r.redis.calls[c] ?? 0))]).sort((a, b) => b[1] - a[1]).slice(0, 8)),
    peakRssAboveBaselineMiB: median(rs.map((r) => r.peakAboveBaselineMiB ?? 0)),
    // Minor page faults of the worker's timed region per MiB delivered: the cost of fresh memory (BENCHMARKS.md).
    pageFaultsPerMiB: rs[0].pageFaults === undefined || !rs[0].bytes ? undefined : median(rs.map((r) => r.pageFaults / (r.bytes / MiB))),
    // Allocations and copies per read (issue 12): values the lookup connection put in memory of their own (not
    // the caller's), and bytes copied (out of its receive buffer, and by the reader's assembly) per byte delivered.
    costs: rs[0].reads && rs[0].stats && rs[0].lookups ? {
      allocatedValuesPerRead: perRead((r) => r.lookups.values - r.lookups.valuesInCallerMemory),
      lookupCopiedPerByte: median(rs.map((r) => r.lookups.copiedBytes / r.bytes)),
      readerCopiedPerByte: median(rs.map((r) => r.stats.copiedBytes / r.bytes)),
    } : undefined,
    amplification: rs[0].amplification === undefined ? undefined : spread(rs.map((r) => r.amplification)),
    fastestMs: rs[0].fastestMs === undefined ? undefined : spread(rs.map((r) => r.fastestMs)),
    slowestOverAlone: rs[0].slowestOverAlone === undefined ? undefined : spread(rs.map((r) => r.slowestOverAlone)),
    processes: rs[0].processes,
    fleetStats: fleet,
  });
}
const find = (o, w, v) => summary.find((s) => s.origin === o && s.workload === w && s.variant === v);
const targets = [];
const target = (name, value, goal, ok) => targets.push({ name, value, goal, ok });
for (const w of ['W1', 'W2']) {
  const warm = find('plain', w, 'warm');
  const ceil = find('plain', w, 'ceiling');
  if (warm && ceil) target(`${w} warm / raw node-redis ceiling, MiB/s (plain)`, warm.mibps.median / ceil.mibps.median, w === 'W1' ? '>= 0.8' : '>= 0.7', warm.mibps.median / ceil.mibps.median >= (w === 'W1' ? 0.8 : 0.7));
  // Issue 12: warm W1 against the physical limit, redis-benchmark GET of 1 MiB with one client, same run.
  const limit = results.redisBenchmark[w];
  if (warm && limit?.length) {
    const ratio = warm.mibps.median / median(limit);
    target(`${w} warm / redis-benchmark GET -d ${w === 'W1' ? '1048576' : '65536'} -c 1 (same run), MiB/s (plain)`, ratio, w === 'W1' ? '>= 0.6' : 'none (W2 is compared with the seed)', w === 'W1' ? ratio >= 0.6 : true);
  }
  // How far from the fastest possible Node client (a raw socket into one reused buffer, worker.mjs socketFloor).
  const floor = find('plain', w, 'floor');
  if (floor && limit?.length) target(`${w} Node socket floor / redis-benchmark GET (same run), MiB/s (plain), informational`, floor.mibps.median / median(limit), 'report', true);
  const warmInto = find('plain', w, 'warm-into');
  if (floor && warm) target(`${w} warm readRange / Node socket floor, MiB/s (plain), informational`, warm.mibps.median / floor.mibps.median, 'report', true);
  if (floor && warmInto) target(`${w} warm readRangeInto / Node socket floor, MiB/s (plain), informational`, warmInto.mibps.median / floor.mibps.median, 'report', true);
  const cold = find('plain', w, 'cold');
  const direct = find('plain', w, 'direct');
  // Issue 9 item 4: cold W2 on loopback <= 1.15x the same reads made directly with undici, in the same run.
  if (cold && direct) target(`${w} cold wall / direct-undici wall, same run (plain)`, cold.wallMs.median / direct.wallMs.median, '<= 1.15', cold.wallMs.median / direct.wallMs.median <= 1.15);
}
const d1 = find('s3like', 'W1', 'direct');
const c1 = find('s3like', 'W1', 'cold');
// Issue 9 item 4: cold W1 on the S3-like origin stays >= 2x faster than direct (direct wall / cold wall >= 2).
if (c1 && d1) target('W1 direct-undici wall / cold wall, same run (s3like): cold speed-up', d1.wallMs.median / c1.wallMs.median, '>= 2', d1.wallMs.median / c1.wallMs.median >= 2);
const c2 = find('s3like', 'W2', 'cold');
const d2 = find('s3like', 'W2', 'direct');
if (c2 && d2) target('W2 cold wall / direct-undici wall, same run (s3like)', c2.wallMs.median / d2.wallMs.median, '< 1 (faster)', c2.wallMs.median < d2.wallMs.median);
if (c1) target('W1 cold throughput (s3like), MiB/s', c1.mibps.median, '>= 90', c1.mibps.median >= 90);
const w1 = find('s3like', 'W1', 'warm');
if (w1 && d1) target('W1 warm / direct throughput (s3like)', w1.mibps.median / d1.mibps.median, '>= 50', w1.mibps.median / d1.mibps.median >= 50);
// Issue 9 item 4: one round trip before the origin request and one after: <= 2 client flushes per cold read
// (a lower bound on a read's round trips: a read's write-behind can share a flush with the next read's lookup).
// A process's set-up is not per read: its connections' HELLO and CLIENT SETINFO, the object's metadata (MGET, then
// its write) and the release channel's SUBSCRIBE take up to 8 flushes once, left out here.
const SETUP_FLUSHES = 8;
const c2p = find('plain', 'W2', 'cold');
if (c2p?.redisPerRead) {
  const perRead = Math.max(0, c2p.redisPerRead.flushes - SETUP_FLUSHES / c2p.reads);
  target(`W2 cold: Redis client flushes (round trips) per read, less ${SETUP_FLUSHES} of set-up per process (plain)`, perRead, '<= 2', perRead <= 2);
}
for (const o of ['plain', 's3like']) {
  for (const shape of shapes) {
    const f = find(o, `W3-${shape}`, 'fleet');
    if (!f) continue;
    target(`W3-${shape} x${f.processes}: origin bytes / object bytes (${o})`, f.amplification.median, '<= 1.05', f.amplification.max <= 1.05);
    target(`W3-${shape} x${f.processes}: slowest process / same shape alone (${o})`, f.slowestOverAlone.median, '<= 1.5', f.slowestOverAlone.median <= 1.5);
  }
}
for (const w of ['W1', 'W2']) {
  const warm = find('plain', w, 'warm');
  const hmac = find('plain', w, 'warm-hmac');
  if (warm && hmac) targets.push({ name: `${w} warm with integrity / without (plain), informational`, value: hmac.mibps.median / warm.mibps.median, goal: 'report', ok: true });
}
for (const o of ['plain', 's3like']) {
  const cb = find(o, 'W2', 'cold-batch64');
  const db = find(o, 'W2', 'direct-batch64');
  if (cb && db) targets.push({ name: `W2 batched 64: cold time / direct time (${o}), informational`, value: cb.wallMs.median / db.wallMs.median, goal: 'report', ok: true });
}
for (const w of ['W1', 'W2']) {
  const warm = find('plain', w, 'warm');
  const into = find('plain', w, 'warm-into');
  const limit = results.redisBenchmark[w];
  if (into && limit?.length) {
    const ratio = into.mibps.median / median(limit);
    target(`${w} warm readRangeInto / redis-benchmark GET -d ${w === 'W1' ? '1048576' : '65536'} -c 1 (same run), MiB/s (plain)`, ratio, w === 'W1' ? '>= 0.6' : 'report', w === 'W1' ? ratio >= 0.6 : true);
  }
  if (warm && into) targets.push({ name: `${w} warm readRangeInto / readRange, MiB/s (plain), informational`, value: into.mibps.median / warm.mibps.median, goal: 'report', ok: true });
}
const hotWarm = find('plain', 'HOT', 'warm');
const hotTiered = find('plain', 'HOT', 'warm-tiered');
if (hotWarm && hotTiered) targets.push({ name: 'HOT warm: with a memory tier / Redis alone, MiB/s (plain), informational', value: hotTiered.mibps.median / hotWarm.mibps.median, goal: 'report', ok: true });
const st = find('file', 'STREAM', 'stream');
if (st) target(`stream() ${counts.streamMiB} MiB: peak RSS above baseline, MiB`, st.peakRssAboveBaselineMiB, '<= 64', st.peakRssAboveBaselineMiB <= 64);
results.summary = summary;
results.targets = targets;

// ------------------------------------------------------------------ output
const fmt = (x, d = 0) => (x === undefined ? '' : x.toFixed(d));
const secs = (sp) => `${fmt(sp.median / 1000, 3)} [${fmt(sp.min / 1000, 3)}-${fmt(sp.max / 1000, 3)}]`;
const lines = [];
const mainRows = summary.filter((s) => s.workload !== 'STREAM' && !s.workload.startsWith('W3'));
const la = (l) => l.map((x) => x.toFixed(1)).join(' ');
lines.push(`rangecache bench, ${results.meta.date}, commit ${results.meta.commit}, \`node bench/run.mjs ${results.meta.args}\`, ${reps} repetition(s)` +
  `${quick ? ' (quick mode: the numbers mean nothing)' : ''}; ${results.meta.cpus} CPUs, load average (1/5/15 min) ${la(results.meta.loadavgStart)} at the start, ${la(results.meta.loadavgEnd)} at the end; ${results.meta.elapsedS.toFixed(0)} s.`, '');
if (mainRows.length) {
  lines.push('| origin | workload | variant | wall s median [min-max] | MiB/s median | page faults/MiB | origin req | origin MiB | Redis keys | MGET/GET/SET/EXEC calls |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
}
for (const s of mainRows) {
  const c = s.redisCalls;
  lines.push(`| ${s.origin} | ${s.workload} | ${s.variant} | ${secs(s.wallMs)} | ${fmt(s.mibps.median)} | ${s.pageFaultsPerMiB === undefined ? '' : fmt(s.pageFaultsPerMiB)} | ${fmt(s.originRequests)} | ` +
    `${fmt(s.originBytes / MiB, 1)} | ${fmt(s.redisKeys)} | ${c.mget}/${c.get}/${c.set}/${c.exec} |`);
}
const fleetRows = summary.filter((s) => s.workload.startsWith('W3') && s.variant === 'fleet');
if (fleetRows.length) {
  lines.push('', `W3 fleet: ${counts.fleet} processes, each reading the same ${counts.W3} MiB cold, released together after FLUSHALL; "alone" is one process, cold, after FLUSHALL, in the same repetition. ` +
    'Shapes: loop = ' + counts.W3 + ' readRange calls of 1 MiB (WORKLOADS.md W3, /data.bin); whole = one readRange(url, 0, size) of a ' + counts.W3 + ' MiB object; stream = reader.stream(url) over it. ' +
    'slowest / alone is computed per repetition (median [min-max]). Reader stats are summed over the processes (median over repetitions). ' +
    '"warm fleet slowest" = the same fleet run again right after, on the warm cache (no origin, no waiting): what that many processes reading the object at once cost on this machine.', '');
  lines.push('| origin | shape | alone wall s | fleet slowest wall s | fleet fastest wall s | slowest / alone | warm fleet slowest wall s | amplification (origin bytes / object) | origin req | fleetWaits | fleetFallbacks | storeErrors | Redis cmds per MiB block: client / server |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of fleetRows) {
    const a = find(f.origin, f.workload, 'alone');
    const fs = f.fleetStats;
    const fw = find(f.origin, f.workload, 'fleet-warm');
    lines.push(`| ${f.origin} | ${f.workload} | ${a ? secs(a.wallMs) : ''} | ${secs(f.wallMs)} | ${secs(f.fastestMs)} | ${fmt(f.slowestOverAlone.median, 2)} [${fmt(f.slowestOverAlone.min, 2)}-${fmt(f.slowestOverAlone.max, 2)}] | ${fw ? secs(fw.wallMs) : ''} | ` +
      `${fmt(f.amplification.median, 2)} [${fmt(f.amplification.min, 2)}-${fmt(f.amplification.max, 2)}] | ${fmt(f.originRequests)} | ${fs.fleetWaits} | ${fs.fleetFallbacks} | ${fs.storeErrors} | ` +
      `${fmt(f.redisPerRead.client, 2)} / ${fmt(f.redisPerRead.server, 2)} |`);
  }
}
const costRows = summary.filter((s) => s.costs);
if (costRows.length) {
  lines.push('', 'Cost drivers per read (issue 12), medians over the repetitions: page faults per MiB delivered (`process.resourceUsage()`); ' +
    '**values allocated** = values the store\'s own lookup connection read into memory of their own (`RedisStore.lookupCounters`: the rest went ' +
    'into the caller\'s memory, with readRangeInto); **bytes copied** per byte delivered, by the lookup connection (out of its reused receive buffer) ' +
    'and by the reader\'s assembly (`stats().copiedBytes`); Redis round trips per read = client flushes (table below).', '');
  lines.push('| origin | workload | variant | page faults/MiB | values allocated/read | bytes copied/byte: lookup connection | bytes copied/byte: reader | Redis flushes/read |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const s of costRows) {
    lines.push(`| ${s.origin} | ${s.workload} | ${s.variant} | ${fmt(s.pageFaultsPerMiB)} | ${fmt(s.costs.allocatedValuesPerRead, 2)} | ${fmt(s.costs.lookupCopiedPerByte, 2)} | ${fmt(s.costs.readerCopiedPerByte, 2)} | ${fmt(s.redisPerRead?.flushes, 2)} |`);
  }
}
const redisRows = summary.filter((s) => s.redisPerRead && !['direct', 'direct-batch64', 'ceiling', 'floor'].includes(s.variant));
if (redisRows.length) {
  lines.push('', 'Redis commands per read (W3: per 1 MiB block per process), medians over the repetitions. ' +
    '**server** = sum of `calls` over INFO commandstats after CONFIG RESETSTAT just before the run (the orchestrator\'s own CONFIG/INFO/DBSIZE left out); ' +
    'Redis 7.0 counts in it the commands a Lua script runs with redis.call() and the commands queued in MULTI, each once, besides MULTI, EXEC and EVAL/EVALSHA themselves. ' +
    '**client** = commands the worker processes wrote to their Redis connections (bench/resp-counter.mjs parses the RESP they send; CLIENT SETINFO at connect, refused by Redis 7.0, left out), ' +
    'including MULTI, EXEC and the commands queued between them; **queued** = the part of client queued inside MULTI. ' +
    '**flushes** = pipelined writes: commands written to one connection in one event-loop turn (node-redis uncorks on setImmediate); ' +
    'commands of different reads that leave in the same turn (one read\'s write-behind and the next read\'s lookup) share a flush, so flushes/read can be below the round trips each read makes. ' +
    '**in scripts** = server - client. Top commands: commandstats calls for the whole run.', '');
  lines.push('| origin | workload | variant | reads | server cmds/read | client cmds/read | of which queued in MULTI | client flushes/read | in scripts/read | top commands (server, whole run) |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of redisRows) {
    const p = s.redisPerRead;
    const top = Object.entries(s.redisTopCommands).map(([c, n]) => `${c} ${n}`).join(', ');
    lines.push(`| ${s.origin} | ${s.workload} | ${s.variant}${s.processes ? ` x${s.processes}` : ''} | ${s.reads} | ${fmt(p.server, 2)} | ${fmt(p.client, 2)} | ${fmt(p.queuedInMulti, 2)} | ${fmt(p.flushes, 2)} | ${fmt(p.scriptInner, 2)} | ${top} |`);
  }
}
if (st) lines.push('', `stream() over ${counts.streamMiB} MiB (FileFetcher + RedisStore, 1 MiB blocks, read-ahead 4): ${fmt(st.wallMs.median / 1000, 2)} s, ${fmt(st.mibps.median)} MiB/s, peak RSS ${fmt(st.peakRssAboveBaselineMiB, 1)} MiB above baseline.`);
lines.push('', '| target | measured | goal | met |', '|---|---|---|---|');
for (const t of targets) lines.push(`| ${t.name} | ${fmt(t.value, 2)} | ${t.goal} | ${t.ok ? 'yes' : '**no**'} |`);
const table = lines.join('\n');
console.log(table);

const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
const stamp = started.toISOString().slice(0, 16).replace(':', '');
const base = quick ? 'quick' : args.tag ? `${stamp}-${args.tag}` : stamp;
writeFileSync(join(resultsDir, `${base}.json`), JSON.stringify(results, null, 2) + '\n');
writeFileSync(join(resultsDir, `${base}.md`), table + '\n');
writeFileSync(join(resultsDir, `${base}.svg`), renderChart(results));
if (!quick && !args.tag) {
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(resultsDir, 'latest.svg'), renderChart(results));
}
log(`results: bench/results/${base}.json, .md, .svg`);
