#!/usr/bin/env node
// proxy.mjs: `rangecache serve` (the HTTP range proxy) against nginx proxy_cache + slice, and against reading the
// origin directly, on the dataset and workloads of WORKLOADS.md (/work/shared/bench/WORKLOADS.md).
//
//   node bench/proxy.mjs [--quick] [--reps N] [--origins plain,s3like] [--s3like-w2-direct-reps N] [--nginx-workers N]
//                        [--block-size 1MiB] [--no-fleet] [--keep-tmp]
//
// Origins (origin requests and body bytes are counted from their access logs, WORKLOADS.md §2):
//   plain  = nginx 1.22 (WORKLOADS.md §2: 2 workers, sendfile on, tcp_nopush off, tcp_nodelay on,
//            keepalive_requests 100000, max_ranges 1) serving bench/data/data.bin as /data.bin and
//            bench/data/w3.bin (the first 64 MiB of the dataset) as /w3.bin;
//   s3like = bench/s3like-origin.mjs with its defaults (20 ms first byte, 100 MiB/s per response), one process per
//            file (it serves one file each): /data.bin and /w3.bin, the two access logs added up.
// Three ways to read, on the same origin in one run:
//   direct    = the client straight to the origin;
//   rangecache = through one `rangecache serve` (packages/cli/dist/bin.js; its own redis-server; --block-size, default 1MiB);
//   nginx     = through one nginx proxy_cache + `slice 1m` node (worker_processes = --nginx-workers, default 1).
// Workloads, each run by a fresh Node process (this file with --client) over ONE keep-alive connection (undici
// Client): W1 = 256 sequential 1 MiB range GETs of /data.bin; W2 = 4096 sequential 64 KiB range GETs at the W2
// offsets. Every response must be 206 with the right Content-Range and length, and the SHA-256 of the bytes in
// read order must be WORKLOADS.md's; otherwise the bench stops with an error. Timed region: from just before the
// first request to the last body byte of the last response (process start-up and hashing excluded).
//   cold: rangecache = FLUSHALL + a new serve process; nginx = stop, delete its cache directory, start. warm = the
//   run right after, nothing flushed or restarted. Per repetition: direct, rangecache cold, warm, nginx cold, warm.
// Fleet (W3-like): 4 `rangecache serve` sharing one flushed Redis (each started fresh), then 4 separate nginx
// proxy_cache+slice nodes (each emptied and started fresh); client k talks to proxy k; the 4 clients print a ready
// line and are released together by "go" on stdin. Shapes on /w3.bin (64 MiB): loop = 64 sequential 1 MiB range
// GETs; whole = one plain GET of the object.
// --quick: 1 repetition, the first 32 W1 reads and 256 W2 reads (the fleet keeps its 64 MiB).
// --s3like-w2-direct-reps N: repetitions of W2 direct on the s3like origin (default 1: one run takes ~90 s); the
// rangecache and nginx runs of W2 on s3like keep --reps.
// Writes bench/results/proxy-<YYYYMMDDTHHMM>.{md,json} (proxy-quick.* with --quick) and prints the markdown.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DATASET_SIZE, EXPECTED, MiB, loadDataset, w1Reads, w2Reads, w3Reads } from './workloads.mjs';
import { gitDescribe } from './run-info.mjs';
import { startS3likeProcess } from './s3like-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const W3_SIZE = 64 * MiB;

if (process.argv[2] === '--client') await clientMain(JSON.parse(process.argv[3]));
else await main();

// =================================================================== client (one fresh process per run)
// cfg: { origin: 'http://127.0.0.1:P', path, objectSize, workload: 'W1'|'W2'|'W3', count, shape: 'ranges'|'whole' }
async function clientMain(cfg) {
  const { Client } = await import('undici');
  const reads = cfg.shape === 'whole' ? [{ start: 0, end: cfg.objectSize, whole: true }]
    : ({ W1: w1Reads, W2: w2Reads, W3: w3Reads })[cfg.workload](cfg.count);
  const client = new Client(cfg.origin, {
    pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000, headersTimeout: 600_000, bodyTimeout: 600_000,
  });
  // The bytes land in one buffer allocated (and zero-filled, so its pages exist) before the timed region: copying
  // into it costs less than keeping thousands of 64 KiB chunks alive (measured: ~640 vs ~500 MiB/s from nginx).
  const expectedBytes = reads.reduce((n, r) => n + r.end - r.start, 0);
  const out = Buffer.alloc(expectedBytes);
  let off = 0;
  let received = 0;
  const errors = [];
  let errorCount = 0;
  const fail = (msg) => { errorCount++; if (errors.length < 5) errors.push(msg); };
  // One GET through undici's low-level dispatch API (no stream objects); resolves with status, headers, body length.
  const get = (headers) => new Promise((resolve, reject) => {
    let status = 0;
    let hdrs = {};
    let n = 0;
    client.dispatch({ path: cfg.path, method: 'GET', headers }, {
      onRequestStart() {},
      onResponseStart(_ctl, statusCode, h) { status = statusCode; hdrs = h; },
      onResponseData(_ctl, chunk) {
        if (off + chunk.length <= out.length) chunk.copy(out, off);
        off += chunk.length;
        n += chunk.length;
      },
      onResponseEnd() { resolve({ status, headers: hdrs, n }); },
      onResponseError(_ctl, err) { reject(err); },
    });
  });
  process.stdout.write('{"ready":true}\n');
  await new Promise((resolve) => {
    let buf = '';
    const on = (d) => { buf += d; if (buf.includes('go\n')) { process.stdin.off('data', on); process.stdin.destroy(); resolve(); } };
    process.stdin.on('data', on);
  });
  const t0 = performance.now();
  const answers = [];
  for (const r of reads) answers.push(await get(r.whole ? {} : { range: `bytes=${r.start}-${r.end - 1}` }));
  const t1 = performance.now();
  await client.close();
  reads.forEach((r, i) => {
    const a = answers[i];
    const what = r.whole ? 'whole GET' : `bytes=${r.start}-${r.end - 1}`;
    received += a.n;
    if (a.status !== (r.whole ? 200 : 206)) fail(`${what}: status ${a.status}`);
    const cr = a.headers['content-range'];
    if (!r.whole && cr !== `bytes ${r.start}-${r.end - 1}/${cfg.objectSize}`) fail(`${what}: Content-Range ${cr}`);
    if (a.n !== r.end - r.start) fail(`${what}: ${a.n} body bytes, expected ${r.end - r.start}`);
  });
  if (received !== expectedBytes) fail(`${received} bytes in all, expected ${expectedBytes}`);
  process.stdout.write(JSON.stringify({
    wallMs: t1 - t0, startEpochMs: performance.timeOrigin + t0, endEpochMs: performance.timeOrigin + t1,
    bytes: received, responses: answers.length, sha256: createHash('sha256').update(out.subarray(0, Math.min(off, out.length))).digest('hex'),
    errorCount, errors,
  }) + '\n');
  process.exitCode = errorCount ? 1 : 0;
}

