#!/usr/bin/env node
// rangecache benchmark: the workloads of WORKLOADS.md (W1 sequential, W2 scattered chunks, W3 fleet) plus a 1 GiB
// stream(), each against a plain loopback origin, the "s3like" origin (20 ms first byte, 100 MiB/s per response)
// and s3rver, with a redis-server it starts itself. Every run is a fresh process; origin requests and bytes are
// counted at the origin (its access log, or a counting proxy in front of s3rver); Redis calls by INFO commandstats.
//
//   pnpm bench [--quick] [--reps N] [--only W1,W2,W3,STREAM] [--origins plain,s3like,s3]
//
// Writes bench/results/<timestamp>.json and .svg, and bench/results/latest.{json,svg}.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, openSync, readFileSync, statSync, closeSync, writeFileSync, ftruncateSync, writeSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { commandCalls, freePort, startFaultProxy, startRedis, startS3rver } from '@rangecache/test-support';
import { renderChart } from './chart.mjs';
import { DATASET_SHA256, DATASET_SIZE, EXPECTED, MiB, datasetBlock, w1Reads, w2Reads, w3Reads } from './workloads.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    origins: { type: 'string' },
    'lease-ms': { type: 'string' },
    tag: { type: 'string' },
  },
});
// --lease-ms null: fleet single flight off, to measure what the leases cost a lone reader.
const leaseMs = args['lease-ms'] === undefined ? undefined : args['lease-ms'] === 'null' ? null : Number(args['lease-ms']);
const quick = args.quick;
const reps = Number(args.reps ?? (quick ? 1 : 3));
const only = new Set((args.only ?? 'W1,W2,W3,STREAM').split(','));
const originNames = (args.origins ?? 'plain,s3like,s3').split(',');
const counts = quick ? { W1: 32, W2: 64, W3: 8, fleet: 2, streamMiB: 128 } : { W1: 256, W2: 4096, W3: 64, fleet: 8, streamMiB: 1024 };
const log = (...a) => console.error('[bench]', ...a);

// ------------------------------------------------------------------ dataset
const dataDir = join(here, 'data');
mkdirSync(dataDir, { recursive: true });
const dataFile = join(dataDir, 'data.bin');
if (!existsSync(dataFile) || statSync(dataFile).size !== DATASET_SIZE) {
  log('generating the 256 MiB dataset (SHAKE128 blocks)');
  const fd = openSync(dataFile, 'w');
  for (let k = 0; k < 256; k++) writeSync(fd, datasetBlock(k));
  closeSync(fd);
}
const data = readFileSync(dataFile);
const dataHash = createHash('sha256').update(data).digest('hex');
if (dataHash !== DATASET_SHA256) throw new Error(`dataset hash ${dataHash} is not ${DATASET_SHA256}`);
const streamFile = join(dataDir, `stream-${counts.streamMiB}.bin`);
if (!existsSync(streamFile)) {
  const fd = openSync(streamFile, 'w');
  ftruncateSync(fd, counts.streamMiB * MiB); // sparse: the bytes do not matter, the memory does
  closeSync(fd);
}
const readsOf = { W1: w1Reads(counts.W1), W2: w2Reads(counts.W2), W3: w3Reads(counts.W3) };
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

async function startHttpOrigin(name, extra) {
  const port = await freePort();
  const logFile = join(dataDir, `${name}-access.log`);
  writeFileSync(logFile, '');
  const child = spawn(process.execPath, [join(here, 's3like-origin.mjs'), '--file', dataFile, '--port', String(port), '--log', logFile,
    '--path', '/data.bin', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => { if (String(d).includes('serving')) resolve(); });
    child.on('exit', (c) => reject(new Error(`${name} origin exited with ${c}`)));
  });
  let mark = 0;
  return {
    name, kind: 'http', url: `http://127.0.0.1:${port}/data.bin`, describe: `s3like-origin.mjs ${extra.join(' ') || '(defaults: ttfb 20 ms, 100 MiB/s)'}`,
    mark: () => { mark = statSync(logFile).size; },
    async count() {
      await new Promise((r) => setTimeout(r, 300));
      const lines = readFileSync(logFile).subarray(mark).toString('utf8').split('\n').filter(Boolean);
      return { requests: lines.length, bytes: lines.reduce((n, l) => n + Number(l.split(' ').at(-2)), 0) };
    },
    stop: async () => { child.kill('SIGTERM'); },
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
  const child = spawn(process.execPath, ['--expose-gc', join(here, 'worker.mjs'), JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'inherit'] });
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

