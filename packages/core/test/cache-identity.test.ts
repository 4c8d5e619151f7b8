import t from 'tap';
import type { Test } from 'tap';
import { blockKey, cacheIdentity, chunkKey, encodeKeyField, metaKey, sourcePrefix, versionPrefix } from '@rangecache/core/store-kit';

// Realistic presigned URLs (the examples of the providers' documentation, with made-up secrets).
const AWS_V4_SIG = 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
const AWS_V4_TOKEN = 'FQoGZXIvYXdzEJr%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaDOSESSIONTOKENxyz';
const awsV4 = (sig: string, extra = ''): string =>
  'https://examplebucket.s3.us-east-1.amazonaws.com/data/test.txt?' + extra +
  'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD' +
  '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
  `&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-Security-Token=${AWS_V4_TOKEN}` +
  `&X-Amz-Signature=${sig}&X-Amz-SignedHeaders=host&x-id=GetObject`;
const AWS_V2 = 'https://examplebucket.s3.amazonaws.com/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE' +
  '&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D';
const GCS_V4_SIG = '247a2aa45f169edf4d187d54e7cc46e4731b1e6273242c4f4c39a1d2507a0e58706e25e3a85a7dbb891d62afa84';
const GCS_V4 = 'https://storage.googleapis.com/example-bucket/cat.jpeg?generation=1360887697105000' +
  '&X-Goog-Algorithm=GOOG4-RSA-SHA256' +
  '&X-Goog-Credential=example%40example-project.iam.gserviceaccount.com%2F20181026%2Fus-central1%2Fstorage%2Fgoog4_request' +
  `&X-Goog-Date=20181026T181309Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=${GCS_V4_SIG}`;
const GCS_V2 = 'https://storage.googleapis.com/example-bucket/cat.jpeg?GoogleAccessId=sa%40proj.iam.gserviceaccount.com' +
  '&Expires=1546300800&Signature=BxMC2sHG5GvO1TGcJr3nPm%2Bm3dy4bGFuqRrpIOuMQ9MA%3D%3D';
const AZURE_SIG = 'Z%2FRHIX5Xcg0Mq2rqI3OlWTjEg2tYkboXr1P9ZUXDtkk%3D';
const AZURE = 'https://myaccount.blob.core.windows.net/sascontainer/sasblob.txt?snapshot=2019-03-01T00%3A00%3A00.0000000Z' +
  '&sv=2019-02-02&st=2019-04-29T22%3A18%3A26Z&se=2019-04-30T02%3A23%3A26Z&sr=b&sp=rw&sip=168.1.5.60-168.1.5.70' +
  `&spr=https&skoid=oid&sktid=tid&skt=2019-04-29&ske=2019-04-30&sks=b&skv=2019-02-02&sig=${AZURE_SIG}`;

/** Every key a reader derives from `path` (metadata, data of both modes, the invalidation prefix). */
function keysOf(path: string): string[] {
  const prefix = versionPrefix('ns', path, 'etag:"abc"');
  return [metaKey('ns', path), sourcePrefix('ns', path), prefix, blockKey(prefix, 1 << 20, 7), chunkKey(prefix, 0, 100)];
}

/** Asserts that no key of `path` holds any of `secrets`, raw, percent-decoded or as a key field encodes it. */
function assertNoSecret(t: Test, path: string, secrets: string[]): void {
  const forms = secrets.flatMap((s) => [s, decodeURIComponent(s), encodeKeyField(s), encodeKeyField(decodeURIComponent(s))]);
  for (const key of [cacheIdentity(path), ...keysOf(path)]) {
    for (const form of forms) t.notOk(key.includes(form), `${key.slice(0, 60)}… does not contain ${form.slice(0, 16)}…`);
  }
}

t.test('presigned AWS SigV4 URL: signature, credential and token removed, other parameters kept in order', async (t) => {
  const url = awsV4(AWS_V4_SIG, 'versionId=3HL4kqtJlcpXroDTDmJ%2Bdmx&');
  t.equal(cacheIdentity(url),
    'https://examplebucket.s3.us-east-1.amazonaws.com/data/test.txt?versionId=3HL4kqtJlcpXroDTDmJ%2Bdmx' +
    '&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&x-id=GetObject');
  assertNoSecret(t, url, [AWS_V4_SIG, AWS_V4_TOKEN, 'AKIAIOSFODNN7EXAMPLE', '20130524T000000Z']);
});

