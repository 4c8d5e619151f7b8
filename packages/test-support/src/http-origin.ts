/**
 * A real HTTP origin for tests: serves in-memory objects with single-range support like nginx (`max_ranges 1`),
 * strong ETags, `If-Match`, `HEAD`; counts every request and body byte; and injects faults on demand.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo, Socket } from 'node:net';

export type Fault = number | 'reset' | 'truncate';

export interface OriginRequest {
  method: string;
  path: string;
  range: string | undefined;
  ifMatch: string | undefined;
  /** The request's `Accept-Encoding` header. */
  acceptEncoding: string | undefined;
  status: number;
  bytes: number;
  /** Which TCP connection the request came on: 1 for the first the origin accepted since it started, and so on. */
  connection: number;
}

export interface HttpOriginBehaviour {
  /** Answer 200 with the whole object to range requests (a server that ignores Range). */
  ignoreRange: boolean;
  /** Answer HEAD with this status (e.g. 403 like a presigned GET URL, or 405). */
  refuseHead: number | undefined;
  /**
   * Which ETag to send: a content hash (`strong`), the same as a weak `W/` ETag (`weak`), nginx's
   * `"<hex mtime seconds>-<hex size>"` (`nginx`: second resolution, so it cannot tell two same-size versions of
   * one second apart), or none.
   */
  etag: 'strong' | 'weak' | 'nginx' | 'none';
  lastModified: boolean;
  /** Ignore If-Match (like s3rver) instead of answering 412. */
  ignoreIfMatch: boolean;
  /** A header every request must carry, or 401. */
  requireHeader: [string, string] | undefined;
  /** Delay before the headers of every response, ms. */
  delayMs: number;
  /**
   * Like a misconfigured server or CDN: compress 200/206 bodies (the range's bytes) with this encoding and say so
   * in `Content-Encoding`, whatever the request's `Accept-Encoding`. Only `gzip`.
   */
  contentEncoding: 'gzip' | undefined;
  /** A slow origin: GET bodies are sent `trickleBytes` bytes every `trickleMs` ms (0: at full speed). */
  trickleMs: number;
  /** Bytes per `trickleMs` tick. Default 1. */
  trickleBytes: number;
  /**
   * GET responses wait for this before their headers (after `delayMs`): a test holds a fetch in flight until the
   * state it needs (another reader waiting on it, say) is there, instead of hoping a delay is long enough.
   */
  holdGets: Promise<void> | undefined;
}

const DEFAULT_BEHAVIOUR: HttpOriginBehaviour = {
  ignoreRange: false, refuseHead: undefined, etag: 'strong', lastModified: true, ignoreIfMatch: false, requireHeader: undefined, delayMs: 0,
  contentEncoding: undefined, trickleMs: 0, trickleBytes: 1, holdGets: undefined,
};

export interface HttpOrigin {
  readonly baseUrl: string;
  url(name: string): string;
  /** Creates or replaces an object; replacing gives it a new ETag and Last-Modified. */
  put(name: string, bytes: Uint8Array, options?: { contentType?: string }): void;
  /** Answers requests for `name` with a redirect (`status`, default 302) to `location`. */
  redirect(name: string, location: string, status?: number): void;
  remove(name: string): void;
  readonly requests: OriginRequest[];
  /** Body bytes sent for requests of `method` (default GET). */
  bodyBytes(method?: string): number;
  /** The next `n` requests get `fault`: a status code, a connection reset, or a body cut short. */
  failNext(n: number, fault: Fault): void;
  behaviour: HttpOriginBehaviour;
  reset(): void;
  stop(): Promise<void>;
}

interface StoredObject {
  bytes: Buffer;
  etag: string;
  lastModified: string;
  contentType: string;
}

