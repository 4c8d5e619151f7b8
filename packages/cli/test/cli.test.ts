// The rangecache binary, run as a child process against a real redis-server, a real HTTP origin, S3 (s3rver) and
// local files: cat's bytes are compared with the origin's byte for byte; stat, purge and stats are checked
// against what is in Redis; exit codes and one-line errors; the progress display in its three forms.
import { spawn } from 'node:child_process';
import t from 'tap';
import { freePort, pseudoRandomBytes, S3RVER_CREDENTIALS, startHttpOrigin, startRedis, startS3rver, tempDir } from '@rangecache/test-support';
import { BIN, cliEnv, lines, runCli } from './run-cli.js';

const redis = await startRedis();
const client = await redis.client();
const origin = await startHttpOrigin();
const s3 = await startS3rver('cli-bucket');
const dir = await tempDir('rangecache-cli-');
t.teardown(async () => {
  await redis.stop();
  await origin.stop();
  await s3.stop();
  await dir.remove();
});

const env = { REDIS_URL: redis.url };
const BLOCK = 64 * 1024;
const big = pseudoRandomBytes(1_000_000, 'cli-big'); // 16 blocks of 64 KiB, the last one partial
origin.put('big.bin', big);
let namespaces = 0;
const ns = (): string => `cli-${process.pid}-${++namespaces}`;
const gets = (): number => origin.requests.filter((r) => r.method === 'GET').length;

/** Every key of a namespace, read from Redis directly. */
async function keysOf(namespace: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: `rangecache:v2:${namespace}:*`, COUNT: 1000 })) keys.push(...batch);
  return keys;
}

t.test('--help for the program and every command; usage errors exit 2 with one line', async (t) => {
  const commands = ['cat', 'warm', 'stat', 'purge', 'stats', 'serve'];
  const [top, unknown, badFlag, ...helps] = await Promise.all([
    runCli(['--help']), runCli(['frobnicate']), runCli(['cat', origin.url('big.bin'), '--bogus']), ...commands.map((c) => runCli([c, '--help'])),
  ]);
  t.equal(top!.code, 0);
  t.match(top!.stdout.toString(), /Usage: rangecache/);
  t.match(top!.stdout.toString(), /Exit codes:[\s\S]*3 +purge refused[\s\S]*4 +not found/);
  commands.forEach((command, i) => {
    const r = helps[i]!;
    t.equal(r.code, 0, `${command} --help exits 0`);
    t.match(r.stdout.toString(), new RegExp(`^Usage: rangecache ${command} `), `${command} --help shows its usage`);
    t.match(r.stdout.toString(), /--redis-url/, `${command} --help lists --redis-url`);
    t.equal(r.stderr, '');
  });
  t.equal(unknown!.code, 2, 'unknown command: exit 2');
  t.equal(lines(unknown!.stderr).length, 1, 'one line');
  t.match(unknown!.stderr, /^rangecache: unknown command 'frobnicate'/);
  t.equal(badFlag!.code, 2);
  t.match(badFlag!.stderr, /^rangecache: unknown option '--bogus'/);
});

