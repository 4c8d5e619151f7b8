/** @rangecache/http: the HttpFetcher arrives with issue 3; this package is a placeholder until then. */
export {};
