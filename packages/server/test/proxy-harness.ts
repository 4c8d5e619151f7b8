// A proxy for tests: a real HTTP origin, a real redis-server, a reader over them (HttpFetcher following only
// allowed redirects, timed for the metrics) and the handler on a real port through @rangecache/server/node.
import { AsyncCachingReader } from '@rangecache/core';
import { HttpFetcher } from '@rangecache/http';
import { RedisStore } from '@rangecache/redis';
import { AllowList, createRangeHandler, ServerMetrics, type RangeHandler, type RangeHandlerOptions } from '@rangecache/server';
import { listen, type NodeRangeServer } from '@rangecache/server/node';
import { type HttpOrigin, startHttpOrigin, startRedis, type RedisServerHandle } from '@rangecache/test-support';

export interface Proxy {
  readonly origin: HttpOrigin;
  readonly redis: RedisServerHandle;
  readonly reader: AsyncCachingReader;
  readonly handler: RangeHandler;
  readonly server: NodeRangeServer;
  /** The proxy URL of the origin object `name`. */
  url(name: string): string;
  stop(): Promise<void>;
}

let namespaces = 0;

/** Starts origin, Redis and proxy; `options` go to createRangeHandler. */
export async function startProxy(options: Partial<Omit<RangeHandlerOptions, 'reader'>> & { blockSize?: number } = {}): Promise<Proxy> {
  const origin = await startHttpOrigin();
  const redis = await startRedis();
  const client = await redis.client();
  const allow = new AllowList(options.allow instanceof AllowList ? options.allow.prefixes : (options.allow ?? [`${origin.baseUrl}/`]));
  const metrics = new ServerMetrics();
  const fetcher = new HttpFetcher({ followRedirect: (u) => allow.allows(u), retry: { retries: 1, minDelayMs: 10 } });
  const store = new RedisStore({ client });
  const reader = new AsyncCachingReader({
    fetcher: metrics.timeFetcher(fetcher), store: metrics.timeStore(store), blockSize: options.blockSize ?? 64 * 1024, namespace: `proxy-${process.pid}-${++namespaces}`,
  });
  const handler = createRangeHandler({ ...options, reader, allow, metrics });
  const server = await listen(handler, { port: 0 });
  const host = origin.baseUrl.replace('http://', '');
  return {
    origin, redis, reader, handler, server,
    url: (name) => `${server.url}/http/${host}/${name}`,
    async stop() {
      await server.close({ timeoutMs: 1000 });
      await reader.close();
      await store.close();
      await fetcher.close();
      await redis.stop();
      await origin.stop();
    },
  };
}

/** The parts of a `multipart/byteranges` body: each part's Content-Range and bytes. */
export function parseMultipart(body: Buffer, contentType: string): { range: string; type: string; bytes: Buffer }[] {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const parts: { range: string; type: string; bytes: Buffer }[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const afterDelimiter = at + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', afterDelimiter);
    const head = body.subarray(afterDelimiter + 2, headEnd).toString();
    const range = /content-range: *(.*)/i.exec(head)?.[1]?.trim() ?? '';
    const type = /content-type: *(.*)/i.exec(head)?.[1]?.trim() ?? '';
    const [, first, last] = /bytes (\d+)-(\d+)\//.exec(range) ?? [];
    const length = Number(last) - Number(first) + 1;
    const start = headEnd + 4;
    parts.push({ range, type, bytes: body.subarray(start, start + length) });
    at = body.indexOf(delimiter, start + length);
    if (body.subarray(start + length, start + length + 2).toString() !== '\r\n') throw new Error('a part does not end with CRLF before the next delimiter');
  }
  return parts;
}
