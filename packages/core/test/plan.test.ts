/** Planning and assembly are pure: these tests need no store, no origin and no reader. */
import t from 'tap';
import { ChunkIndex } from '../src/chunk-index.js';
import { assemble } from '../src/assemble.js';
import { blockKey, chunkKey } from '../src/keys.js';
import { dataTtlMs, isKeyOf, originOf, piecesToFetch, planPieces, readAheadRange } from '../src/plan.js';
import type { ByteRange } from '../src/ranges.js';
import type { ObjectRef, Piece, ReadJob } from '../src/read-job.js';

const MiB = 1 << 20;
const object: ObjectRef = { path: '/data/a.bin', meta: { size: 10 * MiB + 5, version: 'v1' }, prefix: 'rc:ns:a:v1' };

function job(ranges: ByteRange[], ahead = false): ReadJob {
  return {
    object, ranges, signal: undefined, settled: false, resolve: () => {}, reject: () => {}, tasks: new Set(),
    pieces: [], fallbacks: [], unsubscribe: undefined, ahead, scanned: 0,
  };
}

t.test('block mode: each range becomes the aligned blocks it touches, shared across reads', async (t) => {
  const a = job([{ start: MiB - 1, end: MiB + 1 }]);
  const b = job([{ start: MiB, end: 2 * MiB }, { start: 10 * MiB, end: 10 * MiB + 5 }]);
  const pieces = planPieces([a, b], { mode: 'block', blockSize: MiB }, new ChunkIndex());
  t.same(a.pieces[0]!.map((p) => p.range), [{ start: 0, end: MiB }, { start: MiB, end: 2 * MiB }], 'a range across a boundary takes two blocks');
  t.equal(a.pieces[0]![1], b.pieces[0]![0], 'the same block is one Piece for both reads');
  t.same(b.pieces[1]!.map((p) => p.range), [{ start: 10 * MiB, end: 10 * MiB + 5 }], 'the last block is short');
  t.equal(b.pieces[1]![0]!.key, blockKey(object.prefix, MiB, 10));
  t.equal(pieces.size, 3);
  t.ok([...pieces.values()].every((p) => !p.ahead), 'no piece is read-ahead only');
});

t.test('a piece only read-ahead wants is marked ahead; a caller wanting it too clears the mark', async (t) => {
  const ahead = job([{ start: 0, end: 2 * MiB }], true);
  const caller = job([{ start: MiB, end: MiB + 10 }]);
  planPieces([ahead, caller], { mode: 'block', blockSize: MiB }, new ChunkIndex());
  t.equal(ahead.pieces[0]![0]!.ahead, true);
  t.equal(ahead.pieces[0]![1]!.ahead, false);
});

t.test('chunk mode: a range inside a known chunk reads the chunk, with its exact range as the fallback', async (t) => {
  const chunks = new ChunkIndex();
  chunks.add(object.prefix, { start: 100, end: 1100 });
  const inside = job([{ start: 200, end: 300 }]);
  const exact = job([{ start: 100, end: 1100 }]);
  const outside = job([{ start: 2000, end: 2100 }]);
  planPieces([inside, exact, outside], { mode: 'chunk', blockSize: MiB }, chunks);
  t.equal(inside.pieces[0]![0]!.key, chunkKey(object.prefix, 100, 1100), 'served from the containing chunk');
  t.equal(inside.fallbacks[0]!.key, chunkKey(object.prefix, 200, 300), 'its own range is the fallback');
  t.equal(outside.pieces[0]![0]!.key, chunkKey(object.prefix, 2000, 2100));
  t.equal(outside.fallbacks[0], undefined);

  // The container missed. A read needs exactly it, so it is fetched, and the shortcut reader keeps using it.
  const container = inside.pieces[0]![0]!;
  const needed = piecesToFetch([inside, exact, outside], new Set<Piece>([container, outside.pieces[0]![0]!]), chunks);
  t.ok(needed.has(container), 'the container is fetched: a read asked for exactly it');
  t.equal(needed.size, 2);

  // Without that read, the shortcut falls back to its exact range, and the index forgets the chunk.
  const alone = job([{ start: 200, end: 300 }]);
  planPieces([alone], { mode: 'chunk', blockSize: MiB }, chunks);
  const gone = alone.pieces[0]![0]!;
  const fetch = piecesToFetch([alone], new Set([gone]), chunks);
  t.same([...fetch].map((p) => p.key), [chunkKey(object.prefix, 200, 300)], 'the exact range is fetched instead');
  t.equal(chunks.findContaining(object.prefix, { start: 200, end: 300 }), undefined, 'the chunk is forgotten');
});

