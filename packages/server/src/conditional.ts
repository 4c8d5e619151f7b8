/**
 * Validators and conditional requests (RFC 9110 §8.8, §13): the ETag the proxy sends for one version of an object,
 * and the `If-None-Match` and `If-Range` checks against it. Pure functions.
 */
import { createHash } from 'node:crypto';
import type { ObjectMeta } from '@rangecache/core';

/**
 * The proxy's entity tag for `meta`'s version: a hash of the version, the same on every instance of a fleet.
 * Strong when the version tells contents apart (an origin's strong ETag, an S3 VersionId), weak (`W/`) when it
 * cannot (`meta.weakVersion`), so that no client combines ranges of two contents on the strength of it.
 *
 * @example
 * ```ts
 * etagOf({ size: 10, version: 'etag:"abc"' }); // '"k3X…"' (27 base64url characters)
 * ```
 */
export function etagOf(meta: ObjectMeta): string {
  const known = etags.get(meta);
  if (known !== undefined) return known;
  const tag = `"${createHash('sha256').update(`${meta.size}\n${meta.version}`).digest('base64url').slice(0, 27)}"`;
  const etag = meta.weakVersion ? `W/${tag}` : tag;
  etags.set(meta, etag);
  return etag;
}

/** ETags by metadata object: a pinned object's metadata is one object, asked for on every request. */
const etags = new WeakMap<ObjectMeta, string>();

/** The entity tags of an `If-None-Match` or `If-Match` list, or `'*'`. A malformed list yields none. */
export function parseEtagList(header: string): string[] | '*' {
  if (header.trim() === '*') return '*';
  const tags = header.match(/(?:W\/)?"[^"]*"/g);
  return tags ?? [];
}

/** Weak comparison (§8.8.3.2): the opaque tags are equal, whether either is weak or not. */
function weakEqual(a: string, b: string): boolean {
  return a.replace(/^W\//, '') === b.replace(/^W\//, '');
}

/**
 * Whether `If-None-Match` matches `etag` (weak comparison; `*` matches any existing object): answer 304.
 *
 * @example
 * ```ts
 * noneMatchHolds('"a", W/"b"', '"b"'); // true
 * ```
 */
export function noneMatchHolds(header: string | null, etag: string): boolean {
  if (header === null) return false;
  const tags = parseEtagList(header);
  return tags === '*' || tags.some((t) => weakEqual(t, etag));
}

/**
 * Whether a `Range` may be honoured under `If-Range` (§13.1.5): with no `If-Range`, yes; with an entity tag, only
 * when it is strong and equal to `etag` (strong comparison). An HTTP-date never matches here: a date validator
 * is too coarse to promise the client that the bytes have not changed, so the whole object is sent instead, as
 * the RFC allows.
 *
 * @example
 * ```ts
 * ifRangeHolds('"b"', '"b"'); // true: send the range
 * ifRangeHolds('Wed, 02 Dec 2026 06:00:00 GMT', '"b"'); // false: send the whole object
 * ```
 */
export function ifRangeHolds(header: string | null, etag: string): boolean {
  if (header === null) return true;
  const value = header.trim();
  if (!value.startsWith('"')) return false;
  return !etag.startsWith('W/') && value === etag;
}

/**
 * Whether `If-Match` holds (§13.1.1): no header, `*`, or one of its tags equal to `etag` by strong comparison (a
 * weak tag never matches). When it does not hold, the answer is 412.
 *
 * @example
 * ```ts
 * matchHolds('"a", "b"', '"b"'); // true
 * matchHolds('W/"b"', 'W/"b"'); // false: weak tags never match strongly
 * ```
 */
export function matchHolds(header: string | null, etag: string): boolean {
  if (header === null) return true;
  const tags = parseEtagList(header);
  return tags === '*' || (!etag.startsWith('W/') && tags.includes(etag));
}

/**
 * Whether the object was modified after the HTTP-date `header` (`If-Modified-Since`, §13.1.3; `If-Unmodified-Since`
 * holds where this is false). `undefined` when it cannot be told: no header, an invalid date, or no known
 * `Last-Modified`; the condition is then ignored, as the RFC says. Compared in whole seconds, the resolution of
 * HTTP-dates.
 *
 * @example
 * ```ts
 * modifiedSince('Wed, 02 Dec 2026 06:00:00 GMT', Date.parse('2026-12-02T05:00:00Z')); // false: answer 304
 * ```
 */
export function modifiedSince(header: string | null, lastModified: number | undefined): boolean | undefined {
  if (header === null || lastModified === undefined) return undefined;
  const since = Date.parse(header);
  if (Number.isNaN(since)) return undefined;
  return Math.floor(lastModified / 1000) > Math.floor(since / 1000);
}
