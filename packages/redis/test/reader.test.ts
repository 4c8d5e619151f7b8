import t from 'tap';
import { readerFixture, rng } from './helpers.js';

t.test('block and chunk mode return the origin bytes, cold and warm', async (t) => {
  const fx = await readerFixture(t);
  const size = 5 * 65536 + 1234;
  const { path, bytes } = await fx.dir.file('obj.bin', size);

  for (const mode of ['block', 'chunk'] as const) {
    t.test(`${mode} mode`, async (t) => {
      const { reader, origin } = fx.reader({ mode, blockSize: 65536 });
      const ranges: [number, number][] = [
        [0, 1], [0, 65536], [65535, 65537], [65536, 131072], [100, 200_000], [size - 10, size], [size - 10, size + 1000],
        [0, size], [131071, 131072], [size, size], [7, 7],
      ];
      for (const [s, e] of ranges) {
        t.same(Buffer.from(await reader.readRange(path, s, e)), bytes.subarray(s, Math.min(e, size)), `cold [${s}, ${e})`);
      }
      const cold = reader.stats();
      t.ok(cold.originRequests > 0 && cold.misses > 0);
      await reader.flush();
      const { reader: warmReader, origin: warmOrigin } = fx.reader({ mode, blockSize: 65536 });
      for (const [s, e] of ranges) {
        t.same(Buffer.from(await warmReader.readRange(path, s, e)), bytes.subarray(s, Math.min(e, size)), `warm [${s}, ${e})`);
      }
      t.equal(warmOrigin.fetches.length, 0, 'a second reader on the same Redis never touches the origin for data');
      t.equal(warmOrigin.stats, 0, 'nor for metadata: it comes from Redis');
      t.equal(warmReader.stats().misses, 0);
      t.ok(warmReader.stats().hits > 0);
      t.ok(origin.fetches.every((r) => r.end <= size), 'fetches are clamped to EOF');
    });
  }
});

t.test('block alignment: a read exactly on block boundaries fetches only its blocks', async (t) => {
  const fx = await readerFixture(t);
  const B = 4096;
  const { path, bytes } = await fx.dir.file('aligned.bin', 10 * B);
  const { reader, origin } = fx.reader({ blockSize: B });
  t.same(Buffer.from(await reader.readRange(path, 2 * B, 4 * B)), bytes.subarray(2 * B, 4 * B));
  t.same(origin.fetches, [{ start: 2 * B, end: 4 * B }], 'blocks 2 and 3 only, no extra block (the seed fetched block 4 too)');
  await reader.readRange(path, 9 * B + 5, 100 * B);
  t.same(origin.fetches[1], { start: 9 * B, end: 10 * B }, 'the last block is clamped to EOF');
  await reader.flush();
  const keys = (await fx.client.keys('*')).filter((k) => k.includes(':b:')).sort();
  t.equal(keys.length, 3);
  for (const k of keys) t.match(k, /^rangecache:v2:test-[^:]+:\{\/.*aligned\.bin:v=[^:]+:s0\}:b:4096:(2|3|9)$/, k);
});

t.test('chunk mode: a read inside a cached chunk is served from it', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('chunks.bin', 100_000);
  const { reader, origin } = fx.reader({ mode: 'chunk', maxGap: 0 });
  await reader.readRange(path, 1000, 50_000);
  t.equal(origin.fetches.length, 1);
  await reader.flush();
  t.same(Buffer.from(await reader.readRange(path, 2000, 3000)), bytes.subarray(2000, 3000));
  t.same(Buffer.from(await reader.readRange(path, 1000, 50_000)), bytes.subarray(1000, 50_000));
  t.equal(origin.fetches.length, 1, 'both served from the cached chunk');
  // Evict the chunk behind the reader's back: the index is only a hint, so the read falls back to the origin.
  await fx.client.flushAll();
  t.same(Buffer.from(await reader.readRange(path, 2000, 3000)), bytes.subarray(2000, 3000));
  t.same(origin.fetches.at(-1), { start: 2000, end: 3000 }, 'fetched its exact range after the chunk vanished');
});

t.test('randomized: thousands of ranges in both modes match the origin bytes', async (t) => {
  const fx = await readerFixture(t);
  const size = 3 * 1024 * 1024 + 777;
  const { path, bytes } = await fx.dir.file('random.bin', size);
  const rand = rng(20261124);
  for (const mode of ['block', 'chunk'] as const) {
    const { reader } = fx.reader({ mode, blockSize: 1 << 16, maxGap: 4096 });
    let wrong = 0;
    let checked = 0;
    for (let round = 0; round < 40; round++) {
      // Batches of concurrent reads (same tick), mixing tiny, block-sized, large and EOF-crossing ranges.
      const batch = Array.from({ length: 50 }, () => {
        const start = rand(size + 1);
        const kind = rand(4);
        const len = kind === 0 ? rand(64) : kind === 1 ? rand(1 << 16) : kind === 2 ? rand(300_000) : size;
        return { start, end: start + len };
      });
      const results = await Promise.all(batch.map((r) => reader.readRange(path, r.start, r.end)));
      results.forEach((got, i) => {
        const r = batch[i]!;
        checked++;
        if (!Buffer.from(got).equals(bytes.subarray(r.start, Math.min(r.end, size)))) wrong++;
      });
    }
    t.equal(checked, 2000);
    t.equal(wrong, 0, `${mode}: all 2000 ranges byte-exact`);
    const s = reader.stats();
    // Pieces fetched earlier are served from the store (hits) or, while their write is still out (a write that timed
    // out on a loaded machine keeps them joinable until it lands), from the fetch in flight (joins).
    t.ok(s.hits + s.joins > 0 && s.misses > 0, `${mode}: mixed hits (${s.hits}), joins (${s.joins}) and misses (${s.misses})`);
  }
});

