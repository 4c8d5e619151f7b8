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
    if (!REDIRECT_STATUS.has(res.statusCode) || location === undefined) return res;
    await res.body.dump().catch(() => {});
    const fail = (reason: string): OriginError => new OriginError(reason, { path: url, backend: 'http', status: res.statusCode });
    let next: string;
    try {
      next = new URL(location, target).href;
    } catch {
      throw fail(`redirect (HTTP ${res.statusCode}) to an invalid URL`);
    }
    if (hops >= maxRedirections) throw fail(`more than ${maxRedirections} redirects`);
    if (!follow(next)) throw fail(`redirect (HTTP ${res.statusCode}) to a URL that is not allowed, not followed`);
    target = next;
  }
}
