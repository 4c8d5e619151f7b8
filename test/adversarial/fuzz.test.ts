// Issue 8, item 7: a seeded randomized fuzz of AsyncCachingReader over real files, with a hostile store (throws,
// delays, hangs, drops writes, truncates, returns garbage or other keys' values) around a MemoryStore or a real
// redis-server, and hostile callers (aborts at random times, in-place scribbling over results).
//
// Every returned byte is compared with the file's bytes. The only errors allowed: the caller's own abort, and an
// InvalidRangeError for a range that starts past EOF (asked on purpose). A store error must never reach a caller.
// After each round, a fresh reader without faults re-reads every file through the same store: nothing wrong may
// have been cached.
//
// Replay: RANGECACHE_FUZZ_SEED=<seed> node scripts/run-tests.mjs test/adversarial/fuzz.test.ts
// More work: RANGECACHE_FUZZ_OPS=3000 (default 300 operations).
import t from 'tap';
import { randomInt } from 'node:crypto';
import { AsyncCachingReader, FileFetcher, MemoryStore } from '@rangecache/core';
import type { AsyncCachingReaderOptions, CacheStore } from '@rangecache/core';
import { RedisStore } from '@rangecache/redis';
import type { RedisClient } from '@rangecache/redis';
import { startRedis, tempDir } from '@rangecache/test-support';
import { FaultStore } from './fault-store.js';
import { GatedFetcher, sleep } from './helpers.js';
import { deadline, rng, type Rng } from './rng.js';

const seed = process.env['RANGECACHE_FUZZ_SEED'] !== undefined ? Number(process.env['RANGECACHE_FUZZ_SEED']) >>> 0 : randomInt(2 ** 31);
const TOTAL_OPS = Number(process.env['RANGECACHE_FUZZ_OPS'] ?? 300);
const OPS_PER_ROUND = 30;
const BATCH_DEADLINE_MS = 10_000;
const replay = `RANGECACHE_FUZZ_SEED=${seed} node scripts/run-tests.mjs test/adversarial/fuzz.test.ts`;

interface FileUnderTest { path: string; bytes: Buffer }
interface Range { start: number; end: number }

type Hostility = { abort?: { when: 'before' | 'sync' | 'microtask' | 'timer'; ms: number; reason: unknown }; scribble?: 'fill' | 'reverse' };

/** One result a non-scribbling caller holds: checked again after everyone else scribbled. */
interface Held { label: string; view: Uint8Array; expected: Buffer }

