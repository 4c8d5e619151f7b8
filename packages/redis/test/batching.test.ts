import t from 'tap';
import { commandCalls } from '@rangecache/test-support';
import { readerFixture } from './helpers.js';

t.test('a readRange over k blocks costs one lookup command and one write transaction, whatever k is', async (t) => {
  const fx = await readerFixture(t, { ownProcess: true });
  const B = 4096;
  const { path, bytes } = await fx.dir.file('rt.bin', 192 * B);
  const admin = await fx.redis.client();
  for (const coordinated of [false, true]) {
    for (const k of [1, 8, 64]) {
      const label = `${coordinated ? 'with' : 'without'} fleet leases, k=${k}`;
      const { reader } = fx.reader({ blockSize: B, namespace: `rt-${k}-${coordinated}`, leaseMs: coordinated ? 2000 : false });
      await reader.stat(path); // metadata is looked up once per object per metaTtlMs; it is not part of the read
      await reader.flush();
      await admin.configResetStat();
      t.same(Buffer.from(await reader.readRange(path, 0, k * B)), bytes.subarray(0, k * B));
      await reader.flush();
      const cold = await commandCalls(admin);
      t.equal(cold['mget'], 1, `cold ${label}: one MGET`);
      // A landing of up to 64 KiB is written by its release script; a bigger one by plain SETs in a MULTI with the
      // release (Lua would copy every value): one round trip either way.
      const small = k * B <= 64 * 1024;
      if (coordinated) {
        t.equal(cold['eval'], 2, `cold ${label}: one EVAL to claim the k leases, one that releases them`);
        t.equal(cold['exec'] ?? 0, small ? 0 : 1, small ? `cold ${label}: the write and its release are one command, no MULTI/EXEC` : `cold ${label}: the writes and the release are one MULTI/EXEC`);
        t.equal(cold['set'], 2 * k, `cold ${label}: ${k} lease SETs (NX) in the claim, ${k} value SETs in the write`);
      } else {
        t.equal(cold['exec'], 1, `cold ${label}: one MULTI/EXEC for the writes`);
        t.equal(cold['get'] ?? 0, 0, `cold ${label}: no per-block GET`);
        t.equal(cold['set'], k, `cold ${label}: ${k} SETs inside the transaction`);
        t.equal(cold['eval'] ?? 0, 0);
      }
      if (coordinated) {
        // The object missed: the reader's next lookup of it takes the leases in the same round trip (a cold scan
        // costs one round trip before each origin request, one after).
        await admin.configResetStat();
        // (Not where the last read ended: that would be a sequential scan, which also fetches ahead.)
        t.same(Buffer.from(await reader.readRange(path, 2 * k * B, 3 * k * B)), bytes.subarray(2 * k * B, 3 * k * B));
        await reader.flush();
        const next = await commandCalls(admin);
        t.equal(next['mget'] ?? 0, 0, `cold again ${label}: no MGET`);
        t.equal(next['eval'], 2, `cold again ${label}: one EVAL looks up and claims, one releases`);
        t.equal(next['exec'] ?? 0, small ? 0 : 1, `cold again ${label}: ${small ? 'no' : 'one'} MULTI/EXEC`);
      }
      // Another instance (a new reader, as a new process would be) reads what this one cached.
      const { reader: warmReader } = fx.reader({ blockSize: B, namespace: `rt-${k}-${coordinated}`, leaseMs: coordinated ? 2000 : false });
      await warmReader.stat(path);
      await admin.configResetStat();
      t.same(Buffer.from(await warmReader.readRange(path, 0, k * B)), bytes.subarray(0, k * B));
      await warmReader.flush();
      const warm = await commandCalls(admin);
      t.equal(warm['mget'], 1, `warm ${label}: one MGET`);
      t.equal(warm['exec'] ?? 0, 0, `warm ${label}: no writes`);
      t.equal(warm['eval'] ?? 0, 0, `warm ${label}: no leases`);
      t.equal(warm['set'] ?? 0, 0);
    }
  }
});

