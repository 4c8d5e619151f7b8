/**
 * `rangecache purge <url>`: removes cached entries of one object (every version, both modes, its metadata), of
 * every object under a URL prefix (`--prefix`, or a trailing `*`), or of a whole namespace (`--all`). It counts
 * the keys first (SCAN, on every master of a cluster), asks before deleting more than `--confirm-above` of them,
 * and deletes with `RedisStore#deleteByPrefix` (SCAN and UNLINK, never KEYS).
 */
import { encodeKeyField, namespacePrefix, sourcePrefix } from '@rangecache/core/store-kit';
import type { Command } from 'commander';
import { redisOptions, redisSettings, targetOf, type CommonFlags } from '../config.js';
import { canAsk, confirm } from '../confirm.js';
import { CliError, ExitCode, UsageError } from '../errors.js';
import { type CliIo, println } from '../io.js';
import { Session } from '../session.js';
import { parseInteger } from '../units.js';

interface PurgeFlags extends CommonFlags {
  prefix?: boolean;
  all?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  confirmAbove?: string;
}

/** Adds the `purge` command to `program`. */
export function definePurge(program: Command, io: CliIo): void {
  const command = program
    .command('purge')
    .description('remove cached entries of an object, of every object under a URL prefix, or of a namespace')
    .argument('[target]', 'an object (s3://bucket/key, http(s)://…, file:// or a path), or with --prefix (or ending in *) the start of such URLs')
    .option('-p, --prefix', 'TARGET is a prefix: purge every object whose URL starts with it')
    .option('--all', 'purge every key of the namespace (its entries and its shared counters)')
    .option('-y, --yes', 'do not ask, however many keys')
    .option('--dry-run', 'count the keys that would go, delete nothing')
    .option('--confirm-above <n>', 'ask before deleting more than this many keys', '1000');
  redisOptions(command);
  command.addHelpText('after', `
Without a terminal to ask on and without --yes, a purge of more than --confirm-above keys is refused
(exit code 3); so is one that is not confirmed. A prefix is compared with the cached objects' URLs as the cache
spells them (scheme and host in lower case, without credentials; local paths absolute).

Examples:
  rangecache purge s3://bucket/data.bin
  rangecache purge --prefix s3://bucket/2024/ --dry-run
  rangecache purge 'https://example.com/tiles/*' --yes
  rangecache purge --all --namespace scratch --yes`);
  command.action((target: string | undefined, flags: PurgeFlags) => runPurge(io, target, flags));
}

/** The key prefix a purge deletes, and how to say what it is. */
function keyPrefix(target: string | undefined, flags: PurgeFlags, namespace: string): { prefix: string; what: string } {
  if (flags.all) {
    if (target !== undefined || flags.prefix) throw new UsageError('--all takes no target and no --prefix');
    return { prefix: namespacePrefix(namespace), what: `namespace "${namespace}"` };
  }
  if (target === undefined || target === '') throw new UsageError('purge needs a target (an object, or a prefix with --prefix), or --all');
  const star = target.endsWith('*');
  if (flags.prefix || star) {
    const literal = star ? target.slice(0, -1) : target;
    if (literal === '') throw new UsageError('an empty prefix would purge the whole namespace: use --all for that');
    const source = targetOf(literal);
    return { prefix: `${namespacePrefix(namespace)}{${encodeKeyField(source)}`, what: `objects under ${source}` };
  }
  const source = targetOf(target);
  return { prefix: sourcePrefix(namespace, source), what: source };
}

/** Runs `purge`. */
export async function runPurge(io: CliIo, target: string | undefined, flags: PurgeFlags): Promise<void> {
  const threshold = parseInteger('--confirm-above', flags.confirmAbove ?? '1000', 0, Number.MAX_SAFE_INTEGER);
  const { prefix, what } = keyPrefix(target, flags, redisSettings(flags, io.env).namespace);
  const session = await Session.open(io, flags, { redis: 'required', origins: false });
  try {
    const { store } = session.requiredRedis;
    let count = 0;
    for await (const keys of store.scan(prefix)) {
      io.signal?.throwIfAborted();
      count += keys.length;
    }
    if (count === 0) {
      println(io.stdout, `nothing to purge: no keys for ${what}`);
      return;
    }
    if (flags.dryRun) {
      println(io.stdout, `would delete ${count} keys for ${what} (dry run)`);
      return;
    }
    if (count > threshold && !flags.yes) {
      if (!canAsk(io)) {
        throw new CliError(`refusing to delete ${count} keys for ${what} without confirmation (more than ${threshold}, and no terminal to ask on): pass --yes`, ExitCode.REFUSED);
      }
      if (!(await confirm(io, `Delete ${count} keys for ${what} from ${session.redisUrl}?`))) throw new CliError('purge not confirmed; nothing deleted', ExitCode.REFUSED);
    }
    const deleted = await store.deleteByPrefix(prefix);
    println(io.stdout, `deleted ${deleted} keys for ${what}`);
  } finally {
    await session.close();
  }
}