t.test('cat: byte-exact through the cache from HTTP, a file and S3; ranges; the second read comes from Redis', async (t) => {
  const namespace = ns();
  const before = gets();
  const first = await runCli(['cat', origin.url('big.bin'), '--block-size', '64KiB', '-n', namespace], { env });
  t.equal(first.code, 0, first.stderr);
  t.equal(first.stderr, '', 'nothing on stderr');
  t.ok(first.stdout.equals(big), 'stdout is the object, byte for byte');
  t.ok(gets() > before, 'the first cat read the origin');
  const afterFirst = gets();

  const ranges: [string | undefined, number, number][] = [
    [undefined, 0, 1_000_000], ['65530-65545', 65530, 65546], ['999990-', 999990, 1_000_000], ['-10', 999_990, 1_000_000], ['999990-2000000', 999990, 1_000_000],
  ];
  const file = await dir.file('local.bin', 300_000, 'cli-local');
  const s3Bytes = pseudoRandomBytes(200_000, 'cli-s3');
  await s3.put('dir/obj.bin', s3Bytes);
  const s3Credentials = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey };
  const [local, fromS3, viaFlags, ...results] = await Promise.all([
    runCli(['cat', file.path, '--range', '1000-1999'], { env: { ...env, RANGECACHE_NAMESPACE: namespace } }),
    runCli(['cat', 's3://cli-bucket/dir/obj.bin', '-n', namespace], { env: { ...env, ...s3Credentials, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: s3.endpoint } }),
    runCli(['cat', 's3://cli-bucket/dir/obj.bin', '-n', ns(), '--endpoint', s3.endpoint, '--region', 'us-east-1', '--range', '-5'], { env: { ...env, ...s3Credentials } }),
    ...ranges.map(([spec]) => runCli(['cat', origin.url('big.bin'), ...(spec ? ['--range', spec] : []), '--block-size', '64KiB', '-n', namespace], { env })),
  ]);
  ranges.forEach(([spec, start, end], i) => {
    t.equal(results[i]!.code, 0, `--range ${spec}: exit 0`);
    t.ok(results[i]!.stdout.equals(big.subarray(start, end)), spec ? `--range ${spec} is bytes [${start}, ${end}) (ends included)` : 'second cat: same bytes');
  });
  t.equal(gets(), afterFirst, 'the object again, and ranges of it: no GET at the origin (all blocks from Redis)');
  t.equal(local!.code, 0, local!.stderr);
  t.ok(local!.stdout.equals(file.bytes.subarray(1000, 2000)), 'a local file, by path');
  t.equal(fromS3!.code, 0, fromS3!.stderr);
  t.ok(fromS3!.stdout.equals(s3Bytes), 's3:// with credentials, region and endpoint from the environment');
  t.equal(viaFlags!.code, 0, viaFlags!.stderr);
  t.ok(viaFlags!.stdout.equals(s3Bytes.subarray(-5)), 's3:// with --endpoint and --region');
});

t.test('cat: errors are one line on stderr with their exit codes, and nothing on stdout', async (t) => {
  const namespace = ns();
  const cases: [string, string[], number, RegExp][] = [
    ['bad range syntax', ['cat', origin.url('big.bin'), '--range', 'abc'], 2, /--range: expected FIRST-LAST/],
    ['inverted range', ['cat', origin.url('big.bin'), '--range', '9-3'], 2, /--range: the last byte \(3\) is before the first \(9\)/],
    ['range past the end', ['cat', origin.url('big.bin'), '--range', '2000000-'], 2, /invalid range .* starts past the end of the object \(1000000 bytes\)/],
    ['unknown scheme', ['cat', 'gs://bucket/key'], 2, /invalid path "gs:\/\/bucket\/key": no fetcher for the scheme "gs"/],
    ['missing object (HTTP 404)', ['cat', origin.url('missing.bin')], 4, /object not found: http:\/\/127\.0\.0\.1:\d+\/missing\.bin/],
    ['bad block size', ['cat', origin.url('big.bin'), '--block-size', 'huge'], 2, /--block-size: expected a number of bytes/],
  ];
  const results = await Promise.all(cases.map(([, args]) => runCli([...args, '-n', namespace], { env })));
  for (const [i, [what, , code, message]] of cases.entries()) {
    const r = results[i]!;
    t.equal(r.code, code, `${what}: exit ${code}`);
    t.equal(lines(r.stderr).length, 1, `${what}: one line on stderr`);
    t.match(r.stderr, /^rangecache: /, `${what}: prefixed`);
    t.match(r.stderr, message, `${what}: says what is wrong`);
    t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
    t.equal(r.stdout.length, 0, `${what}: nothing on stdout`);
  }
  origin.failNext(20, 500);
  const failing = await runCli(['cat', origin.url('big.bin'), '-n', ns()], { env });
  origin.reset();
  t.equal(failing.code, 1, 'origin failing (HTTP 500): exit 1');
  t.equal(lines(failing.stderr).length, 1);
  t.match(failing.stderr, /^rangecache: \[http 500\]/);
});

