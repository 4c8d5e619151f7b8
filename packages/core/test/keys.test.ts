import t from 'tap';
import { blockKey, chunkKey, encodeKeyField, metaKey, sourcePrefix, versionPrefix } from '@rangecache/core';

t.test('key fields are injective, colon-free and glob-safe', async (t) => {
  const tricky = ['a:b', 'a%3Ab', 'a/b', 'a%2Fb', '*', '?', '[x]', '\\', '^', ' ', 'é', '', 'a-b', 'a--b', "'()!"];
  const encoded = tricky.map(encodeKeyField);
  t.equal(new Set(encoded).size, tricky.length, 'distinct inputs give distinct fields');
  for (const e of encoded) t.notMatch(e, /[:*?[\]\\^ ]/, `${e} has no separator or glob character`);
  t.equal(encodeKeyField('https://host/data.bin'), 'https%3A//host/data.bin', 'slashes stay readable');
  for (const [a, e] of tricky.map((x, i) => [x, encoded[i]!] as const)) t.equal(decodeURIComponent(e), a, 'decodes back');
});

t.test('keys follow rangecache:v1:<ns>:<source>:<version>:<kind>', async (t) => {
  const prefix = versionPrefix('tenant-a', 's3://bucket/k:ey', '"etag"');
  t.equal(prefix, 'rangecache:v1:tenant-a:s3%3A//bucket/k%3Aey:v=%22etag%22:');
  t.equal(blockKey(prefix, 1048576, 3), `${prefix}b:1048576:3`);
  t.equal(chunkKey(prefix, 10, 20), `${prefix}c:10-20`);
  t.equal(metaKey('tenant-a', 'x'), 'rangecache:v1:tenant-a:x:meta');
  t.ok(prefix.startsWith(sourcePrefix('tenant-a', 's3://bucket/k:ey')), 'all versions share the source prefix');
  // A source that ends like another's prefix cannot collide: fields never contain ':'.
  t.not(versionPrefix('ns', 'a:v=b', 'c'), versionPrefix('ns', 'a', 'b:v=c'));
  t.not(sourcePrefix('a:b', 'c'), sourcePrefix('a', 'b:c'));
});
