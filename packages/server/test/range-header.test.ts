// parseRangeHeader against RFC 9110 §14.1.2's examples and its edge cases: suffixes, open ends, clamping, unknown
// units and syntax errors (ignored: the whole object), unsatisfiable sets, and the merge that keeps a header from
// asking for the same bytes many times.
import t from 'tap';
import { mergeRanges, parseRangeHeader } from '@rangecache/server';

const SIZE = 10_000;
const r = (...pairs: [number, number][]) => ({ kind: 'ranges', ranges: pairs.map(([start, end]) => ({ start, end })) });

t.test('single ranges: a-b, a-, -n, clamped to the object', async (t) => {
  t.same(parseRangeHeader('bytes=0-499', SIZE), r([0, 500]), 'the first 500 bytes');
  t.same(parseRangeHeader('bytes=500-999', SIZE), r([500, 1000]));
  t.same(parseRangeHeader('bytes=-500', SIZE), r([9500, 10_000]), 'the last 500 bytes');
  t.same(parseRangeHeader('bytes=9500-', SIZE), r([9500, 10_000]), 'from 9500 to the end');
  t.same(parseRangeHeader('bytes=0-0', SIZE), r([0, 1]));
  t.same(parseRangeHeader('bytes=9999-20000', SIZE), r([9999, 10_000]), 'last-pos past the end is clamped');
  t.same(parseRangeHeader('bytes=-20000', SIZE), r([0, 10_000]), 'a suffix longer than the object is the object');
  t.same(parseRangeHeader('BYTES = 1-2', SIZE), r([1, 3]), 'the unit is case-insensitive; whitespace around = is tolerated');
  t.same(parseRangeHeader('bytes=99999999999999999999-', SIZE), { kind: 'unsatisfiable' }, 'a position past 2^53 is past the end');
  t.same(parseRangeHeader('bytes=0-99999999999999999999', SIZE), r([0, 10_000]));
});

t.test('several ranges are sorted and merged when they overlap or nearly touch', async (t) => {
  t.same(parseRangeHeader('bytes=500-600,601-999', SIZE), r([500, 1000]), 'adjacent');
  t.same(parseRangeHeader('bytes=500-700,601-999', SIZE), r([500, 1000]), 'overlapping');
  t.same(parseRangeHeader('bytes=0-99, 5000-5099', SIZE), r([0, 100], [5000, 5100]), 'two parts');
  t.same(parseRangeHeader('bytes=5000-5099,0-99', SIZE), r([0, 100], [5000, 5100]), 'sorted');
  t.same(parseRangeHeader('bytes=0-,0-,0-,0-', SIZE), r([0, 10_000]), 'the same bytes asked four times are sent once');
  t.same(parseRangeHeader('bytes=0-9,,500-509', SIZE), r([0, 10], [500, 510]), 'empty list elements are allowed');
  t.same(parseRangeHeader('bytes=0-9,20000-30000', SIZE), r([0, 10]), 'an unsatisfiable range among others is dropped');
  const many = Array.from({ length: 200 }, (_, i) => `${i * 100}-${i * 100}`).join(',');
  t.same(parseRangeHeader(`bytes=${many}`, 100_000), { kind: 'whole' }, 'more than maxRanges parts: the header is ignored');
  t.equal((parseRangeHeader(`bytes=${many}`, 100_000, { maxRanges: 500 }) as { readonly ranges: readonly unknown[] }).ranges.length, 200);
  const parts = [{ start: 10, end: 20 }, { start: 0, end: 5 }, { start: 25, end: 30 }];
  t.same(mergeRanges(parts, 5), [{ start: 0, end: 5 }, { start: 10, end: 20 }, { start: 25, end: 30 }], 'gaps of 5 are not less than 5');
  t.same(mergeRanges(parts, 6), [{ start: 0, end: 30 }], 'gaps of 5 are less than 6');
  t.same(mergeRanges(parts, 0), [{ start: 0, end: 5 }, { start: 10, end: 20 }, { start: 25, end: 30 }], 'gap 0: only overlapping or touching ranges merge');
  t.same(mergeRanges([{ start: 0, end: 5 }, { start: 5, end: 6 }], 0), [{ start: 0, end: 6 }]);
});

t.test('unsatisfiable: nothing overlaps the object', async (t) => {
  t.same(parseRangeHeader('bytes=10000-', SIZE), { kind: 'unsatisfiable' });
  t.same(parseRangeHeader('bytes=10000-10005,20000-', SIZE), { kind: 'unsatisfiable' });
  t.same(parseRangeHeader('bytes=-0', SIZE), { kind: 'unsatisfiable' }, 'a zero-length suffix');
  t.same(parseRangeHeader('bytes=0-', 0), { kind: 'unsatisfiable' }, 'any range of an empty object');
  t.same(parseRangeHeader('bytes=-5', 0), { kind: 'unsatisfiable' });
});

t.test('ignored (the whole object): no header, another unit, syntax errors', async (t) => {
  for (const header of [null, undefined, 'items=0-5', 'bytes=', 'bytes', 'bytes=5-1', 'bytes=a-b', 'bytes=1-2-3', 'bytes=0-1,x', 'bytes=--5', 'bytes= - ', 'bytes=+1-2', 'bytes=0x10-20']) {
    t.same(parseRangeHeader(header, SIZE), { kind: 'whole' }, JSON.stringify(header));
  }
});