t.test('Redis down: cat fails open to the origin (exit 0, one warning); stat, purge and stats exit 1', async (t) => {
  const down = `redis://127.0.0.1:${await freePort()}`;
  const r = await runCli(['cat', origin.url('big.bin'), '--redis-url', down]);
  t.equal(r.code, 0, 'cat still works');
  t.ok(r.stdout.equals(big), 'the bytes come from the origin');
  t.equal(lines(r.stderr).length, 1, 'one warning line');
  t.match(r.stderr, /^rangecache: warning: cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*; reading from the origin without the cache\n$/);
  const commands = [['stat', origin.url('big.bin')], ['purge', origin.url('big.bin'), '--yes'], ['stats']];
  const results = await Promise.all(commands.map((args) => runCli([...args, '--redis-url', down])));
  for (const [i, args] of commands.entries()) {
    const failed = results[i]!;
    t.equal(failed.code, 1, `${args[0]}: exit 1`);
    t.equal(lines(failed.stderr).length, 1, `${args[0]}: one line`);
    t.match(failed.stderr, /^rangecache: cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/, `${args[0]}: says Redis is unreachable`);
  }
});

t.test('cat into a pipe that closes early (| head) ends quietly with exit 0', async (t) => {
  const child = spawn(process.execPath, [BIN, 'cat', origin.url('big.bin'), '-n', ns()], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => { child.stdout.destroy(); resolve(); }));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.equal(code, 0, 'exit 0');
  t.equal(stderr, '', 'no message');
});

t.test('stat: size as a plain number, version, cached blocks before and after warm, their TTLs', async (t) => {
  const namespace = ns();
  const args = ['stat', origin.url('big.bin'), '--block-size', '64KiB', '-n', namespace];
  const cold = await runCli(args, { env });
  t.equal(cold.code, 0, cold.stderr);
  const text = cold.stdout.toString();
  t.match(text, /^size: 1000000$/m, 'size in bytes, as a plain number');
  t.match(text, /^version: .+$/m);
  t.match(text, /^blocks: 16$/m);
  t.match(text, /^cached blocks: 0 \(0\.0%\)$/m, 'nothing cached yet');
  t.match(text, /^ttl min: -$/m);

  const warm = await runCli(['warm', origin.url('big.bin'), '--range', '0-199999', '--block-size', '64KiB', '-n', namespace, '--ttl', '2h'], { env });
  t.equal(warm.code, 0, warm.stderr);
  t.match(warm.stdout.toString(), /^warmed http:\/\/\S+\/big\.bin: 200000 bytes/m);
  const [json, plain, other, missing] = await Promise.all([
    runCli([...args, '--json'], { env }),
    runCli(args, { env }),
    runCli(['stat', origin.url('big.bin'), '--block-size', '128KiB', '-n', namespace, '--json'], { env }),
    runCli(['stat', origin.url('nope.bin'), '-n', namespace], { env }),
  ]);
  const report = JSON.parse(json!.stdout.toString()) as Record<string, number | string | null>;
  t.equal(report['size'], 1_000_000);
  t.equal(report['blocks'], 16);
  t.equal(report['cachedBlocks'], 4, 'bytes 0-199999 are blocks 0 to 3');
  t.equal(report['cachedBytes'], 4 * BLOCK);
  t.ok((report['minTtlMs'] as number) > 7_100_000 && (report['maxTtlMs'] as number) <= 7_200_000, `TTLs from --ttl 2h (${report['minTtlMs']}..${report['maxTtlMs']})`);
  t.ok(report['metaTtlMs'] !== null, 'metadata cached');
  t.match(plain!.stdout.toString(), /^cached blocks: 4 \(25\.0%\)$/m);
  t.match(plain!.stdout.toString(), /^cached bytes: 262144 \(256 KiB\)$/m);
  t.match(plain!.stdout.toString(), /^ttl min: 1h 59m$/m, 'TTLs for people');
  t.equal(JSON.parse(other!.stdout.toString()).cachedBlocks, 0, 'another block size: other keys, none cached');
  t.equal(missing!.code, 4);
  t.match(missing!.stderr, /^rangecache: .*object not found/);
});

