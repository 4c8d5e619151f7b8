/**
 * The driver for a node-redis cluster (`createCluster()`, node-redis 4, 5 or 6). Redis Cluster runs a multi-key
 * command or script only when all its keys hash to one slot, so every call is split here by slot (the keys' hash
 * tags: one per 16 MiB segment of an object, see core's `keys.ts`), the parts go out together (node-redis
 * pipelines what is sent in one tick to each master) and the replies are put back in the caller's key order.
 * node-redis follows `MOVED` and `ASK` redirects itself; what it cannot serve (a slot half migrated, `TRYAGAIN`; a
 * master down) fails the call, and the reader goes to the origin.
 *
 * `SCAN` walks every master in turn; the cursor names the master (`host:port/cursor`). Lease releases are
 * published with `SPUBLISH` on a channel in the keys' own slot (sharded pub/sub, Redis 7), and received by a
 * duplicate of the cluster client with `SSUBSCRIBE`, which node-redis moves along with the slot.
 */
import calculateSlot from 'cluster-key-slot';
import { StoreUnavailableError } from '@rangecache/core';
import { BLOB_STRING, type EvalCommand, type PubSubClient, type RedisDriver, type SetCommand } from './driver.js';

/** One master, as node-redis describes it. */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/**
 * A connected node-redis cluster (node-redis 4, 5 or 6), as returned by `createCluster()` after
 * `await cluster.connect()`. The part of it the store's type checks (node-redis's own types are generic, and
 * differ between majors).
 *
 * @example
 * ```ts
 * const cluster = createCluster({ rootNodes: [{ url: 'redis://10.0.0.1:6379' }], defaults: { disableOfflineQueue: true } });
 * await cluster.connect();
 * const store = new RedisStore({ client: cluster });
 * ```
 */
export interface RedisClusterClient {
  readonly isOpen: boolean;
  readonly masters: readonly ClusterNode[];
  nodeClient(node: ClusterNode): unknown;
  duplicate(): unknown;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: (string | Buffer)[], options?: object): Promise<unknown>;
  sSubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
}

/** What the driver uses of a cluster, beyond {@link RedisClusterClient}. */
interface Cluster extends RedisClusterClient {
  readonly isReady?: boolean;
  withTypeMapping?: unknown;
  sUnsubscribe(channel: string): Promise<unknown>;
  connect(): Promise<unknown>;
  disconnect(): Promise<unknown>;
  destroy?(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  duplicate(): Cluster;
}

/** A master's own client (for `SCAN`), as far as the driver uses it. */
interface NodeClient {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Writes of one slot: every SET in one script (atomic per slot; ARGV: per key a TTL in ms, '' for none, and the value). */
const SET_SCRIPT = `
for i, key in ipairs(KEYS) do
  local ttl = ARGV[2 * i - 1]
  if ttl == '' then redis.call('SET', key, ARGV[2 * i]) else redis.call('SET', key, ARGV[2 * i], 'PX', ttl) end
end
return #KEYS`;

/** Whether `client` is a node-redis cluster (of any supported major). */
export function isCluster(client: unknown): client is RedisClusterClient {
  const c = client as Record<string, unknown> | null;
  return c !== null && typeof c === 'object' && typeof c['nodeClient'] === 'function' && typeof c['sSubscribe'] === 'function'
    && 'masters' in c && typeof c['sendCommand'] === 'function';
}

export class ClusterDriver implements RedisDriver {
  readonly major: 4 | 5;
  readonly cluster = true;
  /** node-redis resubscribes shard channels after a reconnect and when their slot moves. */
  readonly subscriberReconnects = true;
  #cluster: Cluster;
  /** The command options under which bulk replies come back as Buffers. */
  #binary: object;

  constructor(cluster: RedisClusterClient) {
    this.#cluster = cluster as Cluster;
    this.major = typeof this.#cluster.withTypeMapping === 'function' ? 5 : 4;
    this.#binary = this.major === 5 ? { typeMapping: { [BLOB_STRING]: Buffer } } : { returnBuffers: true };
  }

