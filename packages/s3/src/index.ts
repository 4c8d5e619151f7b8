/**
 * @rangecache/s3: a Fetcher for `s3://bucket/key` on the AWS SDK v3.
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * import { AsyncCachingReader } from '@rangecache/core';
 * import { S3Fetcher } from '@rangecache/s3';
 * const reader = new AsyncCachingReader({ fetcher: new S3Fetcher({ client: new S3Client({ region: 'us-east-1' }) }) });
 * ```
 * @packageDocumentation
 */
export { S3Fetcher } from './s3-fetcher.js';
export type { S3FetcherOptions, S3Timeouts } from './s3-fetcher.js';
export { parseS3Url } from './s3-url.js';
