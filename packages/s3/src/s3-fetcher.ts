import { GetObjectCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { AccessDeniedError, ConfigError, InvalidRangeError, ObjectNotFoundError, OriginError, OriginTimeoutError, VersionChangedError } from '@rangecache/core';
import { abortError, checkFetchRange, Deadline, deadlineMs, isMediaType, MAX_TIMER_MS, offsetInContentRange, parseContentRange, readExact } from '@rangecache/core/fetcher-kit';
import type { ByteRange, FetchOptions, Fetcher, ObjectMeta, StatOptions } from '@rangecache/core';
import { parseS3Url } from './s3-url.js';

/**
 * The deadline of each S3 request (HeadObject, or GetObject including the read of its body): it must complete
 * within `requestMs + length / minBytesPerSecond`, or it is aborted and fails with an `OriginTimeoutError`. It
 * bounds a store that trickles bytes (the SDK's socket timeouts only measure pauses), and grows with the bytes
 * asked for, so a large healthy read never hits it. Validated like HttpFetcher's: a `ConfigError` names the option.
 *
 * @example
 * ```ts
 * new S3Fetcher({ client, timeouts: { requestMs: 10_000, minBytesPerSecond: 1 << 20 } });
 * ```
 */
export interface S3Timeouts {
  /** The base of each request's deadline, ms: positive, at most 2 147 483 647. Default 30000. */
  requestMs?: number;
  /** The slowest transfer rate the deadline allows for, bytes per second: positive, at most 2^40. Default 65536. */
  minBytesPerSecond?: number;
}

export interface S3FetcherOptions {
  /** Your S3Client. Its region, credentials, endpoint and retry settings are used as they are. */
  client?: S3Client;
  /** Or the configuration of a client to build (e.g. `{ region, endpoint, forcePathStyle: true }`). */
  clientConfig?: S3ClientConfig;
  /**
   * Send unsigned requests, for public buckets (the seed's `anon: true`). Only with `clientConfig` or no client:
   * a client you pass in signs as you configured it.
   */
  anonymous?: boolean;
  /** The whole-request deadline; see {@link S3Timeouts}. */
  timeouts?: S3Timeouts;
}

/**
 * A {@link Fetcher} for `s3://bucket/key` on the AWS SDK v3: `HeadObject` for size, ETag and VersionId, ranged
 * `GetObject` pinned to the version the reader expects (by `VersionId` where the bucket is versioned, by
 * `If-Match` on the ETag otherwise, and the returned ETag is checked too). S3-compatible stores work with
 * `endpoint` and `forcePathStyle`. The SDK's own retries (its `maxAttempts`) handle throttling and 5xx. Every request
 * has a deadline that grows with the bytes asked for ({@link S3Timeouts}); one that expires is an
 * `OriginTimeoutError` and is not retried here.
 *
 * The version is the VersionId, else the ETag (S3 ETags are content hashes: strong), else the size alone, which is
 * marked `weakVersion`. Objects stored with `Content-Encoding: gzip` are fine: S3 does not transcode, so a ranged
 * GetObject returns the stored (compressed) bytes at those offsets, the same bytes HeadObject's size counts, and the
 * SDK does not decompress them.
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * const fetcher = new S3Fetcher({ client: new S3Client({ region: 'us-east-1' }) });
 * const publicData = new S3Fetcher({ clientConfig: { region: 'us-east-1' }, anonymous: true });
 * ```
 */
export class S3Fetcher implements Fetcher {
  readonly backend = 's3';
  readonly schemes = ['s3'] as const;
  readonly client: S3Client;
  #ownsClient: boolean;
  #requestMs: number;
  #minBytesPerSecond: number;

  constructor(options: S3FetcherOptions = {}) {
    const t = options.timeouts ?? {};
    const positive = (name: string, v: number | undefined, d: number, max: number): number => {
      if (v === undefined) return d;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
        throw new ConfigError(`S3Fetcher: ${name} must be a positive number at most ${max}, got ${String(v)}`);
      }
      return v;
    };
    this.#requestMs = positive('timeouts.requestMs', t.requestMs, 30_000, MAX_TIMER_MS);
    this.#minBytesPerSecond = positive('timeouts.minBytesPerSecond', t.minBytesPerSecond, 65_536, 2 ** 40);
    if (options.client && (options.clientConfig || options.anonymous)) {
      throw new ConfigError('S3Fetcher: give either client, or clientConfig/anonymous to build one, not both');
    }
    if (options.client) {
      if (typeof (options.client as { send?: unknown }).send !== 'function') throw new ConfigError('S3Fetcher: client is not an S3Client');
      this.client = options.client;
      this.#ownsClient = false;
    } else {
      const config: S3ClientConfig = { maxAttempts: 4, ...options.clientConfig };
      // Unsigned requests: the SDK has no switch for it; a signer that returns the request as is does it.
      if (options.anonymous) Object.assign(config, { signer: { sign: async (request: unknown) => request }, credentials: { accessKeyId: '', secretAccessKey: '' } });
      this.client = new S3Client(config);
      this.#ownsClient = true;
    }
  }

  async stat(url: string, options: StatOptions = {}): Promise<ObjectMeta> {
    const { bucket, key } = parseS3Url(url);
    options.signal?.throwIfAborted();
    const deadline = new Deadline(deadlineMs(this.#requestMs, this.#minBytesPerSecond, 0), options.signal);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: deadline.signal });
      const size = head.ContentLength;
      if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
        throw new OriginError('HeadObject returned no ContentLength', { path: url, backend: 's3' });
      }
      const versionId = head.VersionId && head.VersionId !== 'null' ? head.VersionId : undefined;
      const meta: ObjectMeta = {
        size,
        version: versionId ? `vid:${versionId}` : head.ETag ? `etag:${head.ETag}` : `size:${size}`,
        // Only a size-only version is weak: S3 ETags are content hashes (MD5, or of the parts' MD5s).
        weakVersion: !versionId && !head.ETag,
      };
      if (head.ETag) meta.etag = head.ETag;
      if (isMediaType(head.ContentType)) meta.contentType = head.ContentType;
      if (versionId) meta.versionId = versionId;
      if (head.LastModified) meta.lastModified = head.LastModified.getTime();
      return meta;
    } catch (e) {
      throw mapS3Error(e, url, undefined, options.signal, deadline);
    } finally {
      deadline.dispose();
    }
  }

  async fetch(url: string, requested: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    const { expect, signal } = options;
    // Only these two numbers from here on: the caller's object may have getters or change after the call.
    const range = checkFetchRange(url, requested, expect.size, this.backend);
    const { bucket, key } = parseS3Url(url);
    const length = range.end - range.start;
    signal?.throwIfAborted();
    const deadline = new Deadline(deadlineMs(this.#requestMs, this.#minBytesPerSecond, length), signal);
    let body: (AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void }) | undefined;
    // The SDK stops listening to the signal once the response has arrived: the body read is bounded here.
    const onDeadline = (): void => { body?.destroy?.(new Error('deadline expired')); };
    deadline.signal.addEventListener('abort', onDeadline, { once: true });
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: `bytes=${range.start}-${range.end - 1}`,
          ...(expect.versionId ? { VersionId: expect.versionId } : expect.etag ? { IfMatch: expect.etag } : {}),
        }),
        { abortSignal: deadline.signal },
      );
      // res.ContentEncoding is not checked: S3 stores and returns the object's bytes as they were put, whatever
      // Content-Encoding metadata they carry (it does not compress ranges on the fly), and the SDK does not decode.
      body = res.Body as (AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void }) | undefined;
      if (!body) throw new OriginError('GetObject returned no body', { path: url, backend: 's3' });
      if (deadline.signal.aborted) onDeadline();
      // Some S3-compatible stores ignore If-Match: the ETag of the response is checked as well.
      if (!expect.versionId && expect.etag && res.ETag && res.ETag !== expect.etag) {
        body.destroy?.();
        throw new VersionChangedError({ path: url, backend: 's3', expected: expect.etag, actual: res.ETag });
      }
      const contentRange = parseContentRange(res.ContentRange);
      const total = res.ContentRange === undefined ? res.ContentLength : contentRange?.size;
      if (total !== undefined && total !== expect.size) {
        body.destroy?.();
        throw new VersionChangedError({ path: url, backend: 's3', expected: expect.version, actual: `size ${total}` });
      }
      // No Content-Range: the whole object came back. A Content-Range may cover more than asked (s3rver).
      const skip = res.ContentRange === undefined ? range.start : offsetInContentRange(contentRange, range.start, range.end);
      if (skip === undefined) {
        body.destroy?.();
        throw new OriginError(`asked for bytes ${range.start}-${range.end - 1} but got Content-Range ${res.ContentRange}`, { path: url, backend: 's3' });
      }
      // Bytes before the range (no Content-Range, or one that starts earlier) must be read too: more time for them.
      deadline.extendTo(deadlineMs(this.#requestMs, this.#minBytesPerSecond, skip + length));
      let result;
      try {
        result = await readExact(body, length, skip);
      } finally {
        body.destroy?.();
      }
      if (result.received !== length) {
        throw new OriginError(`GetObject body ended after ${result.received} of ${length} bytes`, { path: url, backend: 's3' });
      }
      return result.bytes;
    } catch (e) {
      throw mapS3Error(e, url, range, signal, deadline);
    } finally {
      deadline.signal.removeEventListener('abort', onDeadline);
      deadline.dispose();
    }
  }

  /** Destroys the client when this fetcher built it (a client you passed in stays yours). */
  async close(): Promise<void> {
    if (this.#ownsClient) this.client.destroy();
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Maps SDK errors to the core's typed errors; leaves ours as they are. An expired deadline wins over what it caused. */
function mapS3Error(e: unknown, url: string, range: ByteRange | undefined, signal: AbortSignal | undefined, deadline: Deadline): unknown {
  if (signal?.aborted) return abortError(signal);
  if (deadline.expired) return new OriginTimeoutError({ path: url, backend: 's3', timeoutMs: deadline.ms, cause: e });
  if (e instanceof OriginError || e instanceof VersionChangedError || e instanceof TypeError) return e;
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name ?? '';
  const base = { path: url, backend: 's3', cause: e, ...(status === undefined ? {} : { status }) };
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket') return new ObjectNotFoundError(base);
  if (status === 403 || status === 401 || name === 'AccessDenied' || name === 'Forbidden') return new AccessDeniedError(base);
  if (status === 412 || name === 'PreconditionFailed') return new VersionChangedError(base);
  if (status === 416 || name === 'InvalidRange') {
    return new InvalidRangeError(url, range ?? { start: undefined, end: undefined }, 'the origin refused the range (416)', { backend: 's3', status: 416 });
  }
  return new OriginError(`${name || 'request failed'}${err.message ? `: ${err.message}` : ''}`, base);
}