t.test(`fuzz: AsyncCachingReader over a hostile store and hostile callers (seed ${seed})`, async (t) => {
  t.comment(`fuzz seed ${seed}; replay with: ${replay}`);
  console.error(`# adversarial fuzz seed ${seed} (replay: ${replay})`);
  const R = rng(seed);
  const [redis, dir] = await Promise.all([startRedis({ ownProcess: true }), tempDir('rangecache-fuzz-')]);
  t.teardown(async () => { await redis.stop(); await dir.remove(); });
  const client = (await redis.client()) as unknown as RedisClient;

  let failures = 0;
  const fail = (message: string): void => {
    failures++;
    if (failures <= 25) t.fail(`${message} [seed ${seed}]`);
  };
  let ops = 0;
  let checkedBytes = 0;
  const outcomes = { ok: 0, aborted: 0, invalidRange: 0 };

  for (let round = 0; ops < TOTAL_OPS && failures === 0; round++) {
    // ---- this round's configuration
    const mode = R.pick(['block', 'chunk'] as const);
    const B = R.pick([1, 3, 7, 64, 100, 1000, 4096, 16_384, 65_536]);
    const useRedis = R.chance(0.5);
    const integrity = R.chance(0.3);
    const options: Omit<AsyncCachingReaderOptions, 'fetcher' | 'store'> = {
      mode,
      blockSize: B,
      maxGap: R.pick([0, 1, B, 4 * B, 65_536, R.int(0, 100_000)]),
      maxRequest: R.pick([1, B, 2 * B + 1, 4 * B, 16 << 20, R.int(1, 300_000)]),
      readAhead: R.int(1, 8),
      leaseMs: R.pick([false, 30, 100, 250] as const),
      maxConcurrentFetches: R.int(1, 10),
      ttlMs: R.pick([false, 60_000, 3_600_000] as const),
      metaTtlMs: R.pick([50, 1000, 60_000]),
      namespace: `fuzz-${seed}-${round}`,
      circuitBreaker: R.pick([false, { failureThreshold: R.int(1, 5), cooldownMs: R.int(20, 300) }]),
      ...(integrity ? { integrity: { secret: `fuzz-secret-${seed}-0123456789` } } : {}),
    };
    const rate = R.pick([0, 0.1, 0.3, 0.5]);
    const config = `round ${round}: ${JSON.stringify({ ...options, integrity, store: useRedis ? 'redis' : 'memory', faultRate: rate })}`;
    t.comment(config);

    // ---- files: empty, one byte, around one block, a few blocks, and one random size
    const cap = Math.min(40 * B, 256 * 1024);
    const sizes = [...new Set([0, 1, B - 1, B, B + 1, 2 * B + 1, R.int(0, cap), R.int(0, cap)].filter((s) => s >= 0 && s <= cap + 2 * B + 1))];
    const files: FileUnderTest[] = [];
    for (const [i, size] of sizes.entries()) files.push(await dir.file(`r${round}-f${i}-${size}.bin`, size, `${seed}/${round}/${i}`));

    // ---- the stores and readers (one or two "instances" sharing the store)
    const inner: CacheStore = useRedis ? new RedisStore({ client }) : new MemoryStore({ maxBytes: R.pick([4096, 1 << 20, 64 << 20]) });
    const instances = R.int(1, 2);
    const readers: AsyncCachingReader[] = [];
    const faultStores: FaultStore[] = [];
    const extraStores: CacheStore[] = [];
    for (let k = 0; k < instances; k++) {
      // A second instance gets its own RedisStore (own lease owner and subscriber), as another process would.
      const base = k === 0 || !useRedis ? inner : new RedisStore({ client });
      if (base !== inner) extraStores.push(base);
      // Components that draw numbers at unpredictable times get generators of their own: the main one stays replayable.
      const fs = new FaultStore(base, { random: rng(R.int(0, 2 ** 31)).next, rate, sameLengthWrongKey: integrity, hangMs: R.pick([100, 300]) });
      faultStores.push(fs);
      // Origin latency, so that later callers join fetches in flight (and hand-offs race).
      const latency = R.pick([0, 0, 2, 10]);
      const jitter = rng(R.int(0, 2 ** 31));
      const fetcher = latency === 0 ? new FileFetcher() : new GatedFetcher(new FileFetcher(), () => sleep(Math.floor(jitter.next() * latency)));
      readers.push(new AsyncCachingReader({ fetcher, store: fs, ...options }));
    }

    // ---- batches of concurrent operations
    let roundOps = 0;
    while (roundOps < OPS_PER_ROUND && ops < TOTAL_OPS && failures === 0) {
      const n = R.int(1, 8);
      const held: Held[] = [];
      const batch: Promise<void>[] = [];
      for (let k = 0; k < n; k++) {
        const op = ops++;
        roundOps++;
        const reader = R.pick(readers);
        const file = R.pick(files);
        const hostility: Hostility = {};
        if (R.chance(0.2)) {
          hostility.abort = {
            when: R.pick(['before', 'sync', 'microtask', 'timer', 'timer'] as const),
            ms: R.int(0, 30),
            reason: R.chance(0.5) ? undefined : new Error(`caller ${op} gave up`),
          };
        }
        if (R.chance(0.25)) hostility.scribble = R.pick(['fill', 'reverse'] as const);
        const kind = R.pick(['readRange', 'readRange', 'readRanges', 'stream'] as const);
        const label = `${config} op ${op} ${kind} ${file.path.split('/').pop()} ${JSON.stringify(hostility, (_k, v) => (v instanceof Error ? v.message : v))}`;
        const startAfter = R.pick([-1, -1, 0, R.int(1, 15)]); // -1: this tick (one batch); else a later batch
        batch.push(runOp(R, startAfter, reader, kind, file, hostility, label, held, fail, (what, bytes) => {
          outcomes[what]++;
          checkedBytes += bytes;
        }));
      }
      try {
        await deadline(Promise.all(batch), BATCH_DEADLINE_MS, `a batch of ${n} operations (${config})`);
      } catch (e) {
        fail(String((e as Error).message ?? e));
        break;
      }
      // Everyone has scribbled by now: what the others hold must still be the file's bytes.
      for (const h of held) {
        if (!Buffer.from(h.view.buffer, h.view.byteOffset, h.view.byteLength).equals(h.expected)) {
          fail(`another caller's scribbling changed this caller's result after it was returned: ${h.label} (${describeDiff(h.view, h.expected)})`);
        }
      }
    }

    // ---- close, then check what is cached with a clean reader on the same store
    for (const [k, reader] of readers.entries()) {
      try {
        await deadline(reader.close(), BATCH_DEADLINE_MS, `reader ${k}.close() (${config})`);
      } catch (e) {
        fail(String((e as Error).message ?? e));
      }
    }
    for (const fs of faultStores) await fs.close();
    const checker = new AsyncCachingReader({ fetcher: new FileFetcher(), store: inner, ...options, leaseMs: false, circuitBreaker: false });
    for (const file of files) {
      const size = file.bytes.byteLength;
      const ranges: Range[] = [];
      if (mode === 'block') for (let s = 0; s < size; s += B) ranges.push({ start: s, end: Math.min(s + B, size) });
      else ranges.push({ start: 0, end: size });
      try {
        const whole = await deadline(checker.readRange(file.path, 0, size), BATCH_DEADLINE_MS, 'checker readRange');
        if (!Buffer.from(whole).equals(file.bytes)) fail(`after the round, a clean reader read wrong bytes of ${file.path} from the cache: ${config} (${describeDiff(whole, file.bytes)})`);
        const parts = await deadline(checker.readRanges(file.path, ranges), BATCH_DEADLINE_MS, 'checker readRanges');
        parts.forEach((p, i) => {
          const r = ranges[i]!;
          if (!Buffer.from(p).equals(file.bytes.subarray(r.start, r.end))) {
            fail(`after the round, the cache holds wrong bytes for [${r.start}, ${r.end}) of ${file.path}: ${config} (${describeDiff(p, file.bytes.subarray(r.start, r.end))})`);
          }
        });
        checkedBytes += size * 2;
      } catch (e) {
        fail(`after the round, a clean reader failed on ${file.path}: ${String(e)} (${config})`);
      }
    }
    await checker.close();
    for (const s of extraStores) await s.close?.();
    if (useRedis) await (inner as RedisStore).close();
    const faults = faultStores.reduce((n, fs) => n + Object.values(fs.counts.faults).reduce((a, b) => a + b, 0), 0);
    const stats = readers.map((r) => r.stats());
    t.comment(`round ${round}: ${roundOps} ops, ${faults} injected store faults, storeErrors ${stats.map((s) => s.storeErrors).join('/')}, corrupt ${stats.map((s) => s.corruptValues).join('/')}, integrityRejected ${stats.map((s) => s.integrityRejected).join('/')}`);
  }

  t.equal(failures, 0, `no wrong bytes, no store errors surfaced, no hangs in ${ops} operations (seed ${seed}; replay: ${replay})`);
  t.ok(outcomes.ok > ops / 2, `most operations returned bytes (ok ${outcomes.ok}, aborted ${outcomes.aborted}, invalid range ${outcomes.invalidRange})`);
  t.comment(`${ops} operations, ${checkedBytes} bytes compared; outcomes ${JSON.stringify(outcomes)}`);
});

