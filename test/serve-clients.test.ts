// Real clients reading through a running `rangecache serve` (a child process on a real redis-server and a real
// HTTP origin): curl with ranges, GDAL's /vsicurl/ (gdalinfo, gdal_translate of a window of a tiled GeoTIFF),
// Python's fsspec, zarr and xarray opening a Zarr store, and headless Chromium running geotiff.js in a page of
// another origin (CORS). Every result is compared with the origin's bytes or the file read directly.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { pseudoRandomBytes, S3RVER_CREDENTIALS, startHttpOrigin, startRedis, startS3rver, tempDir } from '@rangecache/test-support';
import { ROOT, startServe } from './serve-support.js';

const run = promisify(execFile);
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'; // Debian's, with python3-zarr
const TIF = `${ROOT}packages/adapters/fixtures/ramp.tif`;

const [origin, redis, dir, s3] = await Promise.all([startHttpOrigin(), startRedis(), tempDir('rangecache-serve-'), startS3rver('serve-bucket')]);
// The page that runs geotiff.js: served from its own origin, allowed by --cors; a second page origin is not.
const page = await pageServer();
const stranger = await pageServer();
const serve = await startServe([
  '--allow', `${origin.baseUrl}/`, '--cors', page.origin, '--redis-url', redis.url, '--namespace', `serve-clients-${process.pid}`, '--block-size', '64KiB',
  '--mount', 'open=s3://serve-bucket/open/', '--endpoint', s3.endpoint, '--region', 'us-east-1',
], { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey });
t.teardown(async () => {
  await serve.stop();
  await Promise.all([origin.stop(), redis.stop(), dir.remove(), page.close(), stranger.close(), s3.stop()]);
});
const host = origin.baseUrl.replace('http://', '');
const proxied = (name: string): string => `${serve.url}/http/${host}/${name}`;
const gets = (): number => origin.bodyBytes('GET');

t.test('curl: whole object, ranges, several ranges, HEAD', async (t) => {
  const bytes = pseudoRandomBytes(300_000, 'serve-curl');
  origin.put('curl.bin', bytes);
  const out = (...args: string[]) => run('curl', ['-sS', '--fail-with-body', ...args], { encoding: 'buffer', maxBuffer: 1 << 26 }).then((r) => r.stdout);
  t.ok((await out(proxied('curl.bin'))).equals(bytes), 'whole');
  t.ok((await out('-r', '1000-1999', proxied('curl.bin'))).equals(bytes.subarray(1000, 2000)), '-r 1000-1999');
  t.ok((await out('-r', '-500', proxied('curl.bin'))).equals(bytes.subarray(-500)), '-r -500');
  t.ok((await out('-r', '299990-', proxied('curl.bin'))).equals(bytes.subarray(299990)), '-r 299990-');
  const multi = (await out('-r', '0-9,200000-200009', proxied('curl.bin'))).toString('latin1');
  t.match(multi, /Content-Range: bytes 0-9\/300000/);
  t.match(multi, /Content-Range: bytes 200000-200009\/300000/);
  t.ok(multi.includes(bytes.subarray(200000, 200010).toString('latin1')), 'second part\'s bytes');
  const head = (await out('-I', proxied('curl.bin'))).toString();
  t.match(head, /^HTTP\/1\.1 200 OK/);
  t.match(head, /accept-ranges: bytes/i);
  t.match(head, /content-length: 300000/i);
  const resumed = await run('curl', ['-sS', '-o', '-', '-w', '%{http_code}', '-r', '10-19', proxied('curl.bin')], { encoding: 'buffer' });
  t.equal(resumed.stdout.subarray(-3).toString(), '206');
});

t.test('S3 through a mount and /s3/<bucket>/<key>: keys are decoded from the path; other keys are refused', async (t) => {
  const bytes = pseudoRandomBytes(200_000, 'serve-s3');
  await s3.put('open/a b+c.bin', bytes);
  await s3.put('closed/secret.bin', bytes);
  const body = async (url: string, range?: string) => {
    const res = await fetch(url, range ? { headers: { range } } : {});
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
  };
  const mounted = await body(`${serve.url}/open/a%20b%2Bc.bin`, 'bytes=1000-1999');
  t.equal(mounted.status, 206);
  t.ok(mounted.bytes.equals(bytes.subarray(1000, 2000)), 'the key "open/a b+c.bin", through the mount');
  const direct = await body(`${serve.url}/s3/serve-bucket/open/a%20b%2Bc.bin`);
  t.equal(direct.status, 200);
  t.ok(direct.bytes.equals(bytes), 'the same key as /s3/<bucket>/<key>: the mount\'s prefix is allowed');
  t.equal((await body(`${serve.url}/s3/serve-bucket/closed/secret.bin`)).status, 403, 'a key outside the mount');
  t.equal((await body(`${serve.url}/open/..%2Fclosed/secret.bin`)).status, 400, 'an encoded slash');
  t.equal((await body(`${serve.url}/open/missing.bin`)).status, 404);
});