t.test('presigned AWS SigV2, GCS V4 and V2, and Azure SAS URLs lose every signing parameter', async (t) => {
  t.equal(cacheIdentity(AWS_V2), 'https://examplebucket.s3.amazonaws.com/photos/puppy.jpg');
  assertNoSecret(t, AWS_V2, ['vjbyPxybdZaNmGa%2ByT272YEAiv4%3D', 'AKIAIOSFODNN7EXAMPLE', '1141889120']);
  t.equal(cacheIdentity(GCS_V4), 'https://storage.googleapis.com/example-bucket/cat.jpeg?generation=1360887697105000');
  assertNoSecret(t, GCS_V4, [GCS_V4_SIG, 'example%40example-project', 'GOOG4']);
  t.equal(cacheIdentity(GCS_V2), 'https://storage.googleapis.com/example-bucket/cat.jpeg');
  assertNoSecret(t, GCS_V2, ['BxMC2sHG5GvO1TGcJr3nPm', 'sa%40proj']);
  t.equal(cacheIdentity(AZURE),
    'https://myaccount.blob.core.windows.net/sascontainer/sasblob.txt?snapshot=2019-03-01T00%3A00%3A00.0000000Z',
    'the SAS goes, the snapshot (other bytes) stays');
  assertNoSecret(t, AZURE, [AZURE_SIG, 'skoid=oid', 'sktid', '168.1.5.60']);
  const cloudfront = 'https://d111111abcdef8.cloudfront.net/image.jpg?Expires=1357034400&Signature=nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19DzZrv&Key-Pair-Id=K2JCJMDEHXQW5F';
  t.equal(cacheIdentity(cloudfront), 'https://d111111abcdef8.cloudfront.net/image.jpg');
  t.equal(cacheIdentity('https://h/x?a=1&token=t0k&access_token=ya29&api_key=k1&apikey=k2&API-KEY=k3&b=2'), 'https://h/x?a=1&b=2');
});

t.test('userinfo, fragment, host case and default ports are not part of the identity', async (t) => {
  t.equal(cacheIdentity('https://user:pass@host/x'), 'https://host/x');
  assertNoSecret(t, 'https://alice:hunter2secret@host/x', ['hunter2secret', 'alice']);
  t.equal(cacheIdentity('HTTPS://Alice@Data.Example.COM:443/Path/File.BIN#part'), 'https://data.example.com/Path/File.BIN',
    'path case is kept, host case is not');
  t.equal(cacheIdentity('http://h:80/x'), 'http://h/x');
  t.equal(cacheIdentity('http://h:8080/x'), 'http://h:8080/x', 'a non-default port is kept');
  t.equal(cacheIdentity('s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@bucket/a@b?c#d'), 's3://bucket/a@b?c#d',
    's3: userinfo removed; ? and # are part of the key');
  assertNoSecret(t, 's3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@bucket/k', ['wJalrXUtnFEMI', 'AKIAIOSFODNN7EXAMPLE']);
});

t.test('parameter names are compared case-insensitively and percent-decoded', async (t) => {
  for (const name of ['x-amz-signature', 'X-AMZ-SIGNATURE', 'X%2DAmz%2DSignature', 'X-Amz-Signatur%65', 'SIG', 'Token']) {
    t.equal(cacheIdentity(`https://h/x?v=1&${name}=s3cr3t`), 'https://h/x?v=1', name);
  }
});

t.test('two presigned URLs of one object share keys; two objects never do', async (t) => {
  const a = awsV4(AWS_V4_SIG);
  const b = awsV4('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef').replace('20130524T000000Z', '20240101T120000Z');
  t.not(a, b);
  t.same(keysOf(a), keysOf(b), 'different signatures and dates, same entries');
  t.same(keysOf('https://alice:x@host/o'), keysOf('https://bob:y@host/o'));
  t.same(keysOf(a), keysOf('https://examplebucket.s3.us-east-1.amazonaws.com/data/test.txt?X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&x-id=GetObject'));

  // Everything that can select other bytes stays, so distinct objects keep distinct keys.
  const distinct = [
    'https://h/x', 'https://h/X', 'https://h/x?', 'https://h/x?a=1', 'https://h/x?a=2', 'https://h/x?a=1&b=2', 'https://h/x?b=2&a=1',
    'https://h/x?a=%2B', 'https://h/x?a=+', 'https://h/x?a=%20', 'http://h/x', 'https://h:8443/x', 'https://h2/x', 'https://h/y',
    'https://h/x?versionId=1', 'https://h/x?versionId=2', 'https://h/x?partNumber=1', 'https://h/x?generation=5',
    'https://h/x?key=a', 'https://h/x?key=b', // `key` names the object on many servers: kept
    'https://h/x?st=1', 'https://h/x?st=2', 'https://h/x?sp=1&sig=z', 'https://h/x?sp=2&sig=z', // no sv: not a SAS
    'https://h/x?Expires=1', 'https://h/x?Expires=2', 'https://h/x?Policy=p', // no signature beside them: kept
    'https://h/x?%3Fa=1', 'https://h/x??a=1', 'https://h/x?response-content-type=text%2Fplain',
    's3://b/x', 's3://b/x?a=1', 's3://b/x#f', 's3://b/X', 's3://B/x', '/tmp/x', '/tmp/x?a=1', 'file:///tmp/x', 'x',
  ];
  const keys = distinct.map((p) => metaKey('ns', p));
  t.equal(new Set(keys).size, distinct.length, 'distinct objects, distinct keys');
  t.equal(cacheIdentity('https://h/x??a=1&X-Amz-Signature=s'), 'https://h/x??a=1', 'a first part that starts with ? stays');
  t.equal(cacheIdentity('https://h/x?a=1&sig=z&sp=2'), 'https://h/x?a=1&sp=2', 'sig alone goes, its neighbours stay');
});

