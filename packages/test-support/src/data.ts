/** Deterministic test data: files whose bytes any test can regenerate. */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `size` pseudo-random bytes derived from `seed` (SHAKE128), reproducible across runs. */
export function pseudoRandomBytes(size: number, seed: string): Buffer {
  if (size === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(size);
  const piece = 1 << 20;
  for (let off = 0, k = 0; off < size; off += piece, k++) {
    const n = Math.min(piece, size - off);
    createHash('shake128', { outputLength: n }).update(`${seed}/${k}`).digest().copy(out, off);
  }
  return out;
}

export interface TempDir {
  path: string;
  /** Writes a file of `size` deterministic bytes and returns its path and content. */
  file(name: string, size: number, seed?: string): Promise<{ path: string; bytes: Buffer }>;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'rangecache-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async file(name, size, seed = name) {
      const bytes = pseudoRandomBytes(size, seed);
      const file = join(path, name);
      await writeFile(file, bytes);
      return { path: file, bytes };
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}
