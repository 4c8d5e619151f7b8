/** Assembly, pure: a caller's bytes for one range, from the pieces that cover it. */
import type { ByteRange } from './ranges.js';
import type { Piece } from './read-job.js';

/**
 * The caller's bytes for `range`, from `parts[k]`, the bytes of `list[k]`. Bytes are handed over as they are (as
 * a view) only when this caller is sure to be their one owner: a store value read by this batch for this caller
 * alone, or fetched bytes that the store has finished keeping a copy of and that no other read takes. They must
 * also have their own memory (not a slice of a shared socket, pool or coalesced buffer), and the caller must keep
 * most of them, so that a small read does not pin a whole block. Anything else is copied into fresh memory of its
 * own, so no caller can change what another caller or the cache sees.
 *
 * @example
 * ```ts
 * const bytes = assemble({ start: 10, end: 20 }, [piece], [pieceBytes]);
 * ```
 */
export function assemble(range: ByteRange, list: readonly Piece[], parts: readonly Uint8Array[]): Uint8Array {
  if (range.end === range.start) return new Uint8Array(0);
  const only = list[0]!;
  const v = parts[0]!;
  if (list.length === 1 && v.byteOffset === 0 && v.buffer.byteLength === v.byteLength && 2 * (range.end - range.start) >= v.byteLength) {
    const flight = only.flight;
    const owned = only.value !== undefined ? only.consumers === 1 : flight !== undefined && flight.persisted && flight.uncountedJoins === 0 && flight.consumers === 1;
    if (owned) return v.subarray(range.start - only.range.start, range.end - only.range.start);
  }
  const out = Buffer.allocUnsafeSlow(range.end - range.start); // never a slice of Node's shared pool
  assembleInto(out, range, list, parts);
  return out;
}

/**
 * Writes the caller's bytes for `range` from `parts[k]` (the bytes of `list[k]`) into `target`, from its offset 0,
 * and returns how many bytes it copied: a part that already is that memory (the store read it there) is not
 * copied again.
 *
 * @example
 * ```ts
 * const copied = assembleInto(callerBuffer, { start: 10, end: 20 }, [piece], [pieceBytes]);
 * ```
 */
export function assembleInto(target: Uint8Array, range: ByteRange, list: readonly Piece[], parts: readonly Uint8Array[]): number {
  let copied = 0;
  list.forEach((p, k) => {
    const from = Math.max(range.start, p.range.start);
    const to = Math.min(range.end, p.range.end);
    const at = from - range.start;
    const source = parts[k]!.subarray(from - p.range.start, to - p.range.start);
    if (source.buffer === target.buffer && source.byteOffset === target.byteOffset + at) return; // already in place
    target.set(source, at);
    copied += source.byteLength;
  });
  return copied;
}
