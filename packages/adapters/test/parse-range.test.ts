import t from 'tap';
import { parseRange } from '../src/fetch.js';

t.test('parseRange follows RFC 9110 for one byte range', async (t) => {
  const size = 1000;
  const cases: [string | null, ReturnType<typeof parseRange>][] = [
    [null, undefined],
    ['bytes=0-0', { start: 0, end: 1 }],
    ['bytes=10-19', { start: 10, end: 20 }],
    ['bytes=990-5000', { start: 990, end: 1000 }], // clamped to the end
    ['bytes=995-', { start: 995, end: 1000 }],
    ['bytes=-10', { start: 990, end: 1000 }],
    ['bytes=-5000', { start: 0, end: 1000 }],
    ['BYTES = 1 - 2', { start: 1, end: 3 }],
    ['bytes=1000-', null], // starts at the end: unsatisfiable
    ['bytes=2000-3000', null],
    ['bytes=-0', null],
    ['bytes=5-4', undefined], // malformed: ignored
    ['bytes=-', undefined],
    ['bytes=0-1,5-6', undefined], // several ranges: served whole
    ['items=0-1', undefined],
    ['bytes=a-b', undefined],
  ];
  for (const [header, want] of cases) t.same(parseRange(header, size), want, String(header));
  t.equal(parseRange('bytes=0-', 0), null, 'any range of an empty object is unsatisfiable');
});
