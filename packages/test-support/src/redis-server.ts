/** Starts real `redis-server` processes on free loopback ports, so tests can stop, kill and restart them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createClient } from 'redis';

/** A client for tests: offline commands fail at once, and reconnects come fast (at most 500 ms apart). */
function testClient(url: string) {
  return createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: (n) => Math.min(50 * n, 500) } });
}

export type TestRedisClient = ReturnType<typeof testClient>;

export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /** True when the server was started by this handle (false when REDIS_URL points at an existing one). */
  readonly owned: boolean;
  /** A new connected client; closed by `stop()` if still open. */
  client(): Promise<TestRedisClient>;
  /** Sends a signal to the server process (SIGKILL, SIGSTOP, SIGCONT). */
  signal(sig: NodeJS.Signals): void;
  /** Starts the server again on the same port after it was killed. */
  restart(): Promise<void>;
  /** Stops the server and closes every client handed out. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; the socket is closed before returning). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A redis-server for one test file: started on a free port with no persistence, or the server at
 * `REDIS_URL` when that is set and `ownProcess` is not required.
 */
export async function startRedis(options: { extraArgs?: string[]; ownProcess?: boolean } = {}): Promise<RedisServerHandle> {
  const clients: TestRedisClient[] = [];
  const connect = async (url: string): Promise<TestRedisClient> => {
    const c = testClient(url);
    c.on('error', () => {}); // tests observe failures through commands, not through this event
    await c.connect();
    clients.push(c);
    return c;
  };
  const closeClients = async (): Promise<void> => {
    await Promise.all(clients.splice(0).map((c) => (c.isOpen ? c.disconnect().catch(() => {}) : undefined)));
  };

  const external = process.env['REDIS_URL'];
  if (external && !options.ownProcess && !options.extraArgs?.length) {
    const port = Number(new URL(external).port || 6379);
    return {
      url: external, port, owned: false,
      client: () => connect(external),
      signal: () => { throw new Error('cannot signal the external REDIS_URL server'); },
      restart: async () => { throw new Error('cannot restart the external REDIS_URL server'); },
      stop: closeClients,
    };
  }

  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      '--loglevel', 'warning', ...(options.extraArgs ?? [])];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    const spawnError = new Promise<never>((_, reject) => proc.once('error', (e) => reject(
      new Error(`cannot start redis-server (${(e as NodeJS.ErrnoException).code}); install it (apt-get install redis-server) or set REDIS_URL`),
    )));
    spawnError.catch(() => {});
    try {
      await Promise.race([waitForPing(url), spawnError]);
    } catch (e) {
      proc.kill('SIGKILL'); // a server that never answered (e.g. one started with requirepass) must not outlive the test
      throw e;
    }
  };
  await launch();
  const kill = (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    const exited = once(proc, 'exit').then(() => undefined);
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    return exited;
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    url, port, owned: true,
    client: () => connect(url),
    signal: (sig) => { child?.kill(sig); },
    restart: async () => { await kill(); await launch(); },
    stop: async () => { await closeClients(); await kill(); },
  };
}

async function waitForPing(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      await c.disconnect();
      return;
    } catch (e) {
      await c.disconnect().catch(() => {});
      if (Date.now() > deadline) throw new Error(`redis-server at ${url} did not answer PING within 10 s: ${String(e)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** `INFO commandstats` as a map from command name (lower case) to its call count. */
export async function commandCalls(client: TestRedisClient): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

/** redis-server's CPU time so far (user + system, from `INFO cpu`), in ms: what a run cost Redis, as a difference. */
export async function redisCpuMs(client: TestRedisClient): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string): number => Number(info.match(new RegExp(`^${name}:([0-9.]+)`, 'm'))?.[1] ?? NaN);
  return 1000 * (field('used_cpu_user') + field('used_cpu_sys'));
}
