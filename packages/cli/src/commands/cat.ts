/**
 * `rangecache cat <url> [--range FIRST-LAST]`: writes an object, or a range of it, to stdout through the cache.
 * Nothing but the bytes goes to stdout. When Redis cannot be reached the bytes come from the origin (the cache
 * fails open) and one warning goes to stderr.
 */
import type { Command } from 'commander';
import { readerOptions, redisOptions, s3Options, targetOf, type CommonFlags } from '../config.js';
import { errorLine } from '../errors.js';
import { type CliIo, println, write } from '../io.js';
import { parseRange, resolveRange } from '../range.js';
import { Session } from '../session.js';

interface CatFlags extends CommonFlags {
  range?: string;
}

/** Adds the `cat` command to `program`. */
export function defineCat(program: Command, io: CliIo): void {
  const command = program
    .command('cat')
    .description('write an object, or a range of it, to stdout through the cache')
    .argument('<url>', 'the object: s3://bucket/key, http(s)://host/path, file:///path or a local path')
    .option('-r, --range <range>', 'only these bytes: FIRST-LAST (both included, as in HTTP), FIRST- (to the end) or -N (the last N)');
  redisOptions(command);
  readerOptions(command, { ttl: true });
  s3Options(command);
  command.addHelpText('after', `
If Redis cannot be reached, cat reads from the origin without the cache (with a warning on stderr).

Examples:
  rangecache cat s3://bucket/data.bin --range 0-1023 > head.bin
  rangecache cat https://example.com/file.nc --range -8 | xxd`);
  command.action((url: string, flags: CatFlags) => runCat(io, url, flags));
}

/**
 * Runs `cat`: stats the object through the cache, then streams `[start, end)` to stdout, waiting for stdout to
 * drain whenever it asks (a slow consumer slows the reads, never the memory).
 */
export async function runCat(io: CliIo, url: string, flags: CatFlags): Promise<void> {
  const range = flags.range === undefined ? undefined : parseRange(flags.range);
  const session = await Session.open(io, flags, { redis: 'optional', origins: true });
  try {
    const reader = session.reader('block');
    let warned = session.redis === undefined;
    reader.on('storeError', (e) => {
      if (warned) return;
      warned = true;
      println(io.stderr, `rangecache: warning: ${errorLine(e)}; reading from the origin`);
    });
    const path = targetOf(url);
    const { size } = await reader.stat(path, { signal: io.signal });
    const { start, end } = resolveRange(range, size, path);
    if (end <= start) return;
    for await (const chunk of reader.stream(path, { start, end, signal: io.signal })) await write(io.stdout, chunk, io.signal);
  } finally {
    await session.close();
  }
}
