/**
 * The `rangecache` program: its commands, and one run of it as a function of its arguments and streams, which
 * returns the exit code instead of exiting (the binary, `bin.ts`, exits with it).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { defineCat } from './commands/cat.js';
import { definePurge } from './commands/purge.js';
import { defineServe } from './commands/serve.js';
import { defineStat } from './commands/stat.js';
import { defineStats } from './commands/stats.js';
import { defineWarm } from './commands/warm.js';
import { ExitCode, type ExitCodeValue, errorLine, exitCodeFor } from './errors.js';
import type { CliIo } from './io.js';

/** The package's version, from its package.json. */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const EXIT_CODES = `
Exit codes:
  0    done
  1    failure: the origin, Redis or the file system (warm: also cache writes that failed)
  2    usage: unknown command or flag, bad value or range, a URL scheme no origin serves
  3    purge refused: not confirmed, or no terminal to ask on and no --yes
  4    not found: the object does not exist at the origin
  130  interrupted (serve: SIGTERM or Ctrl-C end it with 0, after a graceful shutdown)

Environment: REDIS_URL, RANGECACHE_NAMESPACE, RANGECACHE_BLOCK_SIZE, RANGECACHE_TTL, RANGECACHE_PROGRESS,
AWS_REGION, AWS_ENDPOINT_URL(_S3), and the AWS SDK's credential variables (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...).`;

/** Whether `reason` says that stdout was closed under us (EPIPE: the reader of a pipe went away, as `| head` does). */
export function isClosedOutput(reason: unknown): boolean {
  return typeof reason === 'object' && reason !== null && (reason as { code?: unknown }).code === 'EPIPE';
}

/**
 * Builds the program, writing through `io`. Commander's own exits are turned into exceptions
 * (`exitOverride`), so that {@link main} decides every exit code.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('rangecache')
    .description('Work with a shared rangecache on Redis: read through it, warm it, inspect and purge it, serve it over HTTP.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(`rangecache: ${s.replace(/^error: /, '')}`),
    })
    .addHelpText('after', EXIT_CODES);
  defineCat(program, io);
  defineWarm(program, io);
  defineStat(program, io);
  definePurge(program, io);
  defineStats(program, io);
  defineServe(program, io);
  return program;
}

/**
 * Runs `rangecache` with `argv` (the arguments after the program name) and returns its exit code (see
 * {@link ExitCode}). Errors end as one line on `io.stderr`; nothing is thrown.
 *
 * @example
 * ```ts
 * const code = await main(['stat', 's3://bucket/key', '--json'], { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<ExitCodeValue> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE; // commander printed it
    if (io.signal?.aborted && isClosedOutput(io.signal.reason)) return ExitCode.OK; // `| head` has what it wanted
    io.stderr.write(`rangecache: ${errorLine(e)}\n`);
    return exitCodeFor(e);
  }
}
