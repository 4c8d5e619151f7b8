// Streaming through the proxy, over real sockets: a slow client holds the origin back (backpressure: nothing
// buffers a whole object), a client that goes away stops its own reads but not a fetch another client shares,
// and a graceful close lets an in-flight response finish while refusing new connections.
import { request } from 'node:http';
import t from 'tap';
import { pseudoRandomBytes } from '@rangecache/test-support';
import { startProxy } from './proxy-harness.js';

const MiB = 1 << 20;
const proxy = await startProxy({ blockSize: MiB, onError: (e) => console.error('proxy error:', e) });
t.teardown(() => proxy.stop());
const { origin } = proxy;
const big = pseudoRandomBytes(64 * MiB, 'streaming-big');
origin.put('big.bin', big);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A GET that reads `pauseAfter` bytes, then stops reading until `resume()`; resolves with everything read. */
function slowGet(url: string, pauseAfter: number): { paused: Promise<void>; resume(): void; abort(): void; done: Promise<Buffer> } {
  let resume = (): void => {};
  let abort = (): void => {};
  let onPause = (): void => {};
  const paused = new Promise<void>((r) => { onPause = r; });
  const done = new Promise<Buffer>((resolve, reject) => {
    const req = request(url, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let stopped = false;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        received += c.byteLength;
        if (!stopped && received >= pauseAfter) {
          stopped = true;
          res.pause();
          onPause();
        }
      });
      resume = () => res.resume();
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('aborted')));
    });
    abort = () => req.destroy();
    req.on('error', reject);
    req.end();
  });
  return { paused, resume: () => resume(), abort: () => abort(), done };
}

t.test('a slow client holds the origin back: what is read ahead is bounded, not the object', async (t) => {
  const client = slowGet(proxy.url('big.bin'), 2 * MiB);
  await client.paused;
  await sleep(800);
  const ahead = origin.bodyBytes();
  t.ok(ahead < 24 * MiB, `while the client waits, the origin sent ${(ahead / MiB).toFixed(1)} MiB of 64 (read-ahead and socket buffers only)`);
  client.resume();
  const body = await client.done;
  t.ok(body.equals(big), 'then the whole object arrives, byte-exact');
});

t.test('a client that goes away stops its reads; a fetch another client shares goes on', async (t) => {
  origin.put('alone.bin', pseudoRandomBytes(64 * MiB, 'streaming-alone'));
  origin.reset();
  const alone = slowGet(proxy.url('alone.bin'), MiB);
  await alone.paused;
  alone.abort();
  await alone.done.catch(() => {});
  await sleep(800);
  const sent = origin.bodyBytes();
  t.ok(sent < 24 * MiB, `after the client left, the origin sent ${(sent / MiB).toFixed(1)} MiB of 64`);

  // Two clients want the same cold object through one proxy; the first leaves early. The second gets every
  // byte, and the object is fetched from the origin about once.
  const shared = pseudoRandomBytes(16 * MiB, 'streaming-shared');
  origin.put('shared.bin', shared);
  origin.reset();
  origin.behaviour.delayMs = 150; // each origin request takes a while: the two reads overlap
  origin.behaviour.delayMs = 150;
  try {
    const leaver = slowGet(proxy.url('shared.bin'), 256 * 1024);
    const stayer = slowGet(proxy.url('shared.bin'), Infinity);
    await leaver.paused;
    leaver.abort();
    await leaver.done.catch(() => {});
    const body = await stayer.done;
    t.ok(body.equals(shared), 'the client that stayed got every byte');
    const fetched = origin.bodyBytes();
    t.ok(fetched <= shared.byteLength * 1.05, `origin bytes ${(fetched / shared.byteLength).toFixed(3)}x the object`);
  } finally {
    origin.behaviour.delayMs = 0;
  }
  const before = origin.bodyBytes();
  const again = await fetch(proxy.url('shared.bin'));
  t.ok(Buffer.from(await again.arrayBuffer()).equals(shared), 'read again: byte-exact');
  t.equal(origin.bodyBytes(), before, 'and all of it from the cache');
});

t.test('graceful close: in-flight responses finish, new connections are refused', async (t) => {
  const second = await startProxy({ blockSize: MiB });
  try {
    second.origin.put('big.bin', big);
    const client = slowGet(second.url('big.bin'), 4 * MiB);
    await client.paused;
    const closed = second.server.close({ timeoutMs: 20_000 });
    await sleep(100);
    await t.rejects(fetch(second.url('big.bin')), 'a new connection is refused once closing');
    client.resume();
    const body = await client.done;
    t.ok(body.equals(big), 'the response in flight completed, byte-exact');
    await closed;
  } finally {
    await second.stop();
  }
});
