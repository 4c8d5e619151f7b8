/**
 * The conformance suite every Fetcher passes (like chunkd's `conformance` or keyv's `test-suite`): call
 * `fetcherConformance(t, harness)` from a backend's test file with a harness that puts objects at its origin.
 */
import type { Test } from 'tap';
import { AsyncCachingReader, InvalidRangeError, MemoryStore, ObjectNotFoundError, VersionChangedError } from '@rangecache/core';
import type { ByteRange, CacheStore, Fetcher, ObjectMeta } from '@rangecache/core';
import { pseudoRandomBytes } from './data.js';

export interface ConformanceHarness {
  fetcher: Fetcher;
  /** Creates or replaces an object at the origin and returns the path the fetcher reads it by. */
  put(name: string, bytes: Uint8Array): Promise<string>;
  /** The path of an object that does not exist. */
  missing(name: string): string;
  /** Data requests the origin has served so far, counted at the origin (GETs; not HEAD). */
  originGets(): number;
  /** Makes the next `n` origin requests fail with a retryable error (a 503). Absent: the backend has no retries. */
  failNext?(n: number): void;
  /** A store for the end-to-end part (cold then warm); a new MemoryStore when absent. */
  store?(): CacheStore;
  /**
   * The backend's fetcher itself, when `fetcher` wraps it (e.g. in a CountingFetcher, which reads the range too):
   * the range checks call it directly, so that they see how often the backend reads the range.
   */
  unwrapped?: Fetcher;
}

const B = 65536;

