/**
 * A streaming reader of the RESP2 replies that the store's lookup connection receives: simple strings (`+OK`),
 * errors (`-ERR …`), integers, bulk strings, and flat arrays of bulk strings and integers (an `MGET` reply, a
 * lease lookup script's answer). Pure: it is fed bytes
 * and calls back with whole replies, so it is tested without a server.
 *
 * It exists for speed (see BENCHMARKS.md, "Lookups on the store's own connection"): headers are read from one
 * reused buffer, and the socket reads each value straight into memory of its own length (`valueRemainder`),
 * which the caller then owns: no intermediate buffers and no copies.
 */

/** A reply: a bulk string as bytes (`null` for nil), an array of them and integers, a simple string, an integer, or a server error. */
export type RespReply = Buffer | null | (Buffer | null | number)[] | string | number | RespError;

/** An error reply of the server (`-ERR …`, `-WRONGTYPE …`, `-MOVED …`). */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespError';
  }
}

/** The reply's shape could not be read: the stream is out of step and the connection must be dropped. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespProtocolError';
  }
}

const CR = 13;
const LF = 10;
/** A header line is short (`*64`, `$536870912`); a longer one means the stream is not RESP. */
const MAX_LINE = 1024;
/** Redis's largest string. */
const MAX_BULK = 512 * 1024 * 1024;

/** Where a bulk string of `length` bytes, element `index` of its reply (0 outside an array), is read to. */
export type BulkMemory = (length: number, index: number) => Buffer;

/** Memory of its own for every value, never a view into a shared pool. */
const ownMemory: BulkMemory = (length) => Buffer.allocUnsafeSlow(length);

export class RespReader {
  readonly #onReply: (reply: RespReply) => void;
  readonly #memory: BulkMemory;
  /** The header line read so far (it may span two socket reads). */
  #line = '';
  /** Inside an array: its elements so far, and how many it has. */
  #array: (Buffer | null | number)[] | null = null;
  #arrayLength = 0;
  /** Inside a bulk string: its bytes, how many have arrived, and whether its CRLF is still to come. */
  #bulk: Buffer | null = null;
  #bulkFilled = 0;
  #crlfLeft = 0;
  /** Value bytes copied out of fed buffers (the rest were read straight into their memory: see `filled`). */
  copiedBytes = 0;

  /** @param memory - Where each value is read to: by default memory of its own, which the caller then owns. */
  constructor(onReply: (reply: RespReply) => void, memory: BulkMemory = ownMemory) {
    this.#onReply = onReply;
    this.#memory = memory;
  }

  /** The value whose bytes are still arriving (its memory is being written to), or `null` between values. */
  get receiving(): Buffer | null {
    const bulk = this.#bulk;
    return bulk !== null && this.#bulkFilled < bulk.length ? bulk : null;
  }

