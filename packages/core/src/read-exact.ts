/**
 * Copies `length` bytes that follow the first `skip` bytes of an async byte source into one buffer of exactly
 * that size, and stops reading as soon as it has them (so a server that ignored `Range` is not read to the end).
 * `received` is short when the source ended early; the caller decides what that means and closes the source.
 *
 * @example
 * ```ts
 * const { bytes, received } = await readExact(response.body, 4096);
 * ```
 */
export async function readExact(source: AsyncIterable<Uint8Array>, length: number, skip = 0): Promise<{ bytes: Buffer; received: number }> {
  const bytes = Buffer.allocUnsafeSlow(length); // its own memory, never a slice of Node's shared pool
  let received = 0;
  if (length === 0) return { bytes, received };
  for await (const chunk of source) {
    let c = chunk;
    if (skip > 0) {
      if (c.byteLength <= skip) {
        skip -= c.byteLength;
        continue;
      }
      c = c.subarray(skip);
      skip = 0;
    }
    const n = Math.min(c.byteLength, length - received);
    bytes.set(n === c.byteLength ? c : c.subarray(0, n), received);
    received += n;
    if (received === length) break;
  }
  return { bytes, received };
}
