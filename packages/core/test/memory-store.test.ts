import t from 'tap';
import { ConfigError, MemoryStore } from '@rangecache/core';

/** What one entry of `key` with a value of `length` bytes counts against maxBytes, as the store reports it. */
async function costOf(key: string, length: number): Promise<number> {
  const probe = new MemoryStore();
  await probe.setMany([{ key, value: new Uint8Array(length), ttlMs: null }]);
  return probe.size;
}

t.test('MemoryStore evicts least recently used entries to stay under maxBytes', async (t) => {
  const cost = await costOf('a', 100);
  t.ok(cost > 100 + 1, 'an entry counts more than its value and key: its bookkeeping too');
  const store = new MemoryStore({ maxBytes: 3 * cost });
  const v = (n: number): Uint8Array => new Uint8Array(100).fill(n);
  await store.setMany([{ key: 'a', value: v(1), ttlMs: null }, { key: 'b', value: v(2), ttlMs: null }, { key: 'c', value: v(3), ttlMs: null }]);
  t.equal(store.size, 3 * cost);
  t.equal(store.entries, 3);
  await store.getMany(['a']); // a becomes most recently used
  await store.setMany([{ key: 'd', value: v(4), ttlMs: null }]);
  const [a, b, c, d] = await store.getMany(['a', 'b', 'c', 'd']);
  t.same(a, v(1));
  t.equal(b, null, 'b was the least recently used');
  t.same(c, v(3));
  t.same(d, v(4));
  t.ok(store.size <= store.maxBytes);
  await store.setMany([{ key: 'huge', value: new Uint8Array(1000), ttlMs: null }]);
  t.same((await store.getMany(['huge']))[0], null, 'a value larger than the store is not kept');
  t.same((await store.getMany(['a']))[0], v(1), 'and evicts nothing');
});

t.test('MemoryStore honours per-key TTL', async (t) => {
  const store = new MemoryStore();
  await store.setMany([{ key: 'short', value: new Uint8Array([1]), ttlMs: 30 }, { key: 'long', value: new Uint8Array([2]), ttlMs: 60_000 }]);
  await new Promise((r) => setTimeout(r, 60));
  const [s, l] = await store.getMany(['short', 'long']);
  t.equal(s, null);
  t.same(l, new Uint8Array([2]));
  t.equal(store.size, await costOf('long', 1), 'expired bytes are released');
});

t.test('MemoryStore expires one entry among others and keeps the rest, their order and their accounting', async (t) => {
  const store = new MemoryStore();
  const v = (n: number): Uint8Array => new Uint8Array(10).fill(n);
  await store.setMany([
    { key: 'a', value: v(1), ttlMs: null },
    { key: 'b', value: v(2), ttlMs: 30 },
    { key: 'c', value: v(3), ttlMs: 60_000 },
    { key: 'd', value: v(4), ttlMs: 30 },
  ]);
  await store.setMany([{ key: 'd', value: v(5), ttlMs: null }]); // an overwrite drops the old TTL
  t.equal(store.entries, 4);
  await new Promise((r) => setTimeout(r, 60));
  t.equal(store.entries, 4, 'an expired entry is held until it is looked at');
  t.same(await store.getMany(['a', 'b', 'c', 'd']), [v(1), null, v(3), v(5)]);
  t.equal(store.entries, 3);
  t.equal(store.size, 3 * (await costOf('a', 10)), 'only the expired entry was released');
  await store.setMany([{ key: 'a', value: v(6), ttlMs: 30 }]); // and an overwrite can add one
  await new Promise((r) => setTimeout(r, 60));
  t.same(await store.getMany(['a', 'c', 'd']), [null, v(3), v(5)]);
  await store.setMany([{ key: 'c', value: v(7), ttlMs: 0 }, { key: 'd', value: v(8), ttlMs: -1 }]);
  t.same(await store.getMany(['c', 'd']), [null, null], 'a TTL of 0 or less is over at once: nothing is kept');
  t.equal(store.size, 0);
  t.equal(store.entries, 0);
});

