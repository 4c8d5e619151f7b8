#!/usr/bin/env node
// Where a cold fleet's time goes: N processes read the first 64 MiB of bench/data/data.bin (W3 "loop") through an
// s3like origin (20 ms first byte, 100 MiB/s per response) and a redis-server of their own, released together.
// Prints the wall time, the CPU time of the clients, Redis and the origin over the run, page faults, copies, the
// first origin fetches (who fetched which block, when) and when the fleet read each of the first blocks.
// A diagnostic, not a benchmark (bench/run.mjs is): one run, no repetitions. Needs bench/data/data.bin (made by
// bench/run.mjs) and a build (`pnpm build`).
//
//   node bench/fleet-trace/run.mjs [--procs 8] [--warm] [--fetches 20] [--blocks 12] [--origin-nice=N]
//                                  [--commandstats] [--node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"]
//   --warm: fill the cache with one process first, so the fleet reads a warm cache (no origin, no waiting).
//   --origin-nice=N: run the origin at that nice level (as root, e.g. --origin-nice=-15), so that the fleet on the
//     same cores does not starve it (a remote origin is not slowed by its clients' load).
//   --commandstats: print Redis's command counts and times over the run.
//   --node-args: node flags for each fleet process (a CPU profile, say); pass it as --node-args="...".
//   TRACE_STATS=1 (environment): also print each process's reader stats.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startRedis } from '@rangecache/test-support';
import { startS3likeProcess } from '../s3like-process.mjs';

const { values: args } = parseArgs({ options: { procs: { type: 'string', default: '8' }, warm: { type: 'boolean', default: false }, fetches: { type: 'string', default: '20' }, blocks: { type: 'string', default: '12' }, 'origin-nice': { type: 'string' }, commandstats: { type: 'boolean', default: false }, 'node-args': { type: 'string', default: '' } } });
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
/** CPU time (user + system) of a process so far, in ms. */
const cpuMs = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };

const redis = await startRedis({ ownProcess: true });
const port = await freePort();
let origin;
const stop = async () => { origin?.kill(); await redis.stop(); };
try {
  origin = await startS3likeProcess({ file: here('../data/data.bin'), path: '/data.bin', port, nice: args['origin-nice'] });
  const url = `http://127.0.0.1:${port}/data.bin`;
  const worker = (id) => {
    const child = spawn(process.execPath, [...args['node-args'].split(' ').filter(Boolean), here('worker.mjs'), url, redis.url, String(id)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = [];
    const rl = createInterface({ input: child.stdout });
    const ready = new Promise((resolve) => rl.on('line', (l) => (l === 'ready' ? resolve() : lines.push(l))));
    const done = new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(lines.at(-1))) : reject(new Error(`worker ${id} exited with ${code}`)))));
    return { child, ready, done };
  };
  if (args.warm) {
    const fill = worker('fill');
    await fill.ready;
    fill.child.stdin.write('go\n');
    await fill.done;
  }
  const fleet = Array.from({ length: Number(args.procs) }, (_, i) => worker(i));
  await Promise.all(fleet.map((w) => w.ready));
  const redisPid = Number((await (await redis.client()).info('server')).match(/process_id:(\d+)/)[1]);
  const before = [cpuMs(redisPid), cpuMs(origin.pid)];
  if (args.commandstats) await (await redis.client()).sendCommand(['CONFIG', 'RESETSTAT']);
  const released = performance.now();
  for (const w of fleet) w.child.stdin.write('go\n');
  const res = await Promise.all(fleet.map((w) => w.done));
  const wall = performance.now() - released;
  const after = [cpuMs(redisPid), cpuMs(origin.pid)];
  if (args.commandstats) console.log((await (await redis.client()).info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat')).map((l) => l.replace(/,usec_per_call.*/, '')).join('\n'));
  const sum = (f) => res.reduce((n, r) => n + f(r), 0);
  const walls = res.map((r) => r.wallMs);
  console.log(`${res.length} processes, ${args.warm ? 'warm' : 'cold'}: slowest ${Math.max(...walls).toFixed(0)} ms, fastest ${Math.min(...walls).toFixed(0)} ms, fleet span ${wall.toFixed(0)} ms`);
  console.log(`CPU over the run: clients ${sum((r) => r.cpuMs).toFixed(0)} ms (system ${sum((r) => r.sysMs).toFixed(0)}), redis-server ${after[0] - before[0]} ms, origin ${after[1] - before[1]} ms`);
  console.log(`page faults ${sum((r) => r.faults)} (${(sum((r) => r.faults) / (64 * res.length)).toFixed(0)} per MiB read); bytes copied by the readers ${(sum((r) => r.stats.copiedBytes) / 2 ** 20).toFixed(0)} MiB; origin requests ${sum((r) => r.stats.originRequests)}, fleet waits ${sum((r) => r.stats.fleetWaits)}, fallbacks ${sum((r) => r.stats.fleetFallbacks)}`);
  const fetches = res.flatMap((r) => r.events.filter((e) => e.kind === 'fetch').map((e) => ({ id: r.id, ...e }))).sort((a, b) => a.start - b.start);
  for (const f of fetches.slice(0, Number(args.fetches))) console.log(`fetch by p${f.id}: block ${f.block} (x${f.blocks}) ${f.start}-${f.end} ms`);
  for (let b = 0; b < Math.min(64, Number(args.blocks)); b++) {
    const reads = res.map((r) => r.events.find((e) => e.kind === 'read' && e.block === b));
    console.log(`read of block ${b}: started ${Math.min(...reads.map((e) => e.start))}-${Math.max(...reads.map((e) => e.start))} ms, ended ${Math.min(...reads.map((e) => e.end))}-${Math.max(...reads.map((e) => e.end))} ms`);
  }
  if (process.env.TRACE_STATS) for (const r of res) console.log(`p${r.id} stats`, JSON.stringify(r.stats));
  console.log('per process:', res.map((r) => `p${r.id} ${r.wallMs.toFixed(0)} ms, cpu ${r.cpuMs.toFixed(0)} ms (sys ${r.sysMs.toFixed(0)}), ${r.faults} faults, ${r.stats.originRequests} fetches, copied ${(r.stats.copiedBytes / 2 ** 20).toFixed(0)} MiB`).join('; '));
} finally {
  await stop();
}
