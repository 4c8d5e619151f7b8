import t from 'tap';
import { AsyncCachingReader, ConfigError, FetcherRouter, FileFetcher, InvalidPathError, InvalidRangeError, MemoryStore, ObjectNotFoundError, OriginError, RangecacheError } from '@rangecache/core';
import { tempDir } from '@rangecache/test-support';

t.test('bad ranges are InvalidRangeErrors naming the path and range', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path } = await dir.file('f.bin', 100);
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher() });
  const cases: [unknown, unknown, RegExp][] = [
    [-1, 10, /\[-1, 10\).*start is negative/],
    [NaN, 10, /\[NaN, 10\).*start must be a non-negative integer/],
    [1.5, 10, /start must be a non-negative integer/],
    [0, 0.5, /end must be a non-negative integer/],
    [10, 5, /\[10, 5\).*end is before start/],
    [101, 200, /\[101, 200\).*past the end of the object \(size 100\)/],
    [undefined, 5, /start must be/],
  ];
  for (const [s, e, re] of cases) {
    const err = await reader.readRange(path, s as number, e as number).then(() => null, (x: unknown) => x);
    t.ok(err instanceof RangeError && err instanceof InvalidRangeError, `[${String(s)}, ${String(e)}) is a RangeError`);
    t.match((err as Error).message, re);
    t.match((err as Error).message, path);
    t.equal((err as InvalidRangeError).path, path);
  }
  t.same(await reader.readRange(path, 100, 100), new Uint8Array(0), 'empty range at EOF');
  t.same(await reader.readRange(path, 100, 5000), new Uint8Array(0), 'range starting at EOF is empty');
  t.same(await reader.readRange(path, 40, 40), new Uint8Array(0), 'empty range inside');
  t.equal(reader.stats().originRequests, 0, 'empty ranges never reach the origin');
  t.rejects(reader.readRanges(path, [{ start: 0, end: 1 }, { start: 5, end: 1 }]), InvalidRangeError, 'one bad range fails the batch');
  t.throws(() => reader.stream(path, { start: -5 }), InvalidRangeError, 'stream validates synchronously');
  await t.rejects(reader.readRange('', 0, 1), InvalidPathError, 'an empty path');
  await t.rejects(reader.readRange('', 0, 1), /a path must not be empty/);
  await t.rejects(reader.readRange(`${path}\0x`, 0, 1), /must not contain a NUL/, 'a NUL in a path');
  await t.rejects(reader.readRange('/x'.repeat(50_000), 0, 1), /at most 16384 characters, got 100000/, 'a 100 000-character path');
  await t.rejects(reader.readRange(42 as never, 0, 1), InvalidPathError, 'a path that is no string');
  await t.rejects(reader.readRange(path, 0, 1, null as never), /options must be an object such as \{ signal \}, got null/);
  await t.rejects(reader.readRange(path, 0, 1, { signal: {} as never }), ConfigError, 'a signal that is no AbortSignal');
  t.throws(() => reader.stream(path, { signal: 'x' as never }), /options.signal must be an AbortSignal, got string/);
  await t.rejects(reader.readRanges(path, [null as never]), InvalidRangeError, 'a null range');
  await t.rejects(reader.readRanges(path, {} as never), /ranges must be an array/);
});

t.test('zero-length files and missing files', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path } = await dir.file('empty.bin', 0);
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore() });
  t.same(await reader.readRange(path, 0, 100), new Uint8Array(0));
  t.equal((await reader.stat(path)).size, 0);
  await t.rejects(reader.readRange(path, 1, 2), InvalidRangeError);
  const chunks: Uint8Array[] = [];
  for await (const c of reader.stream(path)) chunks.push(c);
  t.equal(chunks.length, 0, 'streaming an empty file yields nothing');

  const missing = `${dir.path}/nope.bin`;
  const err = await reader.readRange(missing, 0, 10).then(() => null, (e: unknown) => e);
  t.ok(err instanceof ObjectNotFoundError);
  t.ok(err instanceof RangecacheError);
  t.equal((err as ObjectNotFoundError).code, 'ERR_RANGECACHE_NOT_FOUND');
  t.equal((err as ObjectNotFoundError).path, missing);
  t.equal((err as ObjectNotFoundError).backend, 'file');
  await t.rejects(reader.stat(missing), ObjectNotFoundError);
  await t.rejects(reader.readRange(`file://${missing}`, 0, 1), ObjectNotFoundError, 'file:// URLs too');
  const stream = reader.stream(missing);
  await t.rejects((async () => { for await (const _ of stream) void _; })(), ObjectNotFoundError);
  await t.rejects(reader.readRange(dir.path, 0, 1), /not a regular file/);
});

