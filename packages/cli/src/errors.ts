/**
 * Exit codes and the one-line error report: every failure of a command ends as one line on stderr and an exit
 * code from {@link ExitCode}, never a stack trace.
 */
import { ConfigError, InvalidPathError, InvalidRangeError, ObjectNotFoundError, RangecacheError, StoreError } from '@rangecache/core';

/** The exit codes of `rangecache`, stable for scripts. */
export const ExitCode = {
  /** Done. */
  OK: 0,
  /** The origin, Redis or the local system failed (or, for `warm`, some cache writes did). */
  FAILURE: 1,
  /** Bad usage: an unknown command or flag, a bad value, a bad range, a path no fetcher serves. */
  USAGE: 2,
  /** `purge` refused: it needed a confirmation it could not ask for (no terminal, no `--yes`) or did not get. */
  REFUSED: 3,
  /** The object (or reference file) does not exist at the origin. */
  NOT_FOUND: 4,
  /** Interrupted (SIGINT). */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI itself raises, with the exit code it ends the process with. */
export class CliError extends Error {
  /**
   * @param message - The one line printed on stderr (after `rangecache: `).
   * @param exitCode - One of {@link ExitCode}.
   */
  constructor(message: string, readonly exitCode: ExitCodeValue = ExitCode.FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** A bad argument or flag value: exit code {@link ExitCode.USAGE}. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.USAGE);
    this.name = 'UsageError';
  }
}

/** Whether `e` is the rejection of an aborted operation (Ctrl-C, or stdout closed under `cat`). */
export function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

/**
 * The exit code for an error a command ended with: a {@link CliError}'s own, 4 for an object that does not
 * exist, 2 for input no fetcher or reader accepts (a bad range, an unknown URL scheme, a bad option value), 130
 * for an interruption, and 1 for everything else (origin, Redis, file system).
 *
 * @example
 * ```ts
 * exitCodeFor(new InvalidRangeError('x', { start: 5, end: 1 }, 'end < start')); // 2
 * ```
 */
export function exitCodeFor(e: unknown): ExitCodeValue {
  if (e instanceof CliError) return e.exitCode;
  if (isAbort(e)) return ExitCode.INTERRUPTED;
  if (ObjectNotFoundError.is(e)) return ExitCode.NOT_FOUND;
  if (InvalidRangeError.is(e) || InvalidPathError.is(e) || ConfigError.is(e)) return ExitCode.USAGE;
  return ExitCode.FAILURE;
}

/**
 * `e` as one line for stderr: its message with line breaks folded, and for a Redis failure the word `Redis` in
 * front, so that the reader of the line knows which side failed. No stack trace.
 *
 * @example
 * ```ts
 * errorLine(new Error('a\nb')); // 'a b'
 * ```
 */
export function errorLine(e: unknown): string {
  if (isAbort(e)) return 'interrupted';
  let message = e instanceof Error ? e.message : String(e);
  if (StoreError.is(e)) message = `Redis: ${message}`;
  else if (RangecacheError.is(e) && e.code === 'ERR_RANGECACHE_REFERENCE_FORMAT') message = `bad references: ${message}`;
  else if (RangecacheError.is(e) === false && e instanceof Error && message === '') message = e.name;
  return message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