/** A random range of an object of `size` bytes, of the kinds that break range arithmetic. */
function randomRange(R: Rng, size: number, B: number): Range & { invalid: boolean } {
  const pick = R.int(0, 9);
  let start: number;
  let end: number;
  switch (pick) {
    case 0: start = end = R.int(0, size); break; // empty, anywhere (also at EOF)
    case 1: start = size; end = size + R.int(0, 2 * B); break; // at EOF
    case 2: start = R.int(0, size); end = size + R.int(1, 3 * B + 1000); break; // end past EOF
    case 3: { // block-aligned, possibly whole blocks
      const blocks = Math.ceil(size / B) + 1;
      start = R.int(0, blocks) * B;
      end = start + R.int(0, 3) * B;
      if (start > size) start = size;
      break;
    }
    case 4: start = 0; end = size; break;
    case 5: start = Math.max(0, R.int(0, size) - 1); end = start + R.int(0, 2); break; // one or two bytes
    case 6: // start past EOF: a typed InvalidRangeError
      return { start: size + R.int(1, 3 * B), end: size + 3 * B + R.int(1, 10), invalid: true };
    default: start = R.int(0, size); end = start + R.int(0, size - start + 1); break;
  }
  return { start, end, invalid: false };
}

async function runOp(
  R: Rng, startAfter: number, reader: AsyncCachingReader, kind: 'readRange' | 'readRanges' | 'stream', file: FileUnderTest, hostility: Hostility,
  label: string, held: Held[], fail: (m: string) => void, count: (what: 'ok' | 'aborted' | 'invalidRange', bytes: number) => void,
): Promise<void> {
  const size = file.bytes.byteLength;
  const B = reader.blockSize;
  const controller = hostility.abort ? new AbortController() : undefined;
  const signal = controller?.signal;
  const abort = (): void => controller!.abort(hostility.abort!.reason);
  if (hostility.abort?.when === 'before') abort();

  let ranges: (Range & { invalid: boolean })[];
  if (kind === 'readRanges') ranges = Array.from({ length: R.int(0, 6) }, () => randomRange(R, size, B));
  else ranges = [randomRange(R, size, B)];
  const streamAll = kind === 'stream' && R.chance(0.3); // no start/end: the whole object
  if (streamAll) ranges = [{ start: 0, end: size, invalid: false }];
  const invalid = ranges.some((r) => r.invalid);
  const expected = ranges.map((r) => file.bytes.subarray(Math.min(r.start, size), Math.min(r.end, size)));

  // Every random choice of this operation is made above, synchronously, so a seed replays the same operations.
  if (startAfter >= 0) await sleep(startAfter);
  let work: Promise<Uint8Array[][]>; // per range, the pieces the caller received
  const opts = signal ? { signal } : {};
  if (kind === 'readRange') {
    work = reader.readRange(file.path, ranges[0]!.start, ranges[0]!.end, opts).then((b) => [[b]]);
  } else if (kind === 'readRanges') {
    work = reader.readRanges(file.path, ranges.map(({ start, end }) => ({ start, end })), opts).then((list) => list.map((b) => [b]));
  } else {
    work = (async () => {
      const chunks: Uint8Array[] = [];
      const s = reader.stream(file.path, { ...(streamAll ? {} : { start: ranges[0]!.start, end: ranges[0]!.end }), ...opts });
      for await (const chunk of s) {
        if (chunk.byteLength > B) fail(`stream chunk of ${chunk.byteLength} bytes exceeds blockSize ${B}: ${label}`);
        chunks.push(chunk);
        if (hostility.scribble) {
          // Scribble over each chunk as it comes, after checking it.
          const at = chunks.reduce((n, c) => n + c.byteLength, 0) - chunk.byteLength;
          const want = expected[0]!.subarray(at, at + chunk.byteLength);
          if (!Buffer.from(chunk).equals(want)) fail(`stream chunk at +${at} differs from the file: ${label} (${describeDiff(chunk, want)})`);
          chunks[chunks.length - 1] = Buffer.from(chunk); // keep a copy for the final comparison
          scribble(chunk, hostility.scribble);
        }
      }
      return [chunks];
    })();
  }
  if (hostility.abort?.when === 'sync') abort();
  if (hostility.abort?.when === 'microtask') queueMicrotask(abort);
  if (hostility.abort?.when === 'timer') setTimeout(abort, hostility.abort.ms);

  let result: Uint8Array[][];
  try {
    result = await work;
  } catch (e) {
    if (controller?.signal.aborted && (e === controller.signal.reason || (e as { name?: unknown })?.name === 'AbortError')) {
      count('aborted', 0);
      return;
    }
    if (invalid && (e as { code?: unknown })?.code === 'ERR_RANGECACHE_RANGE' && e instanceof RangeError) {
      count('invalidRange', 0);
      return;
    }
    fail(`unexpected error ${describeError(e)}: ${label} ranges ${JSON.stringify(ranges)}`);
    return;
  }
  if (invalid) {
    fail(`a range starting past EOF (size ${size}) returned bytes instead of InvalidRangeError: ${label} ranges ${JSON.stringify(ranges)}`);
    return;
  }
  if (result.length !== expected.length) {
    fail(`readRanges returned ${result.length} results for ${expected.length} ranges: ${label}`);
    return;
  }
  let bytes = 0;
  result.forEach((pieces, i) => {
    const got = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    const want = expected[i]!;
    bytes += want.byteLength;
    if (!(got instanceof Uint8Array)) {
      fail(`result ${i} is not a Uint8Array: ${label}`);
      return;
    }
    if (!Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want)) {
      fail(`wrong bytes for range ${i} ${JSON.stringify(ranges[i])} of a ${size}-byte file: ${label} (${describeDiff(got, want)})`);
      return;
    }
    if (kind === 'stream') return; // chunks: held below
    if (!hostility.scribble) held.push({ label: `${label} range ${i}`, view: got, expected: want });
  });
  // A scribbler checks all its results first (they may share memory with each other), then scribbles at once.
  if (hostility.scribble && kind !== 'stream') for (const pieces of result) scribble(pieces[0]!, hostility.scribble);
  // A non-scribbling stream consumer holds each chunk it received, each with its own expected bytes.
  if (kind === 'stream' && !hostility.scribble) {
    let at = 0;
    for (const c of result[0]!) {
      held.push({ label: `${label} chunk +${at}`, view: c, expected: expected[0]!.subarray(at, at + c.byteLength) });
      at += c.byteLength;
    }
  }
  count('ok', bytes);
}

function scribble(bytes: Uint8Array, how: 'fill' | 'reverse'): void {
  if (how === 'fill') bytes.fill(0xee);
  else bytes.reverse();
}

function describeDiff(got: Uint8Array, want: Uint8Array): string {
  if (got.byteLength !== want.byteLength) return `got ${got.byteLength} bytes, expected ${want.byteLength}`;
  let first = -1;
  let count = 0;
  for (let i = 0; i < got.byteLength; i++) {
    if (got[i] !== want[i]) {
      if (first < 0) first = i;
      count++;
    }
  }
  return `${count} of ${got.byteLength} bytes differ, first at +${first} (got 0x${got[first]?.toString(16)}, expected 0x${want[first]?.toString(16)})`;
}

function describeError(e: unknown): string {
  const x = e as { name?: string; code?: string; message?: string } | null;
  return `${x?.name ?? typeof e}${x?.code ? ` ${x.code}` : ''}: ${x?.message ?? String(e)}`;
}

