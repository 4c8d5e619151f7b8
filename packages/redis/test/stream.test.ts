import t from 'tap';
import { AsyncCachingReader, FileFetcher, MemoryStore } from '@rangecache/core';
import { CountingFetcher, tempDir } from '@rangecache/test-support';
import { open } from 'node:fs/promises';
import { collect, readerFixture } from './helpers.js';

t.test('stream() yields the exact bytes in block-aligned pieces, cold and warm', async (t) => {
  const fx = await readerFixture(t);
  const B = 65536;
  const size = 10 * B + 333;
  const { path, bytes } = await fx.dir.file('s.bin', size);
  const { reader } = fx.reader({ blockSize: B });
  const pieces: number[] = [];
  for await (const c of reader.stream(path, { start: 1000, end: 5 * B + 10 })) pieces.push(c.byteLength);
  t.same(pieces, [B - 1000, B, B, B, B, 10], 'aligned to block boundaries');
  t.same(await collect(reader.stream(path)), bytes, 'whole object, default range');
  t.same(await collect(reader.stream(path, { start: 5, end: size * 2 })), bytes.subarray(5), 'end clamped to EOF');
  t.same(await collect(reader.stream(path, { start: size })), Buffer.alloc(0), 'start at EOF: empty');
  await reader.flush();
  const { reader: warm, origin } = fx.reader({ blockSize: B });
  t.same(await collect(warm.stream(path)), bytes);
  t.equal(origin.fetches.length, 0, 'warm stream never touches the origin');
  t.same(await collect(fx.reader({ blockSize: B, mode: 'chunk' }).reader.stream(path, { start: 3 })), bytes.subarray(3), 'chunk mode');
});

t.test('stream() fetches a bounded number of pieces ahead and honours backpressure', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const B = 4096;
  const { path, bytes } = await dir.file('bp.bin', 100 * B);
  const origin = new CountingFetcher(new FileFetcher());
  const reader = new AsyncCachingReader({ fetcher: origin, blockSize: B, readAhead: 3, maxGap: 0 });
  const stream = reader.stream(path);
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  t.same(Buffer.from(first.value!), bytes.subarray(0, B));
  await new Promise((r) => setTimeout(r, 100)); // a slow consumer: nothing more may be fetched meanwhile
  t.ok(origin.fetchedBytes <= 4 * B, `fetched ${origin.fetchedBytes / B} pieces while the consumer held 1 (read-ahead 3)`);
  let got = B;
  for (let i = 0; i < 10; i++) {
    const n = await it.next();
    got += n.value!.byteLength;
    t.ok(origin.fetchedBytes <= got + 3 * B, 'never more than readAhead pieces beyond what was consumed');
  }
  await it.return!();
  await new Promise((r) => setTimeout(r, 50));
  const after = origin.fetchedBytes;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(origin.fetchedBytes, after, 'cancelling stops fetching');
  t.ok(after <= 14 * B, `stopped early: ${after / B} of 100 pieces fetched`);
});

t.test('stream() aborts with its signal', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path } = await dir.file('ab.bin', 1 << 20);
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), blockSize: 4096 });
  const ac = new AbortController();
  let n = 0;
  await t.rejects((async () => {
    for await (const c of reader.stream(path, { signal: ac.signal })) {
      n += c.byteLength;
      if (n >= 3 * 4096) ac.abort();
    }
  })(), { name: 'AbortError' });
  t.ok(n >= 3 * 4096 && n < 1 << 20);
});