t.test('options are validated with errors that name the option', async (t) => {
  const fetcher = new FileFetcher();
  t.throws(() => new AsyncCachingReader({} as never), /options.fetcher must implement Fetcher/);
  t.throws(() => new AsyncCachingReader({ fetcher, mode: 'blocks' as never }), /mode must be "block" or "chunk"/);
  t.throws(() => new AsyncCachingReader({ fetcher, blockSize: 0 }), /blockSize must be an integer from 1/);
  t.throws(() => new AsyncCachingReader({ fetcher, blockSize: 1024 ** 3 }), /blockSize must be an integer from 1 to 536870912/);
  t.throws(() => new AsyncCachingReader({ fetcher, ttlMs: -1 }), /ttlMs must be a positive whole number of milliseconds/);
  t.throws(() => new AsyncCachingReader({ fetcher, ttlMs: 1.5 }), /ttlMs must be a positive whole number of milliseconds/);
  t.throws(() => new AsyncCachingReader({ fetcher, metaTtlMs: 0 }), ConfigError);
  t.throws(() => new AsyncCachingReader({ fetcher, sharedStats: true }), { name: 'ConfigError', message: /sharedStats needs a store that keeps shared counters/ }, 'a MemoryStore keeps no shared counters');
  t.throws(() => new AsyncCachingReader({ fetcher, sharedStats: 'yes' as never }), { name: 'ConfigError', message: /sharedStats must be true, false or \{ intervalMs \}/ });
  t.throws(() => new AsyncCachingReader({ fetcher, ttlMs: 1e17 }), /ttlMs must be a positive whole number of milliseconds, at most 315360000000/);
  // Options of earlier versions are named, not ignored: a duration in seconds read as ms would be 1000x off.
  t.throws(() => new AsyncCachingReader({ fetcher, ttl: 3600 } as never), { name: 'ConfigError', message: /option ttl was renamed ttlMs \(milliseconds; false for no expiry\)/ });
  t.throws(() => new AsyncCachingReader({ fetcher, metaTtl: 60 } as never), /option metaTtl was renamed metaTtlMs/);
  t.throws(() => new AsyncCachingReader({ fetcher, authorizeTtl: 30 } as never), /option authorizeTtl was renamed authorizeTtlMs/);
  t.throws(() => new AsyncCachingReader({ fetcher, leaseMs: null } as never), /leaseMs: null is not accepted; false turns it off/);
  t.throws(() => new AsyncCachingReader({ fetcher, ttlMs: null } as never), /ttlMs: null is not accepted/);
  t.throws(() => new AsyncCachingReader({ fetcher, authorize: 'none' } as never), /authorize: "none" is not accepted/);
  t.equal(new AsyncCachingReader({ fetcher, ttlMs: false, leaseMs: false, authorize: false, circuitBreaker: false }).options.ttlMs, false, 'false turns each of them off');
  t.throws(() => new AsyncCachingReader(null as never), /options object is required/);
  t.throws(() => new AsyncCachingReader({ fetcher, circuitBreaker: 5 as never }), /circuitBreaker must be an object or false/);
  t.throws(() => new AsyncCachingReader({ fetcher, maxGap: -1 }), /maxGap/);
  t.throws(() => new AsyncCachingReader({ fetcher, store: {} as never }), /options.store must implement CacheStore/);
});

t.test('a closed reader refuses reads', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path } = await dir.file('c.bin', 10);
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher() });
  await reader.close();
  await t.rejects(reader.readRange(path, 0, 1), /reader is closed/);
});

t.test('callers cannot corrupt what other callers or the cache see', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path, bytes } = await dir.file('m.bin', 10_000);
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), blockSize: 4096 });
  const [a, b] = await Promise.all([reader.readRange(path, 0, 4096), reader.readRange(path, 0, 4096)]);
  a.fill(0);
  t.same(Buffer.from(b), bytes.subarray(0, 4096), 'two callers of one cold block get separate buffers');
  const c = await reader.readRange(path, 0, 4096);
  t.same(Buffer.from(c), bytes.subarray(0, 4096), 'the cache kept the origin bytes');
  c.fill(1);
  t.same(Buffer.from(await reader.readRange(path, 0, 4096)), bytes.subarray(0, 4096), 'a warm result is the caller\'s own');
});

