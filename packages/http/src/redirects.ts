/**
 * Following redirects by hand, so that each target can be checked before it is requested (`followRedirect`): a
 * proxy must not be sent outside its allow-list by an origin. Errors never name the target: it may be an internal
 * address the caller must not learn.
 */
import { OriginError } from '@rangecache/core';
import type { Dispatcher } from 'undici';
import { header } from './headers.js';

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/** Sends one request to a target URL. */
export type SendTo = (target: string) => Promise<Dispatcher.ResponseData>;

/**
 * The response to `url`, after the redirects `follow` allows (at most `maxRedirections`): a redirect's body is
 * discarded and its `Location`, resolved against the URL that answered, is requested next.
 *
 * @throws {OriginError} (status 3xx) for a refused redirect, one too many, or an invalid `Location`.
 * @example
 * ```ts
 * const res = await followRedirects(url, (u) => u.startsWith('https://data.example.com/'), 5, (target) => request(target));
 * ```
 */
export async function followRedirects(url: string, follow: (url: string) => boolean, maxRedirections: number, sendTo: SendTo): Promise<Dispatcher.ResponseData> {
  let target = url;
  for (let hops = 0; ; hops++) {
    const res = await sendTo(target);
    const location = header(res.headers, 'location');
    if (!isRedirect(res.statusCode, location)) return res;
    await res.body.dump().catch(() => {});
    target = nextHop(url, target, res.statusCode, location, hops, maxRedirections, follow);
  }
}

/** Whether a response with `status` and `location` is a redirect to follow. */
export function isRedirect(status: number, location: string | undefined): location is string {
  return REDIRECT_STATUS.has(status) && location !== undefined;
}

/**
 * Where redirect number `hops` (from 0) of a request for `url` goes: `location`, resolved against `target`, the URL
 * that answered with `status`.
 *
 * @throws {OriginError} (status 3xx, naming `url`, never the target) for an invalid `Location`, one redirect too
 * many, or a target `follow` refuses.
 * @example
 * ```ts
 * nextHop('https://a.example/x', 'https://a.example/x', 302, '/y', 0, 5, () => true); // 'https://a.example/y'
 * ```
 */
export function nextHop(url: string, target: string, status: number, location: string, hops: number, maxRedirections: number, follow: (url: string) => boolean): string {
  const fail = (reason: string): OriginError => new OriginError(reason, { path: url, backend: 'http', status });
  let next: string;
  try {
    next = new URL(location, target).href;
  } catch {
    throw fail(`redirect (HTTP ${status}) to an invalid URL`);
  }
  if (hops >= maxRedirections) throw fail(`more than ${maxRedirections} redirects`);
  if (!follow(next)) throw fail(`redirect (HTTP ${status}) to a URL that is not allowed, not followed`);
  return next;
}
