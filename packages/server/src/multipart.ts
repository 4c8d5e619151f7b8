/**
 * A `multipart/byteranges` body (RFC 9110 §14.6): one part per range, each with its `Content-Type` and
 * `Content-Range`, streamed part after part from the object's own stream, so that it is never held whole. Its
 * length is known before the first byte, for `Content-Length`.
 */
import { randomBytes } from 'node:crypto';
import type { ByteSpan } from './range-header.js';

/** A body and what to say about it. */
export interface MultipartBody {
  readonly contentType: string;
  readonly length: number;
  readonly body: ReadableStream<Uint8Array>;
}

/**
 * The multipart body of `ranges` of an object of `size` bytes and type `type`, whose bytes `open(range)` streams.
 *
 * @example
 * ```ts
 * const { body, length, contentType } = multipartBody(ranges, meta.size, 'application/octet-stream', (r) => file.stream({ ...r, signal }));
 * return new Response(body, { status: 206, headers: { 'content-type': contentType, 'content-length': String(length) } });
 * ```
 */
export function multipartBody(ranges: readonly ByteSpan[], size: number, type: string, open: (range: ByteSpan) => ReadableStream<Uint8Array>): MultipartBody {
  const boundary = randomBytes(18).toString('base64url');
  const encoder = new TextEncoder();
  const heads = ranges.map((r, i) => encoder.encode(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end - 1}/${size}\r\n\r\n`));
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const length = heads.reduce((n, h, i) => n + h.byteLength + ranges[i]!.end - ranges[i]!.start, tail.byteLength);
  let part = 0;
  let inner: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (inner) {
          const { done, value } = await inner.read();
          if (!done) return controller.enqueue(value);
          inner.releaseLock();
          inner = undefined;
          part++;
        }
        if (part === ranges.length) {
          controller.enqueue(tail);
          return controller.close();
        }
        inner = open(ranges[part]!).getReader();
        return controller.enqueue(heads[part]!);
      }
    },
    async cancel(reason) {
      await inner?.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return { contentType: `multipart/byteranges; boundary=${boundary}`, length, body };
}
