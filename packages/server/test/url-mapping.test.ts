// The proxy's URL mapping and allow-list as pure functions: /<scheme>/<host>/<path> and mounts; normalization
// before the check, so that dot segments, encoded slashes, double slashes, credentials and look-alike prefixes
// cannot reach a URL outside the list; configuration errors are ConfigErrors naming the bad value.
import t from 'tap';
import { ConfigError } from '@rangecache/core';
import { AllowList, parseMounts, ProxyPathError, targetOfPath } from '@rangecache/server';

const allow = new AllowList(['https://data.example.com/public/', 's3://bucket/open/', 'http://127.0.0.1:9000/files']);
/** The request path as a WHATWG URL (what a Request gives the handler) hands it over. */
const pathOf = (raw: string): string => new URL(raw, 'http://proxy.test').pathname;
const map = (raw: string, mounts = parseMounts([])): string => targetOfPath(pathOf(raw), mounts, allow);
const refusal = (raw: string, mounts = parseMounts([])): number | string => {
  try {
    return `mapped to ${map(raw, mounts)}`;
  } catch (e) {
    return e instanceof ProxyPathError ? e.status : String(e);
  }
};

t.test('/<scheme>/<host>/<path> maps to the URL, normalized', async (t) => {
  t.equal(map('/https/data.example.com/public/a/b.nc'), 'https://data.example.com/public/a/b.nc');
  t.equal(map('/https/DATA.example.com:443/public/a%20b.nc'), 'https://data.example.com/public/a%20b.nc', 'host lower-cased, default port dropped, encoding kept');
  t.equal(map('/s3/bucket/open/dir/a%20b%2Bc.zarr/.zarray'), 's3://bucket/open/dir/a b+c.zarr/.zarray', 'S3 keys are decoded: S3 takes them literally');
  t.equal(map('/http/127.0.0.1:9000/files/x.bin'), 'http://127.0.0.1:9000/files/x.bin');
  t.equal(map('/http/127.0.0.1:9000/files'), 'http://127.0.0.1:9000/files', 'the prefix itself');
});

t.test('nothing escapes a prefix', async (t) => {
  t.equal(refusal('/https/data.example.com/public/../private/x'), 403, '.. resolved first, then refused');
  t.equal(refusal('/https/data.example.com/public/%2e%2e/private/x'), 403, 'encoded dots are dots');
  t.equal(refusal('/https/data.example.com/public%2F..%2Fprivate/x'), 400, 'encoded slash');
  t.equal(refusal('/https/data.example.com/public/a%5c..%5cb'), 400, 'encoded backslash');
  t.equal(refusal('/https/data.example.com//public/x'), 400, 'double slash');
  t.equal(refusal('/https/data.example.com/publicity/x'), 403, 'a look-alike of the prefix');
  t.equal(refusal('/http/127.0.0.1:9000/files-secret/x'), 403, 'a prefix without / matches at a path boundary only');
  t.equal(refusal('/https/user:pw@data.example.com/public/x'), 400, 'credentials in the host');
  t.equal(refusal('/https/data.example.com@evil.test/public/x'), 400);
  t.equal(refusal('/https/evil.test/public/x'), 403, 'another host');
  t.equal(refusal('/http/data.example.com/public/x'), 403, 'another scheme');
  t.equal(refusal('/https/data.example.com:8443/public/x'), 403, 'another port');
  t.equal(refusal('/s3/bucket/opener/x'), 403);
  t.equal(refusal('/s3/bucket/open/%2e%2e/x'), 403);
  t.equal(refusal('/file/etc/passwd'), 404, 'file: is no proxy scheme');
  t.equal(refusal('/https/data.example.com/public/%zz'), 400, 'malformed percent-encoding');
  t.equal(refusal('/https//public/x'), 400, 'no host');
  t.equal(refusal('/https/data.example.com'), 404, 'no object');
  t.equal(refusal('/'), 404);
});

t.test('mounts', async (t) => {
  const mounts = parseMounts(['era5=s3://bucket/era5.zarr/', { name: 'files', prefix: 'https://files.example.com/v1/' }]);
  const withMounts = new AllowList([...allow.prefixes, ...mounts.map((m) => m.prefix)]);
  t.equal(targetOfPath(pathOf('/era5/t2m/0.0.0'), mounts, withMounts), 's3://bucket/era5.zarr/t2m/0.0.0');
  t.equal(targetOfPath(pathOf('/files/a%20b/c.tif'), mounts, withMounts), 'https://files.example.com/v1/a%20b/c.tif');
});

t.test('mounts cannot be walked out of', async (t) => {
  const mounts = parseMounts(['files=https://files.example.com/v1/']);
  const withMounts = new AllowList(mounts.map((m) => m.prefix));
  const attempt = (raw: string): number | string => {
    try { return targetOfPath(pathOf(raw), mounts, withMounts); } catch (e) { return e instanceof ProxyPathError ? e.status : String(e); }
  };
  t.equal(attempt('/files/a/../../v2/secret'), 404, 'the dot segments leave the mount: no route');
  t.equal(attempt('/files/..%2F..%2Fv2/secret'), 400);
  t.equal(attempt('/files/%2e%2e/x'), 404, '/files/%2e%2e/x is /x');
  t.equal(attempt('/files/ok.bin'), 'https://files.example.com/v1/ok.bin');
});

t.test('configuration errors are ConfigErrors that name the value', async (t) => {
  t.throws(() => new AllowList(['ftp://x/']), ConfigError);
  t.throws(() => new AllowList(['https://user:pw@x/']), { message: /without credentials/ });
  t.throws(() => new AllowList(['data.example.com']), { message: /"data\.example\.com"/ });
  t.throws(() => new AllowList(['https://x/?a=1']), { message: /has a query/ });
  t.throws(() => parseMounts(['noequals']), { message: /expected name=prefix/ });
  t.throws(() => parseMounts(['https=https://x/']), { message: /is taken/ });
  t.throws(() => parseMounts(['metrics=https://x/']), { message: /is taken/ });
  t.throws(() => parseMounts(['a/b=https://x/']), { message: /not a path segment/ });
  t.throws(() => parseMounts(['a=https://x/', 'a=https://y/']), { message: /given twice/ });
  t.throws(() => parseMounts(['a=not a url']), ConfigError);
  t.equal(new AllowList(['HTTPS://Data.Example.com:443/x/']).prefixes[0], 'https://data.example.com/x/');
});
