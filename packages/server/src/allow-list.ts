/**
 * Which origin URLs the proxy may read: a list of URL prefixes, compared after both the prefix and the URL are
 * normalized (`http(s)`: by the WHATWG URL parser, which lower-cases scheme and host, drops a default port and
 * resolves dot segments; `s3`: taken literally, as S3 takes keys, with dot segments refused), and only at a path
 * boundary, so that `https://host/public` allows `https://host/public/a` but not
 * `https://host/public-secret/a`.
 */
import { ConfigError } from '@rangecache/core';

/** The URL schemes the proxy can map to (the ones rangecache has fetchers for). */
export const PROXY_SCHEMES: readonly string[] = ['http', 'https', 's3'];

/**
 * An allow-list of origin URL prefixes.
 *
 * @example
 * ```ts
 * const allow = new AllowList(['https://data.example.com/public/', 's3://bucket/']);
 * allow.allows('https://data.example.com/public/a.nc'); // true
 * allow.allows('https://data.example.com/private/a.nc'); // false
 * ```
 */
export class AllowList {
  readonly prefixes: readonly string[];

  /** @throws {ConfigError} when a prefix is not an absolute `http(s)://` or `s3://` URL, or carries credentials. */
  constructor(prefixes: readonly string[]) {
    if (!Array.isArray(prefixes)) throw new ConfigError('allow must be an array of URL prefixes');
    this.prefixes = prefixes.map((p) => normalizePrefix(p));
  }

  /** Whether `url` (absolute) starts with one of the prefixes, at a path boundary. */
  allows(url: string): boolean {
    const normal = normalizeUrl(url);
    if (normal === undefined) return false;
    return this.prefixes.some((p) => normal === p || (normal.startsWith(p) && (p.endsWith('/') || normal[p.length] === '/')));
  }
}

/**
 * `url` in normal form, or `undefined` when it is not an absolute URL of a proxy scheme without credentials (for
 * `s3://bucket/key`: a bucket name, and a key without `.` or `..` segments, kept literally).
 */
export function normalizeUrl(url: string): string | undefined {
  if (/^s3:/i.test(url)) {
    const m = /^s3:\/\/([A-Za-z0-9._-]+)(\/.*)?$/i.exec(url);
    if (!m || m[2]?.split('/').some((s) => s === '.' || s === '..')) return undefined;
    return `s3://${m[1]!}${m[2] ?? ''}`;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = u.protocol.slice(0, -1);
  if (!PROXY_SCHEMES.includes(scheme) || u.username !== '' || u.password !== '' || u.host === '') return undefined;
  u.hash = '';
  return u.href;
}

function normalizePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix === '') throw new ConfigError(`allow: expected a URL prefix such as https://data.example.com/ or s3://bucket/, got ${JSON.stringify(prefix)}`);
  const normal = normalizeUrl(prefix);
  if (normal === undefined) {
    throw new ConfigError(`allow: ${JSON.stringify(prefix)} is not an absolute ${PROXY_SCHEMES.join(', ')} URL without credentials`);
  }
  if (!normal.startsWith('s3:') && normal.includes('?')) throw new ConfigError(`allow: ${JSON.stringify(prefix)} has a query; a prefix is a scheme, host and path`);
  return normal;
}