t.test('purge: counts, refuses without a terminal and --yes (exit 3), --dry-run, --yes, prefixes, --all', async (t) => {
  const namespace = ns();
  for (const name of ['p-one.bin', 'p-two.bin', 'q.bin']) origin.put(name, pseudoRandomBytes(300_000, name));
  const warm = await runCli(['warm', ...['p-one.bin', 'p-two.bin', 'q.bin'].map((n) => origin.url(n)), '--block-size', '16KiB', '-n', namespace], { env });
  t.equal(warm.code, 0, warm.stderr);
  t.match(warm.stdout.toString(), /^warmed 3 objects: 900000 bytes/m);
  const ofOne = async (): Promise<number> => (await keysOf(namespace)).filter((k) => k.includes('p-one.bin')).length;
  t.equal(await ofOne(), 20, '19 blocks and the metadata of p-one.bin');

  const [refused, dry] = await Promise.all([
    runCli(['purge', origin.url('p-one.bin'), '-n', namespace, '--confirm-above', '10'], { env }),
    runCli(['purge', origin.url('p-one.bin'), '-n', namespace, '--dry-run', '--confirm-above', '10'], { env }),
  ]);
  t.equal(refused!.code, 3, 'more keys than --confirm-above, no terminal, no --yes: exit 3');
  t.equal(lines(refused!.stderr).length, 1);
  t.match(refused!.stderr, /^rangecache: refusing to delete 20 keys for http:\/\/\S+\/p-one\.bin without confirmation .*pass --yes/);
  t.equal(dry!.code, 0);
  t.match(dry!.stdout.toString(), /^would delete 20 keys for http:\/\/\S+\/p-one\.bin \(dry run\)$/m);
  t.equal(await ofOne(), 20, 'refused and dry run: nothing deleted');

  const yes = await runCli(['purge', origin.url('p-one.bin'), '-n', namespace, '--confirm-above', '10', '--yes'], { env });
  t.equal(yes.code, 0, yes.stderr);
  t.match(yes.stdout.toString(), /^deleted 20 keys for /m);
  t.equal(await ofOne(), 0, 'p-one.bin is gone');
  t.ok((await keysOf(namespace)).some((k) => k.includes('p-two.bin')), 'p-two.bin stays');

  const [prefix, star, nothing, usage] = await Promise.all([
    runCli(['purge', '--prefix', `${origin.baseUrl}/p-`, '-n', namespace], { env }),
    runCli(['purge', `${origin.baseUrl}/q*`, '-n', namespace, '--yes'], { env }),
    runCli(['purge', origin.url('p-one.bin'), '-n', namespace], { env }),
    runCli(['purge', '-n', namespace], { env }),
  ]);
  t.equal(prefix!.code, 0, 'a purge under the threshold does not ask');
  t.match(prefix!.stdout.toString(), /^deleted 20 keys for objects under http:\/\/127\.0\.0\.1:\d+\/p-$/m, '--prefix');
  t.match(star!.stdout.toString(), /^deleted 20 keys for objects under http:\/\/127\.0\.0\.1:\d+\/q$/m, 'a trailing * is a prefix');
  t.equal(nothing!.code, 0);
  t.match(nothing!.stdout.toString(), /^nothing to purge/);
  t.equal(usage!.code, 2, 'no target: usage error');
  t.same((await keysOf(namespace)).filter((k) => !k.endsWith(':stats')), [], 'the objects are gone, the counters stay');
  const everything = await runCli(['purge', '--all', '-n', namespace, '--yes'], { env });
  t.equal(everything.code, 0);
  t.match(everything.stdout.toString(), /^deleted 1 keys for namespace /m);
  t.same(await keysOf(namespace), [], '--all: nothing of the namespace left');
});

