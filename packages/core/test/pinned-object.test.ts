/**
 * `reader.open(path)`: a handle pinned to one version. Its reads serve that version, byte-exact; once the origin
 * changes, they reject with VersionChangedError while the reader itself moves on to the new version.
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { AsyncCachingReader, FileFetcher, MemoryStore, PinnedObject, VersionChangedError } from '@rangecache/core';
import { pseudoRandomBytes, tempDir } from '@rangecache/test-support';

const B = 64 * 1024;

async function collect(stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Uint8Array>) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

t.test('a pinned handle reads its version byte-exact, and refuses to mix in a new one', async (t) => {
  const dir = await tempDir();
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore(), blockSize: B });
  t.teardown(async () => { await reader.close(); await dir.remove(); });
  const { path, bytes } = await dir.file('p.bin', 5 * B + 123);

  const file = await reader.open(path);
  t.type(file, PinnedObject);
  t.equal(file.byteLength, bytes.byteLength, 'byteLength is the object size');
  t.equal(file.path, path);
  t.same(Buffer.from(await file.read(100, B + 7)), bytes.subarray(100, B + 7), 'read: byte-exact');
  const [a, b] = await file.readRanges([{ start: 0, end: 10 }, { start: 5 * B, end: 5 * B + 123 }]);
  t.same(Buffer.from(a!), bytes.subarray(0, 10));
  t.same(Buffer.from(b!), bytes.subarray(5 * B), 'readRanges: byte-exact, the tail included');
  t.same(await collect(file.stream({ start: B - 1, end: 2 * B })), bytes.subarray(B - 1, 2 * B), 'stream: byte-exact from an unaligned start');
  t.same(Buffer.from(await file.read(5 * B, 10 * B)), bytes.subarray(5 * B), 'a range past the end is clamped');
  t.same(Buffer.from(await file.read(0, B)), bytes.subarray(0, B), 'a cached range of its version is served');

  // The origin changes (new size and content). Blocks 2-4 were never read: the handle refuses them, since
  // serving them would mix versions; the reader, asked for them, moves on to the new version.
  const next = pseudoRandomBytes(4 * B, 'pinned-v2');
  await new Promise((r) => setTimeout(r, 20)); // a later mtime
  await writeFile(path, next);
  await t.rejects(file.read(2 * B + 5, 2 * B + 50), VersionChangedError, 'an uncached range after the change: VersionChangedError');
  await t.rejects(collect(file.stream({ start: 3 * B, end: 4 * B })), VersionChangedError, 'its stream errors the same way');
  t.same(Buffer.from(await reader.readRange(path, 2 * B, 3 * B)), next.subarray(2 * B, 3 * B), 'the reader reads the new version');
  const reopened = await reader.open(path);
  t.equal(reopened.byteLength, next.byteLength, 'opening again pins the new version');
  t.same(Buffer.from(await reopened.read(B, 2 * B)), next.subarray(B, 2 * B));
  t.not(reopened.meta.version, file.meta.version, 'the two handles hold different versions');
});

t.test('open() checks its input and the reader state', async (t) => {
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore() });
  await t.rejects(reader.open(''), { code: 'ERR_RANGECACHE_PATH' }, 'an empty path');
  await t.rejects(reader.open('/x', { signal: 'nope' as unknown as AbortSignal }), { code: 'ERR_RANGECACHE_CONFIG' }, 'a signal that is no AbortSignal');
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const { path } = await dir.file('q.bin', 1000);
  const file = await reader.open(path);
  await reader.close();
  await t.rejects(file.read(0, 10), { code: 'ERR_RANGECACHE_CLOSED' }, 'a handle of a closed reader refuses to read');
  await t.rejects(reader.open(path), { code: 'ERR_RANGECACHE_CLOSED' }, 'a closed reader refuses to open');
});

t.test('Symbol.asyncDispose closes the reader (what `await using` calls)', async (t) => {
  const reader = new AsyncCachingReader({ fetcher: new FileFetcher(), store: new MemoryStore() });
  t.equal(typeof reader[Symbol.asyncDispose], 'function');
  await reader[Symbol.asyncDispose]();
  await t.rejects(reader.readRange('/x', 0, 1), { code: 'ERR_RANGECACHE_CLOSED' }, 'disposed means closed');
});
