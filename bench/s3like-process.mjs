// Starts bench/s3like-origin.mjs as a child process, for the bench scripts that need an HTTP origin of their own.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 's3like-origin.mjs');

/**
 * Spawns `s3like-origin.mjs` serving `file` as `path` on 127.0.0.1:`port`, and resolves with the child once it
 * prints its `serving` line; rejects if it exits first, with what it printed.
 *
 * - `extra`: more origin flags (`['--ttfb-ms', '0', '--rate-mibps', '0']` for the plain profile);
 * - `log`: its access log file (`--log`), where the bench counts origin requests and bytes;
 * - `nice`: runs it under `nice -n <nice>` (the same pid: nice execs node);
 * - `onStderr`: each later stderr line other than the `serving` one (the origin's own errors);
 * - `onSpawn`: called with the child at once, before it serves, so that a caller can stop it on its way out.
 *
 * @example
 * const origin = await startS3likeProcess({ file: 'bench/data/data.bin', path: '/data.bin', port: 18080 });
 * // ... http://127.0.0.1:18080/data.bin ...
 * origin.kill('SIGTERM');
 */
export async function startS3likeProcess({ file, path, port, extra = [], log, nice, onStderr, onSpawn }) {
  const args = [script, '--file', file, '--port', String(port), '--path', path, ...(log ? ['--log', log] : []), ...extra];
  const child = nice === undefined
    ? spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('nice', ['-n', String(nice), process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  onSpawn?.(child);
  let printed = '';
  let serving = false;
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      if (!serving) printed += d;
      if (!serving && printed.includes('serving')) {
        serving = true;
        resolve();
      }
      for (const line of String(d).split('\n')) if (line && !line.includes('serving')) onStderr?.(line);
    });
    child.once('exit', (code, signal) => reject(new Error(`s3like origin for ${path} exited with ${code ?? signal}: ${printed.trim()}`)));
  });
  return child;
}