t.test('purge asks on a terminal: "y" deletes, anything else refuses with exit 3', async (t) => {
  const namespace = ns();
  await runCli(['warm', origin.url('big.bin'), '--block-size', '64KiB', '-n', namespace], { env });
  // `script` gives the binary a pseudo-terminal for stdin and stderr, and feeds it our input.
  const viaTerminal = (answer: string): Promise<number | null> => new Promise((resolve, reject) => {
    const command = [process.execPath, BIN, 'purge', origin.url('big.bin'), '-n', namespace, '--confirm-above', '5'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let answered = false;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!answered && /Delete 17 keys for \S+big\.bin from redis:\/\/127\.0\.0\.1:\d+\? \[y\/N\] /.test(out)) {
        answered = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    const timer = setTimeout(() => child.kill(), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      t.ok(answered, `asked (${JSON.stringify(out.slice(0, 200))})`);
      resolve(code);
    });
  });
  t.equal(await viaTerminal('n'), 3, '"n": exit 3');
  t.equal((await keysOf(namespace)).length, 18, 'nothing deleted (16 blocks, metadata, counters)');
  t.equal(await viaTerminal('y'), 0, '"y": exit 0');
  t.same((await keysOf(namespace)).filter((k) => k.includes('big.bin')), [], 'deleted');
});

t.test('stats: memory per namespace, and the counters cat publishes (sharedStats)', async (t) => {
  const a = ns();
  const b = ns();
  const cat = await runCli(['cat', origin.url('big.bin'), '--block-size', '64KiB', '-n', a], { env });
  t.equal(cat.code, 0);
  await Promise.all([
    runCli(['cat', origin.url('big.bin'), '--range', '0-9', '--block-size', '64KiB', '-n', a], { env }),
    runCli(['warm', origin.url('big.bin'), '--range', '0-99999', '-n', b], { env }),
  ]);
  const [r, text] = await Promise.all([runCli(['stats', '--json'], { env }), runCli(['stats', '-n', a], { env })]);
  t.equal(r!.code, 0, r!.stderr);
  const report = JSON.parse(r!.stdout.toString()) as { namespaces: { namespace: string; keys: number; memoryBytes: number; kinds: Record<string, { keys: number }>; counters: Record<string, number> }[] };
  const sa = report.namespaces.find((n) => n.namespace === a)!;
  const sb = report.namespaces.find((n) => n.namespace === b)!;
  t.ok(sa && sb, 'both namespaces listed');
  t.equal(sa.keys, (await keysOf(a)).length, 'keys of a: as many as in Redis');
  t.equal(sa.kinds['blocks']!.keys, 16);
  t.ok(sa.memoryBytes >= big.length, `memory of a (${sa.memoryBytes}) holds at least its bytes`);
  t.ok(sb.memoryBytes > 0 && sb.memoryBytes < sa.memoryBytes, 'b: less');
  t.equal(sa.counters['misses'], 16, 'the first cat missed 16 blocks');
  t.equal(sa.counters['hits'], 1, 'the second hit one');
  t.equal(sa.counters['reads'], 17);
  t.equal(sa.counters['originBytes'], 1_000_000);
  t.equal(sa.counters['bytesRead'], 1_000_010);
  const out = text!.stdout.toString();
  t.match(out, new RegExp(`^namespace "${a}": ${sa.keys} keys, ${sa.memoryBytes} bytes`, 'm'), 'one namespace, its keys and memory');
  t.notMatch(out, new RegExp(b), '--namespace shows only that one');
  t.match(out, /^ {2}hit ratio: 5\.9%$/m);
  t.match(out, /^ {2}misses: 16$/m);
});