t.test('MemoryStore evicts by bytes in least recently used order, whatever the entry sizes', async (t) => {
  const small = await costOf('k0', 100);
  const large = await costOf('k0', 1000);
  const store = new MemoryStore({ maxBytes: 4 * small + large });
  const v = (n: number, length = 100): Uint8Array => new Uint8Array(length).fill(n);
  await store.setMany([0, 1, 2, 3].map((n) => ({ key: `k${n}`, value: v(n), ttlMs: null })));
  await store.setMany([{ key: 'k4', value: v(4, 1000), ttlMs: null }]);
  t.equal(store.size, store.maxBytes, 'exactly full: nothing evicted yet');
  await store.getMany(['k0', 'k2']); // used order now: k1 k3 k4 k0 k2
  await store.setMany([{ key: 'k5', value: v(5, 1000), ttlMs: null }]); // needs k1, k3 and k4 out
  t.same(await store.getMany(['k1', 'k3', 'k4']), [null, null, null], 'the least recently used went, as many as needed');
  t.same(await store.getMany(['k0', 'k2', 'k5']), [v(0), v(2), v(5, 1000)]);
  t.equal(store.size, 2 * small + large);
  // One batch bigger than the store (room for one large entry and a small one): its later entries push out the
  // earlier ones and everything before it.
  await store.setMany([6, 7, 8, 9].map((n) => ({ key: `k${n}`, value: v(n, 1000), ttlMs: null })));
  t.same(await store.getMany(['k0', 'k2', 'k5', 'k6', 'k7', 'k8']), [null, null, null, null, null, null]);
  t.same(await store.getMany(['k9']), [v(9, 1000)]);
  t.equal(store.size, large);
});

t.test('MemoryStore: an entry bigger than the store is not kept, and one of exactly its size is', async (t) => {
  const cost = await costOf('x', 1000);
  const store = new MemoryStore({ maxBytes: cost });
  const one = new Uint8Array(1);
  await store.setMany([{ key: 'x', value: new Uint8Array(1000).fill(1), ttlMs: null }]);
  t.equal(store.size, cost, 'exactly maxBytes fits');
  await store.setMany([{ key: 'y', value: one, ttlMs: null }]);
  t.same(await store.getMany(['x', 'y']), [null, one], 'and goes when anything else comes');
  await store.setMany([{ key: 'y', value: new Uint8Array(1001), ttlMs: null }]);
  t.same(await store.getMany(['y']), [null], 'too big for the store: it also takes the older value of its key with it');
  t.equal(store.size, 0);
  t.equal(store.entries, 0);
  await store.setMany([{ key: 'z', value: one, ttlMs: null }, { key: 'w', value: new Uint8Array(5000), ttlMs: null }]);
  t.same(await store.getMany(['z']), [one], 'a too big entry evicts nothing');
});

t.test('MemoryStore: an overwrite counts the new size, not both, and makes the entry most recently used', async (t) => {
  const small = await costOf('a', 10);
  const big = await costOf('a', 20_000);
  const store = new MemoryStore({ maxBytes: 2 * small + big });
  const v = (n: number, length: number): Uint8Array => new Uint8Array(length).fill(n);
  await store.setMany([{ key: 'a', value: v(1, 10), ttlMs: null }, { key: 'b', value: v(2, 10), ttlMs: null }]);
  await store.setMany([{ key: 'a', value: v(3, 20_000), ttlMs: null }]); // grows into the room left: nothing evicted
  t.equal(store.size, small + big);
  t.equal(store.entries, 2);
  t.same(await store.getMany(['a', 'b']), [v(3, 20_000), v(2, 10)]);
  await store.setMany([{ key: 'a', value: v(4, 10), ttlMs: null }]); // shrinks; now the most recently used
  t.equal(store.size, 2 * small);
  await store.setMany([{ key: 'c', value: v(5, 20_000), ttlMs: null }, { key: 'd', value: v(6, 10), ttlMs: null }]);
  t.same(await store.getMany(['a', 'b', 'c', 'd']), [v(4, 10), null, v(5, 20_000), v(6, 10)], 'b, not the rewritten a, was the least recently used');
  t.equal(store.size, 2 * small + big);
  await store.setMany([{ key: 'c', value: v(7, 20_010), ttlMs: null }]); // grows past the bound: others go, not itself
  t.same(await store.getMany(['c']), [v(7, 20_010)]);
  t.ok(store.size <= store.maxBytes);
  t.equal(store.size, big + 10 + (await store.getMany(['a', 'd'])).filter((x) => x !== null).length * small);
});

