/**
 * Fleet behaviour in one process: readers on views of one MemoryStore with leases (`withLeases()`) share each
 * missing piece's origin fetch, as processes sharing a Redis do. The real-process fleet tests (test/fleet*.ts)
 * cover the same over Redis; these run without it and isolate the fleet stage.
 */
import t, { type Test } from 'tap';
import { AsyncCachingReader, FileFetcher, MemoryStore } from '@rangecache/core';
import { blockKey, versionPrefix } from '@rangecache/core/store-kit';
import { CountingFetcher, tempDir } from '@rangecache/test-support';

const B = 256 * 1024;

t.test('eight readers reading a cold object at once fetch each block once between them, byte-exact', async (t) => {
  const dir = await tempDir();
  const { path, bytes } = await dir.file('fleet.bin', 16 * B + 99);
  const shared = new MemoryStore();
  const origins = Array.from({ length: 8 }, () => new CountingFetcher(new FileFetcher(), { delayMs: 30 }));
  const readers = origins.map((fetcher) => new AsyncCachingReader({ fetcher, store: shared.withLeases(), blockSize: B, leaseMs: 5000 }));
  t.teardown(async () => { await Promise.all(readers.map((r) => r.close())); await dir.remove(); });

  const results = await Promise.all(readers.map((r, i) => (i % 2 === 0 ? r.readRange(path, 0, bytes.byteLength) : r.readRange(path, 5 * B + 7, 12 * B))));
  results.forEach((got, i) => {
    const want = i % 2 === 0 ? bytes : bytes.subarray(5 * B + 7, 12 * B);
    t.ok(Buffer.from(got).equals(want), `reader ${i}: byte-exact`);
  });
  const fetched = origins.reduce((n, o) => n + o.fetchedBytes, 0);
  t.equal(fetched, bytes.byteLength, 'the origin served the object once, not once per reader');
  const stats = readers.map((r) => r.stats());
  t.ok(stats.reduce((n, s) => n + s.fleetWaits, 0) > 0, 'readers waited for blocks others were fetching');
  t.equal(stats.reduce((n, s) => n + s.fleetFallbacks, 0), 0, 'and none gave up waiting');
});

t.test('a holder that dies holding its leases costs its waiters about one lease, then they fetch themselves', async (t) => {
  const dir = await tempDir();
  const { path, bytes } = await dir.file('stuck.bin', 4 * B);
  const shared = new MemoryStore();
  const leaseMs = 400;
  const fetcher = new CountingFetcher(new FileFetcher());
  const reader = new AsyncCachingReader({ fetcher, store: shared.withLeases(), blockSize: B, leaseMs });
  t.teardown(async () => { await reader.close(); await dir.remove(); });
  // A holder that took the leases of every block and died: it never lands, releases or extends them.
  const { version } = await new FileFetcher().stat(path);
  const keys = [0, 1, 2, 3].map((i) => blockKey(versionPrefix('default', path, version), B, i));
  t.same(await shared.withLeases().coordinator!.claim(keys, leaseMs), ['claimed', 'claimed', 'claimed', 'claimed']);

  const started = performance.now();
  const got = await reader.readRange(path, 0, bytes.byteLength);
  const waitedMs = performance.now() - started;
  t.ok(Buffer.from(got).equals(bytes), 'the waiter gets the right bytes');
  t.equal(fetcher.fetchedBytes, bytes.byteLength, 'fetched by the waiter itself, once');
  t.equal(reader.stats().fleetFallbacks, 4, 'after waiting in vain for the dead holder');
  t.ok(waitedMs >= leaseMs * 0.9, `it waited for the leases to lapse (${Math.round(waitedMs)} ms)`);
  t.comment(`waited ${Math.round(waitedMs)} ms for a ${leaseMs} ms lease`); // the bound on the wait is the benchmark's, not a test's
});

/**
 * A reader whose scan of blocks 0 and 1 reads block 2 ahead while another process (`other`, a view of the same
 * store) holds block 2's lease, as its own read-ahead would: the reader waits on that holder.
 */
