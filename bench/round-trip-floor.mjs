#!/usr/bin/env node
// The least a sequential read from Redis costs on this machine, whoever the client: 4096 `GET`s one after another
// of an 8-byte and of a 64 KiB value (W2's read size), against a redis-server of its own, by
//   - a raw Node socket (one reused receive buffer, no parsing besides counting bytes: no Node client does less),
//   - redis-py (the seed's client, with /usr/bin/python3 if it has the `redis` package),
//   - redis-benchmark -c 1 (C),
// each on a quiet machine, then again while a busy loop keeps one CPU busy (`--no-hog` skips that). On a microVM, a
// process that waits for a reply lets its vCPU halt, and waking it costs tens of µs: a loop that is busy elsewhere
// keeps the vCPUs awake, and the same round trip gets several times faster. So a loopback benchmark of sequential
// reads measures this machine's wake-ups as much as any client.
//
//   node bench/round-trip-floor.mjs [--reads 4096] [--no-hog]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { startRedis } from '@rangecache/test-support';

const { values: args } = parseArgs({ options: { reads: { type: 'string', default: '4096' }, 'no-hog': { type: 'boolean', default: false } } });
const reads = Number(args.reads);
const sizes = [8, 64 * 1024];
const redis = await startRedis({ ownProcess: true });
const admin = await redis.client();
for (const size of sizes) await admin.set(`floor:${size}`, Buffer.alloc(size, 97));

/** µs per GET of `key` (a value of `size` bytes) on a raw socket: the reply counted into one reused buffer. */
async function rawSocket(size) {
  const key = `floor:${size}`;
  const replyBytes = size + String(size).length + 5; // $<n>\r\n<value>\r\n
  const receive = Buffer.alloc(256 * 1024);
  let got = 0;
  let done;
  const socket = net.connect({ host: '127.0.0.1', port: redis.port, noDelay: true, onread: { buffer: receive, callback: (n) => {
    got += n;
    if (got >= replyBytes) { got = 0; done(); }
  } } });
  await once(socket, 'connect');
  const command = `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`;
  const get = () => new Promise((resolve) => { done = resolve; socket.write(command, 'latin1'); });
  for (let i = 0; i < 200; i++) await get(); // warm-up: JIT, socket buffers
  const t0 = performance.now();
  for (let i = 0; i < reads; i++) await get();
  const us = (1000 * (performance.now() - t0)) / reads;
  socket.destroy();
  return us;
}

/** µs per GET with redis-py, or undefined where /usr/bin/python3 has no `redis` package. */
function redisPy(size) {
  const script = `import redis, time
r = redis.Redis(host='127.0.0.1', port=${redis.port})
for _ in range(200): r.get('floor:${size}')
t0 = time.perf_counter()
for _ in range(${reads}): r.get('floor:${size}')
print((time.perf_counter() - t0) / ${reads} * 1e6)`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** µs per GET by redis-benchmark with one client, or undefined without it. */
function redisBenchmark(size) {
  try {
    const csv = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(redis.port), '-t', 'set,get', '-d', String(size), '-c', '1', '-n', String(reads), '--csv'], { encoding: 'utf8' });
    const row = csv.trim().split('\n').find((l) => l.startsWith('"GET"'));
    return 1e6 / Number(row.split(',')[1].replace(/"/g, ''));
  } catch {
    return undefined;
  }
}

const rows = [];
const measure = async (machine) => {
  for (const size of sizes) {
    rows.push({ machine, size, node: await rawSocket(size), python: redisPy(size), c: redisBenchmark(size) });
  }
};
try {
  await measure('quiet');
  if (!args['no-hog']) {
    const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      await measure('one CPU kept busy');
    } finally {
      hog.kill('SIGKILL');
    }
  }
} finally {
  await redis.stop();
}
const f = (v) => (v === undefined ? 'n/a' : v.toFixed(1));
console.log(`${reads} sequential GETs per cell, µs per GET (wall), redis-server of its own on 127.0.0.1\n`);
console.log('| machine | value | raw Node socket | redis-py | redis-benchmark -c 1 |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.machine} | ${r.size === 8 ? '8 B' : '64 KiB'} | ${f(r.node)} | ${f(r.python)} | ${f(r.c)} |`);