t.test('MemoryStore deleteByPrefix drops expired entries without counting them', async (t) => {
  const store = new MemoryStore();
  const one = new Uint8Array(1);
  await store.setMany([{ key: 'p:old', value: one, ttlMs: 20 }, { key: 'p:new', value: one, ttlMs: null }, { key: 'q:old', value: one, ttlMs: 20 }]);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(await store.deleteByPrefix('p:'), 1, 'an expired key is missing, as in Redis');
  t.equal(store.entries, 0, 'expired entries of other prefixes are released too');
  t.equal(store.size, 0);
});

t.test('MemoryStore copies on write: callers cannot change cached bytes', async (t) => {
  const store = new MemoryStore();
  const buf = Buffer.from([1, 2, 3]); // a Buffer: its slice() is a view, the trap to avoid
  const big = new Uint8Array(100_000).fill(7);
  await store.setMany([{ key: 'k', value: buf, ttlMs: null }, { key: 'big', value: big.subarray(10, 40_000), ttlMs: null }]);
  buf[0] = 99;
  big.fill(0);
  t.same((await store.getMany(['k']))[0], new Uint8Array([1, 2, 3]));
  t.same((await store.getMany(['big']))[0], new Uint8Array(39_990).fill(7));
});

t.test('MemoryStore deleteByPrefix and deleteMany', async (t) => {
  const store = new MemoryStore();
  const one = new Uint8Array(1);
  await store.setMany(['p:1', 'p:2', 'q:1'].map((key) => ({ key, value: one, ttlMs: null })));
  t.equal(await store.deleteByPrefix('p:'), 2);
  t.same(await store.getMany(['p:1', 'p:2', 'q:1']), [null, null, one]);
  await store.deleteMany(['q:1', 'missing']);
  t.equal(store.size, 0);
  t.equal(store.entries, 0);
});

t.test('MemoryStore rejects bad options with a ConfigError naming the option', async (t) => {
  t.throws(() => new MemoryStore({ maxBytes: 0 }), ConfigError);
  t.throws(() => new MemoryStore({ maxBytes: -5 }), /maxBytes must be a positive integer/);
  for (const maxBytes of [1.5, NaN, Infinity, 2 ** 53, '1024', null, {}, Object.create(null)]) {
    t.throws(() => new MemoryStore({ maxBytes } as never), { name: 'ConfigError', message: /maxBytes/ }, String(typeof maxBytes));
  }
  for (const options of [null, 5, 'big']) {
    t.throws(() => new MemoryStore(options as never), { name: 'ConfigError', message: /MemoryStore: options must be an object/ });
  }
  t.equal(new MemoryStore({}).maxBytes, 256 * 1024 * 1024, 'default');
  t.equal(new MemoryStore({ maxBytes: undefined }).maxBytes, 256 * 1024 * 1024, 'undefined is the default');
  t.equal(new MemoryStore().maxBytes, 256 * 1024 * 1024);
});

t.test('MemoryStore copies on read: changing a returned value does not change the cache', async (t) => {
  const store = new MemoryStore();
  await store.setMany([{ key: 'k', value: Buffer.from([1, 2, 3]), ttlMs: null }, { key: 'big', value: new Uint8Array(20_000).fill(5), ttlMs: null }]);
  (await store.getMany(['k']))[0]!.fill(0);
  (await store.getMany(['big']))[0]!.fill(0);
  t.same((await store.getMany(['k']))[0], new Uint8Array([1, 2, 3]));
  t.same((await store.getMany(['big']))[0], new Uint8Array(20_000).fill(5));
  const [a, b] = await store.getMany(['k', 'k']);
  t.not(a!.buffer, b!.buffer, 'each read gets its own memory');
  t.equal(a!.buffer.byteLength, 3, 'exactly sized, not a view into a pooled slab');
});

