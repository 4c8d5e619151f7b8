/** readExact: exact bytes out of a body, read to its end when it ends there, cut short when it goes on. */
import { Readable } from 'node:stream';
import t from 'tap';
import { readExact } from '../src/read-exact.js';

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
const chunks = (sizes: number[]): Buffer[] => {
  const out: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    out.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return out;
};

t.test('a body that ends right after the bytes is read to its end, not destroyed', async (t) => {
  // Leaving a Readable's iterator early destroys it with an AbortError (and undici's body with a
  // RequestAbortedError): a stack trace per origin read.
  const body = Readable.from(chunks([300, 300, 400]), { objectMode: false });
  const errors: unknown[] = [];
  body.on('error', (e) => errors.push(e));
  const { bytes: got, received } = await readExact(body, 1000);
  t.equal(received, 1000);
  t.same(got, Buffer.from(bytes));
  t.ok(body.readableEnded, 'the body ended on its own');
  await new Promise((r) => setImmediate(r));
  t.same(errors, [], 'no error was raised on it');
});

t.test('skip drops leading bytes, also across chunks', async (t) => {
  const { bytes: got, received } = await readExact(Readable.from(chunks([100, 100, 800])), 500, 150);
  t.equal(received, 500);
  t.same(got, Buffer.from(bytes.subarray(150, 650)));
});

t.test('a body that goes on past the bytes (a 200 to a range request) is not read to its end', async (t) => {
  let pulled = 0;
  async function* endless(): AsyncGenerator<Uint8Array> {
    for (;;) {
      pulled++;
      yield bytes.subarray(0, 100);
    }
  }
  const { bytes: got, received } = await readExact(endless(), 250);
  t.equal(received, 250);
  t.same(got, Buffer.concat([bytes.subarray(0, 100), bytes.subarray(0, 100), bytes.subarray(0, 50)]));
  t.equal(pulled, 4, 'it stopped at the first chunk past the bytes');
});

t.test('a short body gives what it had', async (t) => {
  const { received } = await readExact(Readable.from(chunks([100, 200])), 1000);
  t.equal(received, 300);
  t.equal((await readExact(Readable.from([]), 0)).received, 0);
});