  /**
   * Reads `bytes[start, end)`. Bytes are copied out, so `bytes` may be reused as soon as this returns. Throws a
   * {@link RespProtocolError} on anything that is not a reply it knows; the reader is then unusable.
   */
  feed(bytes: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      if (this.#crlfLeft > 0) {
        const expected = this.#crlfLeft === 2 ? CR : LF;
        if (bytes[i] !== expected) throw new RespProtocolError('a bulk string does not end with CRLF');
        i++;
        if (--this.#crlfLeft === 0) this.#element(this.#bulk);
        continue;
      }
      if (this.#bulk !== null) {
        const take = Math.min(this.#bulk.length - this.#bulkFilled, end - i);
        bytes.copy(this.#bulk, this.#bulkFilled, i, i + take);
        this.copiedBytes += take;
        this.#bulkFilled += take;
        i += take;
        if (this.#bulkFilled === this.#bulk.length) this.#crlfLeft = 2;
        continue;
      }
      const lf = bytes.indexOf(LF, i);
      const lineEnd = lf < 0 || lf >= end ? end : lf;
      this.#line += bytes.toString('latin1', i, lineEnd);
      if (this.#line.length > MAX_LINE) throw new RespProtocolError('a reply header is too long');
      if (lineEnd === end) return; // the line goes on in the next read
      i = lineEnd + 1;
      const line = this.#line;
      this.#line = '';
      if (line.charCodeAt(line.length - 1) !== CR) throw new RespProtocolError('a reply header does not end with CRLF');
      this.#header(line.slice(0, -1));
    }
  }

  /**
   * Where the next socket read can land directly: the unfilled rest of the value being read, or `undefined` when
   * the reader is between values (a header or a CRLF comes next). A read into it must be followed by
   * {@link filled} with the byte count, and never by {@link feed}.
   */
  get valueRemainder(): Buffer | undefined {
    const bulk = this.#bulk;
    if (bulk === null || this.#crlfLeft > 0 || this.#bulkFilled === bulk.length) return undefined;
    return bulk.subarray(this.#bulkFilled);
  }

  /** `n` bytes were read straight into {@link valueRemainder}. */
  filled(n: number): void {
    const bulk = this.#bulk;
    if (bulk === null || n > bulk.length - this.#bulkFilled) throw new RespProtocolError('more bytes filled than the value has room for');
    this.#bulkFilled += n;
    if (this.#bulkFilled === bulk.length) this.#crlfLeft = 2;
  }

  #header(line: string): void {
    const type = line[0];
    const rest = line.slice(1);
    if (type === '$') {
      const n = this.#integer(rest);
      if (n === -1) return this.#element(null);
      if (n < 0 || n > MAX_BULK) throw new RespProtocolError(`bulk string length ${rest}`);
      this.#bulk = this.#memory(n, this.#array?.length ?? 0);
      if (this.#bulk.length !== n) throw new RespProtocolError(`memory of ${this.#bulk.length} bytes for a value of ${n}`);
      this.#bulkFilled = 0;
      if (n === 0) this.#crlfLeft = 2;
      return;
    }
    if (this.#array !== null) {
      if (type === ':') return this.#element(this.#integer(rest)); // a lease lookup's codes
      throw new RespProtocolError(`a ${JSON.stringify(type)} element inside an array`); // no nested arrays, errors or simple strings
    }
    if (type === '*') {
      const n = this.#integer(rest);
      if (n === -1) return this.#onReply(null);
      if (n < 0) throw new RespProtocolError(`array length ${rest}`);
      if (n === 0) return this.#onReply([]);
      this.#array = [];
      this.#arrayLength = n;
      return;
    }
    if (type === '+') return this.#onReply(rest);
    if (type === '-') return this.#onReply(new RespError(rest));
    if (type === ':') return this.#onReply(this.#integer(rest));
    throw new RespProtocolError(`unknown reply type ${JSON.stringify(type)}`);
  }

  #integer(text: string): number {
    if (!/^-?\d{1,15}$/.test(text)) throw new RespProtocolError(`not an integer: ${JSON.stringify(text.slice(0, 20))}`);
    return Number(text);
  }

  #element(value: Buffer | null | number): void {
    this.#bulk = null;
    if (this.#array === null) return this.#onReply(value);
    this.#array.push(value);
    if (this.#array.length === this.#arrayLength) {
      const done = this.#array;
      this.#array = null;
      this.#onReply(done);
    }
  }
}

/**
 * A command in RESP as chunks to write in order, appended to `chunks`: its text encoded together, and each byte
 * argument (a value) as a chunk of its own, not copied.
 *
 * @example
 * ```ts
 * const chunks: Uint8Array[] = [];
 * encodeCommandChunks(['SET', 'k', value, 'PX', '60000'], chunks); // [`*5 … $<n>\r\n`, value, `\r\n$2\r\nPX…`]
 * socket.cork(); for (const c of chunks) socket.write(c); socket.uncork();
 * ```
 */
export function encodeCommandChunks(args: readonly (string | Uint8Array)[], chunks: Uint8Array[]): void {
  let text = `*${args.length}\r\n`;
  for (const a of args) {
    if (typeof a === 'string') {
      text += `$${Buffer.byteLength(a, 'utf8')}\r\n${a}\r\n`;
    } else {
      chunks.push(Buffer.from(`${text}$${a.byteLength}\r\n`, 'utf8'), a);
      text = '\r\n';
    }
  }
  chunks.push(Buffer.from(text, 'utf8'));
}

/** A command in RESP: an array of bulk strings, written into one buffer without intermediate ones. */
export function encodeCommand(args: readonly string[]): Buffer {
  let size = 16;
  for (const a of args) size += Buffer.byteLength(a, 'utf8') + 16;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(`*${args.length}\r\n`, 0, 'latin1');
  for (const a of args) {
    const length = Buffer.byteLength(a, 'utf8');
    at += out.write(`$${length}\r\n`, at, 'latin1');
    at += out.write(a, at, 'utf8');
    at += out.write('\r\n', at, 'latin1');
  }
  return out.subarray(0, at);
}
