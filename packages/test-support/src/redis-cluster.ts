/**
 * A real Redis Cluster for tests: `redis-server --cluster-enabled yes` on free loopback ports, joined with
 * `redis-cli --cluster create`, which tests can reshard, and whose masters they can kill and restart.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCluster } from 'redis';
import { startRedis, type RedisServerHandle, type TestRedisClient } from './redis-server.js';

const run = promisify(execFile);

/** A connected node-redis 6 cluster client, as tests make them. */
export type TestClusterClient = ReturnType<typeof testCluster>;

function testCluster(rootUrl: string) {
  return createCluster({
    rootNodes: [{ url: rootUrl }],
    defaults: { disableOfflineQueue: true, socket: { reconnectStrategy: (n: number) => Math.min(50 * n, 500), connectTimeout: 2000 } },
  });
}

export interface RedisClusterHandle {
  /** The masters, in the order they were created (each holds a third of the slots at first). */
  readonly nodes: readonly RedisServerHandle[];
  /** `redis://127.0.0.1:<port>` of the first master: what a cluster client is given as its root node. */
  readonly rootUrl: string;
  /** A new connected cluster client (node-redis 6); closed by `stop()`. */
  cluster(): Promise<TestClusterClient>;
  /** A plain client of one master (for `DBSIZE`, `KEYS` on that node alone). */
  nodeClient(index: number): Promise<TestRedisClient>;
  /** The cluster node id of master `index`. */
  nodeId(index: number): Promise<string>;
  /** Moves `slots` slots from master `from` to master `to` with `redis-cli --cluster reshard`; resolves when done. */
  reshard(from: number, to: number, slots: number): Promise<void>;
  /** Kills master `index` (SIGKILL). */
  kill(index: number): Promise<void>;
  /** Restarts master `index` on its port with its nodes.conf, and waits until the cluster is whole again. */
  restart(index: number): Promise<void>;
  /** Resolves when every master reports `cluster_state:ok` and agrees that all 16384 slots are served. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a cluster of `masters` masters (no replicas) on loopback. `cluster-require-full-coverage no`: while one
 * master is down, the others keep serving their slots, as a managed cluster does during a failover.
 *
 * @example
 * ```ts
 * const rc = await startRedisCluster();
 * t.teardown(() => rc.stop());
 * const client = await rc.cluster();
 * ```
 */
export async function startRedisCluster(options: { masters?: number } = {}): Promise<RedisClusterHandle> {
  const count = options.masters ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'rangecache-cluster-'));
  const nodes: RedisServerHandle[] = [];
  const clusters: TestClusterClient[] = [];
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(await startRedis({
        ownProcess: true,
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${i}.conf`),
          '--cluster-node-timeout', '2000', '--cluster-require-full-coverage', 'no', '--dir', dir],
      }));
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 });
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const admin = await Promise.all(nodes.map((n) => n.client()));
  const handle: RedisClusterHandle = {
    nodes,
    rootUrl: nodes[0]!.url,
    cluster: async () => {
      const c = testCluster(nodes[0]!.url);
      c.on('error', () => {}); // tests observe failures through commands
      await c.connect();
      clusters.push(c);
      return c;
    },
    nodeClient: async (index) => nodes[index]!.client(),
    nodeId: async (index) => String(await (await nodes[index]!.client()).sendCommand(['CLUSTER', 'MYID'])),
    reshard: async (from, to, slots) => {
      const [fromId, toId] = await Promise.all([handle.nodeId(from), handle.nodeId(to)]);
      await run('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${nodes[from]!.port}`, '--cluster-from', fromId, '--cluster-to', toId,
        '--cluster-slots', String(slots), '--cluster-yes', '--cluster-pipeline', '100'], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
      await handle.waitHealthy();
    },
    kill: async (index) => {
      nodes[index]!.signal('SIGKILL');
      const deadline = Date.now() + 10_000;
      while ((await admin[index]!.ping().then(() => true, () => false)) && Date.now() < deadline) await sleep(20);
    },
    restart: async (index) => {
      await nodes[index]!.restart();
      admin[index] = await nodes[index]!.client();
      await handle.waitHealthy();
    },
    waitHealthy: async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(admin.map((c) => c.sendCommand(['CLUSTER', 'INFO']).then(String, () => '')));
        if (states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s))) return;
        if (Date.now() > deadline) throw new Error(`the test cluster did not become healthy within ${timeoutMs} ms: ${states.map((s) => /cluster_state:\w+/.exec(s)?.[0]).join(', ')}`);
        await sleep(100);
      }
    },
    stop: async () => {
      await Promise.all(clusters.splice(0).map((c) => c.close().catch(() => {})));
      await Promise.all(nodes.map((n) => n.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  await handle.waitHealthy();
  return handle;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
