// The rangecache binary against a real 3-master Redis Cluster (detected from its root node with INFO cluster,
// or named with --cluster): cat and warm through it, stat an object's blocks, stats over every master, and purge
// a prefix from every master.
import t from 'tap';
import { pseudoRandomBytes, startHttpOrigin, startRedisCluster } from '@rangecache/test-support';
import { lines, runCli } from './run-cli.js';

const rc = await startRedisCluster();
const origin = await startHttpOrigin();
t.teardown(async () => {
  await origin.stop();
  await rc.stop();
});
// Six objects: their keys have a dozen hash tags (a metadata tag and a data segment each), over all three masters.
const names = ['c-1.bin', 'c-2.bin', 'c-3.bin', 'c-4.bin', 'c-5.bin', 'c-6.bin'];
const objects = new Map(names.map((n) => [n, pseudoRandomBytes(300_000, n)]));
for (const [name, bytes] of objects) origin.put(name, bytes);
const namespace = 'cluster-cli';
const env = { REDIS_URL: rc.rootUrl };
const gets = (): number => origin.requests.filter((r) => r.method === 'GET').length;

/** Keys of the namespace's objects (not its counters) on each master. */
async function objectKeysPerMaster(): Promise<number[]> {
  return Promise.all(rc.nodes.map(async (_, i) => {
    const node = await rc.nodeClient(i);
    let n = 0;
    for await (const batch of node.scanIterator({ MATCH: `rangecache:v2:${namespace}:{*`, COUNT: 1000 })) n += batch.length;
    return n;
  }));
}

t.test('cat, warm, stat, stats and purge through a Redis Cluster', async (t) => {
  const cat = await runCli(['cat', origin.url('c-1.bin'), '--block-size', '64KiB', '-n', namespace], { env });
  t.equal(cat.code, 0, cat.stderr);
  t.equal(cat.stderr, '', 'no warning: the cluster was used');
  t.ok(cat.stdout.equals(objects.get('c-1.bin')!), 'byte-exact');
  const warm = await runCli(['warm', ...names.map((n) => origin.url(n)), '--block-size', '64KiB', '-n', namespace, '--progress', 'none'], { env });
  t.equal(warm.code, 0, warm.stderr);
  t.match(warm.stdout.toString(), /^warmed 6 objects: 1800000 bytes/m);
  const before = gets();
  const again = await runCli(['cat', origin.url('c-4.bin'), '--range', '70000-70099', '--block-size', '64KiB', '-n', namespace], { env });
  t.ok(again.stdout.equals(objects.get('c-4.bin')!.subarray(70_000, 70_100)), 'a range, byte-exact');
  t.equal(gets(), before, 'from the cluster: no GET at the origin');

  const perMaster = await objectKeysPerMaster();
  t.equal(perMaster.reduce((a, b) => a + b, 0), 6 * 6, '6 objects: 5 blocks and the metadata each');
  t.ok(perMaster.filter((n) => n > 0).length >= 2, `keys on several masters (${perMaster.join(', ')})`);

  const [stat, forced, stats] = await Promise.all([
    runCli(['stat', origin.url('c-2.bin'), '--block-size', '64KiB', '-n', namespace], { env }),
    runCli(['stat', origin.url('c-2.bin'), '--block-size', '64KiB', '-n', namespace, '--cluster', '--json'], { env }),
    runCli(['stats', '-n', namespace, '--json'], { env }),
  ]);
  t.equal(stat!.code, 0, stat!.stderr);
  t.match(stat!.stdout.toString(), /^size: 300000$/m);
  t.match(stat!.stdout.toString(), /^cached blocks: 5 \(100\.0%\)$/m, 'every block found, on whichever master holds it');
  t.equal(JSON.parse(forced!.stdout.toString()).cachedBlocks, 5, '--cluster (no detection) finds them too');
  t.equal(stats!.code, 0, stats!.stderr);
  const report = JSON.parse(stats!.stdout.toString()) as { cluster: boolean; namespaces: { keys: number; memoryBytes: number; kinds: Record<string, { keys: number }>; counters: Record<string, number> }[] };
  t.equal(report.cluster, true);
  t.equal(report.namespaces[0]!.kinds['blocks']!.keys, 30, 'stats counts the blocks of every master');
  t.equal(report.namespaces[0]!.keys, 6 * 6 + 1, 'and the counters hash');
  t.ok(report.namespaces[0]!.memoryBytes > 1_800_000, 'and their memory');
  t.equal(report.namespaces[0]!.counters['misses'], 30, 'the counters cat and warm published: 5 + 25 blocks missed');

  const refused = await runCli(['purge', '--prefix', `${origin.baseUrl}/c-`, '-n', namespace, '--confirm-above', '10'], { env });
  t.equal(refused.code, 3);
  t.equal(lines(refused.stderr).length, 1);
  t.match(refused.stderr, /refusing to delete 36 keys/, 'counted on every master');
  const purge = await runCli(['purge', '--prefix', `${origin.baseUrl}/c-`, '-n', namespace, '--yes'], { env });
  t.equal(purge.code, 0, purge.stderr);
  t.match(purge.stdout.toString(), /^deleted 36 keys for objects under /m);
  t.same(await objectKeysPerMaster(), [0, 0, 0], 'no key of them left on any master');
});