t.test('a fetcher that returns the wrong number of bytes is an OriginError', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path } = await dir.file('short.bin', 100);
  const file = new FileFetcher();
  const short = { backend: 'short', stat: (p: string) => file.stat(p), fetch: async () => new Uint8Array(3) };
  const reader = new AsyncCachingReader({ fetcher: short });
  const err = await reader.readRange(path, 0, 50).then(() => null, (e: unknown) => e);
  t.ok(err instanceof OriginError);
  t.match((err as Error).message, /origin returned 3 bytes for \[0, 100\)/, 'the read of [0, 50) fetched its whole 100-byte block');
  const bad = { backend: 'bad', stat: async () => ({ size: -1, version: '' }), fetch: async () => new Uint8Array(0) };
  await t.rejects(new AsyncCachingReader({ fetcher: bad }).stat(path), OriginError);
});

t.test('the fetcher router: fetchers that cannot be routed are a ConfigError, a path no fetcher serves an InvalidPathError', async (t) => {
  const file = new FileFetcher();
  const custom = (schemes: unknown) => ({ backend: 'custom', schemes: schemes as string[], stat: async () => ({ size: 0, version: 'x' }), fetch: async () => new Uint8Array(0) });
  const mistakes: [string, () => unknown, RegExp][] = [
    ['two fetchers claiming one scheme', () => new FetcherRouter([file, new FileFetcher()]), /two fetchers claim the URL scheme "file"/],
    ['two claiming one scheme in different case', () => new FetcherRouter([file, custom(['FILE'])]), /two fetchers claim the URL scheme "file"/],
    ['a fetcher without schemes', () => new FetcherRouter([custom(undefined)]), /fetcher "custom" declares no URL schemes/],
    ['a fetcher with an empty scheme list', () => new FetcherRouter([custom([])]), /declares no URL schemes/],
    ['a scheme with its colon', () => new FetcherRouter([custom(['gs:'])]), /declares "gs:", which is not a URL scheme name/],
    ['an empty scheme', () => new FetcherRouter([custom([''])]), /declares "", which is not a URL scheme name/],
    ['a scheme that is no string', () => new FetcherRouter([custom([42])]), /declares 42, which is not a URL scheme name/],
    ['no fetchers', () => new FetcherRouter([]), /fetchers must be a non-empty array/],
    ['fetchers that are no array', () => new FetcherRouter(file as never), /fetchers must be a non-empty array/],
    ['a fetcher that is null', () => new FetcherRouter([file, null as never]), /fetchers\[1\] must implement Fetcher/],
    ['via the reader', () => new AsyncCachingReader({ fetcher: [file, new FileFetcher()] }), /two fetchers claim the URL scheme "file"/],
  ];
  for (const [what, make, message] of mistakes) {
    const err = (() => { try { make(); return null; } catch (e) { return e; } })();
    t.ok(err instanceof ConfigError && ConfigError.is(err), `${what}: a ConfigError`);
    t.notOk(err instanceof InvalidPathError, `${what}: not an InvalidPathError`);
    t.ok(err instanceof RangecacheError, `${what}: a RangecacheError`);
    t.match((err as Error).message, message, `${what}: the message says what is wrong`);
  }

  const router = new FetcherRouter([file, custom(['gs', 'S3'])]);
  t.same(router.schemes, ['file', 'gs', 's3']);
  for (const path of ['https://h/x', 'relative/path', 'x']) {
    const err = (() => { try { router.fetcherFor(path); return null; } catch (e) { return e; } })();
    t.ok(err instanceof InvalidPathError && InvalidPathError.is(err) && err.path === path, `reading ${path}: an InvalidPathError naming the path`);
    t.notOk(ConfigError.is(err), `reading ${path}: not a ConfigError`);
  }
  const reader = new AsyncCachingReader({ fetcher: [file] });
  await t.rejects(reader.readRange('https://h/x', 0, 1), InvalidPathError, 'the reader passes the InvalidPathError on');
  await t.rejects(reader.readRange('https://h/x', 0, 1), { code: 'ERR_RANGECACHE_PATH', message: /no fetcher for the scheme "https" \(schemes served: file\)/ });
  await reader.close();
});

t.test('reader.options holds the checked options, durations in ms, and never the integrity secret', async (t) => {
  const secret = 'a secret of at least 16 bytes';
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), integrity: { secret }, metaTtlMs: 5000 });
  t.equal(reader.options.metaTtlMs, 5000);
  t.equal(reader.options.ttlMs, 3_600_000, 'default: an hour, in ms');
  t.equal(reader.options.integrity, true);
  t.notMatch(JSON.stringify(reader.options), secret, 'the secret is not kept in the options');
  t.ok(Object.isFrozen(reader.options));
  await reader.close();
});
