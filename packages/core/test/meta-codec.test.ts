import t from 'tap';
import { decodeMeta, encodeMeta } from '../src/meta-codec.js';

t.test('metadata round-trips and is validated field by field', async (t) => {
  const meta = { size: 123, version: '"abc"', etag: '"abc"', lastModified: 1700000000000 };
  t.same(decodeMeta(encodeMeta(meta, 42)), { meta, checkedAt: 42 });
  const weak = { size: 9, version: 'size:9', weakVersion: true };
  t.strictSame(decodeMeta(encodeMeta(weak, 7)), { meta: weak, checkedAt: 7 }, 'a weak version stays weak for every instance that reads it');
  const typed = { size: 5, version: 'etag:"x"', contentType: 'image/tiff; application=geotiff' };
  t.strictSame(decodeMeta(encodeMeta(typed, 1)), { meta: typed, checkedAt: 1 }, 'the content type is kept, for a proxy to pass on');
  const enc = (o: unknown): Uint8Array => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
  const bad = [
    'not json', '[]', 'null', '{"__proto__":{"size":1}}',
    { v: 2, size: 1, version: 'x', checkedAt: 1 },
    { v: 1, size: -1, version: 'x', checkedAt: 1 },
    { v: 1, size: 1.5, version: 'x', checkedAt: 1 },
    { v: 1, size: '1', version: 'x', checkedAt: 1 },
    { v: 1, size: 1, version: '', checkedAt: 1 },
    { v: 1, size: 1, version: 5, checkedAt: 1 },
    { v: 1, size: 1, version: 'x' },
    { v: 1, size: 1, version: 'x', checkedAt: 1, etag: 7 },
    { v: 1, size: 1, version: 'x', checkedAt: 1, weak: 'yes' },
    { v: 1, size: 1, version: 'x', checkedAt: 1, type: 'text/html\r\nSet-Cookie: a=b' },
    { v: 1, size: 1, version: 'x', checkedAt: 1, type: 'no slash' },
    { v: 1, size: 1, version: 'x'.repeat(5000), checkedAt: 1 },
  ];
  for (const b of bad) t.equal(decodeMeta(enc(b)), undefined, `rejects ${JSON.stringify(b).slice(0, 60)}`);
});
