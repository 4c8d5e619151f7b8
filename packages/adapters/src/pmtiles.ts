/**
 * A PMTiles `Source` that reads an archive through rangecache. It returns the version its bytes belong to as the
 * ETag, and throws PMTiles' own `EtagMismatch` when the archive changed, so PMTiles drops its cached header and
 * directories and reads them again, as it does over HTTP.
 */
import type { AsyncCachingReader, PinnedObject } from '@rangecache/core';
import { VersionChangedError } from '@rangecache/core';
import { EtagMismatch } from 'pmtiles';
import { toArrayBuffer } from './bytes.js';

/** PMTiles' `RangeResponse`. */
export interface PmtilesRangeResponse {
  data: ArrayBuffer;
  etag?: string;
}

/**
 * @example
 * ```ts
 * import { PMTiles } from 'pmtiles';
 * const archive = new PMTiles(new PmtilesSource(reader, 's3://bucket/planet.pmtiles'));
 * const tile = await archive.getZxy(3, 4, 2);
 * ```
 */
export class PmtilesSource {
  readonly #reader: AsyncCachingReader;
  readonly #url: string;
  #file: Promise<PinnedObject> | undefined;

  constructor(reader: AsyncCachingReader, url: string) {
    this.#reader = reader;
    this.#url = url;
  }

  getKey(): string {
    return this.#url;
  }

  /** `length` bytes from `offset` (cut at the end of the archive), of the version `etag` names when it is given. */
  async getBytes(offset: number, length: number, signal?: AbortSignal, etag?: string): Promise<PmtilesRangeResponse> {
    // The reader's metadata (remembered for its metaTtlMs) says which version is current; a pinned version that
    // is no longer current is dropped, as an HTTP source would see a new ETag.
    const current = await this.#reader.stat(this.#url, { signal });
    let pinned = (this.#file ??= this.#reader.open(this.#url)); // shared by every caller: no one caller's signal
    let file = await this.#settle(pinned);
    if (file.meta.version !== current.version) {
      if (this.#file === pinned) this.#file = this.#reader.open(this.#url);
      pinned = this.#file!;
      file = await this.#settle(pinned);
    }
    const version = file.meta.version;
    if (etag !== undefined && etag !== version) return this.#mismatch(pinned, `${this.#url}: version ${version}, not ${etag}`);
    const end = Math.min(offset + length, file.byteLength);
    try {
      const data = end > offset ? toArrayBuffer(await file.read(offset, end, { signal })) : new ArrayBuffer(0);
      return { data, etag: version };
    } catch (e) {
      if (VersionChangedError.is(e)) return this.#mismatch(pinned, e.message);
      throw e;
    }
  }

  async #settle(pinned: Promise<PinnedObject>): Promise<PinnedObject> {
    try {
      return await pinned;
    } catch (e) {
      if (this.#file === pinned) this.#file = undefined;
      throw e;
    }
  }

  /** Unpins the version, so that the next read (PMTiles' header read after it invalidates) opens the new one. */
  #mismatch(pinned: Promise<PinnedObject>, message: string): never {
    if (this.#file === pinned) this.#file = undefined;
    throw new EtagMismatch(message);
  }
}
