/**
 * Lookups (`MGET`, the hot path of warm reads) on a Redis Cluster over the store's own connections, one per master,
 * as `LookupConnection` does for a single Redis: values land in memory of their own, or in the caller's. Each
 * slot's keys go to the master node-redis's slot map names. Whatever that connection cannot answer (a `MOVED` or
 * `ASK` after a migration, `TRYAGAIN`, a master that moved or went away) is asked again through the cluster client,
 * which follows redirects and refreshes its map.
 */
import type { IntoSignal } from '@rangecache/core';
import { perSlot, type ClusterNode } from './driver-cluster.js';
import { type LookupCounters, type LookupEndpoint, LookupConnection } from './lookup-connection.js';

/** What the fast path needs of a node-redis 5 or 6 cluster: its options (credentials, TLS) and slot map. */
interface ClusterInternals {
  readonly _options?: {
    readonly defaults?: { readonly username?: unknown; readonly password?: unknown; readonly socket?: { readonly tls?: unknown }; readonly credentialsProvider?: unknown };
    readonly rootNodes?: readonly { readonly url?: unknown; readonly password?: unknown; readonly username?: unknown }[];
    readonly nodeAddressMap?: unknown;
  };
  readonly slots?: readonly ({ readonly master?: ClusterNode } | undefined)[];
  getSlotMaster?(slot: number): ClusterNode | undefined;
}

/**
 * The credentials every master takes (the cluster's `defaults`), or `undefined` where the store's own connections
 * cannot follow the cluster client: TLS, a credentials provider, an address map (NAT), credentials only in the
 * root nodes, or a client whose options are not readable (node-redis 4 keeps them private).
 */
export function clusterCredentials(cluster: unknown): Pick<LookupEndpoint, 'username' | 'password'> | undefined {
  const options = (cluster as ClusterInternals)._options;
  if (!options || typeof options !== 'object') return undefined;
  const d = options.defaults ?? {};
  if (d.socket?.tls || d.credentialsProvider !== undefined || options.nodeAddressMap !== undefined) return undefined;
  for (const root of options.rootNodes ?? []) {
    if (root.password !== undefined || root.username !== undefined) return undefined;
    if (typeof root.url === 'string' && /^rediss:|\/\/[^/]*@/i.test(root.url)) return undefined;
  }
  if ((d.username !== undefined && typeof d.username !== 'string') || (d.password !== undefined && typeof d.password !== 'string')) return undefined;
  return { ...(d.username !== undefined ? { username: d.username as string } : {}), ...(d.password !== undefined ? { password: d.password as string } : {}) };
}

export class ClusterLookups {
  readonly counters: LookupCounters = { values: 0, valuesInCallerMemory: 0, copiedBytes: 0 };
  readonly #cluster: ClusterInternals;
  readonly #credentials: Pick<LookupEndpoint, 'username' | 'password'>;
  /** Asks through the cluster client (redirects followed). */
  readonly #fallback: (keys: readonly string[]) => Promise<(Buffer | null)[]>;
  readonly #connections = new Map<string, LookupConnection>();
  #closed = false;

  constructor(cluster: unknown, credentials: Pick<LookupEndpoint, 'username' | 'password'>, fallback: (keys: readonly string[]) => Promise<(Buffer | null)[]>) {
    this.#cluster = cluster as ClusterInternals;
    this.#credentials = credentials;
    this.#fallback = fallback;
  }

  /** Values of `keys` (see `LookupConnection.mget`), one `MGET` per slot, all sent at once. */
  mget(keys: readonly string[], into?: readonly (Uint8Array | undefined)[], stop?: IntoSignal): Promise<(Buffer | null)[]> {
    return perSlot(keys, (part, slot, indices) => this.#mgetSlot(slot, part, into && indices.map((i) => into[i]), stop));
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
  }

  async #mgetSlot(slot: number, keys: string[], into: (Uint8Array | undefined)[] | undefined, stop?: IntoSignal): Promise<(Buffer | null)[]> {
    const master = this.#cluster.slots?.[slot]?.master ?? this.#cluster.getSlotMaster?.(slot);
    if (!master || this.#closed) return this.#fallback(keys);
    try {
      return await this.#connection(master).mget(keys, into, stop);
    } catch (e) {
      // A caller who gave up wants no second try; anything else may be a moved slot: the cluster client knows.
      if (stop?.aborted) throw e;
      return this.#fallback(keys);
    }
  }

  #connection(master: ClusterNode): LookupConnection {
    const address = `${master.host}:${master.port}`;
    let c = this.#connections.get(address);
    if (!c) {
      c = new LookupConnection({ host: master.host, port: master.port, ...this.#credentials }, undefined, this.counters);
      this.#connections.set(address, c);
    }
    return c;
  }
}
