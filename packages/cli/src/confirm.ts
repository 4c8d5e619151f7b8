/** Asking the person at the terminal a yes/no question. */
import { createInterface } from 'node:readline/promises';
import type { CliIo } from './io.js';

/** Whether a question can be asked: stdin and stderr (where it is asked) are both terminals. */
export function canAsk(io: CliIo): boolean {
  return io.stdin.isTTY === true && io.stderr.isTTY === true;
}

/**
 * Asks `question` on stderr and reads the answer from stdin: `true` for y or yes (any case), `false` for
 * anything else, an empty line or end of input.
 *
 * @example
 * ```ts
 * if (!(await confirm(io, 'Delete 5000 keys?'))) return;
 * ```
 */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: io.stdin.isTTY === true });
  try {
    const answer = await rl.question(`${question} [y/N] `, io.signal ? { signal: io.signal } : {});
    return /^\s*y(es)?\s*$/i.test(answer);
  } catch (e) {
    if (io.signal?.aborted) throw e;
    return false; // input closed
  } finally {
    rl.close();
  }
}
