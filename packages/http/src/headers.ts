/** Reading undici's response headers. */
import type { Dispatcher } from 'undici';

/**
 * The value of response header `name` (lower-case), the first one where it came several times.
 *
 * @example
 * ```ts
 * header(res.headers, 'content-range'); // 'bytes 0-9/100', or undefined
 * ```
 */
export function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
