/**
 * What a response says about the object's version: its validators (`identity`), the `ObjectMeta` they make
 * (`metaOf`, with `weakVersion` where they cannot tell two same-size contents apart), and whether a response shows a
 * version other than the one expected (`changedSince`).
 */
import type { Dispatcher } from 'undici';
import type { ObjectMeta } from '@rangecache/core';
import { isMediaType, parseContentRange } from '@rangecache/core/fetcher-kit';
import { header } from './headers.js';

/** What a response says about the object's identity. */
export interface Identity {
  etag: string | undefined;
  lastModified: string | undefined;
  contentType?: string | undefined;
}

/**
 * Whether a response shows another version than `expect`: a different ETag, a different Last-Modified where the
 * version rests on it, or a different total size. A header the response leaves out proves nothing either way.
 */
export function changedSince(expect: ObjectMeta, headers: Dispatcher.ResponseData['headers'], status: number): boolean {
  const { etag, lastModified } = identity(headers);
  if (expect.etag !== undefined && etag !== undefined && etag !== expect.etag) return true;
  if (expect.etag === undefined && lastModified !== undefined && expect.version.startsWith('lm:') && expect.version !== `lm:${lastModified}:${expect.size}`) return true;
  const total = status === 206 ? parseContentRange(header(headers, 'content-range'))?.size : Number(header(headers, 'content-length'));
  return total !== undefined && !Number.isNaN(total) && total !== expect.size;
}

/** The validators and media type a response's headers carry. */
export function identity(headers: Dispatcher.ResponseData['headers']): Identity {
  return { etag: header(headers, 'etag'), lastModified: header(headers, 'last-modified'), contentType: header(headers, 'content-type')?.trim() };
}

/**
 * The object's metadata from its size and validators: the version is its ETag, else `Last-Modified` and size,
 * else the size alone.
 */
export function metaOf(size: number, id: Identity): ObjectMeta {
  const meta: ObjectMeta = {
    size,
    version: id.etag !== undefined ? `etag:${id.etag}` : id.lastModified !== undefined ? `lm:${id.lastModified}:${size}` : `size:${size}`,
    weakVersion: isWeakVersion(size, id),
  };
  if (id.etag !== undefined) meta.etag = id.etag;
  if (isMediaType(id.contentType)) meta.contentType = id.contentType;
  if (id.lastModified !== undefined) {
    const t = Date.parse(id.lastModified);
    if (!Number.isNaN(t)) meta.lastModified = t;
  }
  return meta;
}

/**
 * Whether the version built from these validators cannot tell two contents of the same size apart: no ETag
 * (Last-Modified has one-second resolution; no validator at all is size only), a weak `W/` ETag, or an nginx-style
 * `"<hex mtime seconds>-<hex size>"` ETag (recognised by its second part being the size in hex).
 */
function isWeakVersion(size: number, id: { etag?: string | undefined; lastModified?: string | undefined }): boolean {
  const etag = id.etag;
  if (etag === undefined) return true;
  if (etag.startsWith('W/')) return true;
  const nginx = /^"([0-9a-f]{1,16})-([0-9a-f]{1,16})"$/i.exec(etag);
  return nginx !== null && nginx[2]!.toLowerCase().replace(/^0+(?=.)/, '') === size.toString(16);
}
