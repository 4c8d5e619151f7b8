/**
 * A `fetch`-compatible function that answers `GET` and `HEAD` requests, with or without a `Range`, from a
 * rangecache reader, for libraries that take a custom `fetch` (zarrita's `FetchStore`, hyparquet's
 * `asyncBufferFromUrl`, loaders.gl, …). It never touches the network itself: the reader's fetchers do.
 */
import type { AsyncCachingReader, ObjectMeta, PinnedObject } from '@rangecache/core';
import { AccessDeniedError, InvalidPathError, ObjectNotFoundError } from '@rangecache/core';

/** The signature of the global `fetch`. */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface CachedFetchOptions {
  /**
   * Which URLs this function may read, e.g. `(url) => url.startsWith('https://data.example.com/')`. Others get
   * 403 without reaching the reader. Default: every URL the reader's fetchers serve.
   */
  allow?: (url: string) => boolean;
}

/** `[start, end)` of a `Range` header against `size`; `undefined`: no usable single range (serve the whole object); `null`: unsatisfiable. */
export function parseRange(header: string | null, size: number): { start: number; end: number } | undefined | null {
  if (header === null) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // malformed or several ranges: ignored (RFC 9110 14.2)
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < start) return undefined;
  if (start >= size) return null;
  return { start, end: Math.min(last + 1, size) };
}

function validators(meta: ObjectMeta): Record<string, string> {
  const h: Record<string, string> = { 'accept-ranges': 'bytes' };
  if (meta.etag) h.etag = meta.etag;
  if (meta.lastModified !== undefined) h['last-modified'] = new Date(meta.lastModified).toUTCString();
  return h;
}

function failure(status: number, message: string): Response {
  return new Response(message, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

/**
 * Makes a `fetch` that serves from `reader`: `200` with the whole object, `206` with `Content-Range` for one
 * range, `416` for a range past the end, `404`/`403` when the origin says so, `502` when it fails, and `405` for
 * methods other than GET and HEAD. Bodies of whole objects stream.
 *
 * @example
 * ```ts
 * import * as zarr from 'zarrita';
 * const store = new zarr.FetchStore('https://host/data.zarr', { fetch: createCachedFetch(reader) });
 * ```
 */
export function createCachedFetch(reader: AsyncCachingReader, options: CachedFetchOptions = {}): FetchFunction {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    if (method !== 'GET' && method !== 'HEAD') return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } });
    if (options.allow && !options.allow(url)) return failure(403, `not allowed: ${url}`);
    let file: PinnedObject;
    try {
      file = await reader.open(url, { signal });
    } catch (e) {
      return errorResponse(e, signal);
    }
    const size = file.byteLength;
    const range = parseRange(headers.get('range'), size);
    const base = validators(file.meta);
    if (range === null) return new Response(null, { status: 416, headers: { ...base, 'content-range': `bytes */${size}` } });
    if (range === undefined) {
      const whole = { ...base, 'content-length': String(size) };
      return new Response(method === 'HEAD' || size === 0 ? null : (file.stream({ signal }) as unknown as ReadableStream<Uint8Array>), { status: 200, headers: whole });
    }
    const partial = { ...base, 'content-length': String(range.end - range.start), 'content-range': `bytes ${range.start}-${range.end - 1}/${size}` };
    if (method === 'HEAD') return new Response(null, { status: 206, headers: partial });
    try {
      return new Response(await file.read(range.start, range.end, { signal }), { status: 206, headers: partial });
    } catch (e) {
      return errorResponse(e, signal);
    }
  };
}

function errorResponse(e: unknown, signal: AbortSignal | undefined): Response {
  if (signal?.aborted) throw e; // as fetch does: an aborted call rejects
  if (ObjectNotFoundError.is(e)) return failure(404, e.message);
  if (AccessDeniedError.is(e)) return failure(403, e.message);
  if (InvalidPathError.is(e)) return failure(400, e.message);
  return failure(502, e instanceof Error ? e.message.split('\n')[0]! : String(e));
}
