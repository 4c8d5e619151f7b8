import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AccessDeniedError, ObjectNotFoundError, OriginError, VersionChangedError, abortError } from './errors.js';
import type { FetchOptions, Fetcher, ObjectMeta, StatOptions } from './fetcher.js';
import { type ByteRange, checkFetchRange } from './ranges.js';

/**
 * A {@link Fetcher} for local files, addressed by absolute path or `file://` URL. Its version is the size, the
 * modification time in nanoseconds and the inode. Every fetch checks it on the open file descriptor before
 * reading, and again on the descriptor and on the path after reading, so bytes of a file replaced or rewritten in
 * place during the read are refused with a `VersionChangedError` rather than returned mixed (and so never cached).
 * Still, replace files atomically (write a new file, then rename it over the old one): on kernels with coarse
 * timestamps, a file rewritten in place within one timestamp tick (a few milliseconds) can keep its size and
 * mtime, and then its version.
 *
 * @example
 * ```ts
 * const reader = new AsyncCachingReader({ fetcher: new FileFetcher() });
 * const head = await reader.readRange('/data/era5.grib', 0, 4);
 * ```
 */
export class FileFetcher implements Fetcher {
  readonly backend = 'file';
  readonly schemes = ['file'] as const;

  async stat(path: string, options: StatOptions = {}): Promise<ObjectMeta> {
    options.signal?.throwIfAborted();
    const file = toFilePath(path);
    try {
      const st = await stat(file, { bigint: true });
      if (!st.isFile()) throw new OriginError('not a regular file', { path, backend: this.backend });
      return metaOf(st);
    } catch (e) {
      throw mapFsError(e, path);
    }
  }

  async fetch(path: string, requested: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    const { signal, expect } = options;
    const range = checkFetchRange(path, requested, expect.size, this.backend);
    signal?.throwIfAborted();
    const file = toFilePath(path);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (e) {
      throw mapFsError(e, path);
    }
    try {
      this.#checkVersion(path, expect, await handle.stat({ bigint: true }), 'before reading');
      const length = range.end - range.start;
      const out = Buffer.allocUnsafeSlow(length); // its own memory, never a slice of Node's shared pool
      let got = 0;
      while (got < length) {
        if (signal?.aborted) throw abortError(signal);
        const { bytesRead } = await handle.read(out, got, Math.min(length - got, 8 << 20), range.start + got);
        if (bytesRead === 0) {
          // The expected version has at least `range.end` bytes: a shorter file is another version (truncated, or
          // being rewritten in place right now).
          throw new VersionChangedError({ path, backend: 'file', expected: expect.version, actual: `a file that ends at ${range.start + got}` });
        }
        got += bytesRead;
      }
      // A file rewritten in place keeps its inode and can change under a read: check that the open file is still the
      // same version now that the bytes are read (fstat), and that the path still names it (stat: an atomic rename
      // changes the path's inode). Bytes of any other version, or a mixture, never leave here.
      this.#checkVersion(path, expect, await handle.stat({ bigint: true }), 'after reading');
      this.#checkVersion(path, expect, await stat(file, { bigint: true }), 'at the path after reading');
      return out;
    } catch (e) {
      throw mapFsError(e, path);
    } finally {
      await handle.close();
    }
  }

  #checkVersion(path: string, expect: ObjectMeta, st: FileIdentity, when: string): void {
    const actual = metaOf(st).version;
    if (actual !== expect.version) {
      throw new VersionChangedError({ path, backend: this.backend, expected: expect.version, actual: `${actual} (${when})` });
    }
  }
}

function toFilePath(path: string): string {
  return path.startsWith('file:') ? fileURLToPath(path) : path;
}

interface FileIdentity {
  size: bigint;
  mtimeNs: bigint;
  ino: bigint;
}

/** Size, nanosecond mtime and inode: a strong version (`weakVersion: false`), within the caveat of the class doc. */
function metaOf(st: FileIdentity): ObjectMeta {
  const size = Number(st.size);
  return { size, version: `${size}-${st.mtimeNs}-${st.ino}`, lastModified: Number(st.mtimeNs / 1_000_000n), weakVersion: false };
}

function mapFsError(e: unknown, path: string): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ObjectNotFoundError({ path, backend: 'file', cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new AccessDeniedError({ path, backend: 'file', cause: e });
  if (code === 'EISDIR') return new OriginError('is a directory', { path, backend: 'file', cause: e });
  return e;
}
