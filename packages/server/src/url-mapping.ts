/**
 * From a request path to the origin URL it names, as a pure function: `/<scheme>/<host>/<path>` reads
 * `<scheme>://<host>/<path>`, and `/<mount>/<rest>` reads `<prefix><rest>` for a mount `name=prefix`. Paths that
 * could mean something else on the way (encoded slashes or backslashes, empty or dot segments, credentials or an
 * empty host) are refused rather than guessed at.
 */
import { ConfigError } from '@rangecache/core';
import { AllowList, normalizeUrl, PROXY_SCHEMES } from './allow-list.js';

/** Paths the handler answers itself; no mount may take their names. */
export const RESERVED_NAMES: readonly string[] = ['healthz', 'metrics'];

/** A mount: `/<name>/<rest>` reads `<prefix><rest>`. */
export interface Mount {
  readonly name: string;
  readonly prefix: string;
}

/** Why a path maps to no URL the proxy may read, as the status to answer with and a one-line reason. */
export class ProxyPathError extends Error {
  override readonly name = 'ProxyPathError';
  /** 400: the path is malformed; 403: it names a URL outside the allow-list; 404: it names no route. */
  readonly status: 400 | 403 | 404;
  constructor(status: 400 | 403 | 404, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Checks mounts given as `name=prefix` (or objects): names are one path segment, unique, not a scheme or reserved.
 *
 * @throws {ConfigError} naming the mount that is wrong.
 * @example
 * ```ts
 * parseMounts(['era5=s3://bucket/era5.zarr/']); // [{ name: 'era5', prefix: 's3://bucket/era5.zarr/' }]
 * ```
 */
export function parseMounts(mounts: readonly (string | Mount)[]): Mount[] {
  const seen = new Set<string>();
  return mounts.map((m) => {
    let name: string;
    let prefix: string;
    if (typeof m === 'string') {
      const eq = m.indexOf('=');
      if (eq <= 0) throw new ConfigError(`mount: expected name=prefix (such as data=s3://bucket/data/), got ${JSON.stringify(m)}`);
      name = m.slice(0, eq);
      prefix = m.slice(eq + 1);
    } else {
      ({ name, prefix } = m);
    }
    if (!/^[A-Za-z0-9._~-]+$/.test(name) || name === '.' || name === '..') throw new ConfigError(`mount: ${JSON.stringify(name)} is not a path segment (letters, digits, . _ ~ -)`);
    if (PROXY_SCHEMES.includes(name) || RESERVED_NAMES.includes(name)) throw new ConfigError(`mount: the name ${JSON.stringify(name)} is taken (schemes ${PROXY_SCHEMES.join(', ')}; ${RESERVED_NAMES.join(', ')})`);
    if (seen.has(name)) throw new ConfigError(`mount: ${JSON.stringify(name)} is given twice`);
    seen.add(name);
    if (normalizeUrl(prefix) === undefined) throw new ConfigError(`mount ${name}: ${JSON.stringify(prefix)} is not an absolute ${PROXY_SCHEMES.join(', ')} URL without credentials`);
    return { name, prefix };
  });
}

/**
 * `allow` with the mounts' prefixes added: a mounted prefix is allowed, for requests and for redirects alike.
 *
 * @example
 * ```ts
 * allowWithMounts(['https://data.example.com/'], parseMounts(['era5=s3://bucket/era5.zarr/'])).prefixes.length; // 2
 * ```
 */
export function allowWithMounts(allow: readonly string[] | AllowList, mounts: readonly Mount[]): AllowList {
  const prefixes = allow instanceof AllowList ? allow.prefixes : allow;
  return new AllowList([...prefixes, ...mounts.map((m) => m.prefix)]);
}

/**
 * The origin URL that request path `pathname` (as a WHATWG URL gives it: percent-encoded, dot segments already
 * resolved) names, if `allow` allows it.
 *
 * `http(s)` URLs keep the path's percent-encoding; `s3` keys are percent-decoded, since an S3 key is taken
 * literally (`/s3/bucket/a%20b` reads the key `a b`).
 *
 * @throws {ProxyPathError} 400 for a malformed path, 404 for a path that is no route, 403 for a URL not allowed.
 * @example
 * ```ts
 * targetOfPath('/https/data.example.com/a/b.nc', [], allow); // 'https://data.example.com/a/b.nc'
 * targetOfPath('/era5/t2m/0.0', [{ name: 'era5', prefix: 's3://bucket/era5.zarr/' }], allow); // 's3://bucket/era5.zarr/t2m/0.0'
 * ```
 */
export function targetOfPath(pathname: string, mounts: readonly Mount[], allow: AllowList): string {
  if (!pathname.startsWith('/')) throw new ProxyPathError(400, 'the path must start with /');
  const segments = pathname.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '' && i < segments.length - 1) throw new ProxyPathError(400, 'empty path segment (//)');
    if (/%2f|%5c|\\/i.test(s)) throw new ProxyPathError(400, 'encoded slash or backslash in the path');
  }
  const [first = '', ...rest] = segments;
  let prefix: string;
  let scheme: string;
  const mount = mounts.find((m) => m.name === first);
  if (mount) {
    prefix = mount.prefix;
    scheme = new URL(prefix).protocol.slice(0, -1);
  } else if (PROXY_SCHEMES.includes(first)) {
    scheme = first;
    const host = rest.shift() ?? '';
    if (host === '' || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) {
      throw new ProxyPathError(400, `expected /${scheme}/<host>/<path>: ${host === '' ? 'no host' : 'not a host name'}`);
    }
    prefix = `${scheme}://${host}/`;
  } else {
    throw new ProxyPathError(404, `no route: paths are /<scheme>/<host>/<path> (scheme ${PROXY_SCHEMES.join(', ')})${mounts.length ? ' or /<mount>/<path>' : ''}`);
  }
  if (rest.length === 0 || rest.every((s) => s === '')) throw new ProxyPathError(404, 'no object named: the path ends at the host or mount');
  let decoded: string[];
  try {
    decoded = rest.map((s) => decodeURIComponent(s));
  } catch {
    throw new ProxyPathError(400, 'malformed percent-encoding in the path');
  }
  if (decoded.some((s) => s === '.' || s === '..')) throw new ProxyPathError(400, 'dot segment in the path');
  const target = scheme === 's3' ? prefix + decoded.join('/') : prefix + rest.join('/');
  const normal = normalizeUrl(target);
  if (normal === undefined) throw new ProxyPathError(400, 'the path does not make a valid URL');
  if (!allow.allows(normal)) throw new ProxyPathError(403, 'not an allowed origin URL');
  return normal;
}