t.test('a lookup that claims and finds big values landed leaves them to one MGET: byte-exact, no origin fetch', async (t) => {
  const fx = await readerFixture(t, { ownProcess: true });
  const B = 2 * 1024 * 1024; // a block is past the 1 MiB a lease lookup returns itself
  const { path, bytes } = await fx.dir.file('landed.bin', 6 * B);
  const admin = await fx.redis.client();
  const { reader: a, origin: aOrigin } = fx.reader({ blockSize: B, namespace: 'landed', leaseMs: 5000 });
  const { reader: b } = fx.reader({ blockSize: B, namespace: 'landed', leaseMs: 5000 });
  t.same(Buffer.from(await a.readRange(path, 0, B)), bytes.subarray(0, B), 'a reads block 0 (a miss: its next lookup of the object claims)');
  t.same(Buffer.from(await b.readRange(path, 2 * B, 5 * B)), bytes.subarray(2 * B, 5 * B), 'b lands blocks 2-4');
  await Promise.all([a.flush(), b.flush()]);
  const before = aOrigin.fetches.length;
  await admin.configResetStat();
  t.same(Buffer.from(await a.readRange(path, 2 * B, 5 * B)), bytes.subarray(2 * B, 5 * B), 'a reads blocks 2-4 byte-exact');
  await a.flush();
  const calls = await commandCalls(admin);
  t.equal(calls['eval'], 1, 'one lease lookup (it found them landed, and took no lease)');
  t.equal(calls['mget'], 1, 'and one MGET for the landed values');
  t.equal(aOrigin.fetches.length, before, 'nothing from the origin');
  t.same(await admin.keys('*:lease'), [], 'no lease taken or left behind');
});

t.test('reads issued in the same tick share one lookup and coalesced origin requests', async (t) => {
  const fx = await readerFixture(t, { ownProcess: true });
  const B = 4096;
  const { path, bytes } = await fx.dir.file('tick.bin', 32 * B);
  const admin = await fx.redis.client();
  const { reader, origin } = fx.reader({ blockSize: B, maxGap: 0 });
  await reader.stat(path);
  await admin.configResetStat();
  const reads = Array.from({ length: 16 }, (_, i) => reader.readRange(path, i * B, (i + 1) * B));
  const got = await Promise.all(reads);
  got.forEach((g, i) => t.same(Buffer.from(g), bytes.subarray(i * B, (i + 1) * B)));
  t.equal((await commandCalls(admin))['mget'], 1, '16 reads, one MGET');
  t.same(origin.fetches, [{ start: 0, end: 16 * B }], 'adjacent misses of 16 reads became one origin request');
});

t.test('coalescing respects maxGap and maxRequest', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('gap.bin', 1 << 20);
  const { reader, origin } = fx.reader({ mode: 'chunk', maxGap: 1000, maxRequest: 50_000 });
  const ranges = [{ start: 0, end: 100 }, { start: 1000, end: 1100 }, { start: 5000, end: 5100 }, { start: 5100, end: 60_000 }];
  const got = await reader.readRanges(path, ranges);
  ranges.forEach((r, i) => t.same(Buffer.from(got[i]!), bytes.subarray(r.start, r.end)));
  t.same(origin.fetches, [{ start: 0, end: 1100 }, { start: 5000, end: 5100 }, { start: 5100, end: 60_000 }],
    'gap 900 merged; gap 3900 not; the 54.9 KB chunk exceeds maxRequest with its neighbour');
});

t.test('single flight: concurrent readers of a missing block cause one origin fetch', async (t) => {
  const fx = await readerFixture(t);
  const B = 65536;
  const { path, bytes } = await fx.dir.file('sf.bin', 4 * B);
  const { reader, origin } = fx.reader({ blockSize: B, delayMs: 50 });
  await reader.stat(path);
  const first = reader.readRange(path, 0, 2 * B);
  // Wait until the first fetch is in flight (its 50 ms delay running), however long its lookup took.
  for (let i = 0; i < 500 && origin.fetches.length === 0; i++) await new Promise((r) => setTimeout(r, 2));
  const others = Array.from({ length: 20 }, (_, i) => reader.readRange(path, i * 100, B + i * 100));
  const results = await Promise.all([first, ...others]);
  t.same(Buffer.from(results[0]!), bytes.subarray(0, 2 * B));
  results.slice(1).forEach((r, i) => t.same(Buffer.from(r), bytes.subarray(i * 100, B + i * 100)));
  t.equal(origin.fetches.length, 1, 'one origin request in all');
  t.ok(reader.stats().joins >= 2, 'later readers joined the fetch in flight');
});