async function scanWhileBlock2IsHeld(t: Test, name: string) {
  const dir = await tempDir();
  const { path, bytes } = await dir.file(name, 8 * B);
  const shared = new MemoryStore();
  const fetcher = new CountingFetcher(new FileFetcher());
  const reader = new AsyncCachingReader({ fetcher, store: shared.withLeases(), blockSize: B, leaseMs: 5000 });
  t.teardown(async () => { await reader.close(); await dir.remove(); });
  const other = shared.withLeases();
  const { version } = await new FileFetcher().stat(path);
  const key2 = blockKey(versionPrefix('default', path, version), B, 2);
  t.same(await other.coordinator!.claim([key2], 5000), ['claimed']);
  t.ok(Buffer.from(await reader.readRange(path, 0, B)).equals(bytes.subarray(0, B)));
  t.ok(Buffer.from(await reader.readRange(path, B, 2 * B)).equals(bytes.subarray(B, 2 * B)));
  await new Promise((r) => setTimeout(r, 100));
  t.same(fetcher.fetches, [{ start: 0, end: B }, { start: B, end: 2 * B }], 'blocks 0 and 1 fetched; block 2 waited on');
  const droppedOnce = async (): Promise<void> => {
    for (let i = 0; i < 100 && reader.stats().aheadDropped === 0; i++) await new Promise((r) => setTimeout(r, 20));
  };
  return { path, bytes, fetcher, reader, other, key2, droppedOnce };
}

t.test('read-ahead whose holder gave up is let go, not fetched; a read of it later fetches it once', async (t) => {
  const { path, bytes, fetcher, reader, other, key2, droppedOnce } = await scanWhileBlock2IsHeld(t, 'ahead.bin');
  await other.coordinator!.release([key2]); // the holder gave up (its close() aborted it): nothing landed
  await droppedOnce();
  t.equal(reader.stats().aheadDropped, 1, 'the waiter let the read-ahead go');
  t.equal(reader.stats().fleetFallbacks, 0, 'instead of fetching it');
  t.same(fetcher.fetches.length, 2, 'the origin was not asked for block 2');
  t.same(await other.coordinator!.claim([key2], 5000), ['claimed'], 'and its lease was released');
  await other.coordinator!.release([key2]);

  // A read of block 2 now fetches it, once, byte-exact.
  t.ok(Buffer.from(await reader.readRange(path, 2 * B, 3 * B)).equals(bytes.subarray(2 * B, 3 * B)), 'block 2 byte-exact');
  t.equal(fetcher.fetches.filter((r) => r.start === 2 * B).length, 1, 'fetched once, by the read');
});

t.test('read-ahead whose holder landed it is let go, and the read that wants it reads it from the store once', async (t) => {
  const { path, bytes, fetcher, reader, other, key2, droppedOnce } = await scanWhileBlock2IsHeld(t, 'ahead-landed.bin');
  const hitsBefore = reader.stats().hits;
  // The holder lands block 2 and releases it.
  await other.setMany([{ key: key2, value: bytes.slice(2 * B, 3 * B), ttlMs: 60_000 }]);
  await other.coordinator!.release([key2]);
  await droppedOnce();
  t.equal(reader.stats().aheadDropped, 1, 'the read-ahead was let go once its holder released it');
  t.equal(reader.stats().hits, hitsBefore, 'without reading block 2');

  // The scan's read of block 2 reads it from the store: once, byte-exact, and not from the origin.
  t.ok(Buffer.from(await reader.readRange(path, 2 * B, 3 * B)).equals(bytes.subarray(2 * B, 3 * B)), 'block 2 byte-exact');
  t.equal(reader.stats().hits, hitsBefore + 1, 'block 2 was read from the store once');
  t.equal(reader.stats().fleetFallbacks, 0, 'nothing fell back to the origin');
  t.notOk(fetcher.fetches.some((r) => r.start === 2 * B), 'the origin was never asked for block 2');
});

t.test('a wait for a release ends when its timer fires, even if the wall clock reads a little short then', async (t) => {
  const coordinator = new MemoryStore().withLeases().coordinator!;
  t.teardown(() => coordinator.close());
  // Date.now() and timers use different clocks; when the timer fires the wall clock may lag by a millisecond.
  const realNow = Date.now;
  t.teardown(() => { Date.now = realNow; });
  const wait = coordinator.waitForRelease(['k'], 10);
  Date.now = () => realNow() - 50;
  const outcome = await Promise.race([
    wait,
    new Promise((r) => setTimeout(r, 2000, 'hung')),
  ]);
  Date.now = realNow;
  t.same(outcome, [], 'the timed-out wait resolves empty');
});
