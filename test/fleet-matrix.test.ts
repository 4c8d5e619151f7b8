// The fleet load matrix (issue 9, items 2 and 5), CI size: real OS processes (test/fixtures/fleet-shapes.mjs)
// share one real redis-server and one origin, and each reads the same object cold with one read shape:
// `whole` (one readRange), `stream`, `ranges` (one readRanges of 128 chunks) or `loop` (1 MiB readRanges).
// Origins: the loopback HTTP origin of @rangecache/test-support, and bench/s3like-origin.mjs as its own process
// (20 ms to first byte, 100 MiB/s per response), whose access log counts the body bytes it sent.
//
// Asserted for every combination: every process got the object byte-exact, and the origin served at most
// 1.05 x the object to the fleet. Only recorded (t.comment), never asserted, since a busy machine can miss any
// time budget: the slowest process's wallMs, one process alone (same shape and origin, its own namespace, cold,
// run just before the fleet), their ratio, and the fleet's stats totals. The time ratios belong to the benchmark.
//
// This file runs 8 processes x 32 MiB: the 4 shapes on the loopback origin, `whole` and `loop` on the S3-like one.
// The full matrix (8 and 32 processes x 4 shapes x 2 origins) is test/faults/fleet-matrix.test.ts, which imports
// `runMatrix` from here (so this file registers its own tests only when it is the file being run).
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, pseudoRandomBytes, startHttpOrigin, startRedis, tempDir } from '@rangecache/test-support';

const root = fileURLToPath(new URL('../', import.meta.url));
const MiB = 1 << 20;

export type Shape = 'whole' | 'stream' | 'ranges' | 'loop';
export type OriginKind = 'loopback' | 's3like';
export const SHAPES: readonly Shape[] = ['whole', 'stream', 'ranges', 'loop'];

export interface MatrixCase { origin: OriginKind; shape: Shape; processes: number; size: number }

export interface MatrixRow extends MatrixCase {
  amplification: number;
  /** Origin bytes for the one process alone, over the object size. */
  aloneAmplification: number;
  slowestMs: number;
  aloneMs: number;
  exact: number;
  failed: number;
  totals: Record<string, number>;
  caseMs: number;
}

interface Result { sha256: string; bytes: number; wallMs: number; stats: Record<string, number>; storeErrors?: Record<string, number> }

interface Child { proc: ChildProcess; ready: Promise<void>; result: Promise<Result>; stderr: () => string }

const STAT_KEYS = ['misses', 'fleetWaits', 'fleetFallbacks', 'storeErrors', 'originRequests'] as const;

function spawnReader(url: string, redisUrl: string, c: MatrixCase, namespace: string, live: Set<ChildProcess>): Child {
  const proc = spawn(process.execPath, ['test/fixtures/fleet-shapes.mjs', url, redisUrl, c.shape, String(c.size), namespace],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let err = '';
  let onReady!: () => void;
  let onEarlyExit!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { onReady = res; onEarlyExit = rej; });
  proc.stdout!.on('data', (d) => { out += d; if (out.includes('"ready"')) onReady(); });
  proc.stderr!.on('data', (d) => { err = (err + d).slice(-4000); if (process.env['FLEET_TRACE']) process.stderr.write(d); });
  proc.stdin!.on('error', () => {}); // a child that died must not crash the test with EPIPE
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((res) => proc.on('exit', (code, signal) => { live.delete(proc); res([code, signal]); }));
  void exited.then(([code, signal]) => onEarlyExit(new Error(`reader exited before it was ready (${code ?? signal}): ${err.trim()}`)));
  const result = exited.then(([code, signal]) => {
    if (code !== 0) throw new Error(`reader exited with ${code ?? signal}: ${err.trim().split('\n').slice(0, 3).join(' | ')}`);
    return JSON.parse(out.trim().split('\n').at(-1)!) as Result;
  });
  ready.catch(() => {});
  result.catch(() => {});
  return { proc, ready, result, stderr: () => err };
}

interface Origin { url: string; bodyBytes(): Promise<number>; settle(): Promise<void>; stop(): Promise<void> }

async function loopbackOrigin(bytes: Buffer): Promise<Origin> {
  const origin = await startHttpOrigin();
  origin.put('matrix.bin', bytes);
  return {
    url: origin.url('matrix.bin'),
    bodyBytes: async () => origin.bodyBytes('GET'),
    settle: () => new Promise((r) => setTimeout(r, 50)),
    stop: () => origin.stop(),
  };
}