export async function startHttpOrigin(): Promise<HttpOrigin> {
  const objects = new Map<string, StoredObject>();
  const redirects = new Map<string, { location: string; status: number }>();
  const requests: OriginRequest[] = [];
  const faults: Fault[] = [];
  const sockets = new Set<Socket>();
  const connectionOf = new WeakMap<Socket, number>();
  let generation = 0;
  let accepted = 0; // TCP connections accepted so far
  const behaviour: HttpOriginBehaviour = { ...DEFAULT_BEHAVIOUR };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
    const record: OriginRequest = {
      method: req.method ?? '', path, range: req.headers.range, ifMatch: req.headers['if-match'] as string | undefined,
      acceptEncoding: req.headers['accept-encoding'], status: 0, bytes: 0, connection: connectionOf.get(req.socket) ?? 0,
    };
    requests.push(record);
    const send = (status: number, headers: Record<string, string>, body?: Buffer): void => {
      record.status = status;
      const withBody = body !== undefined && req.method !== 'HEAD';
      res.writeHead(status, { ...headers, 'content-length': String(body?.byteLength ?? 0) });
      if (!withBody || behaviour.trickleMs <= 0 || req.method !== 'GET') {
        record.bytes = withBody ? body.byteLength : 0;
        res.end(withBody ? body : undefined);
        return;
      }
      // Trickle: a few bytes per tick, until done or the client goes away.
      const step = Math.max(1, behaviour.trickleBytes);
      let sent = 0;
      const tick = (): void => {
        if (res.destroyed || req.socket.destroyed) return;
        const piece = body.subarray(sent, sent + step);
        sent += piece.byteLength;
        record.bytes = sent;
        if (sent >= body.byteLength) res.end(piece);
        else res.write(piece, () => { setTimeout(tick, behaviour.trickleMs); });
      };
      tick();
    };
    if (behaviour.delayMs > 0) await new Promise((r) => setTimeout(r, behaviour.delayMs));
    if (behaviour.holdGets && req.method === 'GET') await behaviour.holdGets;
    const fault = faults.shift();
    if (fault === 'reset') {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (typeof fault === 'number') return send(fault, { 'content-type': 'text/plain', 'retry-after': '0' }, Buffer.from(`injected ${fault}`));
    const [hName, hValue] = behaviour.requireHeader ?? [];
    if (hName !== undefined && req.headers[hName.toLowerCase()] !== hValue) return send(401, {}, Buffer.from('unauthorized'));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, {}, Buffer.from('method not allowed'));
    if (req.method === 'HEAD' && behaviour.refuseHead !== undefined) return send(behaviour.refuseHead, {});
    const redirect = redirects.get(path);
    if (redirect) return send(redirect.status, { location: redirect.location }, Buffer.from('moved'));
    const obj = objects.get(path);
    if (obj === undefined) return send(404, {}, Buffer.from('not found'));
    const size = obj.bytes.byteLength;
    const validators: Record<string, string> = { 'accept-ranges': 'bytes' };
    // nginx: `"%xT-%xO"`, the mtime in seconds and the size, both in hex.
    const nginxEtag = `"${(Date.parse(obj.lastModified) / 1000).toString(16)}-${size.toString(16)}"`;
    if (behaviour.etag === 'strong') validators['etag'] = obj.etag;
    if (behaviour.etag === 'weak') validators['etag'] = `W/${obj.etag}`;
    if (behaviour.etag === 'nginx') validators['etag'] = nginxEtag;
    if (behaviour.lastModified) validators['last-modified'] = obj.lastModified;
    const ifMatch = req.headers['if-match'];
    const matches = behaviour.etag === 'nginx' ? nginxEtag : obj.etag;
    if (ifMatch !== undefined && !behaviour.ignoreIfMatch && ifMatch !== '*' && !ifMatch.split(',').map((s) => s.trim()).includes(matches)) {
      return send(412, {}, Buffer.from('precondition failed'));
    }
    const range = behaviour.ignoreRange ? undefined : parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') return send(416, { 'content-range': `bytes */${size}` }, Buffer.from('range not satisfiable'));
    let status = 200;
    let body = obj.bytes;
    const headers = { ...validators, 'content-type': obj.contentType };
    if (range !== undefined) {
      status = 206;
      body = obj.bytes.subarray(range.start, range.end);
      Object.assign(headers, { 'content-range': `bytes ${range.start}-${range.end - 1}/${size}` });
    }
    if (behaviour.contentEncoding === 'gzip') {
      body = gzipSync(body);
      Object.assign(headers, { 'content-encoding': 'gzip' });
    }
    if (fault === 'truncate' && req.method === 'GET') {
      record.status = status;
      record.bytes = Math.floor(body.byteLength / 2);
      res.writeHead(status, { ...headers, 'content-length': String(body.byteLength) });
      res.write(body.subarray(0, record.bytes), () => req.socket.destroy());
      return;
    }
    send(status, headers, body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => { res.destroy(e as Error); });
  });
  server.on('connection', (s) => {
    connectionOf.set(s, ++accepted);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    url: (name) => `${baseUrl}/${encodeURIComponent(name)}`,
    put(name, bytes, options = {}) {
      const b = Buffer.from(bytes);
      const gen = ++generation;
      objects.set(name, {
        bytes: b,
        etag: `"${createHash('sha1').update(b).digest('hex').slice(0, 16)}-${gen}"`,
        lastModified: new Date(Date.UTC(2026, 0, 1) + gen * 1000).toUTCString(),
        contentType: options.contentType ?? 'application/octet-stream',
      });
    },
    redirect: (name, location, status = 302) => { redirects.set(name, { location, status }); },
    remove: (name) => { objects.delete(name); redirects.delete(name); },
    requests,
    bodyBytes: (method = 'GET') => requests.filter((r) => r.method === method).reduce((n, r) => n + r.bytes, 0),
    failNext: (n, fault) => { for (let i = 0; i < n; i++) faults.push(fault); },
    behaviour,
    reset() {
      requests.length = 0;
      faults.length = 0;
      Object.assign(behaviour, DEFAULT_BEHAVIOUR);
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** One range of a `Range` header, like nginx with `max_ranges 1`; undefined means "send the whole object". */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return header.startsWith('bytes=') && !header.includes(',') ? 'unsatisfiable' : undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return 'unsatisfiable';
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size };
  }
  const start = Number(a);
  const end = b === '' ? size : Math.min(Number(b) + 1, size);
  if (start >= size || (b !== '' && Number(b) < start)) return 'unsatisfiable';
  return { start, end };
}
