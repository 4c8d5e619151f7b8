// Every ```ts sample in the README runs, against a real redis-server, and prints what the README says it prints.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedis } from '@rangecache/test-support';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

t.test('README code samples run', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  t.ok(samples.length >= 5, `${samples.length} samples found`);
  // Samples live in examples/ so that they resolve @rangecache/core and redis like a user's project would.
  const dir = join(root, 'examples', '.readme-samples');
  await mkdir(dir, { recursive: true });
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const outputs: string[] = [];
  for (const [i, code] of samples.entries()) {
    const file = join(dir, `sample-${i + 1}.ts`);
    await writeFile(file, code);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env: { ...process.env, REDIS_URL: redis.url } });
    outputs.push(stdout);
    t.pass(`sample ${i + 1} ran`);
  }
  t.match(outputs[0], /^4096 2097152 3145728 true$/m, 'usage sample: header, streamed bytes, size');
  t.match(outputs[1], /\[ 1000, 1000, 5000 \] 2\ntrue 2/, 'chunk sample prints what the README says');
  t.match(outputs[2], /ERR_RANGECACHE_NOT_FOUND file \/tmp\/no-such-file.bin\ntrue invalid range \[10, 5\)/);
  t.match(outputs[3], /^range cache$/m);
  t.match(outputs[4], /members: \[ 0, 1 \]/);
});
