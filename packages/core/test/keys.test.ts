import t from 'tap';
import { SEGMENT_BYTES, blockKey, chunkKey, encodeKeyField, hashTagOf, metaKey, sourcePrefix, statsKey, versionPrefix } from '@rangecache/core/store-kit';

t.test('key fields are injective, colon-free and glob-safe', async (t) => {
  const tricky = ['a:b', 'a%3Ab', 'a/b', 'a%2Fb', '*', '?', '[x]', '\\', '^', ' ', 'é', '', 'a-b', 'a--b', "'()!"];
  const encoded = tricky.map(encodeKeyField);
  t.equal(new Set(encoded).size, tricky.length, 'distinct inputs give distinct fields');
  for (const e of encoded) t.notMatch(e, /[:*?[\]\\^ ]/, `${e} has no separator or glob character`);
  t.equal(encodeKeyField('https://host/data.bin'), 'https%3A//host/data.bin', 'slashes stay readable');
  for (const [a, e] of tricky.map((x, i) => [x, encoded[i]!] as const)) t.equal(decodeURIComponent(e), a, 'decodes back');
});

t.test('keys follow rangecache:v2:<ns>:{<source>:v=<version>:s<segment>}:<kind>', async (t) => {
  const prefix = versionPrefix('tenant-a', 's3://bucket/k:ey', '"etag"');
  t.equal(prefix, 'rangecache:v2:tenant-a:{s3%3A//bucket/k%3Aey:v=%22etag%22:');
  t.equal(blockKey(prefix, 1048576, 3), `${prefix}s0}:b:1048576:3`);
  t.equal(blockKey(prefix, 1048576, 16), `${prefix}s1}:b:1048576:16`, 'block 16 of 1 MiB starts the second 16 MiB segment');
  t.equal(chunkKey(prefix, 10, 20), `${prefix}s0}:c:10-20`);
  t.equal(chunkKey(prefix, 3 * SEGMENT_BYTES + 5, 3 * SEGMENT_BYTES + 9), `${prefix}s3}:c:${3 * SEGMENT_BYTES + 5}-${3 * SEGMENT_BYTES + 9}`);
  t.equal(metaKey('tenant-a', 'x'), 'rangecache:v2:tenant-a:{x:meta}');
  t.equal(statsKey('tenant-a'), 'rangecache:v2:tenant-a:stats');
  t.ok(prefix.startsWith(sourcePrefix('tenant-a', 's3://bucket/k:ey')), 'all versions share the source prefix');
  // A source that ends like another's prefix cannot collide: fields never contain ':'.
  t.not(versionPrefix('ns', 'a:v=b', 'c'), versionPrefix('ns', 'a', 'b:v=c'));
  t.not(sourcePrefix('a:b', 'c'), sourcePrefix('a', 'b:c'));
});

t.test('keys hold no credentials: presigned parameters and userinfo never reach a key', async (t) => {
  const signature = 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const presigned = (sig: string): string =>
    'https://bucket.s3.amazonaws.com/data.bin?versionId=v7&X-Amz-Algorithm=AWS4-HMAC-SHA256' +
    '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    `&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`;
  const keys = (path: string): string[] => {
    const prefix = versionPrefix('ns', path, 'etag:"e"');
    return [metaKey('ns', path), sourcePrefix('ns', path), prefix, blockKey(prefix, 1 << 20, 0), chunkKey(prefix, 0, 10)];
  };
  for (const key of keys(presigned(signature))) {
    t.notOk(key.includes(signature), 'no signature');
    t.notOk(key.includes('AKIAIOSFODNN7EXAMPLE'), 'no access key id');
    t.ok(key.includes('versionId%3Dv7'), 'the version selector stays');
  }
  t.same(keys(presigned(signature)), keys(presigned('0'.repeat(64))), 'two signatures of one object share its keys');
  t.not(metaKey('ns', presigned(signature)), metaKey('ns', presigned(signature).replace('versionId=v7', 'versionId=v8')));
  for (const key of keys('https://alice:hunter2@host/x')) t.notOk(/hunter2|alice/.test(key), `${key} has no userinfo`);
  t.equal(metaKey('ns', 'https://alice:hunter2@host/x'), 'rangecache:v2:ns:{https%3A//host/x:meta}');
});

t.test('hash tags: one segment of an object shares a slot, segments and objects differ, braces in paths are encoded', async (t) => {
  const prefix = versionPrefix('ns', 'https://host/{odd}/file.nc', 'e');
  t.notOk(prefix.slice(prefix.indexOf('{') + 1).includes('{'), 'a brace in the path is percent-encoded');
  const tags = (index: number): string => hashTagOf(blockKey(prefix, 1 << 20, index));
  t.equal(tags(0), tags(15), 'blocks of one 16 MiB segment share a tag');
  t.not(tags(15), tags(16), 'the next segment has its own');
  t.equal(hashTagOf(blockKey(prefix, 1 << 20, 3) + ':lease'), tags(3), 'a lease key shares its data key\'s slot');
  t.not(hashTagOf(blockKey(versionPrefix('ns', 'https://host/other', 'e'), 1 << 20, 0)), tags(0), 'objects differ');
  t.not(hashTagOf(blockKey(versionPrefix('ns', 'https://host/{odd}/file.nc', 'f'), 1 << 20, 0)), tags(0), 'versions differ');
  t.equal(hashTagOf('plain'), 'plain');
  t.equal(hashTagOf('a{}b{c}'), 'a{}b{c}', 'an empty first tag means the whole key, as in Redis');
  t.equal(hashTagOf('x{ab}{cd}'), 'ab');
});