t.test('plain paths, file: URLs and other schemes are unchanged', async (t) => {
  for (const p of ['/data/a?X-Amz-Signature=1', 'relative/p@th#x', 'file:///data/a?sig=1', 'file://user:pw@host/x', 'gs://u:p@b/k', 'C:\\x', '']) {
    t.equal(cacheIdentity(p), p);
  }
});

function parses(s: string): boolean {
  try {
    return new URL(s) !== undefined;
  } catch {
    return false;
  }
}

/** Whether `s` is a parseable URL written exactly as the WHATWG parser would write it. */
function canonical(s: string): boolean {
  try {
    return new URL(s).href === s;
  } catch {
    return false;
  }
}

t.test('odd input never throws; unparseable http(s) URLs still lose their credentials', async (t) => {
  t.equal(cacheIdentity('http://[::1/x?X-Amz-Signature=s3cr3t&versionId=2#frag'), 'http://[::1/x?versionId=2');
  t.equal(cacheIdentity('HTTPS://user:pw@exa mple.com/x?token=s3cr3t'), 'https://exa mple.com/x');
  t.equal(cacheIdentity('https://u:p@h%zz/x?%E0%A4%A=1&Signature=s'), 'https://h%zz/x?%E0%A4%A=1');
  t.equal(cacheIdentity('https:'), 'https:');
  // Random URL-ish strings: never a throw, and the identity of an identity is itself.
  const alphabet = ['https://', 'http:', 's3://', '/', '?', '&', '=', '#', '@', ':', '%', '%2D', '%zz', '[', ']', 'a', 'H', '\\', ' ',
    '\u0000', 'é', 'X-Amz-Signature=S', 'sig=S', 'sv=1', 'user:S@', '80', '+'];
  let seed = 42;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    let s = i % 2 ? 'https://' : '';
    for (let n = rnd(12); n >= 0; n--) s += alphabet[rnd(alphabet.length)];
    const id = cacheIdentity(s);
    if (typeof id !== 'string') t.fail(`not a string: ${JSON.stringify(s)}`);
    if (!/^https?:/i.test(s)) {
      if (id !== s.replace(/^s3:\/\/[^/?#\\]*@/i, 's3://').replace(/^s3:/i, 's3:')) t.fail(`changed: ${JSON.stringify(s)} -> ${JSON.stringify(id)}`);
    } else if (parses(s)) {
      if (cacheIdentity(id) !== id) t.fail(`not idempotent: ${JSON.stringify(s)} -> ${JSON.stringify(id)} -> ${JSON.stringify(cacheIdentity(id))}`);
    } else if (canonical(id)) {
      // An unparseable URL's identity must never be the identity of a URL that can be fetched.
      t.fail(`an unparseable URL took a fetchable URL's identity: ${JSON.stringify(s)} -> ${JSON.stringify(id)}`);
    }
    checked++;
  }
  // Random URLs with secrets where credentials go (userinfo, credential parameters): none survives, and the
  // other parameters survive in their order.
  const credentials = ['X-Amz-Signature', 'x-amz-credential', 'X-Goog-Signature', 'Signature', 'sig', 'token', 'ACCESS_TOKEN', 'apikey'];
  const others = ['versionId', 'a', 'partNumber', 'key', 'x-id'];
  for (let i = 0; i < 2000; i++) {
    const params: string[] = [];
    const keep: string[] = [];
    for (let n = rnd(6); n >= 0; n--) {
      if (rnd(2)) params.push(`${credentials[rnd(credentials.length)]}=SECRET${i}`);
      else keep.push(`${others[rnd(others.length)]}=${rnd(1000)}`), params.push(keep.at(-1)!);
    }
    const url = `https://${rnd(2) ? `u${i}:SECRET${i}@` : ''}host${rnd(3)}.example/p/${i}?${params.join('&')}${rnd(2) ? '#SECRET' : ''}`;
    const id = cacheIdentity(url);
    if (id.includes('SECRET')) t.fail(`secret kept: ${url} -> ${id}`);
    const query = keep.length ? `?${keep.join('&')}` : '';
    if (!id.endsWith(`/p/${i}${query}`)) t.fail(`kept parameters changed: ${url} -> ${id}`);
    checked++;
  }
  t.equal(checked, 7000);
});