t.test('stream() over 1 GiB keeps memory bounded', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const path = `${dir.path}/big.bin`;
  const fh = await open(path, 'w');
  await fh.truncate(1024 ** 3); // sparse: 1 GiB of zeros without the disk space
  await fh.write(Buffer.from('tail'), 0, 4, 1024 ** 3 - 4);
  await fh.close();
  const reader = new AsyncCachingReader({
    fetcher: new FileFetcher(), blockSize: 1 << 20, readAhead: 4, store: new MemoryStore({ maxBytes: 8 << 20 }),
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  t.ok(gc, 'tests run with --expose-gc (package.json tap.node-arg)');
  gc?.();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakLive = 0;
  let total = 0;
  let last = Buffer.alloc(0);
  for await (const c of reader.stream(path)) {
    total += c.byteLength;
    last = Buffer.from(c.subarray(c.byteLength - 4));
    if ((total & ((64 << 20) - 1)) === 0) {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      // Array buffers are swept concurrently: collect, let the sweeper run, collect again.
      gc?.();
      await new Promise((r) => setTimeout(r, 5));
      gc?.();
      peakLive = Math.max(peakLive, process.memoryUsage().arrayBuffers - base.arrayBuffers);
    }
  }
  t.equal(total, 1024 ** 3);
  t.equal(last.toString(), 'tail', 'the last bytes are the file\'s');
  const liveMiB = peakLive / 2 ** 20;
  t.ok(liveMiB < 32, `at most ${liveMiB.toFixed(1)} MiB of buffers alive while streaming 1 GiB (read-ahead 4 x 1 MiB, store 8 MiB)`);
  const rssMiB = (peakRss - base.rss) / 2 ** 20;
  t.ok(rssMiB < 256, `peak RSS grew by ${rssMiB.toFixed(0)} MiB (garbage not yet collected included)`);
});

t.test('stream() with an already aborted signal fetches nothing, and failed streams leave no listeners', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path } = await dir.file('pre.bin', 65536);
  const origin = new CountingFetcher(new FileFetcher());
  const reader = new AsyncCachingReader({ fetcher: origin, blockSize: 4096 });
  await t.rejects(collect(reader.stream(path, { signal: AbortSignal.abort() })), { name: 'AbortError' });
  t.equal(origin.fetches.length, 0);
  const ac = new AbortController();
  let added = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  const remove = ac.signal.removeEventListener.bind(ac.signal);
  ac.signal.addEventListener = ((...a: Parameters<typeof add>) => { added++; add(...a); }) as typeof add;
  ac.signal.removeEventListener = ((...a: Parameters<typeof remove>) => { added--; remove(...a); }) as typeof remove;
  for (let i = 0; i < 5; i++) await t.rejects(collect(reader.stream(`${dir.path}/missing.bin`, { signal: ac.signal })));
  t.equal(added, 0, 'every listener was removed');
});

t.test('stream() is a byte stream: a BYOB reader reads into its own buffer, of any size, byte-exact', async (t) => {
  const fx = await readerFixture(t);
  const B = 65536;
  const size = 6 * B + 123;
  const { path, bytes } = await fx.dir.file('byob.bin', size);
  const { reader } = fx.reader({ blockSize: B });
  for (const pass of ['cold', 'warm']) {
    for (const room of [1000, B, 3 * B + 7]) {
      const byob = reader.stream(path, { start: 11 }).getReader({ mode: 'byob' });
      let buffer = new Uint8Array(room);
      const parts: Buffer[] = [];
      for (;;) {
        const { value, done } = await byob.read(buffer);
        if (done) break;
        t.ok(value.byteLength <= room, 'a read fills at most the buffer');
        parts.push(Buffer.from(value));
        buffer = new Uint8Array(value.buffer); // the same memory, handed back for the next read
      }
      t.ok(Buffer.concat(parts).equals(bytes.subarray(11)), `${pass}, buffer of ${room}: the bytes`);
    }
    await reader.flush();
  }
  t.ok(reader.stats().hits > 0, 'the warm pass read the cache');
  // Cancelling a BYOB reader midway stops the stream.
  const byob = reader.stream(path).getReader({ mode: 'byob' });
  const first = await byob.read(new Uint8Array(100));
  t.same(Buffer.from(first.value!), bytes.subarray(0, 100));
  await byob.cancel();
  t.equal((await byob.closed.then(() => 'closed')), 'closed');
});