/** bench/s3like-origin.mjs as its own process; GET body bytes are summed from its access log. */
async function s3likeOrigin(bytes: Buffer): Promise<Origin> {
  const dir = await tempDir('rangecache-matrix-');
  const file = join(dir.path, 'matrix.bin');
  await writeFile(file, bytes);
  const log = join(dir.path, 'access.log');
  const port = await freePort();
  const proc = spawn(process.execPath, ['bench/s3like-origin.mjs', '--file', file, '--port', String(port), '--log', log],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((res, rej) => {
    proc.stderr!.on('data', (d) => { err += d; if (err.includes('serving')) res(); });
    proc.once('exit', (code, signal) => rej(new Error(`s3like-origin exited (${code ?? signal}): ${err}`)));
    proc.once('error', rej);
  });
  const exited = new Promise<void>((r) => { if (proc.exitCode !== null || proc.signalCode !== null) r(); else proc.once('exit', () => r()); });
  return {
    url: `http://127.0.0.1:${port}/matrix.bin`,
    async bodyBytes() {
      const text = await readFile(log, 'utf8').catch(() => '');
      let n = 0;
      for (const m of text.matchAll(/^\S+ "GET [^"]*" "[^"]*" \d+ (\d+) /gm)) n += Number(m[1]);
      return n;
    },
    settle: () => new Promise((r) => setTimeout(r, 300)), // the log line is written when a response ends
    async stop() { proc.kill('SIGKILL'); await exited; await dir.remove(); },
  };
}

const sum = (results: Result[], k: string): number => results.reduce((n, r) => n + (r.stats[k] ?? 0), 0);

async function runCase(t: Test, origin: Origin, redisUrl: string, c: MatrixCase, expected: string, runTimeoutMs: number, id: string): Promise<MatrixRow> {
  const t0 = Date.now();
  const live = new Set<ChildProcess>();
  const killAll = (): void => { for (const p of live) p.kill('SIGKILL'); };
  t.teardown(killAll);
  const alone = spawnReader(origin.url, redisUrl, c, `${id}-alone`, live);
  const fleet = Array.from({ length: c.processes }, () => spawnReader(origin.url, redisUrl, c, `${id}-fleet`, live));
  await Promise.all([alone, ...fleet].map((x) => x.ready));

  const deadline = <T>(p: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<never>((_, rej) => { timer = setTimeout(() => { killAll(); rej(new Error(`${what} did not finish within ${runTimeoutMs} ms; killed`)); }, runTimeoutMs); });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  };

  // One process alone, cold, in its own namespace (the fleet's processes are idle, waiting for "go").
  const a0 = await origin.bodyBytes();
  alone.proc.stdin!.write('go\n');
  const aloneResult = await deadline(alone.result, 'the process alone').catch((e: Error) => e);
  await origin.settle();
  const a1 = await origin.bodyBytes();

  // The fleet: all at once.
  for (const f of fleet) f.proc.stdin!.write('go\n');
  const settled = await deadline(Promise.allSettled(fleet.map((f) => f.result)), `the fleet of ${c.processes}`).catch((e: Error) => e);
  await origin.settle();
  const a2 = await origin.bodyBytes();
  killAll();

  const outcomes = settled instanceof Error ? fleet.map(() => ({ status: 'rejected' as const, reason: settled })) : settled;
  const results = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).message ?? o.reason)] : []));
  if (aloneResult instanceof Error) t.fail(`the process alone failed: ${aloneResult.message}`);
  else t.equal(aloneResult.sha256, expected, 'the process alone read the object byte-exact');
  t.equal(failures.length, 0, `every process of the fleet finished${failures.length ? `: ${[...new Set(failures)].slice(0, 3).join(' / ')}` : ''}`);
  const exact = results.filter((r) => r.sha256 === expected && r.bytes === c.size).length;
  t.equal(exact, c.processes, `all ${c.processes} processes read the object byte-exact (${exact} did)`);

  const totals = Object.fromEntries(STAT_KEYS.map((k) => [k, sum(results, k)]));
  const amplification = (a2 - a1) / c.size;
  const row: MatrixRow = {
    ...c, amplification, aloneAmplification: (a1 - a0) / c.size,
    slowestMs: results.length ? Math.max(...results.map((r) => r.wallMs)) : NaN,
    aloneMs: aloneResult instanceof Error ? NaN : aloneResult.wallMs,
    exact, failed: failures.length, totals, caseMs: Date.now() - t0,
  };
  const errorsByOperation: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.storeErrors ?? {})) errorsByOperation[k] = (errorsByOperation[k] ?? 0) + n;
  const why = STAT_KEYS.map((k) => `${k} ${totals[k]}`).join(', ') +
    (Object.keys(errorsByOperation).length ? `; store errors by operation: ${JSON.stringify(errorsByOperation)}` : '');
  // The counter sees the origin: the process alone and the fleet were cold, so each made the origin serve it all.
  t.ok(row.aloneAmplification >= 0.99 && amplification >= 0.99,
    `the origin counted what it served (alone: ${row.aloneAmplification.toFixed(3)} x, fleet: ${amplification.toFixed(3)} x the object)`);
  t.ok(amplification <= 1.05, `origin served ${amplification.toFixed(3)} x the object to the fleet (<= 1.05); fleet totals: ${why}`);
  t.comment(`${c.origin} ${c.shape} x${c.processes} (${c.size / MiB} MiB): slowest ${row.slowestMs.toFixed(0)} ms, alone ${row.aloneMs.toFixed(0)} ms, ` +
    `slowest/alone ${(row.slowestMs / row.aloneMs).toFixed(2)}; fleet totals: ${why}; per process wallMs: ${results.map((r) => r.wallMs.toFixed(0)).join(' ')}`);
  return row;
}

