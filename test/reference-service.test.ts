// examples/reference-service.mjs as a fleet: three real processes share one Redis and serve the Zarr keys of a
// kerchunk-referenced NetCDF4 file (packages/reference/fixtures) from an HTTP origin. The first instance pays the
// origin; the others answer from Redis. Every byte is compared with the file, and zarrita decodes the dataset
// through one instance over HTTP as a client of the service would.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import * as zarr from 'zarrita';
import { startHttpOrigin, startRedis } from '@rangecache/test-support';

const root = fileURLToPath(new URL('../', import.meta.url));
const fixtures = join(root, 'packages/reference/fixtures');
const expected = JSON.parse(readFileSync(join(fixtures, 'ocean.expected.json'), 'utf8')) as Record<string, { values: number[] }>;

function startService(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [join(root, 'examples/reference-service.mjs')], { cwd: root, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ child, base: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`service exited (${code}): ${err}`)));
  });
}

t.test('three instances of the reference service share one cache', async (t) => {
  const [origin, redis] = await Promise.all([startHttpOrigin(), startRedis()]);
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
  for (const path of walk(fixtures)) origin.put(relative(fixtures, path), readFileSync(path));
  const env = { REDIS_URL: redis.url, NAMESPACE: `svc-${Date.now()}`, DATASETS: `ocean=${origin.url('ocean.v1.json')},parq=${origin.url('ocean.parq')}` };
  const services = await Promise.all([0, 1, 2].map(() => startService(env)));
  t.teardown(async () => {
    for (const s of services) s.child.kill('SIGTERM');
    await Promise.all(services.map((s) => new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once('exit', r)))));
    await redis.stop();
    await origin.stop();
  });

  const v0 = JSON.parse(readFileSync(join(fixtures, 'ocean.v0.json'), 'utf8')) as Record<string, string | [string, number, number]>;
  const nc = readFileSync(join(fixtures, 'ocean.nc'));
  const chunkKeys = Object.keys(v0).filter((k) => Array.isArray(v0[k]) && !k.startsWith('level/'));
  const metaKeys = Object.keys(v0).filter((k) => typeof v0[k] === 'string');
  const want = (key: string): Buffer => {
    const v = v0[key]!;
    return typeof v === 'string' ? Buffer.from(v) : nc.subarray(v[1], v[1] + v[2]);
  };

  const passes: { label: string; ms: number; originBytes: number }[] = [];
  for (const [i, service] of services.entries()) {
    const before = origin.bodyBytes('GET');
    const t0 = performance.now();
    const bodies = await Promise.all([...chunkKeys, ...metaKeys].map(async (key) => {
      const res = await fetch(`${service.base}/ocean/${key}`);
      t.equal(res.status, 200, `${key} via instance ${i + 1}`);
      return Buffer.from(await res.arrayBuffer());
    }));
    const ms = performance.now() - t0;
    // level/.zarray differs on purpose: the v1 set splits level into 12 chunks with gen.
    const wrong = [...chunkKeys, ...metaKeys].filter((key, n) => key === 'level/.zarray' ? false : Buffer.compare(bodies[n]!, want(key)) !== 0);
    t.same(wrong, [], `instance ${i + 1}: every chunk and metadata key equals the file's bytes`);
    passes.push({ label: `instance ${i + 1}`, ms, originBytes: origin.bodyBytes('GET') - before });
  }
  t.comment(passes.map((p) => `${p.label}: ${chunkKeys.length + metaKeys.length} keys in ${p.ms.toFixed(1)} ms, origin bytes ${p.originBytes}`).join('\n'));
  t.ok(passes[0]!.originBytes > 0, `the first instance read the origin (${passes[0]!.originBytes} bytes)`);
  t.equal(passes[1]!.originBytes, 0, 'the second instance answered every key from Redis');
  t.equal(passes[2]!.originBytes, 0, 'so did the third');

  const stats = await (await fetch(`${services[1]!.base}/-/stats`)).json() as { hits: number; misses: number };
  t.ok(stats.hits >= chunkKeys.length && stats.misses === 0, `instance 2: ${stats.hits} hits, ${stats.misses} misses`);
  t.equal((await fetch(`${services[0]!.base}/ocean/temp/9.9.9.9`)).status, 404, 'a key without a reference');
  t.equal((await fetch(`${services[0]!.base}/nope/.zgroup`)).status, 404, 'an unknown dataset');

  // A client of the service: zarrita over HTTP, consolidated metadata first, as xarray would.
  for (const dataset of ['ocean', 'parq']) {
    const zmeta = await (await fetch(`${services[2]!.base}/${dataset}/.zmetadata`)).json() as { metadata: Record<string, unknown> };
    t.ok('temp/.zarray' in zmeta.metadata, `${dataset}: .zmetadata lists the arrays`);
    const store = new zarr.FetchStore(`${services[2]!.base}/${dataset}`);
    for (const name of ['temp', 'salt', 'level']) {
      const arr = await zarr.open.v2(zarr.root(store).resolve(name), { kind: 'array' });
      const got = Array.from((await zarr.get(arr)).data as ArrayLike<number>);
      t.equal(got.findIndex((v, n) => v !== expected[name]!.values[n]), -1, `${dataset} ${name}: zarrita through the service decodes netCDF4's values`);
    }
  }
});
