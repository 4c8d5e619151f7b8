/**
 * Returned bytes are the caller's own: a result never shares its ArrayBuffer with unrelated data (Node's shared
 * 8 KiB pool backs every Buffer.allocUnsafe under 4 KiB, so `bytes.buffer` would hold other callers' bytes).
 */
import t from 'tap';
import { AsyncCachingReader, FileFetcher, MemoryStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { startRedis, tempDir } from '@rangecache/test-support';

const owns = (b: Uint8Array): boolean => b.byteOffset === 0 && b.buffer.byteLength === b.byteLength;

t.test('small and large results own their memory: cold, warm, several ranges, a pinned handle, the fetcher', async (t) => {
  const [redis, dir] = await Promise.all([startRedis(), tempDir()]);
  const client = await redis.client();
  const { path, bytes } = await dir.file('owned.bin', 256 * 1024);
  const readers = [
    new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore(), blockSize: 65536 }),
    new AsyncCachingReader({ fetcher: new FileFetcher(), store: new RedisStore({ client }), blockSize: 65536, namespace: `owned-${process.pid}` }),
  ];
  t.teardown(async () => { for (const r of readers) await r.close(); await redis.stop(); await dir.remove(); });
  for (const [name, reader] of [['MemoryStore', readers[0]!], ['RedisStore', readers[1]!]] as const) {
    for (const pass of ['cold', 'warm']) {
      for (const [start, end] of [[10, 110], [65_530, 65_600], [1000, 70_000]] as const) {
        const got = await reader.readRange(path, start, end);
        t.same(Buffer.from(got), bytes.subarray(start, end), `${name} ${pass} [${start}, ${end}): right bytes`);
        t.ok(owns(got), `${name} ${pass} [${start}, ${end}): owns its memory (buffer ${got.buffer.byteLength} B, offset ${got.byteOffset})`);
      }
      await reader.flush();
    }
    const many = await reader.readRanges(path, [{ start: 5, end: 50 }, { start: 200_000, end: 200_010 }]);
    t.ok(many.every(owns), `${name}: every result of readRanges owns its memory`);
    const file = await reader.open(path);
    t.ok(owns(await file.read(7, 77)), `${name}: a pinned handle's result owns its memory`);
  }
  const fetcher = new FileFetcher();
  const direct = await fetcher.fetch(path, { start: 3, end: 30 }, { expect: await fetcher.stat(path) });
  t.ok(owns(direct), 'a FileFetcher result owns its memory');
});
