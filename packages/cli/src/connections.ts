/**
 * The connection to Redis: a single node or a Redis Cluster (detected with `INFO cluster`, or forced with
 * `--cluster`), and the `RedisStore` over it. A CLI run is short: connecting fails fast (no retries before the
 * first connection), a connection lost later is retried a few times, and `close()` ends everything so that
 * the process can exit.
 */
import type { RedisClient, RedisStore } from '@rangecache/redis';
import { CliError, ExitCode } from './errors.js';
import { redactUrl, type RedisSettings } from './config.js';

/** The commands the CLI sends itself (on a cluster node-redis routes each by its key's slot). */
export interface KeyCommands {
  pTTL(key: string): Promise<number>;
  memoryUsage(key: string): Promise<number | null>;
  hGetAll(key: string): Promise<Record<string, string>>;
}

/** A connected Redis (node or cluster) with its store. */
export interface RedisConnection {
  /** The URL without its password, for messages. */
  readonly url: string;
  /** Whether it is a Redis Cluster. */
  readonly cluster: boolean;
  readonly store: RedisStore;
  /** Per-key commands (PTTL, MEMORY USAGE, HGETALL). */
  readonly keys: KeyCommands;
  /** Closes the store's own connections, then the client. */
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5000;

interface Closable {
  isOpen: boolean;
  on(event: 'error', listener: (e: unknown) => void): unknown;
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
}

/**
 * Socket options: no reconnect before the first connection; after it, a few reconnects with backoff, or, for a
 * `persistent` process (a server), reconnects for as long as it runs (the cache fails open meanwhile).
 */
function socketOptions(url: URL, connected: () => boolean, persistent: boolean): Record<string, unknown> {
  return {
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(url.protocol === 'rediss:' ? { tls: true } : {}),
    reconnectStrategy: (retries: number, cause: Error) => (!connected() || (retries >= 5 && !persistent) ? cause : Math.min(100 * 2 ** retries, 2000)),
  };
}

async function closeClient(client: Closable): Promise<void> {
  if (!client.isOpen) return;
  try {
    await (client.close ? client.close() : client.quit?.());
  } catch {
    client.destroy?.();
  }
}

async function connectOrFail(client: Closable, url: string): Promise<void> {
  try {
    await client.connect();
  } catch (e) {
    client.destroy?.();
    const reason = e instanceof AggregateError ? e.errors.map((x) => (x instanceof Error ? x.message : String(x))).join('; ') : e instanceof Error ? e.message : String(e);
    throw new CliError(`cannot connect to Redis at ${redactUrl(url)}: ${reason || 'connection failed'}`, ExitCode.FAILURE, { cause: e });
  }
}

/**
 * Connects to Redis at `settings.url`: a Redis Cluster when `settings.cluster` or when the node says
 * `cluster_enabled:1`, else the single node, and makes a `RedisStore` over it. `persistent`: reconnect for as
 * long as the process runs (a server), not just a few times (a command).
 *
 * @throws {@link CliError} (exit code 1) when Redis cannot be reached.
 * @example
 * ```ts
 * const redis = await connectRedis({ url: 'redis://127.0.0.1:6379', cluster: false, namespace: 'default' });
 * try { await redis.store.deleteByPrefix(prefix); } finally { await redis.close(); }
 * ```
 */
export async function connectRedis(settings: RedisSettings, { persistent = false }: { persistent?: boolean } = {}): Promise<RedisConnection> {
  const [{ createClient, createCluster }, { RedisStore }] = await Promise.all([import('@redis/client'), import('@rangecache/redis')]);
  const connection = (url: string, cluster: boolean, client: Closable): RedisConnection => {
    try {
      return connectionOf(new RedisStore({ client: client as unknown as RedisClient }), url, cluster, client);
    } catch (e) {
      void closeClient(client);
      throw e;
    }
  };
  const url = new URL(settings.url);
  let connected = false;
  let cluster = settings.cluster;
  if (!cluster) {
    const client = createClient({ url: settings.url, disableOfflineQueue: true, socket: socketOptions(url, () => connected, persistent) });
    client.on('error', () => {}); // failures surface through commands; the reader counts them
    await connectOrFail(client as unknown as Closable, settings.url);
    connected = true;
    let info: string;
    try {
      info = await client.info('cluster');
    } catch (e) {
      await closeClient(client as unknown as Closable);
      throw new CliError(`Redis at ${redactUrl(settings.url)}: INFO cluster failed: ${e instanceof Error ? e.message : String(e)}`, ExitCode.FAILURE, { cause: e });
    }
    if (!/^cluster_enabled:1\s*$/m.test(info)) return connection(settings.url, false, client as unknown as Closable);
    await closeClient(client as unknown as Closable);
    cluster = true;
    connected = false;
  }
  const credentials = {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const client = createCluster({
    rootNodes: [{ url: settings.url }],
    defaults: { disableOfflineQueue: true, ...credentials, socket: socketOptions(url, () => connected, persistent) },
  });
  client.on('error', () => {});
  await connectOrFail(client as unknown as Closable, settings.url);
  connected = true;
  return connection(settings.url, true, client as unknown as Closable);
}

function connectionOf(store: RedisStore, url: string, cluster: boolean, client: Closable): RedisConnection {
  return {
    url: redactUrl(url),
    cluster,
    store,
    keys: client as unknown as KeyCommands,
    close: async () => {
      await store.close().catch(() => {});
      await closeClient(client);
    },
  };
}
