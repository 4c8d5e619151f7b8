/**
 * Warming objects in block mode: the blocks covering each object (or `--range` of it) are read through the reader,
 * a few pieces at a time, so that they land in the cache exactly as `cat` and any block-mode reader with the same
 * namespace and block size look them up.
 */
import type { AsyncCachingReader } from '@rangecache/core';
import { runPool } from './pool.js';
import { type RangeSpec, resolveRange } from './range.js';

/** One object to warm: `[start, end)` of `path`. */
export interface ObjectWindow {
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

/** Bytes one read of a warm asks for (rounded to whole blocks): large enough to fill one origin request well. */
const PIECE_TARGET = 4 * 1024 * 1024;

/**
 * The windows to warm: each path's size (through the reader, so that its metadata is cached too) and `range`
 * within it.
 */
export async function objectWindows(reader: AsyncCachingReader, paths: readonly string[], range: RangeSpec | undefined, concurrency: number, signal?: AbortSignal): Promise<ObjectWindow[]> {
  const windows = new Array<ObjectWindow>(paths.length);
  await runPool(paths.entries(), concurrency, async ([i, path], s) => {
    const { size } = await reader.stat(path, { signal: s });
    windows[i] = { path, ...resolveRange(range, size, path) };
  }, signal);
  return windows;
}

/** The block-aligned pieces of `windows`, in order: whole multiples of the block size, about 4 MiB each. */
export function* pieces(windows: readonly ObjectWindow[], blockSize: number): Generator<ObjectWindow> {
  const step = blockSize * Math.max(1, Math.round(PIECE_TARGET / blockSize));
  for (const w of windows) {
    for (let at = w.start; at < w.end;) {
      const next = Math.min(w.end, (Math.floor(at / step) + 1) * step);
      yield { path: w.path, start: at, end: next };
      at = next;
    }
  }
}

/**
 * Reads every piece of `windows` through `reader`, `concurrency` at a time (each worker into one buffer of its
 * own), calling `onBytes` as pieces complete. The first failure stops the rest and is thrown.
 */
export async function warmObjects(reader: AsyncCachingReader, windows: readonly ObjectWindow[], options: {
  concurrency: number;
  onBytes: (n: number) => void;
  signal?: AbortSignal | undefined;
}): Promise<void> {
  const free: Uint8Array[] = [];
  const step = reader.blockSize * Math.max(1, Math.round(PIECE_TARGET / reader.blockSize));
  await runPool(pieces(windows, reader.blockSize), options.concurrency, async (piece, signal) => {
    const buffer = free.pop() ?? new Uint8Array(step);
    try {
      const n = await reader.readRangeInto(piece.path, piece.start, piece.end, buffer, { signal });
      options.onBytes(n);
    } finally {
      free.push(buffer);
    }
  }, options.signal);
}
