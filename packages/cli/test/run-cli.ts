/** Runs the real `rangecache` binary (the `bin` of this package's package.json) as a child process. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8')) as { bin: Record<string, string> };
/** The built binary, `dist/bin.js`, as package.json's `bin` names it. */
export const BIN = fileURLToPath(new URL(pkg.bin['rangecache']!, `file://${packageDir}`));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** Variables added to the environment (REDIS_URL is removed from it first unless given here). */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Kill the child after this many ms (a test that hangs fails instead). Default 20000. */
  timeoutMs?: number;
}

/**
 * The environment of a child: this process's, without tap's (its NODE_OPTIONS would load tap's process tracking
 * into every child) and without REDIS_URL and RANGECACHE_*, plus `extra`.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(TAP|_TAPJS|NODE_OPTIONS$|REDIS_URL$|RANGECACHE_)/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs `rangecache ...args` and collects its exit code, stdout (bytes) and stderr (text). */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** The lines of `text`, without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
}
