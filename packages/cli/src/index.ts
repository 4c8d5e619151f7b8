/**
 * `@rangecache/cli`: the `rangecache` command (`npx rangecache --help`). This entry exposes its run as a function,
 * for embedding it or driving it from another program.
 *
 * @example
 * ```ts
 * import { main } from '@rangecache/cli';
 * process.exitCode = await main(['stats', '--json'], { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
 * ```
 * @packageDocumentation
 */
export { buildProgram, main } from './main.js';
export { CliError, ExitCode, UsageError, errorLine, exitCodeFor } from './errors.js';
export type { ExitCodeValue } from './errors.js';
export type { CliIo, OutputStream } from './io.js';
