/** Encoding of cached object metadata: small JSON, validated field by field on read, never evaluated. */
import type { ObjectMeta } from './fetcher.js';

/** Metadata as stored, with the time it was checked against the origin (ms since epoch). */
export interface StoredMeta {
  meta: ObjectMeta;
  checkedAt: number;
}

const MAX_FIELD = 2048;

export function encodeMeta(meta: ObjectMeta, checkedAt: number): Uint8Array {
  const doc: Record<string, unknown> = { v: 1, size: meta.size, version: meta.version, checkedAt };
  if (meta.etag !== undefined) doc['etag'] = meta.etag;
  if (meta.versionId !== undefined) doc['versionId'] = meta.versionId;
  if (meta.lastModified !== undefined) doc['lastModified'] = meta.lastModified;
  if (meta.contentType !== undefined) doc['type'] = meta.contentType;
  if (meta.weakVersion) doc['weak'] = true; // read back by every instance: all of them must treat it as weak
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

/** The stored metadata, or `undefined` when the bytes are not a valid, complete record. */
export function decodeMeta(bytes: Uint8Array): StoredMeta | undefined {
  if (bytes.byteLength > 16 * 1024) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  if (d['v'] !== 1) return undefined;
  const { size, version, checkedAt, etag, versionId, lastModified, weak, type } = d;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (!isShortString(version) || version.length === 0) return undefined;
  if (typeof checkedAt !== 'number' || !Number.isFinite(checkedAt)) return undefined;
  if (etag !== undefined && !isShortString(etag)) return undefined;
  if (versionId !== undefined && !isShortString(versionId)) return undefined;
  if (lastModified !== undefined && (typeof lastModified !== 'number' || !Number.isFinite(lastModified))) return undefined;
  if (weak !== undefined && weak !== true) return undefined;
  if (type !== undefined && !isMediaType(type)) return undefined;
  const meta: ObjectMeta = { size, version };
  if (etag !== undefined) meta.etag = etag;
  if (versionId !== undefined) meta.versionId = versionId;
  if (lastModified !== undefined) meta.lastModified = lastModified;
  if (type !== undefined) meta.contentType = type;
  if (weak === true) meta.weakVersion = true;
  return { meta, checkedAt };
}

function isShortString(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_FIELD;
}

/**
 * Whether `v` reads as a media type that is safe to send back as a header: printable ASCII without line breaks,
 * `type/subtype` with optional parameters, at most 256 characters.
 */
export function isMediaType(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 256 && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$/.test(v);
}
