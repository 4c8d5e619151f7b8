// `pnpm bench --quick` must keep working: it runs every workload on every origin with few reads, checks every
// byte it read against the dataset, and writes its results. (The numbers of a quick run mean nothing.)
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../', import.meta.url));

t.test('bench --quick', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['bench/run.mjs', '--quick'], { cwd: root, maxBuffer: 64 << 20 });
  t.match(stdout, /\| target \| measured \| goal \| met \|/, 'prints the targets table');
  const results = JSON.parse(await readFile(`${root}bench/results/quick.json`, 'utf8')) as {
    summary: { origin: string; workload: string; variant: string }[];
    targets: { name: string }[];
  };
  for (const origin of ['plain', 's3like', 's3']) {
    for (const workload of ['W1', 'W2']) {
      for (const variant of ['direct', 'cold', 'warm', 'ceiling']) {
        t.ok(results.summary.some((s) => s.origin === origin && s.workload === workload && s.variant === variant), `${origin} ${workload} ${variant}`);
      }
    }
  }
  t.ok(results.summary.some((s) => s.workload === 'W3' && s.variant === 'fleet'), 'fleet ran');
  t.ok(results.targets.length >= 10, `${results.targets.length} targets evaluated`);
  await readFile(`${root}bench/results/quick.svg`, 'utf8').then((svg) => t.match(svg, /^<svg /));
});