export function formatTable(rows: MatrixRow[]): string {
  const head = ['origin', 'shape', 'procs', 'MiB', 'amplif.', 'alone amplif.', 'slowest ms', 'alone ms', 'ratio', 'misses', 'fleetWaits', 'fallbacks', 'storeErrors', 'exact', 'case s'];
  const lines = rows.map((r) => [r.origin, r.shape, String(r.processes), String(r.size / MiB), r.amplification.toFixed(3), r.aloneAmplification.toFixed(3), r.slowestMs.toFixed(0),
    r.aloneMs.toFixed(0), (r.slowestMs / r.aloneMs).toFixed(2), String(r.totals['misses']), String(r.totals['fleetWaits']),
    String(r.totals['fleetFallbacks']), String(r.totals['storeErrors']), `${r.exact}/${r.processes}`, (r.caseMs / 1000).toFixed(1)]);
  return [head, ...lines].map((l) => `| ${l.join(' | ')} |`).join('\n');
}

/**
 * Runs `cases` as one tap subtest per origin kind (one redis-server and one origin each, one object per size),
 * one subtest per case, and comments the table at the end. Returns the rows.
 */
export async function runMatrix(t: Test, cases: MatrixCase[], runTimeoutMs: number): Promise<MatrixRow[]> {
  const rows: MatrixRow[] = [];
  for (const kind of ['loopback', 's3like'] as const) {
    const mine = cases.filter((c) => c.origin === kind);
    if (!mine.length) continue;
    await t.test(`${kind} origin`, async (t) => {
      const redis = await startRedis({ ownProcess: true });
      t.teardown(() => redis.stop());
      const admin = await redis.client();
      for (const size of [...new Set(mine.map((c) => c.size))]) {
        const bytes = pseudoRandomBytes(size, `fleet-matrix-${size}`);
        const expected = createHash('sha256').update(bytes).digest('hex');
        const origin = kind === 'loopback' ? await loopbackOrigin(bytes) : await s3likeOrigin(bytes);
        t.teardown(() => origin.stop());
        for (const c of mine.filter((x) => x.size === size)) {
          const id = `${c.origin}-${c.shape}-${c.processes}-${c.size}`;
          await t.test(`${c.shape} read by ${c.processes} processes (${c.size / MiB} MiB, ${c.origin})`, async (t) => {
            rows.push(await runCase(t, origin, redis.url, c, expected, runTimeoutMs, id));
          });
          await admin.flushAll(); // keep Redis small; every case uses its own namespaces anyway
        }
      }
    });
  }
  t.comment(`fleet matrix:\n${formatTable(rows)}`);
  return rows;
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  t.setTimeout(170_000);
  const size = 32 * MiB;
  const cases: MatrixCase[] = [
    ...SHAPES.map((shape) => ({ origin: 'loopback' as const, shape, processes: 8, size })),
    ...(['whole', 'loop'] as const).map((shape) => ({ origin: 's3like' as const, shape, processes: 8, size })),
  ];
  const t0 = Date.now();
  await runMatrix(t, cases, 60_000);
  t.comment(`fleet matrix (CI): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
