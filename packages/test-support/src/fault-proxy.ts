/** A counting HTTP reverse proxy with fault injection, put in front of servers we cannot instrument (s3rver). */
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Fault } from './http-origin.js';

export interface ProxiedRequest {
  method: string;
  url: string;
  range: string | undefined;
  status: number;
  bytes: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly requests: ProxiedRequest[];
  failNext(n: number, fault: Fault): void;
  /** Body bytes of GET responses that passed through. */
  bodyBytes(method?: string): number;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const faults: Fault[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const record: ProxiedRequest = { method: req.method ?? '', url: req.url ?? '', range: req.headers.range, status: 0, bytes: 0 };
    requests.push(record);
    const fault = faults.shift();
    if (fault === 'reset') { record.status = -1; req.socket.destroy(); return; }
    if (typeof fault === 'number') {
      record.status = fault;
      req.resume();
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault === 503 ? 'SlowDown' : 'InternalError'}</Code><Message>injected</Message></Error>`;
      res.writeHead(fault, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
      return;
    }
    const upstream = request({ host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      record.status = up.statusCode ?? 0;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.on('data', (c: Buffer) => { record.bytes += c.byteLength; });
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    failNext: (n, fault) => { for (let i = 0; i < n; i++) faults.push(fault); },
    bodyBytes: (method = 'GET') => requests.filter((r) => r.method === method).reduce((n, r) => n + r.bytes, 0),
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
