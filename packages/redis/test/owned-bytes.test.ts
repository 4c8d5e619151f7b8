/**
 * Returned bytes are the caller's own: a result never shares its ArrayBuffer with unrelated data (Node's shared
 * 8 KiB pool backs every Buffer.allocUnsafe under 4 KiB, so `bytes.buffer` would hold other callers' bytes).
 */
import t from 'tap';
import { AsyncCachingReader, FileFetcher, MemoryStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import { startRedis, tempDir } from '@rangecache/test-support';

const owns = (b: Uint8Array): boolean => b.byteOffset === 0 && b.buffer.byteLength === b.byteLength;

/** A FileFetcher whose reads wait until `open()`: its reader holds its leases until then. */
function gatedFetcher(): { fetcher: FileFetcher; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  class GatedFetcher extends FileFetcher {
    override async fetch(...args: Parameters<FileFetcher['fetch']>): Promise<Uint8Array> {
      await gate;
      return super.fetch(...args);
    }
  }
  return { fetcher: new GatedFetcher(), open };
}

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

t.test('reads that join one flight another instance fills get memory of their own each; a scan\'s read that is the one taker of its read-ahead\'s flight is not copied', async (t) => {
  const [redis, dir] = await Promise.all([startRedis(), tempDir()]);
  const client = await redis.client();
  const { path, bytes } = await dir.file('joined.bin', 256 * 1024);
  // The holder's origin answers only when the test says so: the other reader finds the block busy and waits.
  const gated = gatedFetcher();
  const namespace = `joined-${process.pid}`;
  const holder = new AsyncCachingReader({ fetcher: gated.fetcher, store: new RedisStore({ client }), blockSize: 65536, namespace });
  const waiter = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new RedisStore({ client }), blockSize: 65536, namespace });
  t.teardown(async () => { await holder.close(); await waiter.close(); await redis.stop(); await dir.remove(); });
  /** Resolves once exactly `n` leases are held (a fixed sleep could be too short on a busy machine). */
  const leasesHeld = async (n: number): Promise<void> => {
    while ((await client.keys(`rangecache:*${namespace}*:lease`)).length !== n) await new Promise((r) => setTimeout(r, 10));
  };
  const held = holder.readRange(path, 0, 65536);
  await leasesHeld(1); // the holder has claimed block 0
  const first = waiter.readRange(path, 0, 65536);
  await new Promise((r) => setTimeout(r, 50)); // a later batch: it joins the waiting flight
  const second = waiter.readRange(path, 0, 65536);
  const alone = waiter.readRange(path, 65536, 131072); // block 1: nobody holds it, fetched here
  gated.open();
  const [a, b] = await Promise.all([first, second, held, alone]);
  t.ok(a.buffer !== b.buffer, 'the two joined reads do not share memory');
  a.fill(0xee);
  t.same(Buffer.from(b), bytes.subarray(0, 65536), 'one caller changing its bytes leaves the other\'s as they were');
  t.ok(owns(a) && owns(b), 'both own their memory');
  t.ok(waiter.stats().fleetWaits >= 1, 'the waiter waited for the holder');

  // A scan's read that joins the flight its read-ahead started, and is its one taker, gets the stored value as
  // the store read it, without a copy.
  const { path: other, bytes: otherBytes } = await dir.file('scan.bin', 4 * 65536);
  const gatedOther = gatedFetcher();
  await leasesHeld(0); // the first part's leases were released with their writes
  const holder2 = new AsyncCachingReader({ fetcher: gatedOther.fetcher, store: new RedisStore({ client }), blockSize: 65536, namespace });
  t.teardown(() => holder2.close());
  const held2 = holder2.readRange(other, 65536, 3 * 65536); // blocks 1 and 2 claimed by the holder
  await leasesHeld(2); // the holder has claimed blocks 1 and 2
  await waiter.readRange(other, 0, 65536); // block 0, fetched here: the scan starts
  const scan1 = waiter.readRange(other, 65536, 2 * 65536); // block 1 busy; read-ahead waits for block 2
  await new Promise((r) => setTimeout(r, 50));
  const copiedBefore = waiter.stats().copiedBytes;
  const scan2 = waiter.readRange(other, 2 * 65536, 3 * 65536); // joins the read-ahead's flight
  await new Promise((r) => setTimeout(r, 50));
  gatedOther.open();
  const [b1, b2] = await Promise.all([scan1, scan2, held2]);
  t.same(Buffer.from(b1!), otherBytes.subarray(65536, 2 * 65536), 'block 1: right bytes');
  t.same(Buffer.from(b2!), otherBytes.subarray(2 * 65536, 3 * 65536), 'block 2: right bytes');
  t.ok(owns(b1!) && owns(b2!), 'each owns its memory');
  t.equal(waiter.stats().copiedBytes - copiedBefore, 0, 'neither was copied: each is the one taker of a value read from the store');
});
