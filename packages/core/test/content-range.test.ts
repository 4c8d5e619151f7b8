import t from 'tap';
import { offsetInContentRange, parseContentRange } from '@rangecache/core/fetcher-kit';

t.test('parseContentRange', async (t) => {
  t.same(parseContentRange('bytes 0-9/100'), { start: 0, end: 10, size: 100 });
  t.same(parseContentRange('bytes 0-9/*'), { start: 0, end: 10 });
  t.same(parseContentRange('bytes */42'), { size: 42 });
  t.equal(parseContentRange('bytes 9-0/100'), undefined);
  t.equal(parseContentRange('bytes 0-100/100'), undefined, 'end past the size');
  t.equal(parseContentRange('items 0-1/2'), undefined);
  t.equal(parseContentRange(undefined), undefined);
});

t.test('offsetInContentRange accepts a body that covers the asked range, and nothing less', async (t) => {
  t.equal(offsetInContentRange({ start: 0, end: 10, size: 10 }, 0, 10), 0);
  t.equal(offsetInContentRange({ start: 0, end: 100, size: 100 }, 0, 1), 0, 's3rver answers bytes=0-0 with everything');
  t.equal(offsetInContentRange({ start: 10, end: 100 }, 15, 20), 5);
  t.equal(offsetInContentRange({ start: 10, end: 100 }, 5, 20), undefined, 'starts too late');
  t.equal(offsetInContentRange({ start: 10, end: 19 }, 10, 20), undefined, 'ends too early');
  t.equal(offsetInContentRange({ size: 5 }, 0, 1), undefined);
  t.equal(offsetInContentRange(undefined, 0, 1), undefined);
});
