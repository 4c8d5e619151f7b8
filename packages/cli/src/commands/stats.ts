/**
 * `rangecache stats`: per namespace, the Redis memory its keys use (SCAN of `rangecache:v2:*` on every master,
 * `MEMORY USAGE` per key, summed) split by kind of entry, and the counters its readers publish with
 * `sharedStats` (the hash `rangecache:v2:<namespace>:stats`).
 */
import { namespacePrefix, statsKey } from '@rangecache/core/store-kit';
import type { Command } from 'commander';
import { namespaceChosen, redisOptions, redisSettings, type CommonFlags } from '../config.js';
import { type CliIo, println } from '../io.js';
import { Session } from '../session.js';
import { formatBytes } from '../units.js';

interface StatsFlags extends CommonFlags {
  json?: boolean;
}

/** Kinds of keys, told apart by their layout (see `@rangecache/core`'s keys.ts), in the order they are printed. */
const KINDS = ['blocks', 'chunks', 'metadata', 'leases', 'stats', 'other'] as const;
type Kind = (typeof KINDS)[number];

/** One namespace's part of `stats` (also its `--json` output). */
export interface NamespaceStats {
  namespace: string;
  keys: number;
  memoryBytes: number;
  kinds: Partial<Record<Kind, { keys: number; memoryBytes: number }>>;
  /** The readers' shared counters (field name to value), empty when none were published. */
  counters: Record<string, number>;
}

/** Adds the `stats` command to `program`. */
export function defineStats(program: Command, io: CliIo): void {
  const command = program
    .command('stats')
    .description("show Redis memory used per namespace, and the hit/miss counters readers publish (sharedStats)")
    .option('--json', 'print one JSON object instead of lines');
  redisOptions(command);
  command.addHelpText('after', `
Every namespace is shown unless --namespace (or RANGECACHE_NAMESPACE) picks one. Counters appear for readers
made with sharedStats: true (cat and warm publish theirs). Memory is Redis's MEMORY USAGE of each key.

Example:
  rangecache stats --redis-url redis://cache.internal:6379`);
  command.action((flags: StatsFlags) => runStats(io, flags));
}

/** `rangecache:v2:`, the start of every key (the prefix of the empty namespace, less its separator). */
const ROOT = namespacePrefix('').slice(0, -1);

function kindOf(key: string, namespace: string): Kind {
  if (key.endsWith(':lease')) return 'leases';
  if (key.includes('}:b:')) return 'blocks';
  if (key.includes('}:c:')) return 'chunks';
  if (key.endsWith(':meta}')) return 'metadata';
  if (key === statsKey(namespace)) return 'stats';
  return 'other';
}

/** Runs `stats`. */
export async function runStats(io: CliIo, flags: StatsFlags): Promise<void> {
  const only = namespaceChosen(flags, io.env) ? redisSettings(flags, io.env).namespace : undefined;
  const session = await Session.open(io, flags, { redis: 'required', origins: false });
  try {
    const redis = session.requiredRedis;
    const byNamespace = new Map<string, NamespaceStats>();
    const entry = (namespace: string): NamespaceStats => {
      let s = byNamespace.get(namespace);
      if (!s) byNamespace.set(namespace, (s = { namespace, keys: 0, memoryBytes: 0, kinds: {}, counters: {} }));
      return s;
    };
    if (only !== undefined) entry(only);
    for await (const keys of redis.store.scan(only === undefined ? ROOT : namespacePrefix(only))) {
      io.signal?.throwIfAborted();
      const sizes = await Promise.all(keys.map((k) => redis.keys.memoryUsage(k)));
      keys.forEach((key, i) => {
        const size = sizes[i];
        if (size === null || size === undefined) return; // gone since the SCAN
        const end = key.indexOf(':', ROOT.length);
        if (end < 0) return;
        const namespace = decodeURIComponent(key.slice(ROOT.length, end));
        const s = entry(namespace);
        const kind = (s.kinds[kindOf(key, namespace)] ??= { keys: 0, memoryBytes: 0 });
        s.keys++;
        s.memoryBytes += size;
        kind.keys++;
        kind.memoryBytes += size;
      });
    }
    const all = [...byNamespace.values()].sort((a, b) => a.namespace.localeCompare(b.namespace));
    await Promise.all(all.map(async (s) => {
      const fields = await redis.keys.hGetAll(statsKey(s.namespace));
      for (const [name, value] of Object.entries(fields)) s.counters[name] = Number(value);
    }));
    if (flags.json) {
      println(io.stdout, JSON.stringify({ redis: session.redisUrl, cluster: redis.cluster, namespaces: all }));
      return;
    }
    println(io.stdout, `redis: ${session.redisUrl}${redis.cluster ? ' (cluster)' : ''}`);
    if (all.length === 0) println(io.stdout, 'no rangecache keys');
    for (const s of all) {
      println(io.stdout, `namespace ${JSON.stringify(s.namespace)}: ${s.keys} keys, ${s.memoryBytes} bytes (${formatBytes(s.memoryBytes)})`);
      for (const kind of KINDS) {
        const k = s.kinds[kind];
        if (k) println(io.stdout, `  ${kind}: ${k.keys} keys, ${k.memoryBytes} bytes (${formatBytes(k.memoryBytes)})`);
      }
      const c = s.counters;
      if (Object.keys(c).length === 0) {
        println(io.stdout, '  counters: none published');
        continue;
      }
      const lookups = (c['hits'] ?? 0) + (c['misses'] ?? 0);
      println(io.stdout, `  hit ratio: ${lookups === 0 ? '-' : `${((100 * (c['hits'] ?? 0)) / lookups).toFixed(1)}%`}`);
      for (const [name, value] of Object.entries(c).sort(([a], [b]) => a.localeCompare(b))) println(io.stdout, `  ${name}: ${value}`);
    }
  } finally {
    await session.close();
  }
}
