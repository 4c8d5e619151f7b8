// The lookup connection's RESP reader, fed by hand: every reply shape, split at every byte.
import t from 'tap';
import { RespError, RespProtocolError, RespReader, encodeCommand, encodeCommandChunks } from '../src/resp-reader.js';
import type { RespReply } from '../src/resp-reader.js';

function readAll(wire: Buffer, cut: (i: number) => boolean): RespReply[] {
  const replies: RespReply[] = [];
  const reader = new RespReader((r) => replies.push(r));
  let from = 0;
  for (let i = 1; i <= wire.length; i++) {
    if (i === wire.length || cut(i)) {
      // Each read lands in a scratch buffer that is overwritten right after, as the socket's reused buffer is.
      const scratch = Buffer.from(wire.subarray(from, i));
      reader.feed(scratch, 0, scratch.length);
      scratch.fill(0xee);
      from = i;
    }
  }
  return replies;
}

t.test('every reply shape, whole and split at every byte', async (t) => {
  const value = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256)); // has CR and LF inside
  const wire = Buffer.concat([
    Buffer.from('+OK\r\n-ERR wrong number of arguments\r\n:42\r\n$-1\r\n$0\r\n\r\n*0\r\n*-1\r\n'),
    Buffer.from(`*3\r\n$${value.length}\r\n`), value, Buffer.from('\r\n$-1\r\n$2\r\n\r\n\r\n'),
    Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n'),
    // A lease lookup's answer: values and codes (1 claimed, 2 landed, 0 or minus a version: busy).
    Buffer.from(`*4\r\n:1\r\n$${value.length}\r\n`), value, Buffer.from('\r\n:-1234567\r\n$-1\r\n'),
  ]);
  const want = ['OK', new RespError('ERR wrong number of arguments'), 42, null, Buffer.alloc(0), [], null, [value, null, Buffer.from('\r\n')], value,
    [1, value, -1234567, null]];
  for (const [label, cut] of [['whole', () => false], ['every byte', () => true], ['every 7 bytes', (i: number) => i % 7 === 0]] as const) {
    const got = readAll(wire, cut);
    t.equal(got.length, want.length, `${label}: ${want.length} replies`);
    t.same(got, want, label);
    t.ok(got[1] instanceof RespError, `${label}: an error reply is a RespError`);
  }
});

t.test('values own their memory', async (t) => {
  const got = readAll(Buffer.from('*2\r\n$3\r\nabc\r\n$4\r\ndefg\r\n'), () => false)[0] as Buffer[];
  for (const v of got) t.equal(v.buffer.byteLength, v.length, 'not a view into a shared pool');
});

t.test('a stream out of step is a RespProtocolError', async (t) => {
  for (const bad of ['?what\r\n', '$3\r\nabcXY', '$x\r\n', '*2\r\n+OK\r\n', '*2\r\n*1\r\n', '*2\r\n:1x\r\n', '$-5\r\n', `+${'a'.repeat(2000)}`, '+OK\n']) {
    t.throws(() => readAll(Buffer.from(bad), () => false), RespProtocolError, JSON.stringify(bad.slice(0, 20)));
  }
});

t.test('encodeCommand', async (t) => {
  t.equal(encodeCommand(['MGET', 'a', 'ключ']).toString('utf8'), '*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$8\r\nключ\r\n', 'bulk lengths in bytes, not characters');
});

t.test('encodeCommandChunks: the same bytes as encodeCommand, with each value a chunk of its own, uncopied', async (t) => {
  const text = ['EVAL', 'return 1', '1', 'k\u00e9y', 'a\r\nb'];
  const chunks: Uint8Array[] = [];
  encodeCommandChunks(text, chunks);
  t.same(Buffer.concat(chunks), encodeCommand(text), 'text only: exactly encodeCommand\'s bytes (UTF-8 lengths)');

  const value = Buffer.from([0, 13, 10, 36, 255, 42]); // binary, with CRLF and '$' inside
  const empty = new Uint8Array(0);
  const withValues: Uint8Array[] = [];
  encodeCommandChunks(['SET', 'k', value, 'PX', '60000'], withValues);
  encodeCommandChunks(['SET', 'e', empty], withValues);
  t.ok(withValues.includes(value), 'the value is one of the chunks itself: not copied');
  t.same(Buffer.concat(withValues), Buffer.concat([
    Buffer.from('*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\n'), value, Buffer.from('\r\n$2\r\nPX\r\n$5\r\n60000\r\n'),
    Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\ne\r\n$0\r\n\r\n'),
  ]), 'two commands, values inline, an empty value as $0');
  // And a server reads them as such: the reader parses the same framing back.
  const replies: RespReply[] = [];
  const reader = new RespReader((r) => replies.push(r));
  const all = Buffer.concat(withValues);
  reader.feed(all, 0, all.length);
  t.same(replies.map((r) => (Array.isArray(r) ? r.map((x) => (Buffer.isBuffer(x) ? [...x] : x)) : r)), [
    [[...Buffer.from('SET')], [...Buffer.from('k')], [...value], [...Buffer.from('PX')], [...Buffer.from('60000')]],
    [[...Buffer.from('SET')], [...Buffer.from('e')], []],
  ], 'parsed back: every argument byte-exact');
});

t.test('values go to the memory the caller names, by position; receiving tells which value is arriving', async (t) => {
  const replies: RespReply[] = [];
  const mine = Buffer.alloc(5);
  const asked: [number, number][] = [];
  const reader = new RespReader((r) => replies.push(r), (length, index) => {
    asked.push([length, index]);
    return index === 1 ? mine : Buffer.allocUnsafeSlow(length);
  });
  const wire = Buffer.from('*3\r\n$3\r\nabc\r\n$5\r\nhello\r\n$-1\r\n');
  reader.feed(wire, 0, 17); // up to "$5\r\nhe"
  t.equal(reader.receiving, mine, 'the second value is arriving, into the named memory');
  reader.feed(wire, 17, wire.length);
  t.equal(reader.receiving, null, 'between values');
  t.same(asked, [[3, 0], [5, 1]], 'asked by length and position; nil takes no memory');
  const [values] = replies as (Buffer | null)[][];
  t.equal(values![1], mine, 'the value is that memory itself');
  t.equal(mine.toString(), 'hello');
  t.throws(() => new RespReader(() => {}, () => Buffer.alloc(1)).feed(Buffer.from('$3\r\nabc\r\n'), 0, 9), RespProtocolError, 'memory of the wrong size is refused');
});