t.test('read-ahead grows with the scan: 5% of it, at least one block, at most readAhead, never past the end', async (t) => {
  t.same(readAheadRange(4 * MiB, 4 * MiB, 100 * MiB, MiB, 4), { start: 4 * MiB, end: 5 * MiB }, 'a short scan: one block');
  t.same(readAheadRange(40 * MiB, 40 * MiB, 100 * MiB, MiB, 4), { start: 40 * MiB, end: 42 * MiB }, '5% of 40 MiB: two blocks');
  t.same(readAheadRange(40 * MiB, 400 * MiB, 100 * MiB, MiB, 4), { start: 40 * MiB, end: 44 * MiB }, 'capped at readAhead');
  t.same(readAheadRange(MiB + 10, MiB, 100 * MiB, MiB, 4), { start: MiB + 10, end: 3 * MiB }, 'from an unaligned end: the rest of its block, then whole blocks');
  t.same(readAheadRange(99 * MiB, 400 * MiB, 99 * MiB + 7, MiB, 4), { start: 99 * MiB, end: 99 * MiB + 7 }, 'clamped to the object');
  t.equal(readAheadRange(99 * MiB + 7, MiB, 99 * MiB + 7, MiB, 4), undefined, 'nothing at the end');
});

t.test('only a piece under its own key, with its own length, may be written', async (t) => {
  const a = job([{ start: 0, end: 10 }]);
  planPieces([a], { mode: 'block', blockSize: MiB }, new ChunkIndex());
  const p = a.pieces[0]![0]!;
  t.ok(isKeyOf(p, new Uint8Array(MiB), { mode: 'block', blockSize: MiB }));
  t.notOk(isKeyOf(p, new Uint8Array(MiB - 1), { mode: 'block', blockSize: MiB }), 'wrong length');
  t.notOk(isKeyOf(p, new Uint8Array(MiB), { mode: 'chunk', blockSize: MiB }), 'a block key is no chunk key');
  t.notOk(isKeyOf({ ...p, key: blockKey(object.prefix, MiB, 1) }, new Uint8Array(MiB), { mode: 'block', blockSize: MiB }), 'another block\'s key');
});

t.test('data TTL: a weak version lives no longer than its metadata', async (t) => {
  t.equal(dataTtlMs({ size: 1, version: 'e' }, 3_600_000, 60_000), 3_600_000);
  t.equal(dataTtlMs({ size: 1, version: 'e' }, false, 60_000), null, 'false: no expiry');
  t.equal(dataTtlMs({ size: 1, version: 'e', weakVersion: true }, 3_600_000, 60_000), 60_000);
  t.equal(dataTtlMs({ size: 1, version: 'e', weakVersion: true }, false, 60_000), 60_000);
  t.equal(dataTtlMs({ size: 1, version: 'e', weakVersion: true }, 1000, 60_000), 1000);
});

t.test('originOf: scheme, host and port of a URL; "file" for a local path', async (t) => {
  t.equal(originOf('https://data.example.com:8443/a/b.nc'), 'https://data.example.com:8443');
  t.equal(originOf('s3://bucket/key'), 's3://bucket');
  t.equal(originOf('/tmp/a.bin'), 'file');
});

t.test('assemble: a caller that is the one owner of whole, own memory gets it without a copy; anyone else a copy', async (t) => {
  const a = job([{ start: 0, end: MiB }]);
  planPieces([a], { mode: 'block', blockSize: MiB }, new ChunkIndex());
  const p = a.pieces[0]![0]!;
  const own = new Uint8Array(MiB).fill(7);
  p.value = own;
  p.consumers = 1;
  t.equal(assemble({ start: 0, end: MiB }, [p], [own]).buffer, own.buffer, 'one consumer of a stored value: no copy');
  p.consumers = 2;
  const copied = assemble({ start: 0, end: MiB }, [p], [own]);
  t.not(copied.buffer, own.buffer, 'two consumers: each gets a copy');
  t.same(Buffer.from(copied), Buffer.from(own));
  p.consumers = 1;
  const small = assemble({ start: 10, end: 20 }, [p], [own]);
  t.not(small.buffer, own.buffer, 'a small part of a block is copied, not a view pinning the block');
  t.equal(small.buffer.byteLength, 10, 'in memory of its own size (not a slice of a shared pool)');

  // Across two blocks: the bytes are joined in order.
  const b = job([{ start: MiB - 3, end: MiB + 2 }]);
  planPieces([b], { mode: 'block', blockSize: MiB }, new ChunkIndex());
  const first = new Uint8Array(MiB).map((_, i) => i % 251);
  const second = new Uint8Array(MiB).map((_, i) => (i + 100) % 251);
  const joined = assemble(b.ranges[0]!, b.pieces[0]!, [first, second]);
  t.same([...joined], [...first.subarray(MiB - 3), ...second.subarray(0, 2)]);
  t.same(assemble({ start: 5, end: 5 }, [], []).byteLength, 0, 'an empty range is empty');
});
