// The example scripts run and show what they claim: the warm pass makes no origin request.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRedis } from '@rangecache/test-support';

const root = fileURLToPath(new URL('../', import.meta.url));
const run = promisify(execFile);

t.test('examples', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  for (const [script, args] of [['examples/http.mjs', []], ['examples/s3.mjs', []], ['examples/demo.mjs', ['--size-mib', '8', '--latency-ms', '5']]] as const) {
    for (const env of [{}, { REDIS_URL: redis.url }]) {
      const { stdout } = await run(process.execPath, [script, ...args], { cwd: root, env: { ...process.env, ...env } });
      const store = 'REDIS_URL' in env ? 'Redis' : 'MemoryStore';
      t.match(stdout, /cold.*origin requests +[1-9]/, `${script} (${store}): the cold pass reads the origin`);
      t.match(stdout, /warm.*origin requests +0\b/, `${script} (${store}): the warm pass does not`);
      if (script.endsWith('demo.mjs')) t.notMatch(stdout, /WRONG/, 'demo verified its bytes');
    }
  }
});
