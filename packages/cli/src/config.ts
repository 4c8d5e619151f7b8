/**
 * The settings shared by the commands (Redis, namespace, block size, TTL, S3), from flags and environment
 * variables, and the flags that set them. A flag wins over its environment variable, which wins over the default.
 */
import { isAbsolute, resolve } from 'node:path';
import { AsyncCachingReader, FileFetcher } from '@rangecache/core';
import type { Command } from 'commander';
import { UsageError } from './errors.js';
import { parseBytes, parseDuration } from './units.js';

/** Where Redis is when neither `--redis-url` nor `REDIS_URL` says. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The reader's own defaults (namespace, block size, TTL), read from `@rangecache/core` so they never drift. */
export function coreDefaults(): { namespace: string; blockSize: number; ttlMs: number | false } {
  const { namespace, blockSize, ttlMs } = new AsyncCachingReader({ fetcher: new FileFetcher() }).options;
  return { namespace, blockSize, ttlMs };
}

/** How to reach Redis, and which part of it is ours. */
export interface RedisSettings {
  readonly url: string;
  /** `true`: `--cluster` was given (no detection); `false`: detect with `INFO cluster`. */
  readonly cluster: boolean;
  readonly namespace: string;
}

/** How the reader caches. */
export interface ReaderSettings {
  readonly blockSize: number;
  readonly ttlMs: number | false;
}

/** How S3 is reached (see {@link S3Settings}). */
export interface S3Settings {
  /** AWS region (`--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`; default `us-east-1`). */
  readonly region: string;
  /** An S3-compatible endpoint (`--endpoint`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`); path-style addressing with it. */
  readonly endpoint: string | undefined;
  /** Unsigned requests, for public buckets (`--anon`). */
  readonly anonymous: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Adds `--redis-url`, `--cluster` and `--namespace` to `command`. */
export function redisOptions(command: Command): Command {
  const { namespace } = coreDefaults();
  return command
    .option('--redis-url <url>', `Redis to use (env REDIS_URL; default ${DEFAULT_REDIS_URL})`)
    .option('--cluster', 'treat it as a Redis Cluster without asking it (default: detected with INFO cluster)')
    .option('-n, --namespace <name>', `cache namespace (env RANGECACHE_NAMESPACE; default "${namespace}")`);
}

/** Adds `--block-size` (and, with `ttl`, `--ttl`) to `command`. */
export function readerOptions(command: Command, { ttl }: { ttl: boolean }): Command {
  const d = coreDefaults();
  command.option('--block-size <bytes>', `block size of the readers whose entries to use, e.g. 65536 or 1MiB (env RANGECACHE_BLOCK_SIZE; default ${d.blockSize})`);
  if (ttl) command.option('--ttl <duration>', `time to live of what gets cached: ms, or with a unit (90s, 30m, 2h, 1d), or "none" (env RANGECACHE_TTL; default ${d.ttlMs === false ? 'none' : `${d.ttlMs / 1000}s`})`);
  return command;
}

/** Adds `--region`, `--endpoint` and `--anon` (for `s3://` URLs) to `command`. */
export function s3Options(command: Command): Command {
  return command
    .option('--region <region>', 'AWS region for s3:// URLs (env AWS_REGION or AWS_DEFAULT_REGION; default us-east-1)')
    .option('--endpoint <url>', 'S3-compatible endpoint for s3:// URLs, addressed path-style (env AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)')
    .option('--anon', 'send unsigned S3 requests, for public buckets (no credentials needed)');
}

/** The values commander parsed for the flags above (absent: not given). */
export interface CommonFlags {
  redisUrl?: string;
  cluster?: boolean;
  namespace?: string;
  blockSize?: string;
  ttl?: string;
  region?: string;
  endpoint?: string;
  anon?: boolean;
}

/** The Redis settings from flags and environment. */
export function redisSettings(flags: CommonFlags, env: Env): RedisSettings {
  const url = flags.redisUrl ?? nonEmpty(env['REDIS_URL']) ?? DEFAULT_REDIS_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--redis-url: not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new UsageError(`--redis-url: expected redis://host:port or rediss://host:port, got ${redactUrl(url)}`);
  const namespace = flags.namespace ?? nonEmpty(env['RANGECACHE_NAMESPACE']) ?? coreDefaults().namespace;
  return { url, cluster: flags.cluster === true, namespace };
}

/** Whether a Redis was named (`--redis-url` or `REDIS_URL`), as against the default URL. */
export function redisUrlChosen(flags: CommonFlags, env: Env): boolean {
  return flags.redisUrl !== undefined || nonEmpty(env['REDIS_URL']) !== undefined;
}

/** Whether the namespace was chosen (flag or environment), as against the default. */
export function namespaceChosen(flags: CommonFlags, env: Env): boolean {
  return flags.namespace !== undefined || nonEmpty(env['RANGECACHE_NAMESPACE']) !== undefined;
}

/** The reader settings from flags and environment. */
export function readerSettings(flags: CommonFlags, env: Env): ReaderSettings {
  const d = coreDefaults();
  const blockText = flags.blockSize ?? nonEmpty(env['RANGECACHE_BLOCK_SIZE']);
  const blockSize = blockText === undefined ? d.blockSize : parseBytes('--block-size', blockText);
  if (blockSize < 1 || blockSize > 512 * 1024 * 1024) throw new UsageError(`--block-size: must be from 1 byte to 512 MiB, got ${blockSize}`);
  const ttlText = flags.ttl ?? nonEmpty(env['RANGECACHE_TTL']);
  return { blockSize, ttlMs: ttlText === undefined ? d.ttlMs : parseDuration('--ttl', ttlText) };
}

/** The S3 settings from flags and environment. */
export function s3Settings(flags: CommonFlags, env: Env): S3Settings {
  const endpoint = flags.endpoint ?? nonEmpty(env['AWS_ENDPOINT_URL_S3']) ?? nonEmpty(env['AWS_ENDPOINT_URL']);
  if (endpoint !== undefined && !/^https?:\/\/[^/]/i.test(endpoint)) throw new UsageError(`--endpoint: expected http(s)://host[:port], got ${JSON.stringify(endpoint)}`);
  return {
    region: flags.region ?? nonEmpty(env['AWS_REGION']) ?? nonEmpty(env['AWS_DEFAULT_REGION']) ?? 'us-east-1',
    endpoint,
    anonymous: flags.anon === true,
  };
}

/**
 * What a command-line argument names, as the reader and the cache keys spell it: URLs (`s3://`, `https://`,
 * `file://`) as they are, local paths made absolute (a trailing `/` is kept, for prefixes).
 *
 * @example
 * ```ts
 * targetOf('data/x.bin'); // '/current/dir/data/x.bin'
 * ```
 */
export function targetOf(arg: string): string {
  if (/^[a-z][a-z0-9+.-]+:/i.test(arg)) return arg;
  const absolute = isAbsolute(arg) ? arg : resolve(arg);
  return arg.endsWith('/') && !absolute.endsWith('/') ? `${absolute}/` : absolute;
}

/** `url` with its password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href.replace(/\/$/, '');
  } catch {
    return url;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
