/**
 * `rangecache stat <url>`: the object's size and version (as the cache's readers see them), and which of its
 * blocks are cached, with their remaining TTLs: one `PTTL` per block key, sent concurrently (node-redis
 * pipelines them; on a cluster each goes to its key's master).
 */
import { blockKey, metaKey, versionPrefix } from '@rangecache/core/store-kit';
import type { Command } from 'commander';
import { readerOptions, redisOptions, s3Options, targetOf, type CommonFlags } from '../config.js';
import type { KeyCommands } from '../connections.js';
import { type CliIo, println } from '../io.js';
import { Session } from '../session.js';
import { formatBytes, formatDuration } from '../units.js';

interface StatFlags extends CommonFlags {
  json?: boolean;
}

/** What `stat` reports (also its `--json` output). */
export interface StatReport {
  url: string;
  namespace: string;
  size: number;
  version: string;
  blockSize: number;
  blocks: number;
  cachedBlocks: number;
  cachedBytes: number;
  /** Remaining TTL of the cached blocks that expire, ms (`null`: none cached, or none expires). */
  minTtlMs: number | null;
  maxTtlMs: number | null;
  /** Cached blocks without an expiry (written with `--ttl none`). */
  persistentBlocks: number;
  /** Remaining TTL of the cached metadata, ms (`null`: not cached; -1: no expiry). */
  metaTtlMs: number | null;
}

/** Adds the `stat` command to `program`. */
export function defineStat(program: Command, io: CliIo): void {
  const command = program
    .command('stat')
    .description("show an object's size and version, how many of its blocks are cached, and their TTLs")
    .argument('<url>', 'the object: s3://bucket/key, http(s)://host/path, file:///path or a local path')
    .option('--json', 'print one JSON object instead of lines');
  redisOptions(command);
  readerOptions(command, { ttl: false });
  s3Options(command);
  command.addHelpText('after', `
Blocks are counted for --block-size, which must be the block size of the readers that cached them.
Size and version come through the cache's metadata (from the origin when it is not cached).

Example:
  rangecache stat s3://bucket/data.bin --block-size 1MiB`);
  command.action((url: string, flags: StatFlags) => runStat(io, url, flags));
}

/** Remaining TTLs of `keys` (PTTL: -2 missing, -1 no expiry), asked in windows of 1000 concurrent commands. */
async function ttls(keys: KeyCommands, list: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < list.length; i += 1000) out.push(...(await Promise.all(list.slice(i, i + 1000).map((k) => keys.pTTL(k)))));
  return out;
}

/** Runs `stat`. */
export async function runStat(io: CliIo, url: string, flags: StatFlags): Promise<void> {
  const session = await Session.open(io, flags, { redis: 'required', origins: true });
  try {
    const path = targetOf(url);
    const reader = session.reader('block', { sharedStats: false });
    const meta = await reader.stat(path, { signal: io.signal });
    const { namespace } = session.redisSettings;
    const { blockSize } = reader;
    const blocks = Math.ceil(meta.size / blockSize);
    const prefix = versionPrefix(namespace, path, meta.version);
    const redis = session.requiredRedis;
    const blockTtls = await ttls(redis.keys, Array.from({ length: blocks }, (_, i) => blockKey(prefix, blockSize, i)));
    await reader.flush(); // the metadata the stat may have cached
    const [metaTtl] = await ttls(redis.keys, [metaKey(namespace, path)]);
    let cachedBlocks = 0;
    let cachedBytes = 0;
    let persistentBlocks = 0;
    let minTtlMs: number | null = null;
    let maxTtlMs: number | null = null;
    blockTtls.forEach((ttl, i) => {
      if (ttl === -2) return;
      cachedBlocks++;
      cachedBytes += Math.min(blockSize, meta.size - i * blockSize);
      if (ttl === -1) {
        persistentBlocks++;
        return;
      }
      minTtlMs = minTtlMs === null ? ttl : Math.min(minTtlMs, ttl);
      maxTtlMs = maxTtlMs === null ? ttl : Math.max(maxTtlMs, ttl);
    });
    const report: StatReport = {
      url: path, namespace, size: meta.size, version: meta.version, blockSize, blocks, cachedBlocks, cachedBytes,
      minTtlMs, maxTtlMs, persistentBlocks, metaTtlMs: metaTtl === undefined || metaTtl === -2 ? null : metaTtl,
    };
    if (flags.json) {
      println(io.stdout, JSON.stringify(report));
      return;
    }
    const ttl = (ms: number | null): string => (ms === null ? '-' : ms === -1 ? 'no expiry' : formatDuration(ms));
    const percent = blocks === 0 ? '' : ` (${((100 * cachedBlocks) / blocks).toFixed(1)}%)`;
    println(io.stdout, `url: ${report.url}`);
    println(io.stdout, `namespace: ${namespace}`);
    println(io.stdout, `size: ${report.size}`);
    println(io.stdout, `version: ${report.version}`);
    println(io.stdout, `block size: ${blockSize}`);
    println(io.stdout, `blocks: ${blocks}`);
    println(io.stdout, `cached blocks: ${cachedBlocks}${percent}`);
    println(io.stdout, `cached bytes: ${cachedBytes} (${formatBytes(cachedBytes)})`);
    println(io.stdout, `ttl min: ${ttl(minTtlMs)}`);
    println(io.stdout, `ttl max: ${ttl(maxTtlMs)}`);
    if (persistentBlocks > 0) println(io.stdout, `blocks without expiry: ${persistentBlocks}`);
    println(io.stdout, `metadata ttl: ${ttl(report.metaTtlMs)}`);
  } finally {
    await session.close();
  }
}