// =================================================================== orchestrator
async function main() {
  const { values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      origins: { type: 'string' },
      's3like-w2-direct-reps': { type: 'string' },
      'nginx-workers': { type: 'string' },
      'keep-tmp': { type: 'boolean', default: false },
      'block-size': { type: 'string', default: '1MiB' },
      fleet: { type: 'boolean', default: true },
    },
    allowNegative: true,
  });
  const blockSize = args['block-size'];
  const quick = args.quick;
  const reps = Number(args.reps ?? (quick ? 1 : 3));
  // W2 direct on s3like is 4096 x (20 ms + ~1.5 ms) ~ 90 s a run: by default it runs in the first repetition only.
  const s3likeW2DirectReps = Math.min(reps, Number(args['s3like-w2-direct-reps'] ?? 1));
  const nginxWorkers = Number(args['nginx-workers'] ?? 1);
  const originNames = (args.origins ?? 'plain,s3like').split(',').filter(Boolean);
  for (const o of originNames) if (!['plain', 's3like'].includes(o)) throw new Error(`unknown origin ${o} (plain, s3like)`);
  if (!(reps >= 1) || !(s3likeW2DirectReps >= 1) || !(nginxWorkers >= 1)) throw new Error('--reps, --s3like-w2-direct-reps and --nginx-workers must be >= 1');
  const counts = quick ? { W1: 32, W2: 256 } : { W1: 256, W2: 4096 };
  const FLEET = 4;
  const commandLine = `node bench/proxy.mjs${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  const tStart = performance.now();
  const started = new Date();
  const log = (...a) => console.error(`[proxy-bench +${((performance.now() - tStart) / 1000).toFixed(1)}s]`, ...a);
  const { freePort, startRedis, commandCalls } = await import('@rangecache/test-support');

  // ------------------------------------------------------------------ dataset (as bench/run.mjs makes it)
  const dataDir = join(here, 'data');
  const { data, dataFile } = await loadDataset(dataDir, log);
  const w3File = join(dataDir, 'w3.bin');
  if (!existsSync(w3File) || statSync(w3File).size !== W3_SIZE
      || createHash('sha256').update(readFileSync(w3File)).digest('hex') !== EXPECTED.W3) {
    log('writing bench/data/w3.bin (the first 64 MiB of the dataset)');
    writeFileSync(w3File, data.subarray(0, W3_SIZE));
  }
  const hashOf = (reads) => { const h = createHash('sha256'); for (const r of reads) h.update(data.subarray(r.start, r.end)); return h.digest('hex'); };
  const expected = { W1: hashOf(w1Reads(counts.W1)), W2: hashOf(w2Reads(counts.W2)), W3: hashOf(w3Reads(64)) };
  for (const w of ['W1', 'W2', 'W3']) if ((w === 'W3' || !quick) && expected[w] !== EXPECTED[w]) throw new Error(`${w}: expected digest ${expected[w]} is not WORKLOADS.md's ${EXPECTED[w]}`);

  // ------------------------------------------------------------------ process bookkeeping
  const tmp = mkdtempSync(join(tmpdir(), 'rangecache-proxy-bench-'));
  const children = new Set(); // { child, kind }
  const track = (child, kind) => {
    const e = { child, kind };
    children.add(e);
    child.once('exit', () => children.delete(e));
    return e;
  };
  process.on('exit', () => {
    for (const { child, kind } of children) {
      // nginx masters stop their workers on SIGTERM; a SIGKILLed master would leave them behind.
      try { child.kill(kind === 'nginx' ? 'SIGTERM' : 'SIGKILL'); } catch { /* gone */ }
    }
    if (!args['keep-tmp']) { try { rmSync(tmp, { recursive: true, force: true }); } catch { /* ignore */ } }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { console.error(`proxy-bench: ${sig}, stopping`); process.exit(130); });
  const stopChild = async (child, signal = 'SIGTERM', timeoutMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };
  const waitPort = async (port, child, what) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening`);
      const ok = await new Promise((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`${what} is not listening on ${port} after 15 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const diagnostics = { serveStderr: [], nginxErrors: [], originStderr: [] };

  const versions = {
    node: process.version,
    nginx: spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' }).stderr.trim(),
    redisServer: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
  };
  const commit = gitDescribe();

  // ------------------------------------------------------------------ nginx (origin and proxies)
  const tempPaths = (dir) => ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `  ${k}_temp_path ${dir}/tmp/${k};`).join('\n');
  // The part of nginx.conf the origin and the proxies share: process settings, then the start of `http {`
  // with its access log and the socket settings of WORKLOADS.md §2.
  const nginxHead = (dir, workers, logFormat, logFile) => `daemon off;
master_process on;
user root;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  types { }
  default_type application/octet-stream;
  log_format bench '${logFormat}';
  access_log ${logFile} bench;
  sendfile on;
  tcp_nopush off;
  tcp_nodelay on;
  keepalive_requests 100000;
  keepalive_timeout 65;
${tempPaths(dir)}`;
  async function startNginx(dir, conf, port, what) {
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const child = spawn('/usr/sbin/nginx', ['-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    track(child, 'nginx');
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    try { await waitPort(port, child, what); } catch (e) { throw new Error(`${e.message}\n${err}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`); }
    return child;
  }
  // error.log lines at [error] or worse since `from` (bytes).
  const nginxErrorLines = (file, from) => {
    if (!existsSync(file)) return [];
    return readFileSync(file).subarray(from).toString('utf8').split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
  };

  async function startPlainOrigin() {
    const dir = join(tmp, 'origin-nginx');
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const logFile = join(dir, 'access.log');
    writeFileSync(logFile, '');
    const conf = `${nginxHead(dir, 2, '$msec "$request" "$http_range" $status $body_bytes_sent $request_time', logFile)}
  max_ranges 1;
  server {
    listen 127.0.0.1:${port};
    root ${dataDir};
    location = /data.bin { }
    location = /w3.bin { }
    location / { return 404; }
  }
}
`;
    const child = await startNginx(dir, conf, port, 'nginx origin');
    const logs = [{ file: logFile, mark: 0 }];
    return {
      name: 'plain',
      describe: `nginx ${versions.nginx.replace(/^nginx version: /, '')} (WORKLOADS.md §2 settings, 2 workers) serving bench/data/data.bin as /data.bin and bench/data/w3.bin as /w3.bin`,
      hosts: { data: `127.0.0.1:${port}`, w3: `127.0.0.1:${port}` },
      ...logCounter(logs),
      stop: async () => {
        await stopChild(child);
        diagnostics.nginxErrors.push(...nginxErrorLines(join(dir, 'error.log'), 0).map((l) => `origin nginx: ${l}`));
      },
    };
  }

  async function startS3likeOrigin() {
    const serveOne = async (file, path) => {
      const port = await freePort();
      const logFile = join(tmp, `s3like${path.replace('/', '-')}.log`);
      writeFileSync(logFile, '');
      const child = await startS3likeProcess({
        file, path, port, log: logFile, onSpawn: (c) => track(c, 's3like'), onStderr: (l) => diagnostics.originStderr.push(`s3like ${path}: ${l}`),
      });
      return { child, port, log: { file: logFile, mark: 0 } };
    };
    const d = await serveOne(dataFile, '/data.bin');
    const w = await serveOne(w3File, '/w3.bin');
    return {
      name: 's3like',
      describe: 'bench/s3like-origin.mjs with its defaults (20 ms first byte, 100 MiB/s per response, 256 KiB slices), one process for /data.bin and one for /w3.bin',
      hosts: { data: `127.0.0.1:${d.port}`, w3: `127.0.0.1:${w.port}` },
      ...logCounter([d.log, w.log]),
      stop: async () => { await stopChild(d.child); await stopChild(w.child); },
    };
  }

  // Origin accounting (WORKLOADS.md §2): lines appended to the access log(s) since mark(), read 0.3 s after the run.
  function logCounter(logs) {
    return {
      mark: () => { for (const l of logs) l.mark = statSync(l.file).size; },
      count: async () => {
        await new Promise((r) => setTimeout(r, 300));
        const lines = logs.flatMap((l) => readFileSync(l.file).subarray(l.mark).toString('utf8').split('\n').filter(Boolean));
        const statuses = {};
        let bytes = 0;
        for (const line of lines) {
          const f = line.split(' ');
          bytes += Number(f.at(-2));
          statuses[f.at(-3)] = (statuses[f.at(-3)] ?? 0) + 1;
        }
        return { requests: lines.length, bytes, statuses };
      },
    };
  }

  // nginx proxy_cache + slice node number k, in front of `origin`.
  function nginxProxy(origin, k) {
    const dir = join(tmp, `nginx-proxy-${origin.name}-${k}`);
    const cacheDir = join(dir, 'cache');
    const logFile = join(dir, 'access.log');
    let child = null;
    let port = 0;
    let logMark = 0;
    let errMark = 0;
    const conf = (p) => `${nginxHead(dir, nginxWorkers, '$msec $upstream_cache_status $status $body_bytes_sent "$slice_range" "$request" "$http_range"', logFile)}
  log_subrequest on;
  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=rc:64m max_size=2g inactive=1h use_temp_path=off;
  upstream origin_data { server ${origin.hosts.data}; keepalive 16; }
  upstream origin_w3 { server ${origin.hosts.w3}; keepalive 16; }
  server {
    listen 127.0.0.1:${p};
    slice 1m;
    proxy_cache rc;
    proxy_cache_key $uri$is_args$args$slice_range;
    proxy_set_header Range $slice_range;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_cache_valid 200 206 1h;
    proxy_cache_lock on;
    proxy_cache_lock_timeout 30s;
    location = /data.bin { proxy_pass http://origin_data; }
    location = /w3.bin { proxy_pass http://origin_w3; }
    location / { return 404; }
  }
}
`;
    return {
      kind: 'nginx',
      get base() { return `http://127.0.0.1:${port}`; },
      pathOf: (which) => `/${which}.bin`,
      // Cold: stop, delete the cache directory, start.
      async restartCold() {
        await this.stop();
        rmSync(cacheDir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        port = await freePort();
        child = await startNginx(dir, conf(port), port, `nginx proxy ${k}`);
      },
      async stop() {
        if (child) { await stopChild(child); child = null; }
        const errs = nginxErrorLines(join(dir, 'error.log'), errMark);
        if (errs.length) diagnostics.nginxErrors.push(...errs.map((l) => `nginx proxy ${origin.name}#${k}: ${l}`));
        errMark = existsSync(join(dir, 'error.log')) ? statSync(join(dir, 'error.log')).size : 0;
      },
      mark: async () => { logMark = existsSync(logFile) ? statSync(logFile).size : 0; },
      // Cache statuses of the slice requests (log_subrequest on: one line per slice, the main request included).
      async stats() {
        if (!existsSync(logFile)) return {};
        const lines = readFileSync(logFile).subarray(logMark).toString('utf8').split('\n').filter(Boolean);
        const st = {};
        for (const l of lines) { const s = l.split(' ')[1]; st[s] = (st[s] ?? 0) + 1; }
        return { cacheStatus: st };
      },
    };
  }

  // ------------------------------------------------------------------ rangecache serve
  const cliBin = join(here, '..', 'packages', 'cli', 'dist', 'bin.js');
  const serveEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'REDIS_URL' && !k.startsWith('RANGECACHE_')));
  function rangecacheProxy(origin, k, redisUrl) {
    let child = null;
    let port = 0;
    let before = {};
    const allow = [...new Set([origin.hosts.data, origin.hosts.w3])].flatMap((h) => ['--allow', `http://${h}/`]);
    return {
      kind: 'rangecache',
      get base() { return `http://127.0.0.1:${port}`; },
      pathOf: (which) => `/http/${which === 'data' ? origin.hosts.data : origin.hosts.w3}/${which}.bin`,
      async restartCold() {
        await this.stop();
        child = spawn(process.execPath, [cliBin, 'serve', '--port', '0', ...allow, '--redis-url', redisUrl,
          '--namespace', 'proxy-bench', '--block-size', blockSize], { stdio: ['ignore', 'ignore', 'pipe'], env: serveEnv });
        track(child, 'serve');
        const me = child;
        let err = '';
        port = await new Promise((resolve, reject) => {
          me.stderr.on('data', (d) => {
            err += d;
            const m = /rangecache serve: listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
            if (m) resolve(Number(m[1]));
          });
          me.once('exit', (c, s) => reject(new Error(`rangecache serve #${k} exited (${c ?? s}) before listening:\n${err}`)));
        });
        // Every later stderr line besides the shutdown notice goes to the diagnostics.
        let rest = '';
        me.stderr.removeAllListeners('data');
        me.stderr.on('data', (d) => {
          rest += d;
          const lines = rest.split('\n');
          rest = lines.pop();
          for (const l of lines) if (l && l !== 'rangecache serve: shutting down') diagnostics.serveStderr.push(`serve ${origin.name}#${k}: ${l}`);
        });
      },
      async stop() {
        if (!child) return;
        const c = child;
        child = null;
        await stopChild(c, 'SIGTERM', 35_000);
        if (c.exitCode !== 0) diagnostics.serveStderr.push(`serve ${origin.name}#${k}: exited with ${c.exitCode ?? c.signalCode} on SIGTERM`);
      },
      mark: async () => { before = await scrape(port); },
      async stats() {
        const after = await scrape(port);
        const d = {};
        for (const [name, v] of Object.entries(after)) d[name.replace(/^rangecache_/, '')] = v - (before[name] ?? 0);
        return { metrics: d };
      },
    };
  }
  const METRICS = ['cache_hits_total', 'cache_misses_total', 'cache_bytes_total', 'origin_requests_total', 'origin_bytes_total',
    'origin_stats_total', 'origin_errors_total', 'redis_errors_total', 'redis_write_errors_total', 'fleet_waits_total',
    'fleet_fallbacks_total', 'circuit_opens_total'].map((m) => `rangecache_${m}`);
  async function scrape(port) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const out = {};
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+)$/.exec(line);
      if (m && METRICS.includes(m[1])) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
    }
    return out;
  }

  // ------------------------------------------------------------------ clients
  function spawnClient(cfg) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--client', JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'] });
    track(child, 'client');
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const ready = new Promise((resolve, reject) => {
      const check = () => { if (out.includes('"ready":true')) { child.stdout.off('data', check); resolve(); } };
      child.stdout.on('data', check);
      child.once('exit', (c) => reject(new Error(`client exited (${c}) before ready: ${err}`)));
    });
    ready.catch(() => {});
    const done = once(child, 'exit').then(([code, sig]) => {
      const last = out.trim().split('\n').at(-1);
      let r;
      try { r = JSON.parse(last); } catch { r = null; }
      if (!r || r.ready) throw new Error(`client ${cfg.label} exited with ${code ?? sig} and no result:\n${err}`);
      if (code !== 0 || r.errorCount) throw new Error(`INVALID RUN ${cfg.label}: exit ${code ?? sig}, ${r.errorCount} bad responses, e.g. ${r.errors.join('; ')}\n${err}`);
      return r;
    });
    done.catch(() => {});
    return { child, ready, done };
  }
  const checkResult = (label, r, expectedHash, expectedBytes) => {
    if (r.sha256 !== expectedHash) throw new Error(`INVALID RUN ${label}: sha256 ${r.sha256}, expected ${expectedHash}`);
    if (r.bytes !== expectedBytes) throw new Error(`INVALID RUN ${label}: ${r.bytes} bytes, expected ${expectedBytes}`);
  };

  // ------------------------------------------------------------------ runs
  const redis = await startRedis({ ownProcess: true });
  const admin = await redis.client();
  const redisStats = async () => {
    const calls = await commandCalls(admin);
    const stats = await admin.info('stats');
    const mem = await admin.info('memory');
    for (const k of ['config|resetstat', 'info', 'dbsize', 'flushall']) delete calls[k];
    return {
      keys: await admin.dbSize(), calls,
      netOutputBytes: Number(/total_net_output_bytes:(\d+)/.exec(stats)?.[1]),
      usedMemory: Number(/used_memory:(\d+)/.exec(mem)?.[1]),
    };
  };
  const results = {
    meta: {
      date: started.toISOString(), commandLine, quick, reps, s3likeW2DirectReps, nginxWorkers, counts, fleetClients: FLEET, commit, versions,
      cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), loadavgStart: loadavg(),
      redisUrl: redis.url, origins: {},
    },
    runs: [], fleet: [], diagnostics,
  };

  // One single-client run. proxy: null (direct) or a proxy object.
  async function singleRun(origin, proxy, workload, phase, rep) {
    const reads = workload === 'W1' ? w1Reads(counts.W1) : w2Reads(counts.W2);
    const way = proxy ? proxy.kind : 'direct';
    const label = `${origin.name} ${workload} ${way}${phase ? ' ' + phase : ''} rep ${rep + 1}`;
    const cfg = {
      label, origin: proxy ? proxy.base : `http://${origin.hosts.data}`, path: proxy ? proxy.pathOf('data') : '/data.bin',
      objectSize: DATASET_SIZE, workload, count: counts[workload], shape: 'ranges',
    };
    const c = spawnClient(cfg);
    await c.ready;
    origin.mark();
    if (proxy) await proxy.mark();
    if (proxy?.kind === 'rangecache') await admin.configResetStat();
    c.child.stdin.end('go\n');
    const r = await c.done;
    const originCount = await origin.count();
    const proxyStats = proxy ? await proxy.stats() : undefined;
    const redisAfter = proxy?.kind === 'rangecache' ? await redisStats() : undefined;
    const expectedBytes = reads.reduce((n, x) => n + x.end - x.start, 0);
    checkResult(label, r, expected[workload], expectedBytes);
    const run = {
      origin: origin.name, workload, way, phase: phase ?? 'direct', rep, wallMs: r.wallMs, startEpochMs: r.startEpochMs, endEpochMs: r.endEpochMs,
      bytes: r.bytes, reads: r.responses,
      mibps: r.bytes / MiB / (r.wallMs / 1000), readsPerS: r.responses / (r.wallMs / 1000),
      originRequests: originCount.requests, originBytes: originCount.bytes, originStatuses: originCount.statuses,
      ...proxyStats, redis: redisAfter, sha256: r.sha256,
    };
    results.runs.push(run);
    const extra = run.metrics ? `, hits/misses ${run.metrics.cache_hits_total}/${run.metrics.cache_misses_total}, redis keys ${redisAfter.keys}`
      : run.cacheStatus ? `, slices ${Object.entries(run.cacheStatus).map(([k, v]) => `${k} ${v}`).join(' ')}` : '';
    log(`${label}: ${(r.wallMs / 1000).toFixed(3)} s, ${run.mibps.toFixed(1)} MiB/s, ${run.readsPerS.toFixed(0)} reads/s, origin ${originCount.requests} req / ${originCount.bytes} B${extra}`);
    return run;
  }

  async function benchSingle(origin) {
    const rc = rangecacheProxy(origin, 0, redis.url);
    const ng = nginxProxy(origin, 0);
    try {
      for (const workload of ['W1', 'W2']) {
        const directReps = origin.name === 's3like' && workload === 'W2' ? s3likeW2DirectReps : reps;
        for (let rep = 0; rep < reps; rep++) {
          if (rep < directReps) await singleRun(origin, null, workload, null, rep);
          await rc.stop(); // nothing of the warm run may land in Redis after the flush
          await admin.flushAll();
          await rc.restartCold();
          await singleRun(origin, rc, workload, 'cold', rep);
          await singleRun(origin, rc, workload, 'warm', rep);
          await ng.restartCold();
          await singleRun(origin, ng, workload, 'cold', rep);
          await singleRun(origin, ng, workload, 'warm', rep);
        }
      }
    } finally {
      await rc.stop();
      await ng.stop();
    }
  }

  async function fleetRun(origin, proxies, shape, rep) {
    const way = proxies[0].kind;
    const label = `${origin.name} fleet ${shape} ${way} x${proxies.length} rep ${rep + 1}`;
    await Promise.all(proxies.map((p) => p.stop()));
    if (way === 'rangecache') await admin.flushAll();
    await Promise.all(proxies.map((p) => p.restartCold()));
    const clients = proxies.map((p, k) => spawnClient({
      label: `${label} client ${k}`, origin: p.base, path: p.pathOf('w3'), objectSize: W3_SIZE, workload: 'W3', count: 64,
      shape: shape === 'whole' ? 'whole' : 'ranges',
    }));
    await Promise.all(clients.map((c) => c.ready));
    origin.mark();
    for (const p of proxies) await p.mark();
    if (way === 'rangecache') await admin.configResetStat();
    const released = performance.timeOrigin + performance.now();
    for (const c of clients) c.child.stdin.end('go\n');
    const each = await Promise.all(clients.map((c) => c.done));
    const originCount = await origin.count();
    const perProxy = [];
    for (const p of proxies) perProxy.push(await p.stats());
    const redisAfter = way === 'rangecache' ? await redisStats() : undefined;
    each.forEach((r, k) => checkResult(`${label} client ${k}`, r, expected.W3, W3_SIZE));
    const walls = each.map((r) => r.wallMs);
    const sumOf = (key) => perProxy.reduce((acc, s) => { for (const [k, v] of Object.entries(s[key] ?? {})) acc[k] = (acc[k] ?? 0) + v; return acc; }, {});
    const run = {
      origin: origin.name, shape, way, rep, clients: proxies.length, walls,
      slowestMs: Math.max(...walls), fastestMs: Math.min(...walls),
      spanMs: Math.max(...each.map((r) => r.endEpochMs)) - released,
      startSkewMs: Math.max(...each.map((r) => r.startEpochMs)) - Math.min(...each.map((r) => r.startEpochMs)),
      originRequests: originCount.requests, originBytes: originCount.bytes, originStatuses: originCount.statuses,
      amplification: originCount.bytes / W3_SIZE,
      ...(way === 'rangecache' ? { metrics: sumOf('metrics'), perProxyMetrics: perProxy.map((s) => s.metrics) } : { cacheStatus: sumOf('cacheStatus'), perProxyCacheStatus: perProxy.map((s) => s.cacheStatus) }),
      redis: redisAfter,
    };
    results.fleet.push(run);
    log(`${label}: slowest ${(run.slowestMs / 1000).toFixed(3)} s, fastest ${(run.fastestMs / 1000).toFixed(3)} s, origin ${run.originRequests} req / ${run.originBytes} B (amplification ${run.amplification.toFixed(4)})` +
      (run.metrics ? `, hits/misses ${run.metrics.cache_hits_total}/${run.metrics.cache_misses_total}, fleet waits/fallbacks ${run.metrics.fleet_waits_total}/${run.metrics.fleet_fallbacks_total}` : `, slices ${JSON.stringify(run.cacheStatus)}`));
    return run;
  }

  async function benchFleet(origin) {
    const rcs = Array.from({ length: FLEET }, (_, k) => rangecacheProxy(origin, `fleet${k}`, redis.url));
    const ngs = Array.from({ length: FLEET }, (_, k) => nginxProxy(origin, `fleet${k}`));
    try {
      for (let rep = 0; rep < reps; rep++) {
        for (const shape of ['loop', 'whole']) {
          await fleetRun(origin, rcs, shape, rep);
          await Promise.all(rcs.map((p) => p.stop()));
          await fleetRun(origin, ngs, shape, rep);
          await Promise.all(ngs.map((p) => p.stop()));
        }
      }
    } finally {
      await Promise.all([...rcs, ...ngs].map((p) => p.stop()));
    }
  }

  let failure = null;
  try {
    log(`${commandLine}; commit ${commit}; tmp ${tmp}; redis ${redis.url}`);
    for (const name of originNames) {
      const origin = name === 'plain' ? await startPlainOrigin() : await startS3likeOrigin();
      results.meta.origins[name] = origin.describe;
      try {
        await benchSingle(origin);
        if (args.fleet) await benchFleet(origin);
      } finally {
        await origin.stop();
      }
    }
  } catch (e) {
    failure = e;
  } finally {
    for (const { child, kind } of [...children]) await stopChild(child, kind === 'nginx' ? 'SIGTERM' : 'SIGKILL');
    await admin.flushAll().catch(() => {});
    await redis.stop();
    if (!args['keep-tmp']) rmSync(tmp, { recursive: true, force: true });
  }
  if (failure) {
    console.error('proxy-bench: FAILED');
    if (diagnostics.serveStderr.length) console.error(diagnostics.serveStderr.join('\n'));
    if (diagnostics.nginxErrors.length) console.error(diagnostics.nginxErrors.join('\n'));
    throw failure;
  }
  results.meta.loadavgEnd = loadavg();
  results.meta.elapsedS = (performance.now() - tStart) / 1000;

  // ------------------------------------------------------------------ summary
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
  const summary = [];
  for (const o of originNames) for (const w of ['W1', 'W2']) for (const [way, phase] of [['direct', 'direct'], ['rangecache', 'cold'], ['rangecache', 'warm'], ['nginx', 'cold'], ['nginx', 'warm']]) {
    const rs = results.runs.filter((r) => r.origin === o && r.workload === w && r.way === way && r.phase === phase);
    if (!rs.length) continue;
    const hits = way === 'rangecache' ? rs.map((r) => r.metrics.cache_hits_total) : way === 'nginx' ? rs.map((r) => r.cacheStatus.HIT ?? 0) : null;
    const misses = way === 'rangecache' ? rs.map((r) => r.metrics.cache_misses_total) : way === 'nginx' ? rs.map((r) => r.cacheStatus.MISS ?? 0) : null;
    summary.push({
      origin: o, workload: w, way, phase, n: rs.length, reads: rs[0].reads,
      wallMs: spread(rs.map((r) => r.wallMs)), mibps: spread(rs.map((r) => r.mibps)), readsPerS: spread(rs.map((r) => r.readsPerS)),
      originRequests: spread(rs.map((r) => r.originRequests)), originBytes: spread(rs.map((r) => r.originBytes)),
      hits: hits && spread(hits), misses: misses && spread(misses),
      otherCacheStatus: way === 'nginx' ? [...new Set(rs.flatMap((r) => Object.keys(r.cacheStatus)))].filter((k) => k !== 'HIT' && k !== 'MISS') : undefined,
      redisKeys: way === 'rangecache' ? spread(rs.map((r) => r.redis.keys)) : undefined,
      redisOutBytes: way === 'rangecache' ? spread(rs.map((r) => r.redis.netOutputBytes)) : undefined,
    });
  }
  const fleetSummary = [];
  for (const o of originNames) for (const shape of ['loop', 'whole']) for (const way of ['rangecache', 'nginx']) {
    const rs = results.fleet.filter((r) => r.origin === o && r.shape === shape && r.way === way);
    if (!rs.length) continue;
    fleetSummary.push({
      origin: o, shape, way, n: rs.length,
      amplification: spread(rs.map((r) => r.amplification)), originRequests: spread(rs.map((r) => r.originRequests)),
      originBytes: spread(rs.map((r) => r.originBytes)), slowestMs: spread(rs.map((r) => r.slowestMs)),
      fastestMs: spread(rs.map((r) => r.fastestMs)), spanMs: spread(rs.map((r) => r.spanMs)), startSkewMs: spread(rs.map((r) => r.startSkewMs)),
      fleetWaits: way === 'rangecache' ? spread(rs.map((r) => r.metrics.fleet_waits_total)) : undefined,
      fleetFallbacks: way === 'rangecache' ? spread(rs.map((r) => r.metrics.fleet_fallbacks_total)) : undefined,
      misses: way === 'rangecache' ? spread(rs.map((r) => r.metrics.cache_misses_total)) : spread(rs.map((r) => r.cacheStatus.MISS ?? 0)),
      hits: way === 'rangecache' ? spread(rs.map((r) => r.metrics.cache_hits_total)) : spread(rs.map((r) => r.cacheStatus.HIT ?? 0)),
    });
  }
  const find = (o, w, way, phase) => summary.find((s) => s.origin === o && s.workload === w && s.way === way && s.phase === phase);
  const ratios = [];
  for (const o of originNames) for (const w of ['W1', 'W2']) {
    const wall = (way, phase) => find(o, w, way, phase)?.wallMs.median;
    const r = (a, b) => (a === undefined || b === undefined ? undefined : a / b);
    ratios.push({
      origin: o, workload: w,
      rcWarmOverNginxWarm: r(wall('rangecache', 'warm'), wall('nginx', 'warm')),
      rcWarmOverDirect: r(wall('rangecache', 'warm'), wall('direct', 'direct')),
      rcColdOverDirect: r(wall('rangecache', 'cold'), wall('direct', 'direct')),
      nginxWarmOverDirect: r(wall('nginx', 'warm'), wall('direct', 'direct')),
      nginxColdOverDirect: r(wall('nginx', 'cold'), wall('direct', 'direct')),
      rcColdOverNginxCold: r(wall('rangecache', 'cold'), wall('nginx', 'cold')),
    });
  }
  results.summary = summary;
  results.fleetSummary = fleetSummary;
  results.ratios = ratios;

  // ------------------------------------------------------------------ markdown
  const f = (x, d) => (x === undefined || x === null || Number.isNaN(x) ? '' : x.toFixed(d));
  const sp = (s, scale, d) => (s ? (s.n > 1 ? `${f(s.median * scale, d)} [${f(s.min * scale, d)}–${f(s.max * scale, d)}]` : f(s.median * scale, d)) : '');
  const int = (s) => (s ? (s.n > 1 && s.min !== s.max ? `${s.median} [${s.min}–${s.max}]` : `${s.median}`) : '');
  const m = results.meta;
  const L = [];
  L.push(`# rangecache serve vs nginx proxy_cache+slice vs direct (${quick ? 'QUICK MODE: the numbers mean little' : 'full run'})`, '');
  L.push(`- command: \`${commandLine}\` (cwd /work/main)`);
  L.push(`- date ${m.date}; git commit ${commit}; elapsed ${f(m.elapsedS, 1)} s`);
  L.push(`- ${m.versions.node}; ${m.versions.nginx}; ${m.versions.redisServer}`);
  L.push(`- machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB; load average (1/5/15 min) ${m.loadavgStart.map((x) => x.toFixed(2)).join(' ')} at the start, ${m.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} at the end (other work shares the machine)`);
  for (const [k, v] of Object.entries(m.origins)) L.push(`- origin **${k}**: ${v}`);
  L.push('- **direct**: the client straight to the origin. **rangecache**: one `rangecache serve --block-size ${blockSize}` (packages/cli/dist), own redis-server ' +
    `(${redis.url}, no persistence). **nginx**: one nginx proxy_cache + \`slice 1m\` node, worker_processes ${nginxWorkers}, sendfile on, upstream keepalive 16, ` +
    'proxy_cache_path … keys_zone=rc:64m max_size=2g inactive=1h use_temp_path=off, cache key $uri$is_args$args$slice_range, proxy_cache_valid 200 206 1h, proxy_cache_lock on (30 s).');
  L.push('- client: a fresh Node process per run, undici `Client` (one keep-alive connection, no pipelining, `dispatch` API, body bytes copied into one buffer allocated before the timed region); timed region = first request to last body byte of the last response; ' +
    'every response checked (206, Content-Range, length) and the SHA-256 of the bytes in read order checked against WORKLOADS.md.');
  L.push(`- W1 = ${counts.W1} sequential 1 MiB range GETs of /data.bin; W2 = ${counts.W2} sequential 65,536-byte range GETs at the W2 offsets. ` +
    'cold: rangecache = FLUSHALL + new serve process, nginx = stop + delete cache dir + start; warm = the run right after. Per repetition: direct, rangecache cold, rangecache warm, nginx cold, nginx warm.');
  L.push(`- repetitions: ${reps}${originNames.includes('s3like') && s3likeW2DirectReps !== reps ? `, except **W2 direct on s3like: ${s3likeW2DirectReps}** (in the first repetition only, to keep the run under ~15 min: one such run is ~90 s; \`--s3like-w2-direct-reps N\` changes it)` : ''}. Figures: median [min–max] over the repetitions (n = how many); a single figure where n = 1. Ratios divide medians.`);
  L.push('- origin req / origin bytes: lines and $body_bytes_sent of the origin access log(s) during the run (HEADs and all statuses included). ' +
    'hits / misses: rangecache = deltas of its /metrics rangecache_cache_hits_total / _misses_total (${blockSize} blocks); nginx = $upstream_cache_status HIT / MISS over the log lines of the proxy with log_subrequest on (one per 1 MiB slice touched). ' +
    'Redis out MiB: INFO stats total_net_output_bytes after a CONFIG RESETSTAT just before the run (what the serve process read from Redis, plus small replies).');
  L.push('- note: both origins send nginx-style ETags ("<hex mtime>-<hex size>"), which rangecache counts as a weak version (packages/http/src/http-fetcher.ts, isWeakVersion): ' +
    'its cached values then live at most metaTtl (60 s by default; `rangecache serve` has no flag for it). A warm run that found expired values would show origin requests.', '');
  L.push('## W1 / W2, one client', '');
  L.push('| origin | workload | way | phase | n | wall s | MiB/s | reads/s | origin req | origin bytes | hits / misses | Redis keys | Redis out MiB |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of summary) {
    L.push(`| ${s.origin} | ${s.workload} | ${s.way} | ${s.phase === 'direct' ? '–' : s.phase} | ${s.n} | ${sp(s.wallMs, 1 / 1000, 3)} | ${sp(s.mibps, 1, 1)} | ${sp(s.readsPerS, 1, 0)} | ` +
      `${int(s.originRequests)} | ${int(s.originBytes)} | ${s.hits ? `${int(s.hits)} / ${int(s.misses)}${s.otherCacheStatus?.length ? ` (also ${s.otherCacheStatus.join(', ')})` : ''}` : ''} | ${s.redisKeys ? int(s.redisKeys) : ''} | ${s.redisOutBytes ? sp(s.redisOutBytes, 1 / MiB, 1) : ''} |`);
  }
  L.push('', '## Ratios of median wall times (below 1: the numerator is faster)', '');
  L.push('| origin | workload | rangecache warm ÷ nginx warm | rangecache warm ÷ direct | rangecache cold ÷ direct | nginx warm ÷ direct | nginx cold ÷ direct | rangecache cold ÷ nginx cold |');
  L.push('|---|---|---|---|---|---|---|---|');
  for (const r of ratios) {
    L.push(`| ${r.origin} | ${r.workload} | ${f(r.rcWarmOverNginxWarm, 3)} | ${f(r.rcWarmOverDirect, 3)} | ${f(r.rcColdOverDirect, 3)} | ${f(r.nginxWarmOverDirect, 3)} | ${f(r.nginxColdOverDirect, 3)} | ${f(r.rcColdOverNginxCold, 3)} |`);
  }
  L.push('', `## Fleet: ${FLEET} proxies, ${FLEET} clients (client k → proxy k), released together, one cold 64 MiB /w3.bin`, '');
  L.push(`rangecache: ${FLEET} \`rangecache serve\` processes sharing one redis-server, FLUSHALL and fresh processes before each run. nginx: ${FLEET} separate proxy_cache+slice nodes (own cache dirs, emptied, fresh processes). ` +
    'loop = 64 sequential 1 MiB range GETs per client; whole = one plain GET of the object per client. amplification = origin body bytes / 67,108,864. ' +
    'span = from the release to the last client\'s last byte; skew = spread of the clients\' first requests. Every client\'s SHA-256 checked (94afc1e8…).', '');
  L.push('| origin | shape | way | n | amplification | origin req | origin bytes | slowest client wall s | fastest client wall s | span s | start skew ms | hits / misses | fleet waits / fallbacks |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of fleetSummary) {
    L.push(`| ${s.origin} | ${s.shape} | ${s.way} | ${s.n} | ${sp(s.amplification, 1, 4)} | ${int(s.originRequests)} | ${int(s.originBytes)} | ${sp(s.slowestMs, 1 / 1000, 3)} | ` +
      `${sp(s.fastestMs, 1 / 1000, 3)} | ${sp(s.spanMs, 1 / 1000, 3)} | ${sp(s.startSkewMs, 1, 1)} | ${int(s.hits)} / ${int(s.misses)} | ${s.fleetWaits ? `${int(s.fleetWaits)} / ${int(s.fleetFallbacks)}` : ''} |`);
  }
  L.push('', '## Diagnostics', '');
  const diag = (title, lines) => {
    L.push(`- ${title}: ${lines.length === 0 ? 'none' : `${lines.length} line(s)`}`);
    const uniq = [...new Set(lines)];
    for (const l of uniq.slice(0, 15)) L.push(`  - \`${l.replace(/`/g, "'").slice(0, 300)}\``);
    if (uniq.length > 15) L.push(`  - … ${uniq.length - 15} more distinct line(s) in the JSON`);
  };
  diag('rangecache serve stderr (besides the listening / shutting down lines)', diagnostics.serveStderr);
  diag('nginx error logs at [error] or worse', diagnostics.nginxErrors);
  diag('s3like origin stderr', diagnostics.originStderr);
  const md = L.join('\n') + '\n';

  const resultsDir = join(here, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = started.toISOString().slice(0, 16).replace(/[-:]/g, '');
  const base = quick ? 'proxy-quick' : `proxy-${stamp}`;
  writeFileSync(join(resultsDir, `${base}.json`), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(resultsDir, `${base}.md`), md);
  log(`results: bench/results/${base}.md, bench/results/${base}.json`);
  process.stdout.write(md);
}

