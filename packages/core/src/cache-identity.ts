/**
 * The identity of the object a path names, as it goes into cache keys: the path with its credentials and
 * signatures taken out, so that no secret is ever written to Redis (keys, lease release messages) and two
 * presigned URLs of one object share one cache entry.
 */

/** Query parameters removed from every http(s) URL (names compared case-insensitively, after percent-decoding). */
const ALWAYS_REMOVED: ReadonlySet<string> = new Set([
  // AWS Signature Version 4 (query-string authentication)
  'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature',
  'x-amz-security-token',
  // Google Cloud Storage V4 signing
  'x-goog-algorithm', 'x-goog-credential', 'x-goog-date', 'x-goog-expires', 'x-goog-signedheaders', 'x-goog-signature',
  // AWS Signature Version 2, GCS V2 signing, CloudFront signed URLs: the key ids and the signatures
  'awsaccesskeyid', 'googleaccessid', 'signature',
  // Azure SAS signature (the other SAS fields: AZURE_SAS below)
  'sig',
  // bearer tokens and API keys
  'token', 'access_token', 'api_key', 'apikey', 'api-key',
]);

/**
 * Removed only beside a signature (`Signature`, `AWSAccessKeyId` or `GoogleAccessId`): the expiry and policy of
 * AWS SigV2, GCS V2 and CloudFront signed URLs. Alone, such generic names may select content, so they stay.
 */
const SIGNED_URL_FIELDS: ReadonlySet<string> = new Set(['expires', 'policy', 'key-pair-id']);
const SIGNED_URL_MARKERS = ['signature', 'awsaccesskeyid', 'googleaccessid'] as const;

/**
 * Azure shared access signature fields, removed only when the query also holds `sig` and `sv` (every SAS does):
 * these short names (`sp`, `st`, `se`, `si`, …) may mean anything to another server.
 */
const AZURE_SAS: ReadonlySet<string> = new Set([
  'sv', 'ss', 'srt', 'sp', 'se', 'st', 'spr', 'sr', 'sip', 'si', 'ses', 'sdd',
  'skoid', 'sktid', 'skt', 'ske', 'sks', 'skv', 'saoid', 'suoid', 'scid',
]);

/**
 * Returns the identity of the object `path` names, for use in cache keys: `path` without credentials or
 * signatures. Pure, and never throws.
 *
 * **http:// and https:// URLs** (parsed as the WHATWG URL parser, which the HTTP client also uses, parses them):
 * - the scheme and host are lower-cased, a default port (80, 443) is dropped, and the path is normalised as
 *   the parser does (`/a/../b` is `/b`);
 * - the userinfo (`user:password@`) is removed;
 * - the fragment (`#…`) is removed (it is never sent to the server);
 * - these query parameters are removed, wherever they appear (names compared case-insensitively, after
 *   percent-decoding):
 *   - always: AWS SigV4 `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
 *     `X-Amz-SignedHeaders`, `X-Amz-Signature`, `X-Amz-Security-Token`; Google V4 `X-Goog-Algorithm`,
 *     `X-Goog-Credential`, `X-Goog-Date`, `X-Goog-Expires`, `X-Goog-SignedHeaders`, `X-Goog-Signature`;
 *     AWS SigV2 / Google V2 / CloudFront `AWSAccessKeyId`, `GoogleAccessId`, `Signature`; Azure `sig`;
 *     and the bearer tokens and API keys `token`, `access_token`, `api_key`, `apikey`, `api-key`;
 *   - when `Signature`, `AWSAccessKeyId` or `GoogleAccessId` is present: `Expires`, `Policy`, `Key-Pair-Id`;
 *   - when both `sig` and `sv` are present (an Azure SAS): `sv`, `ss`, `srt`, `sp`, `se`, `st`, `spr`, `sr`,
 *     `sip`, `si`, `ses`, `sdd`, `skoid`, `sktid`, `skt`, `ske`, `sks`, `skv`, `saoid`, `suoid`, `scid`;
 * - **every other query parameter is kept**, byte for byte and in its original order: those that select
 *   different bytes (`versionId`, `partNumber`, GCS `generation`, Azure `snapshot`/`versionid`) must, or two
 *   versions would share entries; those that only change response headers (`response-content-type`, Azure
 *   `rscc`…) or say which API was called (`x-id`) are kept too, since keeping costs only sharing. `key` is
 *   kept: it is a Google API key on googleapis.com but names the object on many other servers;
 * - a query left empty by the removal is dropped with its `?`.
 *
 * A string that looks like an http(s) URL but does not parse gets the same treatment as text (userinfo,
 * fragment and the parameters above removed, the scheme lower-cased, the rest unchanged): it can never be
 * fetched, so merging it with another spelling cannot serve wrong bytes, and it keeps secrets out of the
 * lookups made before the origin refuses it.
 *
 * **s3:// URLs**: only the userinfo is removed (`s3://id:secret@bucket/key` is `s3://bucket/key`) and the scheme
 * lower-cased. `?` and `#` are part of an S3 key, so they are kept, as is the case of bucket and key.
 *
 * **Anything else** (plain paths, `file://` URLs, other schemes) is returned unchanged.
 *
 * Two paths with the same identity share cache entries. Without `authorize: "origin"` the cache therefore serves an
 * object to a caller whose signature has expired, or whose URL carries no credentials, once a caller with
 * valid ones has read it; use `authorize: "origin"` where each caller's own access must be checked.
 *
 * @example
 * ```ts
 * cacheIdentity('https://User:pw@Bucket.s3.amazonaws.com:443/k?versionId=3&X-Amz-Signature=ab12');
 * // 'https://bucket.s3.amazonaws.com/k?versionId=3'
 * ```
 */
