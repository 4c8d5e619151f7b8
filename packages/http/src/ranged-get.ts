/**
 * One ranged GET on undici's `dispatch` API, its body copied straight into one buffer of the length asked for.
 * `request()` wraps every response in a Readable stream read through an async iterator, and ties the caller's
 * signal to it: with that machinery `HttpFetcher` cost about 40-60 µs more CPU per 64 KiB origin read (BENCHMARKS.md,
 * "2026-12-03, eleventh session"). What the response's head means (its status, its headers) is the caller's to
 * judge, in `head`.
 */
import { type Dispatcher, util } from 'undici';

/** What `head` makes of a response's status and headers (or it throws the error the request fails with). */
export type HeadVerdict =
  /** Read the body: the bytes wanted start after the first `skip` bytes of it. */
  | { skip: number }
  /** A redirect to follow: the request stops here. */
  | { redirect: string; status: number };

export interface RangedGetOptions {
  dispatcher: Dispatcher;
  /** The URL requested. */
  target: URL;
  headers: Record<string, string>;
  /** Bytes wanted from the body (after `skip`). */
  length: number;
  /** Aborts the request: the caller's signal or the request's deadline. */
  signal: AbortSignal;
  headersTimeout: number;
  bodyTimeout: number;
  /** Judges the response's head: read on, follow a redirect, or throw. */
  head(status: number, headers: Dispatcher.ResponseData['headers']): HeadVerdict;
  /** The error a failure before the response's head becomes (a network error, an abort). */
  requestError(error: unknown): unknown;
  /** The error a failure while the body arrives becomes. */
  bodyError(error: unknown): unknown;
}

/** A body read: `received` is short of the length asked for when the body ended early. */
export type RangedGetResult = { bytes: Buffer; received: number } | { redirect: string; status: number };

/** Ends a request whose outcome is settled already: undici then reports an error nobody listens to. */
const NOT_NEEDED = new Error('the rest of the response is not needed');

/**
 * Sends one GET and reads `length` bytes of its body, after the first `skip` that `head` names, into a buffer of
 * its own. A body that goes on past them (a server that ignored `Range`) is cut off; one that ends right after them
 * is read to its end, so that its connection is kept.
 *
 * @example
 * ```ts
 * const got = await rangedGet({ dispatcher, target: new URL(url), headers: { range: 'bytes=0-4095' }, length: 4096,
 *   signal, headersTimeout: 30_000, bodyTimeout: 30_000, head: (status) => ({ skip: 0 }),
 *   requestError: (e) => e, bodyError: (e) => e });
 * ```
 */
export function rangedGet(o: RangedGetOptions): Promise<RangedGetResult> {
  return new Promise<RangedGetResult>((resolve, reject) => {
    const { signal, length } = o;
    let controller: Dispatcher.DispatchController | undefined;
    let legacy: Dispatcher.DispatchController | undefined;
    let settled = false;
    let headSeen = false;
    let bytes: Buffer | undefined;
    let skip = 0;
    let received = 0;
    const finish = (result: RangedGetResult | undefined, error?: unknown): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (result) resolve(result);
      else reject(error);
    };
    /** Settles, and stops the request if it is still going. */
    const stop = (result: RangedGetResult | undefined, error?: unknown): void => {
      finish(result, error);
      if (controller && !controller.aborted) controller.abort(NOT_NEEDED);
    };
    const onAbort = (): void => {
      const reason: unknown = signal.reason;
      stop(undefined, headSeen ? o.bodyError(reason) : o.requestError(reason));
    };
    if (signal.aborted) {
      reject(o.requestError(signal.reason));
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (settled) c.abort(NOT_NEEDED);
      },
      onResponseStart(c, status, headers) {
        controller = c;
        if (settled || status < 200) return; // an informational response: the real one follows
        headSeen = true;
        let verdict: HeadVerdict;
        try {
          verdict = o.head(status, headers);
        } catch (e) {
          stop(undefined, e);
          return;
        }
        if ('redirect' in verdict) {
          stop(verdict);
          return;
        }
        skip = verdict.skip;
        bytes = Buffer.allocUnsafeSlow(length); // its own memory, never a slice of Node's shared pool
      },
      onResponseData(_c, chunk) {
        if (settled || !bytes) return;
        if (received === length) {
          if (chunk.byteLength > 0) stop({ bytes, received }); // more than asked for: stop here
          return;
        }
        let from = 0;
        if (skip > 0) {
          from = Math.min(skip, chunk.byteLength);
          skip -= from;
        }
        const n = Math.min(chunk.byteLength - from, length - received);
        if (n > 0) {
          chunk.copy(bytes, received, from, from + n);
          received += n;
        }
        if (received === length && from + n < chunk.byteLength) stop({ bytes, received });
      },
      onResponseEnd() {
        if (bytes) finish({ bytes, received });
        else finish(undefined, o.requestError(new Error('the response ended before its head'))); // never seen: a guard
      },
      onResponseError(_c, error) {
        if (!settled) finish(undefined, headSeen ? o.bodyError(error) : o.requestError(error));
      },
      // The older handler API, for a dispatcher of another undici major (undici 6): the same steps. undici 7's own
      // dispatchers use the methods above.
      onConnect(abort) {
        legacy = legacyController(abort);
        handler.onRequestStart!(legacy, undefined);
      },
      onHeaders(status, rawHeaders, _resume, statusText) {
        handler.onResponseStart!(legacy!, status, util.parseHeaders(rawHeaders), statusText);
        return true;
      },
      onData(chunk) {
        handler.onResponseData!(legacy!, chunk);
        return true;
      },
      onComplete() {
        handler.onResponseEnd!(legacy!, {});
      },
      onError(error) {
        handler.onResponseError!(legacy!, error);
      },
    };
    try {
      o.dispatcher.dispatch({
        origin: o.target.origin, path: `${o.target.pathname}${o.target.search}`, method: 'GET', headers: o.headers,
        headersTimeout: o.headersTimeout, bodyTimeout: o.bodyTimeout,
      }, handler);
    } catch (e) {
      finish(undefined, o.requestError(e));
    }
  });
}

/** A controller over the older handler API's `abort` function (it cannot pause a response; this reader never does). */
function legacyController(abort: (error?: Error) => void): Dispatcher.DispatchController {
  let reason: Error | null = null;
  return {
    get aborted() { return reason !== null; },
    get paused() { return false; },
    get reason() { return reason; },
    abort(error: Error) {
      if (reason !== null) return;
      reason = error;
      abort(error);
    },
    pause() {},
    resume() {},
  };
}