t.test('a cached value of the wrong length is never returned, and is replaced', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('corrupt.bin', 8192);
  const { reader } = fx.reader({ blockSize: 4096 });
  await reader.readRange(path, 0, 8192);
  await reader.flush();
  const key = (await fx.client.keys('*:b:4096:1'))[0]!;
  await fx.client.set(key, 'short');
  const { reader: r2, origin } = fx.reader({ blockSize: 4096 });
  t.same(Buffer.from(await r2.readRange(path, 0, 8192)), bytes);
  t.equal(r2.stats().corruptValues, 1);
  t.same(origin.fetches, [{ start: 4096, end: 8192 }], 'only the bad block was refetched');
  await r2.flush();
  t.equal(await fx.client.strLen(key), 4096, 'the bad value was replaced by the right one');
});

t.test('TTL: data keys get ttlMs, metadata gets metaTtlMs, ttlMs false means no expiry', async (t) => {
  const fx = await readerFixture(t);
  const { path } = await fx.dir.file('ttl.bin', 1000);
  const { reader } = fx.reader({ ttlMs: 100_000, metaTtlMs: 7000 });
  await reader.readRange(path, 0, 1000);
  await reader.flush();
  const keys = await fx.client.keys('*ttl.bin*');
  const meta = keys.find((k) => k.endsWith(':meta}'))!;
  const data = keys.find((k) => k.includes(':b:'))!;
  const m = await fx.client.pTTL(meta);
  const d = await fx.client.pTTL(data);
  t.ok(m > 6000 && m <= 7000, `meta PTTL ${m}`);
  t.ok(d > 99_000 && d <= 100_000, `data PTTL ${d}`);
  const { reader: forever } = fx.reader({ ttlMs: false, namespace: 'forever' });
  await forever.readRange(path, 0, 10);
  await forever.flush();
  const key = (await fx.client.keys('rangecache:v2:forever:*:b:*'))[0]!;
  t.equal(await fx.client.pTTL(key), -1);
});

t.test('a changed object is never served stale after metaTtlMs, and keys carry the version', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes: v1 } = await fx.dir.file('changing.bin', 10_000, 'v1');
  const { reader } = fx.reader({ metaTtlMs: 300, blockSize: 4096 });
  t.same(Buffer.from(await reader.readRange(path, 0, 10_000)), v1);
  const v2 = await fx.dir.file('changing.bin', 12_000, 'v2');
  await new Promise((r) => setTimeout(r, 400));
  t.same(Buffer.from(await reader.readRange(path, 0, 12_000)), v2.bytes, 'new bytes and new size after metaTtlMs');
  await reader.flush();
  const versions = new Set((await fx.client.keys('*changing.bin:v=*')).map((k) => k.split(':v=')[1]!.split(':')[0]));
  t.equal(versions.size, 2, 'old and new versions live under different keys');
});

t.test('the version check refreshes metadata and retries when the object changed under cached metadata', async (t) => {
  const fx = await readerFixture(t);
  const { path } = await fx.dir.file('swap.bin', 10_000, 'v1');
  const { reader, origin } = fx.reader({ metaTtlMs: 3_600_000, blockSize: 4096 });
  await reader.stat(path);
  const v2 = await fx.dir.file('swap.bin', 10_000, 'v2');
  t.same(Buffer.from(await reader.readRange(path, 0, 10_000)), v2.bytes, 'bytes of the new version only');
  t.equal(origin.stats, 2, 'metadata was refreshed from the origin once');
});

t.test('invalidate removes every key of the object with SCAN', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('inv*[x].bin', 50_000);
  const { path: other } = await fx.dir.file('other.bin', 1000);
  const { reader, origin } = fx.reader({ blockSize: 4096 });
  await reader.readRange(path, 0, 50_000);
  await reader.readRange(other, 0, 1000);
  await reader.flush();
  const before = (await fx.client.keys('*')).length;
  const n = await reader.invalidate(path);
  t.equal(n, 13 + 1, '13 blocks and the metadata');
  t.equal((await fx.client.keys('*')).length, before - n, 'other objects are kept');
  origin.reset();
  t.same(Buffer.from(await reader.readRange(path, 0, 50_000)), bytes);
  t.equal(origin.stats, 1, 'metadata was fetched again');
  t.equal(origin.fetchedBytes, 50_000);
});