t.test('MemoryStore returns every byte value unchanged, at every size', async (t) => {
  const store = new MemoryStore();
  const sizes = [0, 1, 255, 256, 4095, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000];
  const values = sizes.map((n) => {
    const v = new Uint8Array(n + 3);
    for (let i = 0; i < v.length; i++) v[i] = (i * 131 + 7) & 255; // every byte value, 0x80-0xFF included
    return v.subarray(3); // a view at an odd offset
  });
  await store.setMany(values.map((value, i) => ({ key: `k${i}`, value, ttlMs: null })));
  const got = await store.getMany(sizes.map((_, i) => `k${i}`));
  for (let i = 0; i < sizes.length; i++) {
    t.ok(got[i] instanceof Uint8Array, `${sizes[i]}: a Uint8Array`);
    t.equal(got[i]!.byteLength, sizes[i], `${sizes[i]}: its length`);
    t.ok(Buffer.from(got[i]!).equals(Buffer.from(values[i]!)), `${sizes[i]}: its bytes`);
  }
});

t.test('MemoryStore heap stays within 2x maxBytes for small values that are views of big buffers', async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  t.ok(gc, 'tests run with --expose-gc (package.json tap.node-arg)');
  if (!gc) return;
  const collect = async (): Promise<void> => {
    // Array buffers are swept concurrently: collect, let the sweeper run, collect again.
    gc();
    await new Promise((r) => setTimeout(r, 10));
    gc();
  };
  const maxBytes = 16 << 20;
  await collect();
  const before = process.memoryUsage();
  let store: MemoryStore | undefined = new MemoryStore({ maxBytes });
  // As the reader writes chunks: a fetched, coalesced buffer sliced into pieces of 20-300 bytes, under keys
  // like the reader's. Far more than fits, so the store evicts throughout.
  let seed = 7;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  let written = 0;
  for (let batch = 0; written < 3 * maxBytes; batch++) {
    const fetched = Buffer.allocUnsafe(256 * 1024);
    const entries = [];
    for (let off = 0; entries.length < 512;) {
      const len = 20 + rnd(280);
      entries.push({ key: `rangecache:v2:ns:https%3A//host/data/f${batch % 97}.bin:v=etag%3A%22e%22:c:${off}-${off + len}`, value: fetched.subarray(off, off + len), ttlMs: 60_000 });
      off += len;
      written += len;
    }
    await store.setMany(entries);
  }
  t.ok(store.size <= maxBytes && store.size > maxBytes * 0.99, 'the store is full');
  await collect();
  const after = process.memoryUsage();
  const grown = after.heapUsed - before.heapUsed + (after.external - before.external);
  const ratio = grown / maxBytes;
  t.ok(ratio < 2, `heap + external grew by ${(grown / 2 ** 20).toFixed(1)} MiB = ${ratio.toFixed(2)} x maxBytes (${store.entries} entries)`);
  t.ok(after.arrayBuffers - before.arrayBuffers < maxBytes / 4, 'small values hold no ArrayBuffer memory, so no fetched buffer is pinned by a view into it');
  // Nothing but the store holds that memory: dropping it gives it back.
  store = undefined;
  await collect();
  const freed = process.memoryUsage();
  t.ok(freed.heapUsed - before.heapUsed < maxBytes / 4, 'released with the store');
});

t.test('close() (and Symbol.asyncDispose, what `await using` calls) drops every entry', async (t) => {
  const store = new MemoryStore();
  await store.setMany([{ key: 'k', value: new Uint8Array([1]), ttlMs: null }]);
  t.equal(store.entries, 1);
  await store[Symbol.asyncDispose]();
  t.equal(store.entries, 0, 'nothing is held after close');
  t.same(await store.getMany(['k']), [null]);
});