  get clientReady(): boolean {
    return typeof this.#cluster.isReady === 'boolean' ? this.#cluster.isReady : this.#cluster.isOpen;
  }

  ready(operation: string): undefined {
    if (!this.clientReady) throw new StoreUnavailableError(operation);
    return undefined;
  }

  mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    return perSlot(keys, (part) => this.#send(part[0]!, ['MGET', ...part], true, true) as Promise<(Buffer | null)[]>);
  }

  async transaction(sets: readonly SetCommand[], evals: readonly EvalCommand[]): Promise<unknown> {
    const bySlot = groupBySlot(sets.map((s) => s.key));
    await Promise.all([...bySlot.values()].map((indices) => {
      const keys = indices.map((i) => sets[i]!.key);
      const args = indices.flatMap((i) => [sets[i]!.ttlMs === null ? '' : String(sets[i]!.ttlMs), sets[i]!.value]);
      return this.#send(keys[0]!, ['EVAL', SET_SCRIPT, String(keys.length), ...keys, ...args], false, false);
    }));
    // Leases go after every value is written (releases are per slot already: their channel is in the keys' slot).
    return Promise.all(evals.map((e) => this.eval(e)));
  }

  async unlink(keys: readonly string[]): Promise<number> {
    const counts = await Promise.all([...groupBySlot(keys).values()].map((indices) => {
      const part = indices.map((i) => keys[i]!);
      return this.#send(part[0]!, ['UNLINK', ...part], false, false);
    }));
    return counts.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  /** One `SCAN` step on one master; the cursor `host:port/cursor` says where the walk is ('0': start, and done). */
  async scan(cursor: string, match: string, count: number): Promise<{ cursor: string; keys: string[] }> {
    const masters = [...this.#cluster.masters].sort((a, b) => address(a).localeCompare(address(b)));
    if (masters.length === 0) throw new StoreUnavailableError('SCAN', 'the cluster has no masters');
    let index = 0;
    let at = '0';
    if (cursor !== '0') {
      const slash = cursor.lastIndexOf('/');
      index = masters.findIndex((m) => address(m) === cursor.slice(0, slash));
      at = cursor.slice(slash + 1);
      // The master left the cluster mid-walk: go on with the next one (its keys moved to others, or are gone).
      if (index < 0) {
        index = masters.findIndex((m) => address(m) > cursor.slice(0, slash));
        if (index < 0) return { cursor: '0', keys: [] };
        at = '0';
      }
    }
    const master = masters[index]!;
    const client = (await this.#cluster.nodeClient(master)) as NodeClient;
    const reply = (await client.sendCommand(['SCAN', at, 'MATCH', match, 'COUNT', String(count)])) as [unknown, unknown[]];
    const next = String(reply[0]);
    const keys = reply[1].map(String);
    if (next !== '0') return { cursor: `${address(master)}/${next}`, keys };
    return { cursor: index + 1 < masters.length ? `${address(masters[index + 1]!)}/0` : '0', keys };
  }

  eval(e: EvalCommand): Promise<unknown> {
    return this.#evalBySlot(e, false);
  }

  evalBuffers(e: EvalCommand): Promise<unknown> {
    return this.#evalBySlot(e, true);
  }

  subscriber(): PubSubClient {
    return new ClusterSubscriber(this.#cluster.duplicate());
  }

  onClientEnd(): void {}

  offClientEnd(): void {}

  async close(): Promise<void> {}

  /**
   * One script per slot of its keys; each keeps the fixed arguments and its keys' own (`argsPerKey` per key,
   * after the fixed ones). Replies that are arrays (one entry per key) are put back in key order; numbers add up.
   */
  async #evalBySlot(e: EvalCommand, binary: boolean): Promise<unknown> {
    const perKey = e.argsPerKey ?? 0;
    const fixed = e.args.slice(0, e.args.length - perKey * e.keys.length);
    const groups = [...groupBySlot(e.keys).values()];
    const replies = await Promise.all(groups.map((indices) => {
      const keys = indices.map((i) => e.keys[i]!);
      const args = [...fixed, ...indices.flatMap((i) => e.args.slice(fixed.length + perKey * i, fixed.length + perKey * (i + 1)))];
      return this.#send(keys[0] ?? '', ['EVAL', e.script, String(keys.length), ...keys, ...args], false, binary);
    }));
    if (groups.length === 1) return replies[0];
    if (replies.every((r) => typeof r === 'number')) return (replies as number[]).reduce((a, b) => a + b, 0);
    if (!replies.every(Array.isArray)) return replies[0];
    return inKeyOrder(groups, replies as unknown[][], e.keys.length);
  }

  #send(firstKey: string, args: (string | Buffer)[], readonly: boolean, binary: boolean): Promise<unknown> {
    return this.#cluster.sendCommand(firstKey, readonly, args, binary ? this.#binary : undefined);
  }
}

/** The release subscriber: a duplicate of the cluster, subscribing to shard channels (`SSUBSCRIBE`). */
class ClusterSubscriber implements PubSubClient {
  #cluster: Cluster;

  constructor(cluster: Cluster) {
    this.#cluster = cluster;
  }

  get isOpen(): boolean {
    return this.#cluster.isOpen;
  }

  get isReady(): boolean {
    return typeof this.#cluster.isReady === 'boolean' ? this.#cluster.isReady : this.#cluster.isOpen;
  }

  connect(): Promise<unknown> {
    return this.#cluster.connect();
  }

  disconnect(): Promise<unknown> {
    if (typeof this.#cluster.destroy === 'function') {
      this.#cluster.destroy();
      return Promise.resolve();
    }
    return this.#cluster.disconnect();
  }

  /** A cluster reports its failures as `error`; it has no single `connect` or `ready` of its own. */
  on(event: 'connect' | 'ready' | 'error', listener: () => void): unknown {
    if (event === 'error') this.#cluster.on('error', listener);
    return this;
  }

  /** A cluster has no one socket to unref: `RedisStore.close()` closes it. */
  unref(): void {}

  subscribe(channel: string, listener: (message: string) => void): Promise<unknown> {
    return this.#cluster.sSubscribe(channel, listener);
  }

  unsubscribe(channel: string): Promise<unknown> {
    return this.#cluster.sUnsubscribe(channel);
  }
}

/**
 * `send` once per slot of `keys` (with that slot's keys, in order, and their positions), all at once; its replies
 * (one entry per key) put back in the order of `keys`.
 */
export async function perSlot<T>(keys: readonly string[], send: (part: string[], slot: number, indices: number[]) => Promise<T[]>): Promise<T[]> {
  const groups = [...groupBySlot(keys)];
  if (groups.length === 1) return send([...keys], groups[0]![0], groups[0]![1]);
  const replies = await Promise.all(groups.map(([slot, indices]) => send(indices.map((i) => keys[i]!), slot, indices)));
  return inKeyOrder(groups.map(([, indices]) => indices), replies, keys.length);
}

/** Per-slot replies (one entry per key of the group's `indices`) put back in the order of the `length` keys. */
function inKeyOrder<T>(groups: readonly number[][], replies: readonly T[][], length: number): T[] {
  const out: T[] = new Array(length);
  groups.forEach((indices, g) => indices.forEach((i, j) => { out[i] = replies[g]![j]!; }));
  return out;
}

/** The indices of `keys`, grouped by hash slot (in order of first appearance). */
function groupBySlot(keys: readonly string[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = calculateSlot(key);
    const list = groups.get(slot);
    if (list) list.push(i);
    else groups.set(slot, [i]);
  });
  return groups;
}

function address(node: ClusterNode): string {
  return `${node.host}:${node.port}`;
}
