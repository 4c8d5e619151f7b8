/**
 * Redis key layout: `rangecache:v2:<namespace>:{<source>:v=<version>:s<segment>}:<kind>:…` for data, and
 * `rangecache:v2:<namespace>:{<source>:meta}` for metadata.
 *
 * The part in braces is a Redis Cluster hash tag: only it decides a key's slot. Data keys are tagged per
 * segment, the {@link SEGMENT_BYTES} of an object that a block or chunk starts in, not per object: one read's
 * keys (up to 16 MiB, one MGET part) mostly share one slot, so they batch into one multi-key command, while a big
 * hot object spreads over every master (a 1 GiB object is 64 segments). Lease keys extend data keys, so they
 * share their slot. On a single Redis the braces are plain characters.
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

const PREFIX = 'rangecache:v2';

/**
 * Bytes of an object per hash-tag segment: as many as one MGET part carries (16 MiB), so a read batches into as
 * few commands as on a single Redis, and an object of N × 16 MiB spreads over N slots.
 */
export const SEGMENT_BYTES = 16 * 1024 * 1024;

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
  return `${namespacePrefix(namespace)}{${encodeKeyField(cacheIdentity(source))}:`;
}

/** The prefix of every key of one namespace (data, metadata and shared counters). */
export function namespacePrefix(namespace: string): string {
  return `${PREFIX}:${encodeKeyField(namespace)}:`;
}

/** The hash of counters that readers with shared stats add to (see `ReaderOptions.sharedStats`). */
export function statsKey(namespace: string): string {
  return `${namespacePrefix(namespace)}stats`;
}

/** The key of an object's cached metadata (size and version). */
export function metaKey(namespace: string, source: string): string {
  return `${sourcePrefix(namespace, source)}meta}`;
}

/**
 * The prefix of all data keys of one version of one object (it opens their hash tag, which the key functions
 * close). Versions are encoded, so `meta` cannot collide.
 */
export function versionPrefix(namespace: string, source: string, version: string): string {
  return `${sourcePrefix(namespace, source)}v=${encodeKeyField(version)}:`;
}

/** Block `index` of size `blockSize`. The block size is part of the key: readers with other sizes never mix. */
export function blockKey(prefix: string, blockSize: number, index: number): string {
  return `${prefix}s${Math.floor((index * blockSize) / SEGMENT_BYTES)}}:b:${blockSize}:${index}`;
}

/** The exact range `[start, end)` cached as one chunk. */
export function chunkKey(prefix: string, start: number, end: number): string {
  return `${prefix}s${Math.floor(start / SEGMENT_BYTES)}}:c:${start}-${end}`;
}

/**
 * The Redis Cluster hash tag of `key` (what its slot is computed from): the text between its first `{` and the
 * next `}`, or the whole key when there is none (or it is empty), as Redis defines it.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close <= open + 1 ? key : key.slice(open + 1, close);
}

/** Escapes a literal string for use inside a Redis `SCAN MATCH` glob pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\^]/g, (c) => '\\' + c);
}