t.test('a failed fetch is not remembered', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('flaky.bin', 10_000);
  const { reader, origin } = fx.reader();
  await reader.stat(path);
  let failures = 1;
  const realFetch = origin.inner.fetch.bind(origin.inner);
  origin.inner.fetch = async (p, r, o) => {
    if (failures-- > 0) throw new Error('connection reset by origin');
    return realFetch(p, r, o);
  };
  await t.rejects(reader.readRange(path, 0, 10_000), /connection reset by origin/);
  t.equal(reader.stats().originErrors, 1);
  t.same(Buffer.from(await reader.readRange(path, 0, 10_000)), bytes, 'the next read fetches again and succeeds');
  t.equal(origin.fetches.length, 2);
});

t.test('one caller aborting does not fail others; when all abort, the fetch is aborted', async (t) => {
  const fx = await readerFixture(t);
  const B = 65536;
  const { path, bytes } = await fx.dir.file('abort.bin', 2 * B);
  const { reader, origin } = fx.reader({ blockSize: B, delayMs: 100 });
  await reader.stat(path);

  const quitter = new AbortController();
  const a = reader.readRange(path, 0, B, { signal: quitter.signal });
  const b = reader.readRange(path, 0, B);
  await new Promise((r) => setTimeout(r, 20));
  quitter.abort();
  await t.rejects(a, { name: 'AbortError' }, 'the aborting caller gets an AbortError at once');
  t.same(Buffer.from(await b), bytes.subarray(0, B), 'the other caller still gets its bytes');
  t.equal(origin.aborted, 0, 'the shared fetch went on');

  const c1 = new AbortController();
  const c2 = new AbortController();
  const started = origin.fetches.length;
  const x = reader.readRange(path, B, 2 * B, { signal: c1.signal });
  const y = reader.readRange(path, B, 2 * B, { signal: c2.signal });
  // Abort once the origin request is under way (its 100 ms delay running), however long the lookup took.
  for (let i = 0; i < 500 && origin.fetches.length === started; i++) await new Promise((r) => setTimeout(r, 2));
  t.equal(origin.fetches.length, started + 1, 'one origin request started for both callers');
  c1.abort();
  c2.abort();
  await t.rejects(x, { name: 'AbortError' });
  await t.rejects(y, { name: 'AbortError' });
  await new Promise((r) => setTimeout(r, 10));
  t.equal(origin.aborted, 1, 'with nobody left waiting, the origin request was aborted');
  t.same(Buffer.from(await reader.readRange(path, B, 2 * B)), bytes.subarray(B), 'and a later read fetches afresh');
  await t.rejects(reader.readRange(path, 0, 1, { signal: AbortSignal.abort() }), { name: 'AbortError' }, 'an aborted signal fails at once');
});

t.test('maxConcurrentFetches bounds origin requests in flight', async (t) => {
  const fx = await readerFixture(t);
  const B = 4096;
  const { path, bytes } = await fx.dir.file('conc.bin', 40 * B);
  const { reader, origin } = fx.reader({ blockSize: B, maxGap: 0, maxRequest: B, maxConcurrentFetches: 3 });
  let active = 0;
  let peak = 0;
  const inner = origin.inner.fetch.bind(origin.inner);
  origin.inner.fetch = async (p, r, o) => {
    peak = Math.max(peak, ++active);
    try {
      await new Promise((res) => setTimeout(res, 5));
      return await inner(p, r, o);
    } finally {
      active--;
    }
  };
  t.same(Buffer.from(await reader.readRange(path, 0, 40 * B)), bytes);
  t.equal(origin.fetches.length, 40);
  t.equal(peak, 3);
});

t.test('a caller who joined a fetch keeps it even if the caller who started it aborts during the lookup', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('join.bin', 2048);
  const { reader, origin } = fx.reader({ blockSize: 1024, maxGap: 0, delayMs: 200 });
  await reader.stat(path);
  const ac = new AbortController();
  const a = reader.readRange(path, 0, 1024, { signal: ac.signal });
  a.catch(() => {});
  for (let i = 0; i < 500 && origin.fetches.length === 0; i++) await new Promise((r) => setTimeout(r, 2)); // A's fetch of block 0 is in flight
  const b = reader.readRange(path, 0, 2048); // B joins block 0 and looks block 1 up in Redis
  await Promise.resolve();
  ac.abort(); // while B's lookup is in flight
  t.same(Buffer.from(await b), bytes, 'B gets its bytes');
  t.equal(origin.aborted, 0, 'the shared fetch was not aborted');
});