export function cacheIdentity(path: string): string {
  if (typeof path !== 'string') return path;
  if (/^https?:/i.test(path)) return httpIdentity(path);
  if (/^s3:\/\//i.test(path)) return 's3://' + withoutUserinfo(path.slice(5));
  return path;
}

function httpIdentity(path: string): string {
  let url: URL;
  try {
    url = new URL(path);
  } catch {
    return textualHttpIdentity(path);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return textualHttpIdentity(path);
  url.username = '';
  url.password = '';
  url.hash = '';
  const search = url.search; // percent-encoded as the request sends it; '' when there is no query or only '?'
  if (search.length > 1) {
    const kept = keptQuery(search.slice(1));
    // The setter drops one leading '?': give it one, so a kept first part that starts with '?' stays intact.
    if (kept !== search.slice(1)) url.search = kept === '' ? '' : '?' + kept; // '' removes the '?' too
  }
  return url.href;
}

/** For unparseable http(s)-looking strings: the same removals done on the text, nothing else changed. */
function textualHttpIdentity(path: string): string {
  const colon = path.indexOf(':');
  let rest = path.slice(colon + 1);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  let query: string | undefined;
  const question = rest.indexOf('?');
  if (question >= 0) {
    query = rest.slice(question + 1);
    rest = rest.slice(0, question);
  }
  const slashes = /^[/\\]*/.exec(rest)![0];
  rest = slashes + withoutUserinfo(rest.slice(slashes.length));
  if (query !== undefined) {
    const kept = keptQuery(query);
    if (kept !== '' || query === '') rest += '?' + kept;
  }
  return path.slice(0, colon).toLowerCase() + ':' + rest;
}

/** Removes `userinfo@` from `authority/rest` (the authority ends at the first `/`, `\`, `?` or `#`). */
function withoutUserinfo(afterSlashes: string): string {
  const end = afterSlashes.search(/[/\\?#]/);
  const authority = end < 0 ? afterSlashes : afterSlashes.slice(0, end);
  const at = authority.lastIndexOf('@');
  return at < 0 ? afterSlashes : afterSlashes.slice(at + 1);
}

/** The query (without `?`) minus the credential parameters; the kept parts unchanged and in order. */
function keptQuery(query: string): string {
  const parts = query.split('&');
  const names = parts.map(paramName);
  const present = new Set(names);
  const signed = SIGNED_URL_MARKERS.some((m) => present.has(m));
  const sas = present.has('sig') && present.has('sv');
  const kept = parts.filter((_, i) => {
    const name = names[i]!;
    return !(ALWAYS_REMOVED.has(name) || (signed && SIGNED_URL_FIELDS.has(name)) || (sas && AZURE_SAS.has(name)));
  });
  return kept.length === parts.length ? query : kept.join('&');
}

/** A query parameter's name as a server reads it: up to `=`, `+` as space, percent-decoded, lower-cased. */
function paramName(part: string): string {
  const eq = part.indexOf('=');
  const raw = (eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' ');
  let name = raw;
  try {
    name = decodeURIComponent(raw);
  } catch {
    // a malformed escape: compare the raw text
  }
  return name.toLowerCase();
}
