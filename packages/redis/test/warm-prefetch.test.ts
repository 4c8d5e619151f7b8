/**
 * Warm read-ahead: a sequential scan over cached blocks looks the next blocks up while the caller uses the current
 * ones (fewer, bigger MGETs), serves the exact bytes, never a value of the wrong length, and forgets what it
 * looked up ahead when the object is invalidated.
 */
import t from 'tap';
import { type ReaderFixture, readerFixture, sleep } from './helpers.js';

const B = 65536;

/** A file of `blocks` blocks, every one of them in Redis already. */
async function cachedFile(fx: ReaderFixture, name: string, blocks: number): Promise<{ path: string; bytes: Buffer }> {
  const file = await fx.dir.file(name, blocks * B);
  const cold = fx.reader({ blockSize: B });
  await cold.reader.readRange(file.path, 0, blocks * B);
  await cold.reader.flush();
  return file;
}

t.test('a warm scan looks the next blocks up while the caller uses the current one; byte-exact', async (t) => {
  const fx = await readerFixture(t);
  const blocks = 128;
  const { path, bytes } = await cachedFile(fx, 'scan.bin', blocks);
  const { reader, origin } = fx.reader({ blockSize: B, readAhead: 4 });
  for (let b = 0; b < 100; b++) {
    t.same(Buffer.from(await reader.readRange(path, b * B, (b + 1) * B)), bytes.subarray(b * B, (b + 1) * B), `block ${b}`);
  }
  // After 100 blocks the window is 4: blocks 100-103 were looked up with the read of block 99. Deleting them from
  // Redis now (once that lookup has answered) does not stop the scan's next reads from finding them.
  await sleep(100);
  const keys = (await fx.client.keys('*:b:65536:*')).filter((k) => [100, 101, 102].includes(Number(k.split(':').at(-1))));
  t.equal(keys.length, 3);
  await fx.client.del(keys);
  for (let b = 100; b < blocks; b++) {
    t.same(Buffer.from(await reader.readRange(path, b * B, (b + 1) * B)), bytes.subarray(b * B, (b + 1) * B), `block ${b}`);
  }
  t.equal(origin.fetches.length, 0, 'blocks 100-102, gone from Redis, came looked up ahead: nothing from the origin');
  t.equal(reader.stats().hits, blocks, 'each block counted once as a hit');
});

t.test('a value of the wrong length looked up ahead is never served', async (t) => {
  const fx = await readerFixture(t);
  const blocks = 8;
  const { path, bytes } = await cachedFile(fx, 'corrupt.bin', blocks);
  // Truncate every block from 3 on: the scan looks them up ahead, gets the wrong lengths, and must not serve them.
  const keys = (await fx.client.keys('*:b:65536:*')).filter((k) => Number(k.split(':').at(-1)) >= 3);
  t.equal(keys.length, blocks - 3);
  for (const k of keys) await fx.client.set(k, 'short');
  const { reader } = fx.reader({ blockSize: B });
  for (let b = 0; b < blocks; b++) {
    t.same(Buffer.from(await reader.readRange(path, b * B, (b + 1) * B)), bytes.subarray(b * B, (b + 1) * B), `block ${b}`);
  }
  t.ok(reader.stats().corruptValues >= 1, `corrupt values seen: ${reader.stats().corruptValues}`);
});

t.test('invalidate() forgets what a scan looked up ahead', async (t) => {
  const fx = await readerFixture(t);
  const blocks = 32;
  const { path, bytes } = await cachedFile(fx, 'inv.bin', blocks);
  const { reader, origin } = fx.reader({ blockSize: B });
  for (let b = 0; b < 24; b++) await reader.readRange(path, b * B, (b + 1) * B); // far enough for a window of blocks
  await reader.flush();
  t.ok(await reader.invalidate(path) > 0);
  const misses = reader.stats().misses;
  t.same(Buffer.from(await reader.readRange(path, 24 * B, 25 * B)), bytes.subarray(24 * B, 25 * B));
  t.ok(reader.stats().misses > misses && origin.fetches.length > 0, 'the next block misses and comes from the origin, not from what was looked up before');
});
