/**
 * `rangecache serve`: the HTTP range proxy of `@rangecache/server` on a port, reading through the shared cache.
 * It serves until SIGTERM or Ctrl-C, then shuts down gracefully: it stops accepting, lets in-flight responses
 * finish, and closes the reader so that pending cache writes land.
 */
import type { Command } from 'commander';
import { ConfigError } from '@rangecache/core';
import { allowWithMounts, CorsPolicy, createRangeHandler, parseMounts, ServerMetrics } from '@rangecache/server';
import { listen } from '@rangecache/server/node';
import { readerOptions, redisOptions, s3Options, type CommonFlags } from '../config.js';
import { errorLine, UsageError } from '../errors.js';
import { type CliIo, println } from '../io.js';
import { Session } from '../session.js';
import { parseInteger } from '../units.js';

interface ServeFlags extends CommonFlags {
  port: string;
  host: string;
  allow: string[];
  mount: string[];
  cors: string[];
  cacheControl?: string;
  shutdownTimeout: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Adds the `serve` command to `program`. */
export function defineServe(program: Command, io: CliIo): void {
  const command = program
    .command('serve')
    .description('serve objects over HTTP with Range support, through the cache (GDAL /vsicurl/, fsspec, browsers, curl)')
    .option('-p, --port <port>', 'port to listen on (0: any free one)', '8080')
    .option('--host <address>', 'address to bind (0.0.0.0 or :: to serve other machines)', '127.0.0.1')
    .option('-a, --allow <prefix>', 'an origin URL prefix it may read, such as https://data.example.com/ or s3://bucket/ (repeatable; at least one, or a --mount)', collect, [])
    .option('-m, --mount <name=prefix>', 'serve /<name>/<rest> from <prefix><rest> (repeatable; the prefix is allowed)', collect, [])
    .option('--cors <origin>', 'a page origin browsers may read from, such as https://app.example.com, or * for any (repeatable)', collect, [])
    .option('--cache-control <value>', 'Cache-Control of object responses', 'no-cache')
    .option('--shutdown-timeout <ms>', 'on SIGTERM, how long in-flight responses may take to finish', '30000');
  redisOptions(command);
  readerOptions(command, { ttl: true });
  s3Options(command);
  command.addHelpText('after', `
Paths: /<scheme>/<host>/<path> reads <scheme>://<host>/<path> (http, https, s3), /<mount>/<path> a mount;
/healthz answers "ok" (503 while shutting down), /metrics the Prometheus metrics.
Without --redis-url or REDIS_URL the cache is in this process's memory; with one, Redis must be reachable at start.
Redirects are followed only to allowed URLs.

Examples:
  rangecache serve --allow https://data.example.com/ --redis-url redis://cache:6379
  rangecache serve --mount era5=s3://bucket/era5/ --port 9000 --cors '*'
  gdalinfo /vsicurl/http://127.0.0.1:8080/https/data.example.com/dem.tif`);
  command.action((flags: ServeFlags) => runServe(io, flags));
}

/** Runs the server until `io.signal` aborts (SIGTERM, Ctrl-C), then shuts it down. */
export async function runServe(io: CliIo, flags: ServeFlags): Promise<void> {
  const port = parseInteger('--port', flags.port, 0, 65_535);
  const shutdownMs = parseInteger('--shutdown-timeout', flags.shutdownTimeout, 0, 600_000);
  if (flags.allow.length === 0 && flags.mount.length === 0) {
    throw new UsageError('serve needs at least one --allow <prefix> (or --mount): it will not run as an open proxy');
  }
  // Every setting is checked before anything connects; mounted prefixes are allowed, for redirects as for requests.
  const { mounts, allow, cors } = usage(() => {
    const mounts = parseMounts(flags.mount);
    return {
      mounts,
      allow: allowWithMounts(flags.allow, mounts),
      cors: flags.cors.length === 0 ? undefined : new CorsPolicy({ origins: flags.cors.includes('*') ? '*' : flags.cors }),
    };
  });
  const metrics = new ServerMetrics();
  const session = await Session.open(io, flags, { redis: 'if-named', origins: true, persistent: true, followRedirect: (url) => allow.allows(url) });
  try {
    const reader = session.reader('block', { instruments: { store: (s) => metrics.timeStore(s), fetcher: (f) => metrics.timeFetcher(f) } });
    const handler = createRangeHandler({
      reader, allow, mounts, cors: cors ?? false, metrics,
      cacheControl: flags.cacheControl === '' ? false : (flags.cacheControl ?? 'no-cache'),
      onError: (e, request) => println(io.stderr, `rangecache serve: ${request.method} ${new URL(request.url).pathname}: ${errorLine(e)}`),
    });
    const server = await listen(handler, { port, host: flags.host });
    println(io.stderr, `rangecache serve: listening on ${server.url} (cache: ${session.redis ? session.redisUrl : 'in-process memory'}; allowed: ${allow.prefixes.join(' ')})`);
    await new Promise<void>((resolve) => {
      if (io.signal?.aborted) return resolve();
      io.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    println(io.stderr, 'rangecache serve: shutting down');
    await server.close({ timeoutMs: shutdownMs });
  } finally {
    await session.close();
  }
}

/** `make()`, with a `ConfigError` (a bad prefix, mount or origin) turned into a usage error (exit code 2). */
function usage<T>(make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}