async function measured(origin, fn) {
  origin?.mark();
  await admin.configResetStat();
  const result = await fn();
  const originCount = origin ? await origin.count() : { requests: 0, bytes: 0 };
  const calls = await commandCalls(admin);
  const dbsize = await admin.dbSize();
  return { ...result, originCount, redis: { calls, dbsize } };
}

const originCfg = (o) => (o.kind === 's3' ? { kind: 's3', endpoint: o.endpoint, bucket: o.bucket, key: o.key } : { kind: 'http', url: o.url });

async function runOne(origin, workload, variant, extra = {}) {
  const mode = workload === 'W2' ? 'chunk' : 'block';
  const cfg = { workload, variant, origin: originCfg(origin), redisUrl: redis.url, mode, blockSize: MiB, count: counts[workload], leaseMs, ...extra };
  const r = await measured(variant === 'ceiling' ? null : origin, () => spawnWorker(cfg).done);
  if (r.bytes && workload !== 'STREAM' && r.sha256 !== expected[workload]) throw new Error(`${workload}/${variant} on ${origin.name}: wrong bytes (sha256 ${r.sha256})`);
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

const results = { meta: {}, runs: [] };
const record = (origin, workload, variant, r) => {
  results.runs.push({ origin: origin?.name ?? 'file', workload, variant, ...r });
  const mibs = r.bytes / MiB / (r.wallMs / 1000);
  log(`${origin?.name ?? 'file'} ${workload} ${variant}: ${r.wallMs.toFixed(0)} ms, ${mibs.toFixed(0)} MiB/s, origin ${r.originCount.requests} req / ${(r.originCount.bytes / MiB).toFixed(1)} MiB, redis keys ${r.redis.dbsize}`);
};

async function benchWorkload(origin, workload) {
  for (let rep = 0; rep < reps; rep++) {
    record(origin, workload, 'direct', await runOne(origin, workload, 'direct'));
    await admin.flushAll();
    record(origin, workload, 'cold', await runOne(origin, workload, 'cached'));
    record(origin, workload, 'warm', await runOne(origin, workload, 'cached'));
  }
  if (workload === 'W2') {
    // W2 with its reads issued 64 at a time (readRanges), against direct reads with the same concurrency.
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
  await admin.flushAll();
}

async function benchFleet(origin) {
  for (let rep = 0; rep < reps; rep++) {
    await admin.flushAll();
    record(origin, 'W3', 'alone', await runOne(origin, 'W3', 'cached'));
    await admin.flushAll();
    const r = await measured(origin, async () => {
      const workers = Array.from({ length: counts.fleet }, () => spawnWorker({
        workload: 'W3', variant: 'cached', origin: originCfg(origin), redisUrl: redis.url, mode: 'block', blockSize: MiB, count: counts.W3, fleet: true,
      }));
      await Promise.all(workers.map((w) => w.ready()));
      const released = performance.now();
      for (const w of workers) w.child.stdin.write('go\n');
      const each = await Promise.all(workers.map((w) => w.done.then((x) => ({ ...x, finished: performance.now() }))));
      for (const e of each) if (e.sha256 !== expected.W3) throw new Error(`W3 fleet on ${origin.name}: wrong bytes`);
      const walls = each.map((e) => e.wallMs);
      return {
        wallMs: Math.max(...walls), fastestMs: Math.min(...walls), spanMs: Math.max(...each.map((e) => e.finished)) - released,
        bytes: each[0].bytes, processes: each.length, sha256: each[0].sha256,
      };
    });
    r.amplification = r.originCount.bytes / (counts.W3 * MiB);
    results.runs.push({ origin: origin.name, workload: 'W3', variant: 'fleet', ...r });
    log(`${origin.name} W3 fleet x${r.processes}: slowest ${r.wallMs.toFixed(0)} ms, fastest ${r.fastestMs.toFixed(0)} ms, origin ${r.originCount.requests} req / ${(r.originCount.bytes / MiB).toFixed(1)} MiB (amplification ${r.amplification.toFixed(2)})`);
  }
}

// ------------------------------------------------------------------ main
const started = new Date();
results.meta = {
  date: started.toISOString(), quick, reps, counts, node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model,
  memGiB: Math.round(totalmem() / 2 ** 30), redis: (await admin.info('server')).match(/redis_version:(\S+)/)?.[1],
};
try {
  for (const name of originNames) {
    const origin = name === 's3' ? await startS3Origin()
      : await startHttpOrigin(name, name === 'plain' ? ['--ttfb-ms', '0', '--rate-mibps', '0'] : []);
    results.meta[`origin_${name}`] = origin.describe;
    try {
      for (const w of ['W1', 'W2']) if (only.has(w)) await benchWorkload(origin, w);
      if (only.has('W3') && name !== 's3') await benchFleet(origin);
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

// ------------------------------------------------------------------ summary
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
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
  summary.push({
    origin, workload, variant, n: rs.length,
    wallMs: { median: median(walls), min: Math.min(...walls), max: Math.max(...walls) },
    mibps: { median: median(mibs), min: Math.min(...mibs), max: Math.max(...mibs) },
    originRequests: median(rs.map((r) => r.originCount.requests)), originBytes: median(rs.map((r) => r.originCount.bytes)),
    redisKeys: median(rs.map((r) => r.redis.dbsize)),
    redisCalls: Object.fromEntries(['mget', 'get', 'set', 'exec'].map((c) => [c, median(rs.map((r) => r.redis.calls[c] ?? 0))])),
    peakRssAboveBaselineMiB: median(rs.map((r) => r.peakAboveBaselineMiB ?? 0)),
    amplification: rs[0].amplification === undefined ? undefined : median(rs.map((r) => r.amplification)),
  });
}
const find = (o, w, v) => summary.find((s) => s.origin === o && s.workload === w && s.variant === v);
const targets = [];
const target = (name, value, goal, ok, unit = '') => targets.push({ name, value, goal, ok });
for (const w of ['W1', 'W2']) {
  const warm = find('plain', w, 'warm');
  const ceil = find('plain', w, 'ceiling');
  if (warm && ceil) target(`${w} warm / raw node-redis ceiling (plain)`, warm.mibps.median / ceil.mibps.median, w === 'W1' ? '>= 0.8' : '>= 0.7', warm.mibps.median / ceil.mibps.median >= (w === 'W1' ? 0.8 : 0.7));
  const cold = find('plain', w, 'cold');
  const direct = find('plain', w, 'direct');
  if (cold && direct) target(`${w} cold time / direct time (plain)`, cold.wallMs.median / direct.wallMs.median, '<= 1.15', cold.wallMs.median / direct.wallMs.median <= 1.15);
  const coldS = find('s3like', w, 'cold');
  const directS = find('s3like', w, 'direct');
  if (coldS && directS) target(`${w} cold time / direct time (s3like)`, coldS.wallMs.median / directS.wallMs.median, '< 1 (faster)', coldS.wallMs.median < directS.wallMs.median);
}
const c1 = find('s3like', 'W1', 'cold');
if (c1) target('W1 cold throughput (s3like), MiB/s', c1.mibps.median, '>= 90', c1.mibps.median >= 90);
const w1 = find('s3like', 'W1', 'warm');
const d1 = find('s3like', 'W1', 'direct');
if (w1 && d1) target('W1 warm / direct throughput (s3like)', w1.mibps.median / d1.mibps.median, '>= 50', w1.mibps.median / d1.mibps.median >= 50);
for (const o of ['plain', 's3like']) {
  const f = find(o, 'W3', 'fleet');
  const alone = find(o, 'W3', 'alone');
  if (f) target(`W3 fleet origin bytes / object bytes (${o})`, f.amplification, '<= 1.05', f.amplification <= 1.05);
  if (f && alone) target(`W3 slowest process / one process alone (${o})`, f.wallMs.median / alone.wallMs.median, '<= 1.5', f.wallMs.median / alone.wallMs.median <= 1.5);
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
const st = find('file', 'STREAM', 'stream');
if (st) target(`stream() ${counts.streamMiB} MiB: peak RSS above baseline, MiB`, st.peakRssAboveBaselineMiB, '<= 64', st.peakRssAboveBaselineMiB <= 64);
results.summary = summary;
results.targets = targets;

// ------------------------------------------------------------------ output
const fmt = (x, d = 0) => (x === undefined ? '' : x.toFixed(d));
const lines = [];
lines.push('| origin | workload | variant | wall s median [min-max] | MiB/s median | origin req | origin MiB | Redis keys | MGET/GET/SET/EXEC calls |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const s of summary) {
  if (s.workload === 'STREAM') continue;
  const c = s.redisCalls;
  lines.push(`| ${s.origin} | ${s.workload} | ${s.variant}${s.workload === 'W3' && s.variant === 'fleet' ? ` x${counts.fleet} (amplification ${fmt(s.amplification, 2)})` : ''} | ` +
    `${fmt(s.wallMs.median / 1000, 3)} [${fmt(s.wallMs.min / 1000, 3)}-${fmt(s.wallMs.max / 1000, 3)}] | ${fmt(s.mibps.median)} | ${fmt(s.originRequests)} | ` +
    `${fmt(s.originBytes / MiB, 1)} | ${fmt(s.redisKeys)} | ${c.mget}/${c.get}/${c.set}/${c.exec} |`);
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
