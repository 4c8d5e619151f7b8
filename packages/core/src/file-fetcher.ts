import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AccessDeniedError, ObjectNotFoundError, OriginError, VersionChangedError, abortError } from './errors.js';
import type { FetchOptions, Fetcher, ObjectMeta, StatOptions } from './fetcher.js';
import type { ByteRange } from './ranges.js';

/**
 * A {@link Fetcher} for local files, addressed by absolute path or `file://` URL. Its version is the size, the
 * modification time in nanoseconds and the inode, and every fetch checks it on the open file descriptor, so bytes
 * of a file replaced mid-read are refused rather than mixed. Replace files atomically (write a new file, then
 * rename it over the old one): a file rewritten in place within the filesystem's timestamp granularity (a few
 * milliseconds on ext4) can keep its size and mtime, and then its version.
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

  async fetch(path: string, range: ByteRange, options: FetchOptions): Promise<Uint8Array> {
    const { signal, expect } = options;
    signal?.throwIfAborted();
    let handle;
    try {
      handle = await open(toFilePath(path), 'r');
    } catch (e) {
      throw mapFsError(e, path);
    }
    try {
      const actual = metaOf(await handle.stat({ bigint: true }));
      if (actual.version !== expect.version) {
        throw new VersionChangedError({ path, backend: 'file', expected: expect.version, actual: actual.version });
      }
      const length = range.end - range.start;
      const out = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        if (signal?.aborted) throw abortError(signal);
        const { bytesRead } = await handle.read(out, got, Math.min(length - got, 8 << 20), range.start + got);
        if (bytesRead === 0) throw new OriginError(`file ended at ${range.start + got} while reading [${range.start}, ${range.end})`, { path, backend: 'file' });
        got += bytesRead;
      }
      return out;
    } catch (e) {
      throw mapFsError(e, path);
    } finally {
      await handle.close();
    }
  }
}

function toFilePath(path: string): string {
  return path.startsWith('file:') ? fileURLToPath(path) : path;
}

function metaOf(st: { size: bigint; mtimeNs: bigint; ino: bigint }): ObjectMeta {
  const size = Number(st.size);
  return { size, version: `${size}-${st.mtimeNs}-${st.ino}`, lastModified: Number(st.mtimeNs / 1_000_000n) };
}

function mapFsError(e: unknown, path: string): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ObjectNotFoundError({ path, backend: 'file', cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new AccessDeniedError({ path, backend: 'file', cause: e });
  if (code === 'EISDIR') return new OriginError('is a directory', { path, backend: 'file', cause: e });
  return e;
}