t.test('GDAL /vsicurl/: gdalinfo and gdal_translate of a window match the file; the second run reads only the cache', async (t) => {
  origin.put('ramp.tif', await readFile(TIF), { contentType: 'image/tiff' });
  const env = { ...process.env, GDAL_DISABLE_READDIR_ON_OPEN: 'EMPTY_DIR', CPL_VSIL_CURL_CACHE_SIZE: '0', GDAL_HTTP_MAX_RETRY: '0' };
  const vsi = `/vsicurl/${proxied('ramp.tif')}`;
  const checksum = async (path: string): Promise<string> => {
    const { stdout } = await run('gdalinfo', ['-checksum', path], { env });
    return [...stdout.matchAll(/Checksum=(\d+)/g)].map((m) => m[1]).join(',');
  };
  const info = await run('gdalinfo', [vsi], { env });
  t.match(info.stdout, /Size is 1024, 1024/);
  t.match(info.stdout, /LAYOUT=COG|Block=256x256/);
  t.equal(await checksum(vsi), await checksum(TIF), 'every band and overview checksums as the local file');
  const window = ['-srcwin', '100', '200', '300', '250', '-of', 'GTiff'];
  await run('gdal_translate', [...window, TIF, join(dir.path, 'local.tif')], { env });
  const before = gets();
  await run('gdal_translate', [...window, vsi, join(dir.path, 'proxied.tif')], { env });
  t.equal(gets(), before, 'the window was read from the cache: no new origin bytes');
  t.equal(await checksum(join(dir.path, 'proxied.tif')), await checksum(join(dir.path, 'local.tif')), 'the window is the same as from the file');
});

t.test('Python fsspec + zarr + xarray open a Zarr store through the proxy', async (t) => {
  const store = join(dir.path, 'ds.zarr');
  await run(PYTHON, [`${ROOT}test/fixtures/serve/zarr-client.py`, 'write', store]);
  for (const file of await walk(store)) origin.put(`ds.zarr/${relative(store, file)}`, await readFile(file));
  const { stdout } = await run(PYTHON, [`${ROOT}test/fixtures/serve/zarr-client.py`, 'read', proxied('ds.zarr'), store], { env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  t.equal(result['title'], 'rangecache serve test', 'attributes from .zmetadata');
  t.same(result['dims'], ['time', 'y', 'x']);
  t.equal(result['slab_equal'], true, 'xarray: a time slice equals the one read from disk');
  t.equal(result['slab_sha256'], result['expected_sha256']);
  t.equal(result['direct_equal'], true, 'zarr over fsspec\'s HTTP mapper: a region equals the data written');
  t.equal(result['ranged_equal'], true, 'fsspec file API: seek + read of a chunk file');
});

t.test('headless Chromium: geotiff.js in a page of another origin reads a window through the proxy (CORS)', async (t) => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  if (!origin.requests.some((r) => r.path === 'ramp.tif')) origin.put('ramp.tif', await readFile(TIF), { contentType: 'image/tiff' });
  const result = async (pageOrigin: string): Promise<Record<string, unknown>> => {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${pageOrigin}/?src=${encodeURIComponent(proxied('ramp.tif'))}`);
      // (runs in the page, where there is a document)
      await tab.waitForFunction(() => (globalThis as unknown as { document: { title: string } }).document.title.startsWith('{'), undefined, { timeout: 60_000 });
      return JSON.parse(await tab.title()) as Record<string, unknown>;
    } finally {
      await tab.close();
    }
  };
  const allowed = await result(page.origin);
  t.equal(allowed['ok'], true, String(allowed['error'] ?? ''));
  t.equal(allowed['width'], 1024);
  t.equal(allowed['pixels'], 300 * 250);
  t.equal(allowed['wrong'], 0, 'every pixel is (x * 3 + y * 5) mod 65536, as the file was written');
  const refused = await result(stranger.origin);
  t.equal(refused['ok'], false, 'a page origin that --cors does not name cannot read');
});

t.test('SIGTERM: a graceful shutdown, exit code 0', async (t) => {
  t.equal(await serve.stop(), 0);
  t.match(serve.stderr(), /rangecache serve: shutting down/);
  t.notMatch(serve.stderr(), /Error|warning/, 'nothing else on stderr');
});

async function walk(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true });
  const files = await Promise.all(entries.map((e) => (e.isDirectory() ? walk(join(path, e.name)) : [join(path, e.name)])));
  return files.flat();
}

/** A page server: `/` runs geotiff.js on `?src=` and writes the outcome into the title. */
async function pageServer(): Promise<{ origin: string; close(): Promise<void> }> {
  const bundle = await readFile(`${ROOT}node_modules/geotiff/dist-browser/geotiff.js`);
  const html = `<!doctype html><title>running</title><script src="/geotiff.js"></script><script>
(async () => {
  try {
    const tiff = await GeoTIFF.fromUrl(new URLSearchParams(location.search).get('src'));
    const image = await tiff.getImage();
    const [band] = await image.readRasters({ window: [100, 200, 400, 450] });
    let wrong = 0;
    for (let y = 0; y < 250; y++) for (let x = 0; x < 300; x++) if (band[y * 300 + x] !== ((x + 100) * 3 + (y + 200) * 5) % 65536) wrong++;
    document.title = JSON.stringify({ ok: true, width: image.getWidth(), pixels: band.length, wrong });
  } catch (e) {
    document.title = JSON.stringify({ ok: false, error: String(e) });
  }
})();
</script>`;
  const server = createServer((req, res) => {
    if (req.url === '/geotiff.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
