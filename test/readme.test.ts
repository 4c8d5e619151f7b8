// Every ```ts sample in the README runs, against a real redis-server, and prints what the README says it prints.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { S3RVER_CREDENTIALS, pseudoRandomBytes, startHttpOrigin, startRedis, startRedisCluster, startS3rver } from '@rangecache/test-support';

const root = fileURLToPath(new URL('../', import.meta.url));
const run = promisify(execFile);

t.test('README code samples run', async (t) => {
  const [redis, origin, s3, cluster] = await Promise.all([startRedis(), startHttpOrigin(), startS3rver('readme-bucket'), startRedisCluster()]);
  t.teardown(async () => { await redis.stop(); await origin.stop(); await s3.stop(); await cluster.stop(); });
  origin.put('era5.grib2', pseudoRandomBytes(100_000, 'readme-http'));
  await s3.put('gfs.grib2', pseudoRandomBytes(100_000, 'readme-s3'));
  for (const name of ['ocean.v1.json', 'ocean.nc']) origin.put(name, await readFile(join(root, 'packages/reference/fixtures', name)));
  origin.put('rows.parquet', await readFile(join(root, 'packages/adapters/fixtures/rows.parquet')));
  // The samples read their endpoints from the environment, as a user's service would.
  const env = {
    ...process.env, REDIS_URL: redis.url, REDIS_CLUSTER_URL: cluster.rootUrl, DATA_URL: origin.url('era5.grib2'), S3_ENDPOINT: s3.endpoint, S3_URL: 's3://readme-bucket/gfs.grib2',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    REFS_URL: origin.url('ocean.v1.json'), PARQUET_URL: origin.url('rows.parquet'),
  };
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  t.equal(samples.length, 15, `${samples.length} samples found`);
  // Samples live in examples/ so that they resolve @rangecache/core and redis like a user's project would.
  const dir = join(root, 'examples', '.readme-samples');
  await mkdir(dir, { recursive: true });
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const outputs: string[] = [];
  for (const [i, code] of samples.entries()) {
    const file = join(dir, `sample-${i + 1}.ts`);
    await writeFile(file, code);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env });
    outputs.push(stdout);
    t.pass(`sample ${i + 1} ran`);
  }
  t.match(outputs[0], /^4096 2097152 3145728 true$/m, 'usage sample: header, streamed bytes, size');
  t.match(outputs[1], /^300000 9$/m, 'readRangeInto sample: the bytes of three reads into one buffer');
  t.match(outputs[2], /^1048576 8 true$/m, 'open() sample: size, footer bytes, version');
  t.match(outputs[3], /\[ 1000, 1000, 5000 \] 2\ntrue 2/, 'chunk sample prints what the README says');
  t.match(outputs[4], /ERR_RANGECACHE_NOT_FOUND file \/tmp\/no-such-file.bin\ntrue invalid range \[10, 5\)/);
  t.match(outputs[5], /^range cache$/m);
  t.match(outputs[6], /members: \[ 0, 1 \]/);
  t.match(outputs[7], /^9$/m, 'TieredStore sample: nine reads from memory');
  t.match(outputs[8], /^true 4096$/m, 'cluster sample');
  t.match(outputs[9], /^1$/m, 'events sample');
  t.match(outputs[10], /^true true 16$/m, 'HTTP sample');
  t.match(outputs[11], /^100 4096 4$/m, 'S3 sample');
  t.match(outputs[12], /^cold \[ 10, 12 \] [\d.]+ ms origin bytes [1-9]\d*\nwarm \[ 10, 12 \] [\d.]+ ms origin bytes 0$/m, 'references sample: the warm reader reads nothing from the origin');
  t.match(outputs[13], /id: 6000n, name: 'row-6000'[\s\S]*id: 6001n, name: 'row-6001'/, 'hyparquet adapter sample');
  t.match(outputs[14], /^206 bytes 0-99\/100000 100\n200 bytes true$/m, 'range handler sample: a 206 from the handler, the same ETag over HTTP');
});
