import t from 'tap';
import { InvalidRangeError } from '@rangecache/core';
import { checkRangeShape } from '@rangecache/core/fetcher-kit';
import { blockRange, blockSpan, clampRange, coalesceRanges } from '@rangecache/core/store-kit';
import type { ByteRange } from '@rangecache/core';

t.test('checkRangeShape rejects bad ranges with a RangeError naming path and range', async (t) => {
  const bad: [unknown, unknown, RegExp][] = [
    [-1, 10, /start is negative/],
    [0, -1, /end is before start/],
    [NaN, 10, /start must be a non-negative integer/],
    [0, NaN, /end must be a non-negative integer/],
    [1.5, 10, /start must be/],
    [0, 2.5, /end must be/],
    [10, 5, /end is before start/],
    ['0', 5, /start must be/],
    [0, Infinity, /end must be/],
    [2 ** 53, 2 ** 53 + 2, /start must be/],
  ];
  for (const [start, end, re] of bad) {
    const e = t.throws(() => checkRangeShape('/data/x.bin', start, end)) as InvalidRangeError;
    t.ok(e instanceof RangeError, `${String(start)},${String(end)} is a RangeError`);
    t.ok(e instanceof InvalidRangeError);
    t.match(e.message, re);
    t.match(e.message, '/data/x.bin');
    t.equal(e.path, '/data/x.bin');
    t.equal(e.code, 'ERR_RANGECACHE_RANGE');
  }
  t.doesNotThrow(() => checkRangeShape('p', 0, 0));
  t.doesNotThrow(() => checkRangeShape('p', 5, 5));
});

t.test('clampRange clamps end to size and rejects start past EOF', async (t) => {
  t.same(clampRange('p', 0, 100, 50), { start: 0, end: 50 });
  t.same(clampRange('p', 50, 100, 50), { start: 50, end: 50 }, 'start at EOF is the empty range');
  t.same(clampRange('p', 10, 20, 50), { start: 10, end: 20 });
  const e = t.throws(() => clampRange('p', 51, 60, 50)) as InvalidRangeError;
  t.ok(e instanceof RangeError);
  t.equal(e.size, 50);
  t.match(e.message, /past the end of the object \(size 50\)/);
});

t.test('blockSpan has no off-by-one on block boundaries', async (t) => {
  const B = 1024;
  t.same(blockSpan(0, 1024, B), { first: 0, last: 0 }, 'exactly one block');
  t.same(blockSpan(0, 1025, B), { first: 0, last: 1 });
  t.same(blockSpan(1023, 1024, B), { first: 0, last: 0 });
  t.same(blockSpan(1024, 2048, B), { first: 1, last: 1 });
  t.same(blockSpan(1000, 3000, B), { first: 0, last: 2 });
  t.same(blockSpan(5, 5, B), { first: 0, last: -1 }, 'empty range touches no block');
  // Exhaustive check against a byte-by-byte definition on small sizes.
  for (let s = 0; s < 40; s++) {
    for (let e = s + 1; e < 40; e++) {
      const { first, last } = blockSpan(s, e, 7);
      const touched = new Set<number>();
      for (let b = s; b < e; b++) touched.add(Math.floor(b / 7));
      t.equal(last - first + 1, touched.size);
      if (!touched.has(first) || !touched.has(last)) t.fail(`span of [${s},${e}) is wrong`);
    }
  }
});

t.test('blockRange clamps the last block to the size', async (t) => {
  t.same(blockRange(0, 10, 25), { start: 0, end: 10 });
  t.same(blockRange(2, 10, 25), { start: 20, end: 25 });
});

t.test('coalesceRanges merges by gap and bounds by request size', async (t) => {
  const r = (start: number, end: number): ByteRange => ({ start, end });
  t.same(coalesceRanges([], { maxGap: 10, maxRequest: 100 }), []);
  t.same(coalesceRanges([r(0, 10), r(12, 20), r(100, 110)], { maxGap: 4, maxRequest: 1000 }), [
    { start: 0, end: 20, members: [0, 1] },
    { start: 100, end: 110, members: [2] },
  ]);
  t.same(coalesceRanges([r(100, 110), r(0, 10)], { maxGap: 0, maxRequest: 1000 }), [
    { start: 0, end: 10, members: [1] },
    { start: 100, end: 110, members: [0] },
  ], 'sorted output, members index the input');
  t.same(coalesceRanges([r(0, 10), r(10, 20)], { maxGap: 0, maxRequest: 1000 }), [{ start: 0, end: 20, members: [0, 1] }], 'touching ranges merge at gap 0');
  t.same(coalesceRanges([r(0, 10), r(11, 20)], { maxGap: 0, maxRequest: 1000 }).length, 2, 'a 1-byte gap is over maxGap 0');
  t.same(coalesceRanges([r(0, 10), r(10, 20), r(20, 30)], { maxGap: 0, maxRequest: 20 }), [
    { start: 0, end: 20, members: [0, 1] },
    { start: 20, end: 30, members: [2] },
  ], 'maxRequest splits');
  t.same(coalesceRanges([r(0, 50)], { maxGap: 0, maxRequest: 20 }), [{ start: 0, end: 50, members: [0] }], 'one big range stays whole');
  t.same(coalesceRanges([r(0, 10), r(5, 8), r(5, 5)], { maxGap: 0, maxRequest: 100 }), [{ start: 0, end: 10, members: [0, 1] }], 'contained range joins, empty dropped');
  const input = [r(0, 10), r(20, 30)];
  coalesceRanges(input, { maxGap: 100, maxRequest: 100 });
  t.same(input, [r(0, 10), r(20, 30)], 'input is not modified');
});

t.test('coalesceRanges: randomized invariants', async (t) => {
  let seed = 42;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  let failures = 0;
  for (let iter = 0; iter < 2000; iter++) {
    const ranges: ByteRange[] = [];
    for (let k = rnd(12); k >= 0; k--) { const s = rnd(1000); ranges.push({ start: s, end: s + rnd(80) }); }
    const maxGap = rnd(50);
    const maxRequest = 1 + rnd(300);
    const out = coalesceRanges(ranges, { maxGap, maxRequest });
    const seen = new Set<number>();
    for (let g = 0; g < out.length; g++) {
      const c = out[g]!;
      if (g > 0 && out[g - 1]!.start > c.start) failures++;
      const single = c.members.length === 1;
      if (!single && c.end - c.start > maxRequest) failures++;
      for (const i of c.members) {
        seen.add(i);
        const m = ranges[i]!;
        if (m.start < c.start || m.end > c.end) failures++;
      }
      if (Math.min(...c.members.map((i) => ranges[i]!.start)) !== c.start) failures++;
      if (Math.max(...c.members.map((i) => ranges[i]!.end)) !== c.end) failures++;
    }
    ranges.forEach((r, i) => { if (r.end > r.start && !seen.has(i)) failures++; });
  }
  t.equal(failures, 0, 'every non-empty range covered, sorted, bounded, tight');
});
