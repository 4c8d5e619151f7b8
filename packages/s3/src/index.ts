/** @rangecache/s3: the S3Fetcher arrives with issue 3; this package is a placeholder until then. */
export {};
