/**
 * Hosting a {@link RangeHandler} on Node's `http` server, through `@remix-run/node-fetch-server` (Node request →
 * `Request` with an abort signal that fires when the client goes away; `Response` body → socket with
 * backpressure), with a graceful close: stop accepting, let in-flight responses finish, then cut what is left.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from '@remix-run/node-fetch-server';
import type { RangeHandler } from './handler.js';

/** Where to listen. */
export interface ListenOptions {
  /** Port; 0 picks a free one. Default 8080. */
  readonly port?: number;
  /** Address to bind. Default `127.0.0.1`: say `0.0.0.0` (or `::`) to serve other machines. */
  readonly host?: string;
}

/** A listening proxy. */
export interface NodeRangeServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /**
   * Stops accepting connections, marks `/healthz` as draining, waits for in-flight responses (at most `timeoutMs`,
   * default 30 s, then closes the connections left). Does not close the reader: close it after this.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Serves `handler` on `host:port`.
 *
 * @example
 * ```ts
 * import { listen } from '@rangecache/server/node';
 * const server = await listen(createRangeHandler({ reader, allow }), { port: 8080 });
 * process.once('SIGTERM', async () => { await server.close(); await reader.close(); });
 * ```
 */
export async function listen(handler: RangeHandler, options: ListenOptions = {}): Promise<NodeRangeServer> {
  const server = createServer({ keepAliveTimeout: 30_000 }, createRequestListener(handler, { onError: () => undefined }));
  const port = options.port ?? 8080;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  // Once closing, a keep-alive connection whose response has ended is closed at once, not at its idle timeout.
  server.on('request', (_req, res) => res.once('finish', () => { if (closing) setImmediate(() => server.closeIdleConnections()); }));
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    server,
    close: ({ timeoutMs = 30_000 } = {}) => (closing ??= new Promise<void>((resolve) => {
      handler.drain();
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    })),
  };
}