t.test('warm: a progress bar (forced off a terminal), plain lines elsewhere, nothing with --progress none', async (t) => {
  const names = ['slow-1.bin', 'slow-2.bin', 'slow-3.bin', 'slow-4.bin'];
  for (const name of names) origin.put(name, pseudoRandomBytes(500_000, name));
  const urls = names.map((n) => origin.url(n));
  origin.behaviour.delayMs = 150; // one origin request per object, one at a time: progress is drawn between them
  t.teardown(() => origin.reset());
  const fast = { ...env, RANGECACHE_PROGRESS_INTERVAL_MS: '50' };
  const [bar, envBar, plain] = await Promise.all([
    runCli(['warm', ...urls, '--concurrency', '1', '-n', ns(), '--progress', 'bar'], { env: fast }),
    runCli(['warm', ...urls, '--concurrency', '1', '-n', ns()], { env: { ...fast, RANGECACHE_PROGRESS: 'bar' } }),
    runCli(['warm', ...urls, '--concurrency', '1', '-n', ns()], { env: fast }),
  ]);
  t.equal(bar!.code, 0, bar!.stderr);
  t.match(bar!.stderr, /warm \[[\u2588\u2591]{10,}\] (2[5-9]|[3-9]\d)% \| [\d.]+ KiB \/ 1\.91 MiB \| [\d.]+ (KiB|MiB)\/s \| ETA [\d.]+ (ms|s)/, 'bar, part way: bytes, rate and ETA');
  t.match(bar!.stderr, /warm \[\u2588+\] 100% \| 1\.91 MiB \/ 1\.91 MiB/, 'bar: reaches 100%');
  t.match(bar!.stdout.toString(), /^warmed 4 objects: 2000000 bytes/m, 'summary on stdout');
  t.match(envBar!.stderr, /warm \[[\u2588\u2591]+\] \d+% \|/, 'RANGECACHE_PROGRESS=bar forces the bar too');

  t.equal(plain!.code, 0);
  t.notMatch(plain!.stderr, /[\u2588\u2591\r]|\x1b\[/, 'not a terminal: no bar, no control sequences');
  t.match(plain!.stderr, /^warm: [\d.]+ KiB of 1\.91 MiB \([\d.]+%\), [\d.]+ (KiB|MiB)\/s, ETA [\d.]+ (ms|s)$/m, 'plain lines with bytes, rate and ETA');
  t.match(plain!.stderr, /^warm: 1\.91 MiB of 1\.91 MiB \(100\.0%\), .*elapsed/m, 'and a last one');

  const [quiet, bad, badRange] = await Promise.all([
    runCli(['warm', urls[0]!, '-n', ns(), '--progress', 'none'], { env }),
    runCli(['warm', urls[0]!, '--progress', 'fancy'], { env }),
    runCli(['warm', `${dir.path}/x.json`, '--range', '0-9'], { env }),
  ]);
  t.equal(quiet!.code, 0);
  t.equal(quiet!.stderr, '', '--progress none: nothing on stderr');
  t.equal(bad!.code, 2);
  t.match(bad!.stderr, /^rangecache: --progress: expected auto, bar, plain or none/);
  t.equal(badRange!.code, 2, '--range with a reference set: usage error');
});

t.test('serve refuses to be an open proxy, and bad settings, before anything listens', async (t) => {
  const [none, badAllow, badMount, takenMount, badCors, badPort, noRedis] = await Promise.all([
    runCli(['serve', '--port', '0']),
    runCli(['serve', '--port', '0', '--allow', 'ftp://files.example.com/']),
    runCli(['serve', '--port', '0', '--mount', 'nodata']),
    runCli(['serve', '--port', '0', '--mount', 'metrics=https://x.example.com/']),
    runCli(['serve', '--port', '0', '--allow', 'https://x.example.com/', '--cors', 'not an origin']),
    runCli(['serve', '--port', '70000', '--allow', 'https://x.example.com/']),
    runCli(['serve', '--port', '0', '--allow', 'https://x.example.com/', '--redis-url', `redis://127.0.0.1:${await freePort()}`]),
  ]);
  t.equal(none.code, 2);
  t.equal(none.stderr, 'rangecache: serve needs at least one --allow <prefix> (or --mount): it will not run as an open proxy\n');
  t.equal(badAllow.code, 2);
  t.match(badAllow.stderr, /^rangecache: allow: "ftp:\/\/files\.example\.com\/" is not an absolute http, https, s3 URL without credentials\n$/);
  t.equal(badMount.code, 2);
  t.match(badMount.stderr, /expected name=prefix .*"nodata"/);
  t.equal(takenMount.code, 2);
  t.match(takenMount.stderr, /the name "metrics" is taken/);
  t.equal(badCors.code, 2);
  t.match(badCors.stderr, /cors\.origins: "not an origin" is not an origin/);
  t.equal(badPort.code, 2);
  t.match(badPort.stderr, /--port: expected a whole number from 0 to 65535/);
  t.equal(noRedis.code, 1, 'a --redis-url that cannot be reached: exit 1');
  t.match(noRedis.stderr, /^rangecache: cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: /);
  for (const r of [none, badAllow, badMount, takenMount, badCors, badPort, noRedis]) t.equal(lines(r.stderr).length, 1, 'one line');
});