export function fetcherConformance(t: Test, h: ConformanceHarness): void {
  t.test('stat reports size and a version', async (t) => {
    for (const size of [0, 1, 1000, 3 * B + 5]) {
      const path = await h.put(`stat-${size}.bin`, pseudoRandomBytes(size, `stat-${size}`));
      const meta = await h.fetcher.stat(path);
      t.equal(meta.size, size, `size ${size}`);
      t.type(meta.version, 'string');
      t.ok(meta.version.length > 0);
    }
  });

  t.test('ranges at and across block edges are byte-exact', async (t) => {
    const size = 4 * B + 123;
    const bytes = pseudoRandomBytes(size, 'edges');
    const path = await h.put('edges.bin', bytes);
    const meta = await h.fetcher.stat(path);
    const ranges: [number, number][] = [
      [0, 1], [0, B], [B - 1, B], [B - 1, B + 1], [B, 2 * B], [B + 7, 3 * B - 7], [size - 1, size], [0, size], [4 * B, size],
    ];
    for (const [start, end] of ranges) {
      const got = await h.fetcher.fetch(path, { start, end }, { expect: meta });
      t.same(Buffer.from(got), bytes.subarray(start, end), `[${start}, ${end})`);
    }
  });

  t.test('through the reader: EOF clamping, empty ranges, zero-length objects', async (t) => {
    const bytes = pseudoRandomBytes(10_000, 'eof');
    const path = await h.put('eof.bin', bytes);
    const empty = await h.put('zero.bin', new Uint8Array(0));
    const reader = new AsyncCachingReader({ fetcher: h.fetcher, store: new MemoryStore(), blockSize: 4096 });
    t.same(Buffer.from(await reader.readRange(path, 9990, 20_000)), bytes.subarray(9990), 'end clamped to the size');
    t.same(await reader.readRange(path, 10_000, 10_001), new Uint8Array(0), 'start at EOF: empty');
    t.same(await reader.readRange(path, 50, 50), new Uint8Array(0));
    await t.rejects(reader.readRange(path, 10_001, 10_002), InvalidRangeError, 'start past EOF');
    t.same(await reader.readRange(empty, 0, 100), new Uint8Array(0), 'zero-length object');
    t.equal((await reader.stat(empty)).size, 0);
  });

  t.test('a missing object is an ObjectNotFoundError', async (t) => {
    const path = h.missing('nothing-here.bin');
    const err = await h.fetcher.stat(path).then(() => null, (e: unknown) => e);
    t.ok(err instanceof ObjectNotFoundError, 'stat');
    t.equal((err as ObjectNotFoundError).path, path);
    t.equal((err as ObjectNotFoundError).backend, h.fetcher.backend);
    const fake: ObjectMeta = { size: 10, version: 'v' };
    await t.rejects(h.fetcher.fetch(path, { start: 0, end: 10 }, { expect: fake }), ObjectNotFoundError, 'fetch');
  });

  t.test('a version change between stat and fetch is refused, and the reader recovers', async (t) => {
    const v1 = pseudoRandomBytes(50_000, 'v1');
    const v2 = pseudoRandomBytes(50_000, 'v2');
    const path = await h.put('versioned.bin', v1);
    const meta1 = await h.fetcher.stat(path);
    const reader = new AsyncCachingReader({ fetcher: h.fetcher, store: new MemoryStore(), blockSize: 4096, metaTtlMs: 3_600_000 });
    t.same(Buffer.from(await reader.readRange(path, 0, 8192)), v1.subarray(0, 8192));
    await h.put('versioned.bin', v2);
    const meta2 = await h.fetcher.stat(path);
    t.not(meta2.version, meta1.version, 'a new version');
    await t.rejects(h.fetcher.fetch(path, { start: 0, end: 100 }, { expect: meta1 }), VersionChangedError, 'old version refused');
    t.same(Buffer.from(await reader.readRange(path, 0, 50_000)), v2, 'the reader refreshes and reads only the new version');
  });

  t.test('the fetcher refuses a bad range on its own, before any request, and reads the range once', async (t) => {
    const f = h.unwrapped ?? h.fetcher;
    const bytes = pseudoRandomBytes(10_000, 'bad-range');
    const path = await h.put('bad-range.bin', bytes);
    const meta = await f.stat(path);
    const before = h.originGets();
    const bad: [unknown, unknown][] = [
      [-1, 10], [-65536, 4096], [10, 5], [5, 5], [0, 10_001], [9_999, 20_000], [0.5, 10], [0, 10.5], [Number.NaN, 10], [0, Infinity],
      ['0', 10], [0, null], [2 ** 53, 2 ** 53 + 2],
    ];
    for (const [start, end] of bad) {
      const err = await f.fetch(path, { start, end } as ByteRange, { expect: meta }).then(() => null, (e: unknown) => e);
      t.ok(err instanceof InvalidRangeError, `[${String(start)}, ${String(end)}) is an InvalidRangeError`);
      t.equal((err as InvalidRangeError | null)?.path, path, 'naming the path');
      t.equal((err as InvalidRangeError | null)?.backend, f.backend, 'and the backend');
    }
    t.equal(h.originGets(), before, 'none of them reached the origin');

    // A getter that answers differently the second time: the first answer is the range, whatever comes later.
    let reads = 0;
    const shifty = { get start() { return reads++ === 0 ? 4096 : -65536; }, end: 8192 };
    t.same(Buffer.from(await f.fetch(path, shifty, { expect: meta })), bytes.subarray(4096, 8192), 'a valid first answer is used');
    t.equal(reads, 1, 'start was read once');
    let reads2 = 0;
    const shifty2 = { get start() { return reads2++ === 0 ? -65536 : 0; }, end: 4096 };
    await t.rejects(f.fetch(path, shifty2, { expect: meta }), InvalidRangeError, 'an invalid first answer is refused');
    // The caller reuses its range object right after the call: the fetch serves the range as it was.
    const reused = { start: 65, end: 4161 };
    const pending = f.fetch(path, reused, { expect: meta });
    reused.start = -65536;
    reused.end = 100;
    t.same(Buffer.from(await pending), bytes.subarray(65, 4161), 'changing the range object after the call changes nothing');
  });

  t.test('abort', async (t) => {
    const path = await h.put('abort.bin', pseudoRandomBytes(1000, 'abort'));
    const meta = await h.fetcher.stat(path);
    await t.rejects(h.fetcher.fetch(path, { start: 0, end: 10 }, { expect: meta, signal: AbortSignal.abort() }), { name: 'AbortError' });
    await t.rejects(h.fetcher.stat(path, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  if (h.failNext) {
    const failNext = h.failNext.bind(h);
    t.test('retries an origin that fails the first requests', async (t) => {
      const bytes = pseudoRandomBytes(5000, 'retry');
      const path = await h.put('retry.bin', bytes);
      const meta = await h.fetcher.stat(path);
      const before = h.originGets();
      failNext(2);
      t.same(Buffer.from(await h.fetcher.fetch(path, { start: 10, end: 4000 }, { expect: meta })), bytes.subarray(10, 4000));
      t.equal(h.originGets() - before, 3, 'two failures, then success');
      failNext(1);
      t.equal((await h.fetcher.stat(path)).size, 5000, 'stat retries too');
    });
  }

  t.test('end to end: cold then warm through a shared store, warm never reaches the origin', async (t) => {
    const size = 6 * B + 99;
    const bytes = pseudoRandomBytes(size, 'e2e');
    const path = await h.put('e2e.bin', bytes);
    const store = h.store?.() ?? new MemoryStore();
    const namespace = `conformance-${Date.now()}-${Math.random()}`;
    for (const mode of ['block', 'chunk'] as const) {
      const ranges = [{ start: 0, end: size }, { start: 5, end: 70_000 }, { start: size - 3000, end: size + 10 }];
      const cold = new AsyncCachingReader({ fetcher: h.fetcher, store, mode, blockSize: B, namespace: `${namespace}-${mode}` });
      const before = h.originGets();
      for (const r of ranges) t.same(Buffer.from(await cold.readRange(path, r.start, r.end)), bytes.subarray(r.start, Math.min(r.end, size)), `${mode} cold`);
      await cold.close();
      t.ok(h.originGets() > before, `${mode}: the cold pass reached the origin`);
      const warm = new AsyncCachingReader({ fetcher: h.fetcher, store, mode, blockSize: B, namespace: `${namespace}-${mode}` });
      const atWarm = h.originGets();
      for (const r of ranges) t.same(Buffer.from(await warm.readRange(path, r.start, r.end)), bytes.subarray(r.start, Math.min(r.end, size)), `${mode} warm`);
      t.equal(h.originGets(), atWarm, `${mode}: warm reads made no origin request`);
      t.equal(warm.stats().originStats, 0, `${mode}: metadata came from the store too`);
      await warm.close();
    }
  });
}
