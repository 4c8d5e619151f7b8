/**
 * What the proxy tells a client when a read fails: a status and a one-line reason built from the error's class,
 * status and network code only. Error messages are never passed on: they name origin URLs, and may name internal
 * addresses or a redirect's target.
 */
import { AccessDeniedError, InvalidPathError, InvalidRangeError, ObjectNotFoundError, OriginError, OriginTimeoutError, VersionChangedError } from '@rangecache/core';

/** A failed read as the client sees it. */
export interface ErrorAnswer {
  readonly status: number;
  /** One line, safe to send: no URL, no address, no credential. */
  readonly reason: string;
}

/**
 * The answer for `error`, thrown while opening or reading an object.
 *
 * @example
 * ```ts
 * answerFor(new ObjectNotFoundError({ path: url, backend: 'http', status: 404 })); // { status: 404, reason: 'not found' }
 * ```
 */
export function answerFor(error: unknown): ErrorAnswer {
  if (ObjectNotFoundError.is(error)) return { status: 404, reason: 'not found' };
  if (error instanceof InvalidPathError) return { status: 400, reason: 'not a valid object path' };
  if (AccessDeniedError.is(error)) return { status: 502, reason: `the origin denied access${statusText(error.status)}` };
  if (OriginTimeoutError.is(error)) return { status: 502, reason: 'the origin did not answer in time' };
  if (VersionChangedError.is(error)) return { status: 502, reason: 'the object changed at the origin during the read; try again' };
  if (error instanceof InvalidRangeError) return { status: 502, reason: 'the origin refused a range inside the object' };
  if (OriginError.is(error)) {
    const status = error.status;
    if (status !== undefined && status >= 300 && status < 400) return { status: 502, reason: `the origin redirected to a URL that is not allowed${statusText(status)}` };
    if (status !== undefined) return { status: 502, reason: `the origin failed${statusText(status)}` };
    const code = networkCode(error);
    return { status: 502, reason: code ? `the origin could not be reached (${code})` : 'the origin request failed' };
  }
  return { status: 500, reason: 'internal error' };
}

function statusText(status: number | undefined): string {
  return status === undefined ? '' : ` (HTTP ${status})`;
}

/** A Node network error code (`ECONNREFUSED`, `UND_ERR_SOCKET`…) found on the error's cause chain. */
function networkCode(error: Error): string | undefined {
  let e: unknown = error.cause;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{2,40}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