t.test('chunk mode: reads sharing a containing chunk that has gone each get their own bytes', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('gone.bin', 1000);
  const { reader, origin } = fx.reader({ mode: 'chunk', maxGap: 0 });
  await reader.readRange(path, 0, 200);
  await reader.readRange(path, 300, 600);
  await reader.flush();
  await fx.client.flushAll(); // both chunks evicted behind the reader's back; its index still lists them
  const [a, b, whole] = await Promise.all([reader.readRange(path, 0, 100), reader.readRange(path, 10, 50), reader.readRange(path, 0, 200)]);
  t.same(Buffer.from(a), bytes.subarray(0, 100));
  t.same(Buffer.from(b), bytes.subarray(10, 50));
  t.same(Buffer.from(whole), bytes.subarray(0, 200), 'a read of exactly the gone chunk gets all of it');
  const r = await reader.readRanges(path, [{ start: 300, end: 400 }, { start: 450, end: 550 }]);
  t.same(Buffer.from(r[0]!), bytes.subarray(300, 400));
  t.same(Buffer.from(r[1]!), bytes.subarray(450, 550));
  t.ok(origin.fetches.length >= 4);
});

t.test('close() waits for the cache writes of fetches still in flight', async (t) => {
  const fx = await readerFixture(t);
  const { path } = await fx.dir.file('late.bin', 4096);
  const { reader } = fx.reader({ blockSize: 4096, delayMs: 100 });
  await reader.stat(path);
  const ac = new AbortController();
  const read = reader.readRange(path, 0, 4096, { signal: ac.signal });
  read.catch(() => {});
  const other = reader.readRange(path, 0, 4096); // keeps the fetch alive
  await new Promise((r) => setTimeout(r, 10));
  await reader.close();
  const keys = await fx.client.keys('*late.bin*:b:*');
  t.equal(keys.length, 1, 'the block was written before close() resolved');
  t.equal(await fx.client.strLen(keys[0]!), 4096);
  await other;
});

t.test('a small warm read does not pin a whole block', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('pin.bin', 1 << 20);
  const { reader } = fx.reader();
  await reader.readRange(path, 0, 1 << 20);
  await reader.flush();
  const small = await fx.reader().reader.readRange(path, 100, 116);
  t.same(Buffer.from(small), bytes.subarray(100, 116));
  t.ok(small.buffer.byteLength < 65536, `backing store ${small.buffer.byteLength} bytes for a 16-byte read`);
});

t.test('callers that scribble over their bytes never change what the cache or other callers see', async (t) => {
  const fx = await readerFixture(t);
  const B = 65536;
  const { path, bytes } = await fx.dir.file('scribble.bin', 24 * B);
  const { reader } = fx.reader({ blockSize: B, readAhead: 4, delayMs: 5 });
  let wrong = 0;
  for (let i = 0; i < 24; i++) {
    // Two callers of the same block, one of them late (it may join a fetch that already finished).
    const [a, b] = await Promise.all([reader.readRange(path, i * B, (i + 1) * B), new Promise<Uint8Array>((r) => setTimeout(() => r(reader.readRange(path, i * B, (i + 1) * B)), 3))]);
    if (!Buffer.from(a).equals(bytes.subarray(i * B, (i + 1) * B))) wrong++;
    a.fill(0xee);
    if (!Buffer.from(b).equals(bytes.subarray(i * B, (i + 1) * B))) wrong++;
    b.fill(0xdd);
  }
  t.equal(wrong, 0, 'every caller got the origin bytes');
  await reader.flush();
  const { reader: warm } = fx.reader({ blockSize: B });
  t.same(Buffer.from(await warm.readRange(path, 0, 24 * B)), bytes, 'the cache kept the origin bytes');
});

t.test('sharedStats: readers add their counters to one hash per namespace, on an interval and on close', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('shared.bin', 3 * 4096);
  const { reader: first } = fx.reader({ namespace: 'shared', blockSize: 4096, sharedStats: { intervalMs: 100 } });
  t.same(Buffer.from(await first.readRange(path, 0, bytes.length)), bytes);
  const deadline = Date.now() + 5000;
  while (!(await fx.client.hGet('rangecache:v2:shared:stats', 'misses')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(await fx.client.hGet('rangecache:v2:shared:stats', 'misses'), '3', 'published on the interval, before close');
  await first.close();
  const { reader: second } = fx.reader({ namespace: 'shared', blockSize: 4096, sharedStats: true });
  await second.readRange(path, 0, bytes.length);
  await second.close();
  const counters = await fx.client.hGetAll('rangecache:v2:shared:stats');
  t.same([counters['reads'], counters['hits'], counters['misses'], counters['bytesRead']], ['2', '3', '3', String(2 * bytes.length)], 'each change counted once');
});
