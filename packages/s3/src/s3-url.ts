import { InvalidPathError } from '@rangecache/core';

/** Bucket and key of an `s3://bucket/key` URL. The key is taken literally (no percent-decoding), like the AWS CLI. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/i.exec(url);
  if (!m) throw new InvalidPathError(url, 'expected s3://bucket/key');
  return { bucket: m[1]!, key: m[2]! };
}
