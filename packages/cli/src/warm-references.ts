/**
 * Warming a kerchunk reference set (JSON version 0 or 1, or the Parquet layout): every reference's bytes are read
 * through `@rangecache/reference`'s `ReferenceStore` over a chunk-mode reader, the very path that readers of the
 * dataset take, so the cache ends up with exactly the entries they look up (one per exact byte range, plus the
 * reference files themselves).
 */
import type { AsyncCachingReader } from '@rangecache/core';
import { type Reference, ReferenceFormatError, ReferenceStore, parseReferences } from '@rangecache/reference';
import { runPool } from './pool.js';

/** A loaded reference set: the store to read through, and every reference in it that points at a file. */
export interface ReferenceSet {
  readonly store: ReferenceStore;
  /** Key and target of each reference to a file's bytes (inline data is in the references and never cached). */
  readonly entries: readonly { readonly key: string; readonly ref: Exclude<Reference, { kind: 'inline' }> }[];
}

const decoder = new TextDecoder();

/** Reads a whole object through the reader, as `ReferenceStore` reads a JSON reference file (one exact range). */
async function readWhole(reader: AsyncCachingReader, url: string, signal?: AbortSignal): Promise<Uint8Array> {
  const file = await reader.open(url, { signal });
  return file.byteLength === 0 ? new Uint8Array(0) : file.read(0, file.byteLength, { signal });
}

/** The chunk keys of a Zarr v2 array's grid (`name/0.0`, `name/0.1`, …; `name/0` for a scalar), in C order. */
function* chunkKeys(name: string, zarray: unknown): Generator<string> {
  const meta = (typeof zarray === 'string' ? JSON.parse(zarray) : zarray) as { shape?: unknown; chunks?: unknown };
  const { shape, chunks } = meta ?? {};
  if (!Array.isArray(shape) || !Array.isArray(chunks) || shape.length !== chunks.length) {
    throw new ReferenceFormatError(`${name}/.zarray has no matching "shape" and "chunks"`);
  }
  const grid = shape.length === 0 ? [1] : shape.map((s: number, i) => Math.ceil(s / (chunks[i] as number)));
  if (grid.some((n) => !Number.isSafeInteger(n) || n < 0)) throw new ReferenceFormatError(`${name}/.zarray: bad "shape" or "chunks"`);
  if (grid.some((n) => n === 0)) return;
  const at = grid.map(() => 0);
  for (;;) {
    yield `${name}/${at.join('.')}`;
    let d = grid.length - 1;
    while (d >= 0 && ++at[d]! === grid[d]!) at[d--] = 0;
    if (d < 0) return;
  }
}

/**
 * Opens the reference set at `url` through `reader` (chunk mode) and lists its references: for JSON all of them;
 * for Parquet every chunk of every array in `.zmetadata` that has a reference (their record files are read, and
 * cached, on the way).
 */
export async function loadReferenceSet(reader: AsyncCachingReader, url: string, format: 'json' | 'parquet', concurrency: number, signal?: AbortSignal): Promise<ReferenceSet> {
  const found: Map<string, Reference> = new Map();
  let store: ReferenceStore;
  if (format === 'json') {
    const bytes = await readWhole(reader, url, signal);
    let spec: unknown;
    try {
      spec = JSON.parse(decoder.decode(bytes));
    } catch (e) {
      throw new ReferenceFormatError(`${url} is not JSON: ${e instanceof Error ? e.message : String(e)}`, { path: url, cause: e });
    }
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new ReferenceFormatError(`${url}: references must be a JSON object`, { path: url });
    const refs = parseReferences(spec as Record<string, unknown>, url);
    store = await ReferenceStore.open(spec as Record<string, unknown>, { reader, base: url, signal });
    for (const [key, ref] of refs) found.set(key, ref);
  } else {
    store = await ReferenceStore.open(url, { reader, format: 'parquet', signal });
    const consolidated = await store.consolidatedMetadata({ signal });
    const metadata = consolidated ? (JSON.parse(decoder.decode(consolidated)) as { metadata: Record<string, unknown> }).metadata : {};
    const keys = function* (): Generator<string> {
      for (const [key, zarray] of Object.entries(metadata)) {
        if (key.endsWith('/.zarray')) yield* chunkKeys(key.slice(0, -'/.zarray'.length), zarray);
      }
    };
    await runPool(keys(), concurrency * 16, async (key, s) => {
      const ref = await store.resolve(key, { signal: s });
      if (ref) found.set(key, ref);
    }, signal);
  }
  const entries = [...found]
    .flatMap(([key, ref]) => (ref.kind === 'inline' ? [] : [{ key, ref }]))
    .sort((a, b) => (a.ref.url < b.ref.url ? -1 : a.ref.url > b.ref.url ? 1 : offsetOf(a.ref) - offsetOf(b.ref)));
  return { store, entries };
}

function offsetOf(ref: Exclude<Reference, { kind: 'inline' }>): number {
  return ref.kind === 'range' ? ref.offset : 0;
}

/** The bytes the references of `set` point at: their lengths, and the sizes of whole-file targets (from the reader). */
export async function referencedBytes(reader: AsyncCachingReader, set: ReferenceSet, concurrency: number, signal?: AbortSignal): Promise<number> {
  let total = 0;
  const wholeFiles = new Set<string>();
  for (const { ref } of set.entries) {
    if (ref.kind === 'range') total += ref.length;
    else wholeFiles.add(ref.url);
  }
  await runPool(wholeFiles, concurrency, async (url, s) => {
    total += (await reader.stat(url, { signal: s })).size;
  }, signal);
  return total;
}

/** References read in one `getMany` (their target files' ranges go to the reader together, coalesced). */
const BATCH_KEYS = 256;

/**
 * Reads every reference of `set` through its `ReferenceStore`, in batches of neighbouring references (sorted by
 * target and offset), `concurrency` batches at a time, calling `onBytes` as batches complete.
 */
export async function warmReferences(set: ReferenceSet, options: {
  concurrency: number;
  onBytes: (n: number) => void;
  signal?: AbortSignal | undefined;
}): Promise<void> {
  const batches = function* (): Generator<string[]> {
    for (let i = 0; i < set.entries.length; i += BATCH_KEYS) yield set.entries.slice(i, i + BATCH_KEYS).map((e) => e.key);
  };
  await runPool(batches(), options.concurrency, async (keys, signal) => {
    const values = await set.store.getMany(keys, { signal });
    options.onBytes(values.reduce((n, v) => n + (v?.byteLength ?? 0), 0));
  }, options.signal);
}
