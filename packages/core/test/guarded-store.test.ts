/**
 * GuardedStore: failure handling as a store wrapper. A MemoryStore with faults injected in front of it stands in
 * for a failing Redis (the real-Redis fail-open tests drive the same guard through the reader).
 */
import t from 'tap';
import { CircuitOpenError, MemoryStore } from '@rangecache/core';
import { GuardedStore } from '@rangecache/core/store-kit';
import type { CacheStore, FetchCoordinator } from '@rangecache/core';

/** A real MemoryStore whose calls fail while `failing` is set (a synchronous throw for `throwSync`). */
function faulty(inner: CacheStore = new MemoryStore()): CacheStore & { failing: boolean; throwSync: boolean; calls: number } {
  const store = {
    failing: false,
    throwSync: false,
    calls: 0,
    coordinator: inner.coordinator,
    getMany: (keys: readonly string[]) => run(() => inner.getMany(keys)),
    setMany: (entries: Parameters<CacheStore['setMany']>[0]) => run(() => inner.setMany(entries)),
    deleteMany: (keys: readonly string[]) => run(() => inner.deleteMany(keys)),
    deleteByPrefix: (prefix: string) => run(() => inner.deleteByPrefix(prefix)),
  };
  function run<T>(call: () => Promise<T>): Promise<T> {
    store.calls++;
    if (store.failing && store.throwSync) throw new Error('sync failure');
    return store.failing ? Promise.reject(new Error('store down')) : call();
  }
  return store;
}

t.test('failures are counted per kind and reported once; a synchronous throw becomes a rejection', async (t) => {
  const inner = faulty();
  const seen: string[] = [];
  const store = new GuardedStore(inner, { circuitBreaker: false, onError: (_e, op) => seen.push(op) });
  await store.setMany([{ key: 'k', value: new Uint8Array([1, 2, 3]), ttlMs: null }]);
  t.same((await store.getMany(['k', 'x'])).map((v) => v && [...v]), [[1, 2, 3], null], 'passes calls through');
  inner.failing = true;
  await t.rejects(store.getMany(['k']), /store down/);
  await t.rejects(store.setMany([{ key: 'k', value: new Uint8Array(1), ttlMs: null }]), /store down/);
  await t.rejects(store.deleteMany(['k']), /store down/);
  inner.throwSync = true;
  await t.rejects(store.deleteByPrefix('k'), /sync failure/, 'a synchronous throw is a rejection');
  t.same(store.counters, { storeErrors: 3, writeErrors: 1, storeSkipped: 0, circuitOpens: 0 }, 'writes are counted apart');
  t.same(seen, ['getMany', 'setMany', 'deleteMany', 'deleteByPrefix'], 'each failure reported once, by operation');
});

t.test('an answer of the wrong shape is a failure of the store, never passed on', async (t) => {
  const inner = new MemoryStore();
  const short: CacheStore = { ...inner, getMany: async () => [null], setMany: (e) => inner.setMany(e), deleteMany: (k) => inner.deleteMany(k), deleteByPrefix: (p) => inner.deleteByPrefix(p) };
  const store = new GuardedStore(short, { circuitBreaker: false });
  await t.rejects(store.getMany(['a', 'b']), { name: 'StoreError', code: 'ERR_RANGECACHE_STORE', operation: 'getMany', message: /getMany answered 1 results for 2 keys/ });
  t.equal(store.counters.storeErrors, 1);
});

t.test('the circuit opens after repeated failures, skips calls while open, and a probe closes it', async (t) => {
  const inner = faulty();
  const states: string[] = [];
  const store = new GuardedStore(inner, { circuitBreaker: { failureThreshold: 3, cooldownMs: 50 }, onCircuit: (s) => states.push(s) });
  inner.failing = true;
  for (let i = 0; i < 3; i++) await t.rejects(store.getMany(['k']));
  t.same(states, ['open']);
  const callsWhenOpened = inner.calls;
  const skipped = await store.getMany(['k']).catch((e: unknown) => e);
  t.ok(CircuitOpenError.is(skipped), 'an open circuit rejects with CircuitOpenError');
  t.equal(inner.calls, callsWhenOpened, 'without asking the store');
  t.same(store.counters, { storeErrors: 3, writeErrors: 0, storeSkipped: 1, circuitOpens: 1 }, 'a skipped call is no store error');
  inner.failing = false;
  await new Promise((r) => setTimeout(r, 60));
  t.same(await store.getMany(['k']), [null], 'after the cool-down a probe goes through');
  t.same(states, ['open', 'half-open', 'closed']);
});

t.test('the coordinator is guarded too: its failures count, waiting for a release is passed on', async (t) => {
  const inner = new MemoryStore().withLeases();
  const coordinator = inner.coordinator!;
  let failClaims = false;
  const flaky: FetchCoordinator = {
    claim: (keys, ttl) => (failClaims ? Promise.reject(new Error('claim failed')) : coordinator.claim(keys, ttl)),
    release: (keys) => coordinator.release(keys),
    waitForRelease: (keys, ms, signal) => coordinator.waitForRelease(keys, ms, signal),
    close: () => coordinator.close(),
  };
  const store = new GuardedStore({ ...inner, coordinator: flaky, getMany: (k) => inner.getMany(k), setMany: (e) => inner.setMany(e), deleteMany: (k) => inner.deleteMany(k), deleteByPrefix: (p) => inner.deleteByPrefix(p) }, { circuitBreaker: false });
  t.same(await store.coordinator!.claim(['k'], 1000), ['claimed']);
  failClaims = true;
  await t.rejects(store.coordinator!.claim(['k'], 1000), /claim failed/);
  t.equal(store.counters.storeErrors, 1);
  t.same(await store.coordinator!.waitForRelease(['k'], 10), [], 'a wait that times out resolves empty');
  t.equal(store.coordinator!.lookupAndClaim, undefined, 'what the inner coordinator lacks, the guarded one lacks');
});

t.test('closing the guard closes the store it wraps (Symbol.asyncDispose too)', async (t) => {
  const inner = new MemoryStore();
  await inner.setMany([{ key: 'k', value: new Uint8Array([1]), ttlMs: null }]);
  await new GuardedStore(inner)[Symbol.asyncDispose]();
  t.equal(inner.entries, 0, 'the inner store was closed');
});
