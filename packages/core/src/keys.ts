/**
 * Redis key layout: `rangecache:v1:<namespace>:<source>:<version>:<kind>:…`.
 *
 * Every variable field is percent-encoded (encodeURIComponent, plus the glob characters it leaves alone), so
 * no field can contain `:`, and two different (namespace, source, version, range) tuples can never produce the
 * same key. `/` is kept literal so keys stay readable in `redis-cli --scan`; that keeps the encoding injective
 * because the encoder never emits `/` for anything else.
 *
 * The `<source>` field is {@link cacheIdentity} of the path, not the path itself: credentials and signatures
 * (userinfo, presigned-URL parameters) never reach a key, nor therefore Redis or a lease release message, and
 * two presigned URLs of one object share its entries.
 */

import { cacheIdentity } from './cache-identity.js';

const PREFIX = 'rangecache:v1';

/** Percent-encodes one key field: injective, free of `:` and of the glob specials `* ? [ ] \ ^`. */
export function encodeKeyField(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%2F/g, '/');
}

/**
 * The prefix of every key that belongs to one source in one namespace (all versions, data and metadata).
 * `source` is a path or URL; the key holds its {@link cacheIdentity}, free of credentials.
 */
export function sourcePrefix(namespace: string, source: string): string {
  return `${PREFIX}:${encodeKeyField(namespace)}:${encodeKeyField(cacheIdentity(source))}:`;
}

/** The key of an object's cached metadata (size and version). */
export function metaKey(namespace: string, source: string): string {
  return `${sourcePrefix(namespace, source)}meta`;
}

/** The prefix of all data keys of one version of one object. Versions are encoded, so `meta` cannot collide. */
export function versionPrefix(namespace: string, source: string, version: string): string {
  return `${sourcePrefix(namespace, source)}v=${encodeKeyField(version)}:`;
}

/** Block `index` of size `blockSize`. The block size is part of the key: readers with other sizes never mix. */
export function blockKey(prefix: string, blockSize: number, index: number): string {
  return `${prefix}b:${blockSize}:${index}`;
}

/** The exact range `[start, end)` cached as one chunk. */
export function chunkKey(prefix: string, start: number, end: number): string {
  return `${prefix}c:${start}-${end}`;
}

/** Escapes a literal string for use inside a Redis `SCAN MATCH` glob pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\^]/g, (c) => '\\' + c);
}