t.test('many reads sharing one signal add one abort listener', async (t) => {
  const fx = await readerFixture(t);
  const { path } = await fx.dir.file('listeners.bin', 64 * 1024);
  const { reader } = fx.reader({ blockSize: 1024 });
  const ac = new AbortController();
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { warnings.push(w); };
  process.on('warning', onWarning);
  await Promise.all(Array.from({ length: 64 }, (_, i) => reader.readRange(path, i * 1024, (i + 1) * 1024, { signal: ac.signal })));
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  t.same(warnings.filter((w) => w.name === 'MaxListenersExceededWarning'), []);
});

t.test('a cold sequential scan fetches ahead in parallel; a warm one looks ahead in the store, with no extra lookups', async (t) => {
  const fx = await readerFixture(t, { ownProcess: true });
  const B = 16384;
  const N = 120;
  const { path, bytes } = await fx.dir.file('scan.bin', 2 * N * B);
  const admin = await fx.redis.client();
  const { reader, origin } = fx.reader({ blockSize: B, readAhead: 4, delayMs: 15 });
  let active = 0;
  let peak = 0;
  const inner = origin.fetch.bind(origin);
  origin.fetch = async (p, r, o) => {
    peak = Math.max(peak, ++active);
    try { return await inner(p, r, o); } finally { active--; }
  };
  await reader.stat(path);
  for (let i = 0; i < N; i++) {
    t.same(Buffer.from(await reader.readRange(path, i * B, (i + 1) * B)), bytes.subarray(i * B, (i + 1) * B));
  }
  await reader.flush();
  const fetched = origin.fetchedBytes / B;
  t.ok(fetched >= N && fetched <= N * 1.05, `the scan of ${N} blocks made the origin send ${fetched} (read-ahead stops within 5%)`);
  t.ok(peak >= 3, `the window grew: up to ${peak} origin requests overlapped`);
  t.ok(origin.fetches.every((r) => r.end - r.start <= B), 'blocks fetched ahead go one request each');

  const { reader: warm, origin: warmOrigin } = fx.reader({ blockSize: B, readAhead: 4 });
  await warm.stat(path);
  await admin.configResetStat();
  for (let i = 0; i < N; i++) await warm.readRange(path, i * B, (i + 1) * B);
  t.equal(warmOrigin.fetches.length, 0);
  // A warm scan's reads take the blocks looked up ahead with the read before: one MGET per read still, the last
  // one for the block after the scan (never read), and none fetched from the origin.
  const mgets = (await commandCalls(admin))['mget'] ?? 0;
  t.ok(mgets >= N / 2 && mgets <= N + 1, `${mgets} MGETs for ${N} reads: at most one per read, plus the look-ahead past the last`);
  t.equal(warm.stats().hits, N, 'every read a hit');
});

t.test('a fetched block stays joinable until its write lands', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('bridge.bin', 4096);
  const { reader, origin } = fx.reader({ blockSize: 4096 });
  await reader.stat(path);
  const first = reader.readRange(path, 0, 4096);
  const second = (async () => { await first; return reader.readRange(path, 0, 4096); })(); // right after, before the write lands
  t.same(Buffer.from(await second), bytes);
  t.equal(origin.fetches.length, 1, 'not fetched twice');
});

t.test('a batch of many ranges fetched at once raises no listener warning', async (t) => {
  const fx = await readerFixture(t);
  const { path, bytes } = await fx.dir.file('many.bin', 4 << 20);
  const { reader } = fx.reader({ mode: 'chunk', maxGap: 0 });
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { warnings.push(w); };
  process.on('warning', onWarning);
  const ranges = Array.from({ length: 64 }, (_, i) => ({ start: i * 65_000, end: i * 65_000 + 1000 }));
  const got = await reader.readRanges(path, ranges);
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  got.forEach((g, i) => t.same(Buffer.from(g), bytes.subarray(ranges[i]!.start, ranges[i]!.end)));
  t.same(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
});
