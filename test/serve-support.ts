// `rangecache serve` as a real child process for tests: started with its flags, its listening URL read from its
// first stderr line, stopped with SIGTERM (a graceful shutdown) and its exit code and stderr returned.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cliEnv } from '../packages/cli/test/run-cli.js';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CLI = `${ROOT}packages/cli/dist/bin.js`;

export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** SIGTERM, then the exit code once it exited (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Starts `rangecache serve --port 0 ...args` and waits until it listens. */
export async function startServe(args: readonly string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: cliEnv(env),
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rangecache serve did not start in 20 s: ${stderr}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`rangecache serve exited with ${code}: ${stderr}`)); });
  });
  return {
    url, child,
    stderr: () => stderr,
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
