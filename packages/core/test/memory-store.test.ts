import t from 'tap';
import { ConfigError, MemoryStore } from '@rangecache/core';

t.test('MemoryStore evicts least recently used entries to stay under maxBytes', async (t) => {
  const store = new MemoryStore({ maxBytes: 3 * (100 + 1) });
  const v = (n: number): Uint8Array => new Uint8Array(100).fill(n);
  await store.setMany([{ key: 'a', value: v(1), ttlMs: null }, { key: 'b', value: v(2), ttlMs: null }, { key: 'c', value: v(3), ttlMs: null }]);
  t.equal(store.size, 303);
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
  t.equal(store.size, 1 + 'long'.length, 'expired bytes are released');
});

t.test('MemoryStore copies on write: callers cannot change cached bytes', async (t) => {
  const store = new MemoryStore();
  const buf = Buffer.from([1, 2, 3]); // a Buffer: its slice() is a view, the trap to avoid
  await store.setMany([{ key: 'k', value: buf, ttlMs: null }]);
  buf[0] = 99;
  t.same((await store.getMany(['k']))[0], new Uint8Array([1, 2, 3]));
});

t.test('MemoryStore deleteByPrefix and deleteMany', async (t) => {
  const store = new MemoryStore();
  const one = new Uint8Array(1);
  await store.setMany(['p:1', 'p:2', 'q:1'].map((key) => ({ key, value: one, ttlMs: null })));
  t.equal(await store.deleteByPrefix('p:'), 2);
  t.same(await store.getMany(['p:1', 'p:2', 'q:1']), [null, null, one]);
  await store.deleteMany(['q:1', 'missing']);
  t.equal(store.size, 0);
});

t.test('MemoryStore rejects a bad maxBytes', async (t) => {
  t.throws(() => new MemoryStore({ maxBytes: 0 }), ConfigError);
  t.throws(() => new MemoryStore({ maxBytes: -5 }), /maxBytes must be a positive integer/);
});

t.test('MemoryStore copies on read: changing a returned value does not change the cache', async (t) => {
  const store = new MemoryStore();
  await store.setMany([{ key: 'k', value: Buffer.from([1, 2, 3]), ttlMs: null }]);
  (await store.getMany(['k']))[0]!.fill(0);
  t.same((await store.getMany(['k']))[0], new Uint8Array([1, 2, 3]));
});
