// `pnpm bench --quick` must keep working: it runs every workload on every origin with few reads, checks every
// byte it read against the dataset, and writes its results. (The numbers of a quick run mean nothing.)
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../', import.meta.url));
// It runs every workload on every origin: minutes on a busy 2-core machine, past the suite's 180 s per file.
t.setTimeout(600_000);

t.test('bench --quick', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['bench/run.mjs', '--quick'], { cwd: root, maxBuffer: 64 << 20 });
  t.match(stdout, /\| target \| measured \| goal \| met \|/, 'prints the targets table');
  t.match(stdout, /\| origin \| shape \| alone wall s \|/, 'prints the W3 fleet table');
  t.match(stdout, /\| origin \| workload \| variant \| reads \| server cmds\/read \|/, 'prints the Redis commands table');
  type Summary = {
    origin: string; workload: string; variant: string;
    redisPerRead?: { server: number; client: number; flushes: number; scriptInner: number };
    slowestOverAlone?: { median: number };
    amplification?: { median: number };
    fleetStats?: { fleetWaits: number; fleetFallbacks: number; storeErrors: number };
  };
  const results = JSON.parse(await readFile(`${root}bench/results/quick.json`, 'utf8')) as { summary: Summary[]; targets: { name: string }[] };
  const find = (o: string, w: string, v: string) => results.summary.find((s) => s.origin === o && s.workload === w && s.variant === v);
  for (const origin of ['plain', 's3like', 's3']) {
    for (const workload of ['W1', 'W2']) {
      for (const variant of ['direct', 'cold', 'warm', 'ceiling']) t.ok(find(origin, workload, variant), `${origin} ${workload} ${variant}`);
      const cold = find(origin, workload, 'cold')?.redisPerRead;
      t.ok(cold && cold.client > 0 && cold.server >= cold.client && cold.flushes > 0, `${origin} ${workload} cold: Redis commands per read counted`);
    }
  }
  // W3: every shape on the plain origin, the loop on s3like; each alone and as a fleet.
  for (const [origin, shape] of [['plain', 'loop'], ['plain', 'whole'], ['plain', 'stream'], ['s3like', 'loop']]) {
    t.ok(find(origin!, `W3-${shape}`, 'alone'), `${origin} W3-${shape} alone ran`);
    const fleet = find(origin!, `W3-${shape}`, 'fleet');
    t.ok(fleet && fleet.slowestOverAlone!.median > 0 && fleet.amplification!.median > 0 && fleet.fleetStats, `${origin} W3-${shape} fleet ran`);
  }
  t.ok(results.targets.length >= 10, `${results.targets.length} targets evaluated`);
  await readFile(`${root}bench/results/quick.svg`, 'utf8').then((svg) => t.match(svg, /^<svg /));
});
